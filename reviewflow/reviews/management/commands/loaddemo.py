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
        "two reviewers and three imported searches. Use --if-empty to do nothing when the "
        "database already has reviews."
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
        from screening.services import identification

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
            # Import here and now, so the demo is ready before the worker starts; the queued
            # task finds the search finished and does nothing.
            search = identification.run_import(search_id=search.pk)
            self.stdout.write(
                f"{filename}: {search.records_imported} records imported "
                f"({search.records_rejected} rejected)."
            )
        path = logins_path()
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        self.stdout.write(f"Demo review “{review.title}” created.")
        self._print_logins()

    def _print_logins(self) -> None:
        path = logins_path()
        if path.exists():
            self.stdout.write("Demo logins (username password):")
            self.stdout.write(path.read_text().rstrip())
