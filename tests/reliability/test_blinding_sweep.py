"""The blinding sweep (issues #5 and #8): across every page, API response and export that a
reviewer or extractor can reach, nobody sees another person's vote, reason, note or
extracted value on an item they have not yet completed.

The review is the permission matrix's (``_build``: one of each object) plus a blind
scenario: two reviewers per record at both stages, title/abstract ordered by relevance, a
closed pilot round (its records went back to the main round) and an open one, a full-text
report, and a published form with two extractors per study. Roberto (B) plants unique
markers in notes, free-text reasons (title/abstract has no configured reasons) and extracted
values on items that Rachel (A) and Olivia (the owner, who screens too) have not completed;
A plants her own on items B has not. Each of them then GETs every URL pattern of the
resolver and every GET operation of the OpenAPI schema with every id of the review, every
export format and variant, follows pagination, decodes zip and xlsx bodies, and hits error
paths. What each may see is what the design says:

- votes (``votes_visible_to``): one's own, and others' only on records settled or in
  conflict. With two reviewers per record such a record has all its votes, so a reviewer
  who did not vote on it can never vote on it: its votes are no longer "another person's
  vote on an item the user has not yet completed", and the conflicts page shows them to
  every reviewer, for adjudication (asserted: A finds the B-versus-owner conflict's notes);
- extracted values (``annotate_visibility``): one's own, and the others' of a study once
  every extractor has submitted, to those extractors and to owners; a consensus (the values
  extractors agreed on) not to anyone still extracting that study;
- counts of votes may show; decisions may not: A's views are the same bytes whether B
  included or excluded the record A is being offered;
- labels on records (``labels_visible_to``): as votes, one's own, and others' only on
  records settled or in conflict at the label's stage. Label names are the review's (every
  member reads them); what stays hidden is who put which on a record, and how many records
  carry one. B puts ``ZQX-LBL-HIDDEN`` only on records A and the owner have not finished,
  A puts ``ZQX-LBL-A-MINE`` on A's own, and B ``ZQX-LBL-SHOWN`` on the conflict's record:
  each is looked for where pages show labels on records (and in exports), and JSON label
  applications and counts are checked against the rule;
- answers to screening questions (``answers_visible_to``): as votes. B answers on records A
  and the owner have not finished (and changes the answer on the record A is offered, which
  must not change A's views), A on A's own, B on the conflict's record: every JSON answer
  (and every vote's ``answers``) and every answer cell of the votes export must be one the
  persona may see, and the owner's export shows B's answer on the conflict's record.

Markers are looked for in every body; JSON is also read for structure: every vote object
(``reviewer``, ``record``, ``decision``), extraction with values, comparison and audit event
must be one the design lets that persona see. B's own sweep must find B's markers, and its
JSON holds votes and values A may not see: the collector can fail.
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import itertools
import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.pagination import PageNumberPagination
from rest_framework.test import APIClient

from extraction.models import Extraction, Form
from extraction.selectors import annotate_visibility, comparison_for, included_studies, is_owner
from extraction.services.consensus import consensus_for, save_consensus
from extraction.services.extractions import (
    reopen_extraction,
    save_draft,
    start_extraction,
    submit_extraction,
    unassign_extractor,
)
from reviewflow.reviews import services as review_services
from reviewflow.reviews.models import Invitation, Membership, Notification, Role
from screening.models import (
    Comment,
    Conflict,
    DuplicatePair,
    Label,
    OaRun,
    PdfBatch,
    PdfFile,
    QuestionAnswer,
    Record,
    RecordLabel,
    RetractionCheck,
    SavedSearch,
    ScreeningQuestion,
    Search,
    Stage,
    Vote,
)
from screening.selectors.discussion import comments_visible_to
from screening.selectors.identification import STATUSES
from screening.selectors.labels import label_counts, labels_visible_to
from screening.selectors.questions import answers_visible_to
from screening.selectors.screening import votes_visible_to
from screening.services import prioritisation
from screening.services.connectors import create_saved_search
from screening.services.discussion import add_comment
from screening.services.fulltext import attach_full_text
from screening.services.labels import apply_label, create_label
from screening.services.questions import create_question, save_answers
from screening.services.screening import pilot
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.screening.votes import cast_vote, undo_last_vote
from screening.services.work import create_assignments
from screening.views.exports import RECORD_STAGES
from tests.extraction.helpers import GOOD
from tests.reliability.test_permission_matrix import (
    HTML_GET,
    PARAM,
    PERSONAS,
    SKIPPED_PREFIXES,
    _body,
    _build,
    _import,
    _patterns,
)
from tests.screening.factories import ris_records

pytestmark = pytest.mark.django_db(transaction=True)  # imports and retrains run on commit

TA, FT = Stage.TITLE_ABSTRACT.value, Stage.FULL_TEXT.value

# B's markers on items neither A nor the owner has completed.
B_HIDDEN = {
    "ZQX-NOTE-B-INC": "B's note on a record B included, A not voted",
    "ZQX-NOTE-B-EXC": "B's note on a record B excluded, A not voted",
    "ZQX-RSN-B-EXC": "B's free-text reason on that record",
    "ZQX-NOTE-B-FT": "B's note on a full-text exclusion, A not voted",
    "ZQX-NOTE-B-DIFF": "B's note on the record A is being offered",
    "ZQX-RSN-B-DIFF": "B's reason on the record A is being offered",
    "ZQX-PILOT-B": "B's notes and reason in the pilot rounds, A not voted",
    "ZQX-VAL-B-S1": "B's submitted text value, A's extraction still a draft",
    "ZQX-ARM-B-S1": "B's submitted table value, A's extraction still a draft",
    "987654": "B's submitted number, A's extraction still a draft",
    "ZQX-CMT-B-HIDDEN": "B's comment on a record B voted on, A and the owner not (#18)",
    "ZQX-VAL-B-S2": "B's submitted text value, A has not started",
    "876543": "B's submitted number, A has not started",
    "ZQX-QUOTE-B-S1": "B's quote (evidence, #22) behind a submitted value, A still drafting",
    "ZQX-QUOTE-B-S2": "B's quote behind a submitted table cell, A has not started",
}
# A's markers on items neither B nor the owner has completed.
A_OWN = {
    "ZQX-NOTE-A-MINE": "A's note on a record only A voted on",
    "ZQX-VAL-A-S1": "A's draft value on the study B submitted",
    "ZQX-QUOTE-A-S1": "A's draft quote on the study B submitted",
    "ZQX-CMT-A-MINE": "A's comment on a record only A voted on (#18)",
}
# On a record in conflict between B and the owner (A can never vote on it): shown.
CONFLICT = {"ZQX-NOTE-B-CONF", "ZQX-NOTE-C-CONF", "ZQX-CMT-B-CONF"}
# B's own markers that B's own sweep must find (the pilot's are shown nowhere).
B_FINDS = set(B_HIDDEN) - {"ZQX-PILOT-B"}

PAGE_SIZE = 5  # small API pages, so the sweep follows ``next`` for real


def _values(country: str, size: str, arm: str = "MSC") -> dict[str, Any]:
    return {
        **GOOD,
        "country": country,
        "sample_size": size,
        "arms": [{"arm": arm, "n": 20, "mean": "7.1"}, {"arm": "Placebo", "n": 20}],
    }


def _import_blind(review: Any, owner: Any) -> list[Record]:
    """The records of the blind scenario; title/abstract is then ordered by relevance."""
    text = ris_records(12, start=101, prefix="Blind sweep trial")
    _import(review, owner, text, "z.ris", "CINAHL")
    update_stage_settings(review=review, stage=TA, actor=owner, order="relevance")
    return list(Record.objects.filter(review=review, search__filename="z.ris").order_by("position"))


def _scenario(review: Any, owner: Any, a: Any, b: Any, p: list[Record]) -> dict[str, Any]:
    """The blind items on top of ``_build``'s objects; returns what the test needs."""

    def vote(record: Record, user: Any, decision: str, stage: str = TA, **extra: str) -> Vote:
        return cast_vote(
            review=review, record=record, reviewer=user, stage=stage, decision=decision, **extra
        )

    # Answers (#18), planted before the votes (they change only while a record's votes are
    # not shown): B's on records A and the owner have not finished, A's on A's own, B's on
    # the record that goes to conflict; and B's at full text below.
    questions = {
        stage: create_question(review=review, actor=owner, stage=stage, text=f"ZQX-Q {stage}?")
        for stage in (TA, FT)
    }

    def answer(record: Record, user: Any, value: str, stage: str = TA) -> None:
        save_answers(
            review=review,
            record=record,
            reviewer=user,
            stage=stage,
            answers={questions[stage].pk: value},
        )

    for record, user, value in ((p[0], b, "no"), (p[1], b, "no"), (p[2], b, "unclear")):
        answer(record, user, value)
    answer(p[4], a, "yes")
    vote(p[0], b, "include", note="ZQX-NOTE-B-INC")
    vote(p[1], b, "exclude", reason="ZQX-RSN-B-EXC", note="ZQX-NOTE-B-EXC")
    vote(p[2], b, "include", note="ZQX-NOTE-B-CONF")
    vote(p[2], owner, "exclude", note="ZQX-NOTE-C-CONF")
    vote(p[3], b, "maybe", note="ZQX-NOTE-B-AGREE")
    vote(p[3], owner, "include", note="ZQX-NOTE-C-AGREE")
    vote(p[4], a, "include", note="ZQX-NOTE-A-MINE")
    for record in p[5:8]:  # on to full text
        vote(record, b, "include")
        vote(record, owner, "include")
    attach_full_text(
        review=review,
        record=p[5],
        actor=owner,
        file=io.BytesIO(b"%PDF-1.4\n% blind full text\n%%EOF\n"),
        filename="blind.pdf",
    )
    answer(p[5], b, "no", stage=FT)
    vote(p[5], b, "exclude", stage=FT, reason="Wrong population", note="ZQX-NOTE-B-FT")
    for record in p[6:8]:  # two more included studies
        vote(record, b, "include", stage=FT)
        vote(record, owner, "include", stage=FT)
    prioritisation.request_retrain(review=review, stage=TA, force=True)

    form = Form.objects.get(review=review, status="published")
    s1, s2 = p[6], p[7]
    mine = start_extraction(form=form, record=s1, extractor=a)
    save_draft(
        extraction=mine,
        actor=a,
        values=_values("ZQX-VAL-A-S1", "55", "A arm"),
        evidence={"country": {"quote": "ZQX-QUOTE-A-S1", "page": 1}},
    )
    theirs = start_extraction(form=form, record=s1, extractor=b)
    submit_extraction(
        extraction=theirs,
        actor=b,
        values=_values("ZQX-VAL-B-S1", "987654", "ZQX-ARM-B-S1"),
        evidence={"country": {"quote": "ZQX-QUOTE-B-S1", "page": 2}},
    )
    other = start_extraction(form=form, record=s2, extractor=b)
    submit_extraction(
        extraction=other,
        actor=b,
        values=_values("ZQX-VAL-B-S2", "876543"),
        evidence={"arms.1.n": {"quote": "ZQX-QUOTE-B-S2", "page": 3}},
    )

    # Pilot rounds: at title/abstract B screened it and it closed (its records went back to
    # the main round, where A has not screened them); at full text it is open, A not voted.
    for record in p[8:10]:
        vote(record, b, "include")
        vote(record, owner, "include")
    rounds = {}
    for stage, reason in ((TA, "ZQX-PILOT-B-RSN"), (FT, "Wrong outcome")):
        rounds[stage] = pilot.start_pilot(review=review, stage=stage, actor=owner, size=2)
        for n, record in enumerate(rounds[stage].records.order_by("pk"), 1):
            pilot.cast_pilot_vote(
                pilot=rounds[stage],
                record=record,
                reviewer=b,
                decision="exclude",
                reason=reason,
                note=f"ZQX-PILOT-B-{stage}-{n}",
            )
    pilot.close_pilot(pilot=rounds[TA], actor=owner)

    # Labels: B's on records A and the owner have not finished (and on the record A is
    # offered, in the test), A's on A's own, B's on the conflict's record.
    # A saved database search, so the sweep reaches its pages (it holds no votes).
    create_saved_search(review=review, actor=owner, source="pubmed", query="stem cells")
    hidden = create_label(review=review, actor=owner, name="ZQX-LBL-HIDDEN", key="h")
    a_mine = create_label(review=review, actor=owner, name="ZQX-LBL-A-MINE", colour="red")
    shown = create_label(review=review, actor=owner, name="ZQX-LBL-SHOWN", colour="teal")
    for record in (p[0], p[1]):
        apply_label(review=review, record=record, label=hidden, user=b, stage=TA)
    apply_label(review=review, record=p[5], label=hidden, user=b, stage=FT)
    apply_label(review=review, record=p[4], label=a_mine, user=a, stage=TA)
    apply_label(review=review, record=p[2], label=shown, user=b, stage=TA)
    # Comments (#18), by the rule of votes plus "once the reader voted": B's on a record
    # A and the owner have not voted on, A's on A's own, B's on the conflict's record.
    add_comment(record=p[0], stage=TA, author=b, body="ZQX-CMT-B-HIDDEN cc @rachel")
    add_comment(record=p[4], stage=TA, author=a, body="ZQX-CMT-A-MINE")
    add_comment(record=p[2], stage=TA, author=b, body="ZQX-CMT-B-CONF")
    # Assigned work (#20): B's and the owner's records they voted on (so ``next`` offers
    # A the same records), for the workload and assignment lists to show (counts only).
    create_assignments(
        review=review,
        stage=TA,
        actor=owner,
        pairs=[(p[0].pk, b.pk, None), (p[1].pk, b.pk, None), (p[2].pk, owner.pk, None)],
        action="screening.work_assigned",
        facts={"mode": "evenly"},
    )
    return {
        "r_inc": p[0],
        "r_exc": p[1],
        "r_conf": p[2],
        "r_mine": p[4],
        "r_ft": p[5],
        "pilot": rounds[FT],
        "form": form,
        "s1": s1,
        "s2": s2,
        "mine": mine,
        "theirs": theirs,
    }


# ------------------------------------------------------------------------------ collecting


def _decoded(body: bytes) -> bytes:
    """A body with every zip (CSV bundles, xlsx) replaced by its members' text."""
    if not body.startswith(b"PK\x03\x04"):
        return body
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return b"\n".join(_decoded(archive.read(name)) for name in archive.namelist())


def _dicts(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, dict):
        yield doc
        for value in doc.values():
            yield from _dicts(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _dicts(value)


VOTE_EVENT = re.compile(rb"<td>([^<]*)</td><td><code>vote\.")  # a record's history row
# Where a page shows labels put on records (not the review's list of labels, which every
# member reads), and the exports that carry a labels column.
APPLIED = re.compile(rb"data-others-labels>(.*?)</p>|data-record-list-labels>(.*?)</small>", re.S)
LABELLED_EXPORTS = ("/exports/records-", "/exports/votes.", "/records/export/")
LABEL_FILTER = re.compile(r"[?&]label=(\d+)")
# The records list's filter by a reviewer's votes (#18): only the votes one may see.
REVIEWER_FILTER = re.compile(r"/records/\?reviewer=([\w.@+-]+)$")
RECORDS_COUNT = re.compile(rb'Records <span class="muted">\(([\d,]+)\)</span>')


def _applied(where: str, body: bytes) -> bytes:
    """What of a body shows labels on records: the regions of a page that do, an export
    with a labels column whole, nothing of JSON (judged by its structure)."""
    if any(part in where for part in LABELLED_EXPORTS):
        return body
    if body.lstrip()[:1] == b"<":
        return b"\n".join(b"".join(m) for m in APPLIED.findall(body))
    return b""


PAGE_LINK = re.compile(rb'href="\?([^"]*page=\d+[^"]*)"')


class Sweeper:
    """One persona's browser and API client; keeps every body it was answered."""

    def __init__(self, user: Any):
        self.user = user
        self.html = Client()
        self.html.force_login(user)
        self.api = APIClient()
        self.api.force_authenticate(user)
        self.bodies: list[tuple[str, bytes]] = []
        self.documents: list[tuple[str, Any]] = []
        self.errors: list[str] = []
        self.statuses: Counter[int] = Counter()

    def keep(self, where: str, response: Any) -> tuple[bytes, Any]:
        """Keep the body (and the JSON document, returned, if it is one)."""
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.errors.append(f"{where}: {response.status_code}")
        body, doc = _decoded(_body(response)), None
        self.bodies.append((where, body))
        if "json" in response.get("Content-Type", "") and body:
            doc = json.loads(body)
            self.documents.append((where, doc))
        return body, doc

    def get(self, url: str, *, api: bool, **extra: Any) -> Any:
        """GET ``url`` and every further page it links to; the first response."""
        first, queue, seen = None, [url], set()
        while queue:
            current = queue.pop()
            if current in seen:
                continue
            seen.add(current)
            response = (self.api if api else self.html).get(current, **extra)
            body, doc = self.keep(f"GET {current}", response)
            first = response if first is None else first
            if isinstance(doc, dict) and isinstance(doc.get("next"), str):
                queue.append(doc["next"])
            elif not api:
                path = current.split("?")[0]
                queue += [
                    f"{path}?{html_lib.unescape(m.decode())}" for m in PAGE_LINK.findall(body)
                ]
        return first

    def send(self, method: str, url: str, data: Any = None, *, api: bool, **extra: Any) -> Any:
        client = self.api if api else self.html
        kwargs = {"format": "json"} if api else {}
        response = getattr(client, method)(url, data or {}, **kwargs, **extra)
        self.keep(f"{method.upper()} {url}", response)
        return response

    def found(self, markers: set[str] | dict[str, str]) -> dict[str, list[str]]:
        hits: dict[str, list[str]] = {}
        for where, body in self.bodies:
            for marker in markers:
                if marker.encode() in body:
                    hits.setdefault(marker, []).append(where)
        return hits


def _values_for(review: Any) -> dict[Any, list[Any]]:
    """Every id of the review, per URL kwarg; ``(URL name, kwarg)`` where the name decides."""
    pk = "pk"
    members = Membership.objects.filter(review=review).select_related("user")
    return {
        "slug": [review.slug],
        "stage": [TA, FT],
        ("export-records", "stage"): list(RECORD_STAGES),
        ("export-records", "fmt"): ["ris", "csv", "bib"],
        ("export-votes", "fmt"): ["csv", "xlsx"],
        ("extraction-export", "fmt"): ["csv", "xlsx", "json"],
        "which": ["consensus", "extractor"],
        # Risk-of-bias plots of the consensus (#23).
        "kind": ["traffic-light", "summary"],
        ("extraction-rob-plot", "fmt"): ["svg", "png"],
        # The meta-analysis of the consensus (#23): its plots in every format.
        ("extraction-synthesis-plot", "kind"): ["forest", "funnel"],
        ("extraction-synthesis-plot", "fmt"): ["svg", "png", "pdf"],
        ("extraction-grade-export", "fmt"): ["html", "docx"],
        ("extraction-synthesis-csv", "which"): ["results", "inputs"],
        "record_id": list(Record.objects.filter(review=review).values_list(pk, flat=True)),
        "search_id": list(Search.objects.filter(review=review).values_list(pk, flat=True)),
        "conflict_id": list(Conflict.objects.filter(review=review).values_list(pk, flat=True)),
        "pair_id": list(DuplicatePair.objects.filter(review=review).values_list(pk, flat=True)),
        "member_id": [m.pk for m in members],
        "invitation_id": list(Invitation.objects.filter(review=review).values_list(pk, flat=True)),
        "token": list(Invitation.objects.filter(review=review).values_list("token", flat=True)),
        "form_id": list(Form.objects.filter(review=review).values_list(pk, flat=True)),
        "extraction_id": list(
            Extraction.objects.filter(form__review=review).values_list(pk, flat=True)
        ),
        "usernames": [m.user.username for m in members],
        "screeners": [m.user.username for m in members if m.role != Role.VIEWER],
        "label_id": list(Label.objects.filter(review=review).values_list(pk, flat=True)),
        "saved_search_id": list(
            SavedSearch.objects.filter(review=review).values_list(pk, flat=True)
        ),
        "number": [1],  # the review's one round
        # Every comment and every vote of the review, others' too (#18): a 404 for those
        # the persona may not see.
        "comment_id": list(Comment.objects.filter(review=review).values_list(pk, flat=True)),
        "vote_id": list(Vote.objects.filter(review=review).values_list(pk, flat=True)),
        "question_id": list(
            ScreeningQuestion.objects.filter(review=review).values_list(pk, flat=True)
        ),
        # PDF batches and their files (#22).
        "batch_id": list(PdfBatch.objects.filter(review=review).values_list(pk, flat=True)),
        "file_id": list(PdfFile.objects.filter(review=review).values_list(pk, flat=True)),
        # Open-access look-ups (#22): no vote in them, but every URL is swept.
        "run_id": list(OaRun.objects.filter(review=review).values_list(pk, flat=True)),
        # Retraction checks (#21): no vote in them, but every URL is swept.
        "check_id": list(RetractionCheck.objects.filter(review=review).values_list(pk, flat=True)),
        # Every notification of the review, others' too (#20): a 404 for those not one's own;
        # a mention never quotes a comment its reader may not read yet.
        "notification_id": list(
            Notification.objects.filter(review=review).values_list(pk, flat=True)
        ),
    }


def _expand(route: str, name: str, values: dict[Any, list[Any]]) -> Iterator[tuple[str, dict]]:
    """``route`` with its kwargs filled in every combination of the review's ids."""
    names = [m.group(1) or m.group(2) for m in PARAM.finditer(route)]
    choices = [values.get((name, k), values.get(k)) for k in names]
    assert all(c for c in choices), f"{route}: no values for {names}"
    for combo in itertools.product(*choices):
        given = iter(combo)  # PARAM.sub calls the function once per kwarg, in order
        url = "/" + PARAM.sub(lambda _, given=given: str(next(given)), route).lstrip("/")
        yield url, dict(zip(names, combo, strict=True))


def _queries(name: str, kwargs: dict[str, Any], values: dict[Any, list[Any]]) -> list[str]:
    """Query-string variants of one URL: filters, formats, one extractor's export."""
    stages = [TA, FT]
    by_label = [f"?label={n}" for n in values["label_id"]]
    # #18: by a reviewer's votes, by a vote's decision (blinding decides what they list).
    by_vote = [
        *(f"?reviewer={u}" for u in values["screeners"]),
        *(f"?decision={d}&stage={s}" for d in ("include", "exclude") for s in stages),
    ]
    if name == "review-records":
        filters = [f"?stage={s}&status={st}" for s in stages for st in STATUSES]
        return ["", "?q=ZQX", "?duplicates=exclude", *filters, *by_label, *by_vote]
    if name == "records-export" or name.endswith("/records/export/"):
        return ["", *(f"?format=csv&reviewer={u}" for u in values["screeners"])]
    if name == "conflicts":
        return [f"?stage={s}" for s in stages]
    if name == "record-comments" or name.endswith("/comments/"):  # #18
        return ["", *(f"?stage={s}" for s in stages)]
    if name == "screen-history" or name.endswith("/history/"):
        return ["", "?q=ZQX", "?decision=exclude"]
    if name == "agreement":
        return ["", "?format=csv"]
    if name == "extraction-export" and kwargs.get("which") == "extractor":
        return [f"?user={u}" for u in values["usernames"]]
    if name.endswith("/records/"):
        searches = (f"?search={s}" for s in values["search_id"])
        return ["", "?q=ZQX", "?duplicates=exclude", *searches, *by_label, *by_vote]
    if name.endswith("/conflicts/"):
        return ["", *(f"?stage={s}" for s in stages)]
    if name.endswith("/extractions/"):
        rows = [f"?form={f}&record={r}" for f in values["form_id"] for r in values["record_id"]]
        return ["", "?mine=1", *rows]
    if name.endswith("/duplicates/"):
        return ["", "?decision=all"]
    if name.endswith("/consensus/"):
        return ["", *(f"?form={f}" for f in values["form_id"])]
    return [""]


def _sweep(sweeper: Sweeper, persona: str, values: dict[Any, list[Any]], schema: Any) -> int:
    """GET every API operation and every page (but POST-only ones) as ``sweeper``;
    returns how many URL patterns and operations were swept."""
    column = PERSONAS.index(persona)
    swept = 0
    for path, methods in sorted(schema["paths"].items()):
        if "get" not in methods:
            continue
        swept += 1
        for url, kwargs in _expand(path, path, values):
            for query in _queries(path, kwargs, values):
                sweeper.get(url + query, api=True)
    for route, pattern in _patterns(get_resolver()):
        if route.startswith(("api/v1/", *SKIPPED_PREFIXES)):
            continue
        name = pattern.name or route
        if HTML_GET.get(name, (200,) * len(PERSONAS))[column] == 405:
            continue  # POST-only: its error paths are exercised below
        swept += 1
        for url, kwargs in _expand(route, name, values):
            for query in _queries(name, kwargs, values):
                sweeper.get(url + query, api=False)
                if name == "screen":  # the panel htmx swaps in, too
                    sweeper.get(url, api=False, HTTP_HX_REQUEST="true")
    return swept


# ------------------------------------------------------------------------------ judging


def _visible(review: Any, user: Any) -> dict[str, Any]:
    """What the design lets ``user`` see: vote ids, extraction ids with values, comparable
    studies, and (record, stage) pairs whose vote events show in the audit trail."""
    votes = votes_visible_to(user, Vote.objects.filter(review=review))
    owner = is_owner(review, user)
    extractions = annotate_visibility(
        Extraction.objects.filter(form__review=review), user, owner=owner, visible_only=True
    )
    comparable = set()
    for form in Form.objects.filter(review=review, status="published"):
        for record in included_studies(review):
            try:
                comparison_for(form=form, record=record, user=user)
            except Exception:  # noqa: BLE001, S112 - ReviewflowError: not comparable for user
                continue
            comparable.add((form.pk, record.pk))
    labels = labels_visible_to(user, RecordLabel.objects.filter(review=review))
    return {
        "username": user.username,
        "labels": set(labels.values_list("pk", flat=True)),
        "label_counts": label_counts(review, user),
        "label_records": {
            label: set(labels.filter(label_id=label).values_list("record_id", flat=True))
            for label in Label.objects.filter(review=review).values_list("pk", flat=True)
        },
        "votes": set(votes.values_list("pk", flat=True)),
        "answers": set(
            answers_visible_to(user, QuestionAnswer.objects.filter(review=review)).values_list(
                "pk", flat=True
            )
        ),
        "answer_keys": set(
            answers_visible_to(user, QuestionAnswer.objects.filter(review=review)).values_list(
                "record_id", "question__stage", "reviewer__username"
            )
        ),
        "reviewer_records": {
            username: set(
                votes.filter(reviewer__username=username).values_list("record_id", flat=True)
            )
            for username in Membership.objects.filter(review=review).values_list(
                "user__username", flat=True
            )
        },
        "vote_records": set(votes.values_list("record_id", "stage")),
        "hidden_records": set(
            Vote.objects.filter(review=review)
            .exclude(pk__in=votes.values("pk"))
            .values_list("record_id", flat=True)
        ),
        "extractions": set(extractions.values_list("pk", flat=True)),
        "comparable": comparable,
        "comments": set(  # #18
            comments_visible_to(user, Comment.objects.filter(review=review)).values_list(
                "pk", flat=True
            )
        ),
    }


def _structural_leaks(documents: list[tuple[str, Any]], rules: dict[str, Any]) -> list[str]:
    """Objects in JSON bodies the design does not let the persona of ``rules`` see."""
    leaks = []
    for where, doc in documents:
        for d in _dicts(doc):
            if {"reviewer", "record", "decision"} <= d.keys() and d.get("id") not in rules["votes"]:
                leaks.append(f"{where}: vote {d.get('id')} of {d['reviewer']} on {d['record']}")
            comment_keys = {"author", "body", "mentions", "record"}
            if comment_keys <= d.keys() and d.get("id") not in rules["comments"]:
                leaks.append(f"{where}: comment {d.get('id')} of {d['author']} on {d['record']}")
            if {"applied_by", "label", "record"} <= d.keys() and d.get("id") not in rules["labels"]:
                leaks.append(f"{where}: label {d['name']} of {d['applied_by']} on {d['record']}")
            answer_keys = {"question", "reviewer", "answer", "record"}
            if answer_keys <= d.keys() and d.get("id") not in rules["answers"]:
                leaks.append(f"{where}: answer {d['id']} of {d['reviewer']} on {d['record']}")
            answers = d.get("answers")
            if isinstance(answers, dict) and answers and d.get("reviewer") != rules["username"]:
                leaks.append(f"{where}: answers of {d.get('reviewer')} on {d.get('record')}")
            if {"name", "key", "records"} <= d.keys():
                expected = rules["label_counts"].get(d.get("id"), 0)
                if d["records"] != expected:
                    leaks.append(f"{where}: label {d['name']} on {d['records']}, not {expected}")
            values = d.get("values") if "extractor" in d else None
            if values is not None and d.get("id") not in rules["extractions"]:
                leaks.append(f"{where}: values of extraction {d.get('id')} ({d['extractor']})")
            study = (d.get("form"), d.get("record"))
            if d.get("comparison") is not None and study not in rules["comparable"]:
                leaks.append(f"{where}: comparison of study {d.get('record')}")
            if str(d.get("action", "")).startswith("vote.") and d.get("actor") != rules["username"]:
                data = d.get("after") or d.get("before") or {}
                record = int(str(d.get("target", "record 0")).split()[-1])
                shown = {"decision", "note", "reason"} & set(data)
                if shown and (record, data.get("stage")) not in rules["vote_records"]:
                    leaks.append(f"{where}: audit event {d.get('id')} of {d.get('actor')}")
    return leaks


def _answer_cells(bodies: list[tuple[str, bytes]]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(where, (record, stage, reviewer)) of every non-empty answer cell of a votes CSV."""
    for where, body in bodies:
        if "/exports/votes.csv" not in where or not body.startswith(b"record,"):
            continue
        rows = list(csv.reader(io.StringIO(body.decode())))
        columns = [n for n, title in enumerate(rows[0]) if re.match(r"Q\d+: ", title)]
        for row in rows[1:]:
            for n in columns:
                if row[n]:
                    yield where, (int(row[0]), row[2], row[3], row[n])


def _normalised(body: bytes) -> bytes:
    """A page without what changes on every request (the CSRF token)."""
    body = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", body)
    return re.sub(rb'"X-CSRFToken": "[^"]*"', b"", body)


# ------------------------------------------------------------------------------ the test


def test_nobody_sees_another_persons_vote_or_values_on_an_item_they_have_not_completed(
    review, owner, reviewer, reviewer2, monkeypatch
):
    a, b = reviewer, reviewer2
    _build(review, owner, a, b)
    blind = _import_blind(review, owner)
    sweep_a = Sweeper(a)
    offered = sweep_a.get(f"/api/v1/reviews/{review.slug}/screening/{TA}/next/", api=True)
    assert offered.status_code == 200, offered.content
    target = offered.json()["id"]  # held for A while A does not vote on it
    s = _scenario(review, owner, a, b, [r for r in blind if r.pk != target])
    monkeypatch.setattr(PageNumberPagination, "page_size", PAGE_SIZE)
    failures: list[str] = []

    # Counts may show, decisions may not: A's views of the record A is offered are the same
    # bytes whether B included it or excluded it (with a reason and a note).
    again = sweep_a.get(f"/api/v1/reviews/{review.slug}/screening/{TA}/next/", api=True)
    assert again.json()["id"] == target
    watched = [
        (f"/r/{review.slug}/screen/{TA}/", False, {"HTTP_HX_REQUEST": "true"}),
        (f"/r/{review.slug}/screen/{FT}/", False, {}),
        (f"/r/{review.slug}/", False, {}),
        (f"/r/{review.slug}/records/{target}/", False, {}),
        *((f"/r/{review.slug}/records/?stage={TA}&status={st}", False, {}) for st in STATUSES),
        (f"/api/v1/reviews/{review.slug}/screening/{TA}/next/", True, {}),
        (f"/api/v1/reviews/{review.slug}/records/{target}/", True, {}),
        (f"/api/v1/reviews/{review.slug}/prisma/", True, {}),
    ]

    def snapshot() -> list[bytes]:
        return [_normalised(_body(sweep_a.get(u, api=api, **x))) for u, api, x in watched]

    def b_votes(decision: str, **extra: str) -> None:
        cast_vote(review=review, record=target, reviewer=b, stage=TA, decision=decision, **extra)

    hint = Label.objects.get(review=review, name="ZQX-LBL-HIDDEN")
    apply_label(review=review, record=Record.objects.get(pk=target), label=hint, user=b, stage=TA)
    question = ScreeningQuestion.objects.get(review=review, text=f"ZQX-Q {TA}?")

    def b_answers(value: str) -> None:
        save_answers(
            review=review, record=target, reviewer=b, stage=TA, answers={question.pk: value}
        )

    b_answers("yes")
    b_votes("include", note="ZQX-NOTE-B-DIFF")
    included = snapshot()
    undo_last_vote(review=review, reviewer=b, stage=TA)
    b_answers("no")
    b_votes("exclude", reason="ZQX-RSN-B-DIFF", note="ZQX-NOTE-B-DIFF")
    excluded = snapshot()
    assert f'data-record="{target}"'.encode() in included[0], "A's page shows that record"
    for (url, _, _), one, other in zip(watched, included, excluded, strict=True):
        if one != other:
            failures.append(f"{url}: A's view changes with B's decision on record {target}")

    # The sweep: A (reviewer and extractor), the owner (who screens too), and B.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    values = _values_for(review)
    sweep_o, sweep_b = Sweeper(owner), Sweeper(b)
    swept = _sweep(sweep_a, "reviewer", values, schema)
    _sweep(sweep_o, "owner", values, schema)
    _sweep(sweep_b, "reviewer", values, schema)

    # Error paths, as A: refused votes, others' extractions by id, a consensus not open yet.
    votes_before = Vote.objects.count()
    api_votes = f"/api/v1/reviews/{review.slug}/screening/%s/votes/"
    html_vote = f"/r/{review.slug}/screen/%s/vote/"
    for stage, data in [
        (TA, {"record": s["r_inc"].pk, "decision": "bogus"}),
        (TA, {"record": s["r_exc"].pk, "decision": "Include", "note": "typo"}),
        (TA, {"record": s["r_conf"].pk, "decision": "include"}),
        (TA, {"record": 10**9, "decision": "include"}),
        (FT, {"record": s["r_ft"].pk, "decision": "exclude"}),
        (FT, {"record": s["r_ft"].pk, "decision": "exclude", "reason": "Not a reason"}),
        (FT, {"record": s["r_ft"].pk, "decision": "maybe"}),
    ]:
        response = sweep_a.send("post", api_votes % stage, data, api=True)
        assert 400 <= response.status_code < 500, (data, response.content)
        response = sweep_a.send("post", html_vote % stage, data, api=False, HTTP_HX_REQUEST="true")
        assert response.status_code in (200, 400, 404), (data, response.status_code)
    pilot_record = s["pilot"].records.order_by("pk").first()
    sweep_a.send(
        "post",
        html_vote % TA,
        {"record": pilot_record.pk, "pilot": s["pilot"].pk, "decision": "bogus"},
        api=False,
        HTTP_HX_REQUEST="true",
    )
    one = f"/api/v1/reviews/{review.slug}/extractions/{s['theirs'].pk}/"
    for method, url in [
        ("get", one),
        ("patch", one),
        ("post", f"{one}submit/"),
        ("post", f"{one}reopen/"),
        ("get", f"/api/v1/reviews/{review.slug}/consensus/{s['form'].pk}/{s['s1'].pk}/"),
    ]:
        response = sweep_a.send(method, url, {"values": {"country": "x"}}, api=True)
        assert response.status_code in (403, 404, 409), (method, url, response.status_code)
    study = f"/r/{review.slug}/extraction/forms/{s['form'].pk}/studies/%s/"
    sweep_a.send("post", study % s["s1"].pk, {"action": "submit"}, api=False)
    sweep_a.send("post", f"{study % s['s2'].pk}action/", {"action": "bogus"}, api=False)
    sweep_a.get(f"/r/{review.slug}/extraction/", api=False)  # the messages of the above
    sweep_o.html.get(f"{study % s['s1'].pk}compare/")  # refused, with a message: counts only
    sweep_o.get(f"/r/{review.slug}/extraction/", api=False)
    assert s["mine"].values == Extraction.objects.get(pk=s["mine"].pk).values  # nothing saved
    assert Vote.objects.count() == votes_before

    # Free-text search reads records, never notes or reasons.
    found = sweep_a.get(f"/api/v1/reviews/{review.slug}/records/?q=ZQX", api=True)
    assert found.json()["count"] == 0

    # Judge: no hidden marker, no object the design hides; each persona's own markers found.
    rules = {user.username: _visible(review, user) for user in (a, b, owner)}
    for sweeper, hidden, expected in [
        (sweep_a, {**B_HIDDEN}, {*A_OWN, *CONFLICT}),
        (sweep_o, {**B_HIDDEN, **A_OWN}, CONFLICT),
        (sweep_b, {**A_OWN}, {*B_FINDS, *CONFLICT}),
    ]:
        name = sweeper.user.username
        failures += [f"as {name}: {e}" for e in sweeper.errors]
        for marker, where in sweeper.found(hidden).items():
            failures.append(f"as {name}: {marker} ({hidden[marker]}) in {where[:3]}")
        missing = expected - set(sweeper.found(expected))
        if missing:
            failures.append(f"as {name}: the sweep never found {sorted(missing)}")
        failures += [
            f"as {name}: {leak}" for leak in _structural_leaks(sweeper.documents, rules[name])
        ]
        # A record's history leaves out others' votes (the page shows who and what, no data).
        pages = {f"GET /r/{review.slug}/records/{pk}/" for pk in rules[name]["hidden_records"]}
        failures += [
            f"as {name}: {where} shows a vote event of {who!r}"
            for where, body in sweeper.bodies
            if where in pages
            for who in VOTE_EVENT.findall(body)
            if who != name.encode()
        ]
    own_page = f"GET /r/{review.slug}/records/{s['r_mine'].pk}/"
    assert any(w == own_page and VOTE_EVENT.search(body) for w, body in sweep_a.bodies)
    # The structural check can fail: B's own JSON holds votes and values A may not see.
    a_rules = rules[a.username]
    assert len(_structural_leaks(sweep_b.documents, a_rules)) >= 4
    a_votes = [d for _, doc in sweep_a.documents for d in _dicts(doc) if "reviewer" in d]
    assert {v["reviewer"] for v in a_votes} >= {a.username, b.username, owner.username}
    # Labels on records, by the rule of votes: where pages show them and in exports...
    for sweeper, hidden_labels, expected in [
        (sweep_a, {"ZQX-LBL-HIDDEN"}, {"ZQX-LBL-A-MINE", "ZQX-LBL-SHOWN"}),
        (sweep_o, {"ZQX-LBL-HIDDEN", "ZQX-LBL-A-MINE"}, {"ZQX-LBL-SHOWN"}),
        (sweep_b, {"ZQX-LBL-A-MINE"}, {"ZQX-LBL-HIDDEN", "ZQX-LBL-SHOWN"}),
    ]:
        name = sweeper.user.username
        seen: dict[str, list[str]] = {}
        for where, body in sweeper.bodies:
            shown = _applied(where, body)
            for marker in hidden_labels | expected:
                if marker.encode() in shown:
                    seen.setdefault(marker, []).append(where)
        failures += [
            f"as {name}: label {m} shown in {seen[m][:3]}" for m in hidden_labels & set(seen)
        ]
        if missing := expected - set(seen):
            failures.append(f"as {name}: the sweep never found the labels {sorted(missing)}")
        # ...and a filter by label lists only the records one may see it on.
        label_records = rules[name]["label_records"]
        for where, body in sweeper.bodies:
            match = LABEL_FILTER.search(where)
            if match is None or "page=" in where:
                continue
            expected_n = len(label_records.get(int(match.group(1)), ()))
            if "/api/" in where:
                found_n = json.loads(body)["count"]
            else:
                count = RECORDS_COUNT.search(body)
                found_n = int(count.group(1).replace(b",", b"")) if count else -1
            if found_n != expected_n:
                failures.append(f"as {name}: {where} lists {found_n} records, not {expected_n}")
        # ...and a filter by a reviewer lists only the records one may see their vote on.
        for where, body in sweeper.bodies:
            match = REVIEWER_FILTER.search(where)
            if match is None:
                continue
            expected_n = len(rules[name]["reviewer_records"][match.group(1)])
            if "/api/" in where:
                found_n = json.loads(body)["count"]
            else:
                count = RECORDS_COUNT.search(body)
                found_n = int(count.group(1).replace(b",", b"")) if count else -1
            if found_n != expected_n:
                failures.append(f"as {name}: {where} lists {found_n} records, not {expected_n}")
    assert sweep_b.found({"ZQX-LBL-HIDDEN"}), "B's sweep finds B's labels: the collector can fail"
    # Answers in the votes export: only those the exporter may see, and those they may.
    for sweeper in (sweep_a, sweep_o, sweep_b):
        name = sweeper.user.username
        cells = list(_answer_cells(sweeper.bodies))
        failures += [
            f"as {name}: {where} shows the answer {cell[3]!r} of {cell[2]} on record {cell[0]}"
            for where, cell in cells
            if cell[:3] not in rules[name]["answer_keys"]
        ]
    owner_cells = {cell for _, cell in _answer_cells(sweep_o.bodies)}
    assert (s["r_conf"].pk, TA, b.username, "unclear") in owner_cells, owner_cells
    # The structural check of answers can fail: B's JSON holds B's answers A may not see...
    assert any(": answer " in leak for leak in _structural_leaks(sweep_b.documents, a_rules))
    # ...and A's holds A's own.
    assert any(
        d.get("reviewer") == a.username and "answer" in d
        for _, doc in sweep_a.documents
        for d in _dicts(doc)
    )

    assert not failures, "\n".join(failures)
    print(  # noqa: T201 - figures for the report (pytest -s)
        f"swept {swept} URL patterns and GET operations; responses by status: "
        f"A {dict(sweep_a.statuses)}, owner {dict(sweep_o.statuses)}, B {dict(sweep_b.statuses)}"
    )

    # Once A has voted or submitted, the design shows the rest.
    for record in (s["r_exc"], s["r_inc"]):  # a conflict with B, and an agreement
        response = sweep_a.send(
            "post", api_votes % TA, {"record": record.pk, "decision": "include"}, api=True
        )
        assert response.status_code == 201, response.content
    conflicts = sweep_a.get(f"/api/v1/reviews/{review.slug}/conflicts/?stage={TA}", api=True)
    shown = json.dumps(conflicts.json())
    assert "ZQX-NOTE-B-EXC" in shown and "ZQX-RSN-B-EXC" in shown
    # The adjudication desk shows one conflict at a time (#18): ask for this one.
    disputed = Conflict.objects.get(record=s["r_exc"], stage=TA)
    page = sweep_a.get(f"/r/{review.slug}/conflicts/?conflict={disputed.pk}", api=False)
    assert b"ZQX-NOTE-B-EXC" in page.content
    votes_csv = _body(sweep_o.html.get(f"/r/{review.slug}/exports/votes.csv"))
    assert b"ZQX-NOTE-B-INC" in votes_csv, "a settled record's votes go to the owner's export"
    assert b"ZQX-NOTE-B-FT" not in votes_csv, "the full-text record is still open"

    submitted = sweep_a.send(
        "post",
        f"/api/v1/reviews/{review.slug}/extractions/{s['mine'].pk}/submit/",
        {"values": _values("ZQX-VAL-A-S1", "55")},
        api=True,
    )
    assert submitted.status_code == 200, submitted.content
    both = sweep_a.get(
        f"/api/v1/reviews/{review.slug}/extractions/?record={s['s1'].pk}", api=True
    ).json()["results"]
    theirs = next(e for e in both if e["extractor"] == b.username)
    assert theirs["values_visible"] and theirs["values"]["country"] == "ZQX-VAL-B-S1"
    consensus = sweep_a.get(
        f"/api/v1/reviews/{review.slug}/consensus/{s['form'].pk}/{s['s1'].pk}/", api=True
    )
    assert b"ZQX-VAL-B-S1" in consensus.content
    # S2 is still B's alone: A sees nothing of it even now.
    assert not Sweeper.found(sweep_a, {"ZQX-VAL-B-S2", "876543"})


def test_an_extractor_given_a_freed_slot_sees_nothing_of_the_others_values(
    review, owner, reviewer, reviewer2, make_user, monkeypatch
):
    """A study completed once (its consensus opened) and reopened: an owner frees A's slot
    and Carla takes it. Until Carla submits, nothing of B's values reaches her."""
    a, b, carla = reviewer, reviewer2, make_user("carla")
    review_services.add_member(review=review, actor=owner, user=carla, role=Role.REVIEWER)
    _build(review, owner, a, b)
    form = Form.objects.get(review=review, status="published")
    study = Record.objects.get(pk=Extraction.objects.filter(form=form).first().record_id)
    done = {e.extractor_id: e for e in Extraction.objects.filter(form=form, record=study)}
    for user in (a, b):  # both agree on B's values: the consensus holds them
        reopen_extraction(extraction=done[user.pk], actor=user)
        submit_extraction(
            extraction=done[user.pk],
            actor=user,
            values=_values("ZQX-VAL-B-S1", "987654", "ZQX-ARM-B-S1"),
        )
    reopen_extraction(extraction=done[a.pk], actor=owner)
    unassign_extractor(extraction=done[a.pk], actor=owner)
    mine = start_extraction(form=form, record=study, extractor=carla)
    assert mine.status == "draft"
    consensus = consensus_for(form=form, record=study)
    assert consensus.values["country"] == "ZQX-VAL-B-S1"
    save_consensus(  # final: in the consensus export too
        form=form, record=study, actor=owner, values=consensus.values, final=True
    )
    monkeypatch.setattr(PageNumberPagination, "page_size", PAGE_SIZE)

    sweep_c, sweep_b = Sweeper(carla), Sweeper(b)
    schema = SchemaGenerator().get_schema(request=None, public=True)
    values_ = _values_for(review)
    _sweep(sweep_c, "reviewer", values_, schema)
    _sweep(sweep_b, "reviewer", values_, schema)
    hidden = {"ZQX-VAL-B-S1", "ZQX-ARM-B-S1", "987654"}
    leaks = {m: w[:3] for m, w in sweep_c.found(hidden).items()}
    leaks |= {"structure": _structural_leaks(sweep_c.documents, _visible(review, carla))}
    assert set(sweep_b.found(hidden)) == hidden  # B's sweep finds B's values
    assert leaks == {"structure": []}, leaks
    assert not sweep_c.errors

    # Once Carla submits, the study is complete again and its consensus hers to see.
    submit_extraction(extraction=mine, actor=carla, values=_values("Carla", "41"))
    url = f"/api/v1/reviews/{review.slug}/consensus/{form.pk}/{study.pk}/"
    response = sweep_c.get(url, api=True)
    assert response.status_code == 200 and b"ZQX-VAL-B-S1" in response.content
