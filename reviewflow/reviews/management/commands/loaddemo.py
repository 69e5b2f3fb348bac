from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from reviewflow.reviews import services
from reviewflow.reviews.models import Review, Role

DEMO_DIR = Path(__file__).resolve().parents[3] / "demo"
SLUG = "msc-knee-oa"
USERS = [("owner", Role.OWNER), ("alice", Role.REVIEWER), ("bob", Role.REVIEWER)]
ADMIN = "admin"  # the site administrator (Django admin), a member of no review
TA, FT = "title-abstract", "full-text"
CRITERIA = {
    TA: (
        "Include: adults with knee osteoarthritis; intra-articular mesenchymal stem/stromal "
        "cells (any source); a randomised or non-randomised comparison, or a case series.\n"
        "Exclude: animal or in vitro studies; other joints; reviews, editorials and letters."
    ),
    FT: (
        "Include: clinical studies in people with knee osteoarthritis reporting pain or "
        "function after intra-articular mesenchymal stem/stromal cells.\n"
        "Exclude: no outcome of pain or function; fewer than 5 patients; duplicate report."
    ),
}
INCLUDE_TERMS = "mesenchymal\nstem cell*\nstromal\nknee\nosteoarthriti*\nintra-articular"
EXCLUDE_TERMS = "mice\nmouse\nrat\nrats\nrabbit*\nin vitro\nreview\ncanine\nequine"
REASONS = {
    TA: ["Animal or in vitro study", "Not knee osteoarthritis", "Not a cell therapy", "Review"],
    FT: [
        "Wrong population",
        "Wrong intervention",
        "No pain or function outcome",
        "Wrong study design",
    ],
}
PILOT_SIZE = 10
SCREENED = 40  # records both reviewers screened in the main round
SEARCHES = [
    # file, source, date, search string
    (
        "pubmed.nbib",
        "PubMed",
        date(2020, 3, 2),
        '("mesenchymal stem cells"[MeSH] OR "mesenchymal stromal cell*"[tiab]) AND '
        '("osteoarthritis, knee"[MeSH] OR "knee osteoarthritis"[tiab])',
    ),
    (
        "scopus.ris",
        "Scopus",
        date(2020, 3, 2),
        'TITLE-ABS-KEY(("mesenchymal stem cell*" OR "mesenchymal stromal cell*" OR MSC) '
        "AND (knee W/3 osteoarthritis))",
    ),
    (
        "embase.csv",
        "Embase",
        date(2020, 3, 3),
        "('mesenchymal stem cell'/exp OR 'mesenchymal stromal cell':ti,ab) AND "
        "'knee osteoarthritis'/exp",
    ),
]


def logins_path() -> Path:
    return Path(settings.DATA_DIR) / "demo_logins.txt"


class Command(BaseCommand):
    help = (
        "Create the demo review (mesenchymal stem cells for knee osteoarthritis) with an owner, "
        "two reviewers, a site administrator, three imported searches, screening set up, a "
        "pilot round done and records screened with their checklist (some in conflict, "
        "discussed). Use --if-empty to do "
        "nothing when the database already has reviews."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["if_empty"] and Review.objects.exists():
            self.stdout.write("The database already has reviews; demo not loaded.")
            self._print_logins()
            return
        if Review.objects.filter(slug=SLUG).exists():
            raise CommandError(f"The demo review “{SLUG}” already exists.")
        User = get_user_model()
        lines = []
        with transaction.atomic():
            users = {}
            for username, _role in USERS:
                if User.objects.filter(username=username).exists():
                    raise CommandError(f"A user called “{username}” already exists.")
                password = secrets.token_urlsafe(9)
                users[username] = User.objects.create_user(
                    username=username, password=password, email=f"{username}@example.org"
                )
                lines.append(f"{username:<6} {password}")
            if User.objects.filter(username=ADMIN).exists():
                raise CommandError(f"A user called “{ADMIN}” already exists.")
            password = secrets.token_urlsafe(9)
            User.objects.create_superuser(
                username=ADMIN, password=password, email=f"{ADMIN}@example.org"
            )
            lines.append(f"{ADMIN:<6} {password}   (site administrator: /admin/)")
            owner = users["owner"]
            review = services.create_review(
                title="Mesenchymal stem cells for knee osteoarthritis",
                slug=SLUG,
                owner=owner,
                question=(
                    "In adults with knee osteoarthritis, does intra-articular mesenchymal "
                    "stem/stromal cell therapy, compared with placebo or standard care, "
                    "improve pain and function? Does the cell source matter?"
                ),
                protocol_registration="Demo (based on Jeyaraman et al. 2020, Cartilage)",
            )
            for username, role in USERS[1:]:
                services.add_member(review=review, actor=owner, user=users[username], role=role)
        from screening.services import dedup, identification

        for filename, source, when, query in SEARCHES:
            with (DEMO_DIR / filename).open("rb") as fh:
                search = identification.create_search(
                    review=review,
                    actor=owner,
                    file=fh,
                    filename=filename,
                    source=source,
                    search_date=when,
                    search_string=query,
                )
            # Import and deduplicate here and now, so the demo is ready before the worker
            # starts; the queued tasks find their work done and do nothing (and the worker
            # has no pending deduplication to re-send when it connects).
            search = identification.run_import(search_id=search.pk)
            dedup.run_dedup(review_id=review.pk, search_id=search.pk, only_if_pending=True)
            self.stdout.write(
                f"{filename}: {search.records_imported} records imported "
                f"({search.records_rejected} rejected)."
            )
        self._set_up_screening(review, owner, users["alice"], users["bob"])
        path = logins_path()
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        self.stdout.write(f"Demo review “{review.title}” created.")
        self._print_logins()

    def _set_up_screening(self, review: Review, owner: Any, alice: Any, bob: Any) -> None:
        """The review as a real one is set up: criteria, highlight terms and exclusion
        reasons at both stages; labels; a pilot round done; records screened, some in
        conflict."""
        from screening.models import Record
        from screening.services.discussion import add_comment
        from screening.services.labels import apply_label, create_label
        from screening.services.questions import cast_vote_with_answers, create_question
        from screening.services.screening import pilot, stage_settings

        for stage in (TA, FT):
            stage_settings.update_stage_settings(
                review=review,
                stage=stage,
                actor=owner,
                criteria=CRITERIA[stage],
                include_terms=INCLUDE_TERMS,
                exclude_terms=EXCLUDE_TERMS,
                exclusion_reasons=REASONS[stage],
                reasons_required=stage == TA,
            )
        round_ = pilot.start_pilot(review=review, stage=TA, actor=owner, size=PILOT_SIZE)
        for record in round_.records.order_by("pk"):
            for reviewer, flip in ((alice, False), (bob, record.pk % 4 == 0)):
                decision, reason = _demo_decision(record, flip)
                pilot.cast_pilot_vote(
                    pilot=round_, record=record, reviewer=reviewer, decision=decision, reason=reason
                )
        pilot.close_pilot(pilot=round_, actor=owner)
        # Each stage's checklist; a "no" proposes the matching exclusion reason.
        questions = {
            stage: [
                create_question(
                    review=review, actor=owner, stage=stage, text=text, exclusion_reason=reason
                )
                for text, reason in QUESTIONS[stage]
            ]
            for stage in (TA, FT)
        }
        # The team's labels, and a few of them in use (each reviewer's own).
        made = {
            name: create_label(review=review, actor=owner, name=name, colour=colour, key=key)
            for name, colour, key in LABELS
        }
        records = Record.objects.for_review(review).unique().order_by("pk")[:SCREENED]
        conflicts = 0
        for i, record in enumerate(records):
            if "review" in record.title.lower():
                apply_label(
                    review=review, record=record, label=made["check references"], user=alice
                )
            elif i % 9 == 4:
                apply_label(
                    review=review, record=record, label=made["background reading"], user=bob
                )
            # Every eighth record: the two reviewers disagree, and a conflict waits.
            for reviewer, flip in ((alice, False), (bob, i % 8 == 3)):
                decision, reason = _demo_decision(record, flip)
                cast_vote_with_answers(
                    review=review,
                    record=record,
                    reviewer=reviewer,
                    stage=TA,
                    decision=decision,
                    reason=reason,
                    answers=_demo_answers(questions[TA], decision, reason),
                )
            if i % 8 == 3:
                conflicts += 1
                add_comment(
                    record=record,
                    stage=TA,
                    author=bob,
                    body="@alice I read the abstract differently: is this really what the "
                    "criteria ask for?",
                )
        self.stdout.write(
            f"Pilot round of {PILOT_SIZE} records done; {SCREENED} records screened by alice "
            f"and bob, {conflicts} of them in conflict."
        )

    def _print_logins(self) -> None:
        path = logins_path()
        if path.exists():
            self.stdout.write("Demo logins (username password):")
            self.stdout.write(path.read_text().rstrip())


#: Each stage's screening questions: text, and the exclusion reason a "no" proposes.
QUESTIONS = {
    TA: [
        ("Adults with knee osteoarthritis?", "Not knee osteoarthritis"),
        ("Mesenchymal stem/stromal cells given?", "Not a cell therapy"),
        ("A study in people (not animals or cells)?", "Animal or in vitro study"),
    ],
    FT: [
        ("Pain or function reported after treatment?", "No pain or function outcome"),
        ("Intra-articular injection of the cells?", "Wrong intervention"),
    ],
}


def _demo_answers(questions: list[Any], decision: str, reason: str) -> dict[int, str]:
    """The checklist answered as the vote implies: "no" to the question whose reason the
    vote gives, "yes" to the others (a maybe leaves the cell question unclear)."""
    answers = {}
    for question in questions:
        if decision == "exclude" and question.exclusion_reason == reason:
            answers[question.pk] = "no"
        elif decision == "maybe" and question.exclusion_reason == "Not a cell therapy":
            answers[question.pk] = "unclear"
        else:
            answers[question.pk] = "yes"
    return answers


#: The demo team's labels: name, colour, key.
LABELS = (
    ("background reading", "blue", "b"),
    ("check references", "green", "r"),
    ("non-English", "orange", "x"),
)


def _demo_decision(record: Any, flip: bool) -> tuple[str, str]:
    """A plausible title/abstract decision from the title (the demo's votes), or its
    opposite (``flip``: a reviewer who disagrees)."""
    title = record.title.lower()
    animal = any(word in title for word in ("rat ", "rats", "mice", "rabbit", "canine", "equine"))
    cells = any(word in title for word in ("mesenchymal", "stem cell", "stromal"))
    knee = "knee" in title or "osteoarthritis" in title
    include = cells and knee and not animal and "review" not in title
    if flip:
        include = not include
    if include:
        return "include", ""
    if animal:
        return "exclude", REASONS[TA][0]
    if not knee:
        return "exclude", REASONS[TA][1]
    if not cells:
        return "exclude", REASONS[TA][2]
    return "exclude", REASONS[TA][3]
