"""Input parsed, not trusted (issue #15): a malformed parameter is a 400 or a clean default,
never a 500.

The permission matrix's review (a search with records, a duplicate pair, votes, a conflict,
a full text, a pilot round, an invitation) is built once; then, as its owner, every page of
the core and of the screening app (every URL name of ``reviewflow/reviews/urls.py`` and
``screening/urls.py``) is requested with malformed values for each query parameter its view
reads, one at a time and all at once, and each view that reads form fields outside a Django
form is posted malformed values for each of them. Pages fall back to a default for every
query parameter, so a page answers exactly as it does without the query string; a POST
answers anything but a 5xx. The API's query parameters are swept the same way: a choice
that is not one is a 400 naming the parameter, free text is read as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from rest_framework.test import APIClient

from reviewflow.reviews import urls as review_urls
from screening import urls as screening_urls
from screening.models import DuplicatePair, PairDecision
from screening.services import dedup
from tests.reliability.test_permission_matrix import KWARG_OVERRIDES, _build, _import, _ris

pytestmark = pytest.mark.django_db(transaction=True)  # imports and dedup run on commit

REPO = Path(__file__).resolve().parents[2]

# Values no parameter takes as given: words for numbers, signs, exponents past a float,
# NaN, a NUL byte (PostgreSQL refuses it), "digits" that isdigit() or int() accept and the
# other refuses, more digits than int() reads, a number past any id, long text, markup,
# blanks, and a parameter given twice (the last value counts).
MALFORMED: list[str | list[str]] = [
    "abc",
    "-1",
    "0",
    "1.5",
    "1e309",
    "NaN",
    "\x00",
    "1\x002",
    "\u00b2",
    "\u0663",
    "1_000",
    "",
    " ",
    "9" * 5000,
    "99999999999999999999999",
    "x" * 10_000,
    "<script>alert(1)</script>",
    ["1", "2"],
    ["abc", "1"],
]


@dataclass(frozen=True)
class Reads:
    """What a view reads outside a Django form: query parameters, and form fields of its
    POST. ``base`` holds valid values (formatted with ``_build()``'s map) sent with each
    malformed one, so that the request gets past the first check to the code that uses the
    others (a filter that needs a stage and a status, a vote that needs a record)."""

    get: tuple[str, ...] = ()
    post: tuple[str, ...] = ()
    base: dict[str, str] = field(default_factory=dict)


# Every URL name of the two URL modules: a new page must say what it reads. Form fields
# read through a Django form (ReviewForm, AddMemberForm, RoleForm, SearchUploadForm,
# StageSettingsForm, PrismaSettingsForm) are the form's to validate, and are not posted
# here: a valid guess could change the review under the sweep.
READS: dict[str, Reads] = {
    # reviewflow/reviews/urls.py
    "dashboard": Reads(),
    "review-create": Reads(),
    "review-detail": Reads(),
    "review-settings": Reads(),
    "review-members": Reads(),
    "member-role": Reads(),
    "member-remove": Reads(),
    "invitation-revoke": Reads(),
    "invitation-resend": Reads(),
    "review-audit": Reads(get=("page", "after", "before")),  # keyset cursors (#25)
    "invitation-accept": Reads(),
    # Its fields are read through InvitationSignUpForm.
    "invitation-signup": Reads(),
    # Notifications (#20): the list pages; settings are read through PreferenceForm; the
    # unsubscribe link reads only its token.
    "notifications": Reads(get=("page", "after", "before")),
    "notification-open": Reads(),
    "notifications-read-all": Reads(),
    "notification-settings": Reads(),
    "notification-unsubscribe": Reads(),
    # screening/urls.py
    "review-searches": Reads(),
    # Saved database searches read their fields through SavedSearchForm.
    "saved-searches": Reads(),
    "saved-search-run": Reads(),
    # Its choice is read through ScheduleForm.
    "saved-search-schedule": Reads(),
    "round-start": Reads(post=("label",)),
    # Retraction watch (#21): no parameter; the check takes no field.
    "retractions": Reads(),
    "retractions-panel": Reads(),
    "retractions-check": Reads(),
    # My votes (#18): the history, a jump by id, one record, a change of vote.
    "screen-history": Reads(get=("q", "decision", "page", "after", "before")),
    "screen-goto": Reads(get=("record",)),
    # Assigned work (#20): splits are read through SplitForm; a move names its reviewer.
    "workload": Reads(),
    "workload-split": Reads(),
    "workload-reassign": Reads(post=("source",)),
    "screen-record": Reads(),
    "screen-change": Reads(post=("decision", "reason", "note")),
    # A record's discussion (#18).
    "record-comments": Reads(
        get=("stage",), post=("stage", "body", "next"), base={"stage": "title-abstract"}
    ),
    "comment-edit": Reads(post=("body", "next")),
    "comment-delete": Reads(post=("next",)),
    "round-changelog": Reads(get=("round",)),
    "search-detail": Reads(),
    "search-delete": Reads(),
    "review-records": Reads(
        get=(
            *("q", "search", "year", "duplicates", "stage", "status", "reason", "label"),
            *("page", "after", "before"),  # keyset cursors (#25)
        ),
        base={"stage": "title-abstract", "status": "excluded"},
    ),
    # The filters of #18 (a reviewer, a vote, an answer to a question).
    "records-bulk": Reads(
        post=("action", "bulk_label", "ids", "scope", "filter", "next"),
        base={"action": "label", "bulk_label": "{label_id}"},
    ),
    "records-export": Reads(
        get=("format", "reviewer", "decision", "question", "answer"),
        post=("format", "ids", "scope", "filter", "next"),
    ),
    "record-detail": Reads(),
    "review-labels": Reads(
        post=("action", "label", "name", "colour", "key", "order"),
        base={"action": "update", "label": "{label_id}"},
    ),
    "record-labels": Reads(post=("label", "stage", "next"), base={"label": "{label_id}"}),
    "review-duplicates": Reads(get=("i",)),
    "duplicate-decide": Reads(post=("decision", "primary", "i")),
    "record-unmerge": Reads(),
    "screen": Reads(),
    "screen-vote": Reads(
        post=("record", "decision", "reason", "note", "pilot"),
        base={"record": "{record_id}", "decision": "exclude"},
    ),
    "screen-undo": Reads(),
    "stage-settings": Reads(),
    "stage-questions": Reads(
        post=("action", "question", "text", "exclusion_reason"),
        base={"action": "update", "question": "{question_id}"},
    ),
    "pilot": Reads(post=("action", "size")),
    "prioritisation": Reads(),
    "prioritisation-retrain": Reads(),
    "prioritisation-stop": Reads(post=("confirm", "method")),
    "prioritisation-stop-undo": Reads(),
    "prioritisation-sample": Reads(),
    "conflicts": Reads(get=("stage", "view", "conflict", "page")),
    "agreement": Reads(get=("format",)),
    "conflict-resolve": Reads(post=("decision", "reason", "note", "view", "page")),
    "fulltext-attach": Reads(post=("action", "note"), base={"action": "not_retrieved"}),
    "fulltext-study": Reads(post=("study_of",)),
    "fulltext-pdf": Reads(),
    # PDF batches (#22): the upload's files, and a waiting PDF's record (or none).
    "fulltext-batches": Reads(),
    "fulltext-batch": Reads(),
    "fulltext-resolve": Reads(post=("action", "record", "replace")),
    # Open-access look-ups (#22): the start takes no field.
    "oa-runs": Reads(),
    "oa-run": Reads(),
    "prisma": Reads(get=("format", "round", "draft")),
    "prisma-csv": Reads(),
    "exports": Reads(),
    "export-records": Reads(),
    "export-votes": Reads(),
    "export-audit": Reads(),
}
ALL_GET = sorted({name for reads in READS.values() for name in reads.get})


def _pages() -> list[URLPattern]:
    return [
        p
        for p in [*review_urls.urlpatterns, *screening_urls.urlpatterns]
        if isinstance(p, URLPattern)
    ]


def _url(pattern: URLPattern, kwargs: dict[str, Any]) -> str:
    name = str(pattern.name)
    names = pattern.pattern.converters
    return reverse(name, kwargs={k: KWARG_OVERRIDES.get((name, k), kwargs[k]) for k in names})


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(params: dict[str, str | list[str]]) -> str:
    return "&".join(f"{k}={_short(repr(v))}" for k, v in params.items())


def _failure(where: str, response: Any) -> str:
    exc = getattr(response, "exc_info", None)
    return f"{where}: {response.status_code}" + (f" ({_short(repr(exc[1]), 200)})" if exc else "")


def test_every_page_answers_malformed_parameters_with_a_default_never_a_500(
    review, owner, reviewer, reviewer2, viewer
):
    kwargs = _build(review, owner, reviewer, reviewer2)
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    failures: list[str] = []
    pages = _pages()
    names = {str(p.name) for p in pages}
    failures += [f"{name}: no row in READS; add one" for name in sorted(names - set(READS))]
    failures += [f"READS row for no URL: {name}" for name in sorted(set(READS) - names)]
    sent = 0

    # GET: each parameter alone (with ``base``), then every parameter of every page at once.
    # Each page falls back to a default, so it answers as it does without a query string (a
    # POST-only page answers 405 either way).
    for pattern in pages:
        name, url = str(pattern.name), _url(pattern, kwargs)
        baseline = client.get(url).status_code
        if baseline >= 500:
            failures.append(f"GET {url} ({name}): {baseline} without a query string")
            continue
        reads = READS.get(name, Reads())
        base = {k: v.format(**kwargs) for k, v in reads.base.items()}
        queries = [{**base, param: value} for param in reads.get for value in MALFORMED] + [
            dict.fromkeys(ALL_GET, value) for value in MALFORMED
        ]
        for query in queries:
            response = client.get(url, query)
            sent += 1
            if response.status_code != baseline:
                failures.append(
                    _failure(
                        f"GET {url} ({name}) ?{_shown(query)}, not {baseline} as without it",
                        response,
                    )
                )

    # POST: each field read outside a form alone (on top of ``base``), then all at once.
    for pattern in pages:
        name, url = str(pattern.name), _url(pattern, kwargs)
        reads = READS.get(name, Reads())
        if not reads.post:
            continue
        base = {k: v.format(**kwargs) for k, v in reads.base.items()}
        bodies = [{**base, param: value} for param in reads.post for value in MALFORMED] + [
            dict.fromkeys(reads.post, value) for value in MALFORMED
        ]
        for body in bodies:
            response = client.post(url, body)
            sent += 1
            if response.status_code >= 500:
                failures.append(_failure(f"POST {url} ({name}) {_shown(body)}", response))

    assert not failures, f"{len(failures)} of {sent} requests:\n" + "\n".join(failures)
    assert sent > 1000  # the sweep ran


@pytest.fixture
def two_pairs(review, owner) -> list[DuplicatePair]:
    """Pending duplicate pairs (two at least): the same two trials in two searches, one
    without DOIs and in other volumes, so a person decides each."""
    titles = [
        "Mesenchymal stem cells for knee osteoarthritis: a randomised trial",
        "Umbilical cord stromal cells in type 2 diabetes: a pilot study",
    ]
    # Two articles of one volume have different pages (the same citation is one article).
    first = "".join(
        _ris(t, f"10.1002/sctm.19-000{n}", first_page=100 + 20 * n) for n, t in enumerate(titles)
    )
    second = "".join(_ris(t, "", volume="9", first_page=100 + 20 * n) for n, t in enumerate(titles))
    _import(review, owner, first, "b.ris", "Embase")
    _import(review, owner, second, "c.ris", "Scopus")
    dedup.run_dedup(review_id=review.pk)
    pairs = list(DuplicatePair.objects.filter(review=review, decision=PairDecision.PENDING))
    assert len(pairs) >= 2, "the fixture needs two pairs for a person to decide"
    return pairs


def test_duplicates_page_with_a_malformed_index_shows_the_first_pair(
    two_pairs, review, client_for, owner
):
    """``?i=abc`` was a 500."""
    client, n = client_for(owner), len(two_pairs)
    url = reverse("review-duplicates", args=[review.slug])
    for query in ("?i=abc", "?i=-1", "?i=1e309", "?i=%00", "?i=%C2%B2", "?i=", "?i=1&i=abc"):
        response = client.get(url + query)
        assert response.status_code == 200, query
        assert f"Pair 1 of {n}" in response.content.decode(), query
    # Well-formed indexes as before: the second pair, and past the end the last.
    assert f"Pair 2 of {n}" in client.get(url + "?i=1").content.decode()
    assert f"Pair 2 of {n}" in client.get(url + "?i=abc&i=1").content.decode()
    assert f"Pair {n} of {n}" in client.get(url + "?i=99").content.decode()


def test_api_query_parameters_answer_a_choice_that_is_not_one_with_a_400(two_pairs, review, owner):
    client = APIClient()
    client.force_authenticate(owner)
    base = f"/api/v1/reviews/{review.slug}"
    # (path, parameter, choices when the API refuses any other value; None: free text)
    swept: list[tuple[str, str, str | None]] = [
        ("duplicates/", "decision", "pending, auto, confirmed, separated, all"),
        ("conflicts/", "stage", "title-abstract, full-text"),
        *(("records/", p, None) for p in ("q", "search", "year", "duplicates")),
    ]
    failures = []
    for path, param, choices in swept:
        for value in MALFORMED:
            response = client.get(f"{base}/{path}", {param: value})
            last = value[-1] if isinstance(value, list) else value
            expected = 400 if choices is not None and last else 200
            where = f"GET {path}?{_shown({param: value})}"
            if response.status_code != expected:
                failures.append(_failure(f"{where}: not {expected}", response))
            elif expected == 400 and response.json() != {
                "detail": f"{param} must be one of: {choices}.",
                "field": param,
            }:
                failures.append(f"{where}: {response.json()}")
    assert not failures, "\n".join(failures)
    # Well-formed values as before.
    n = len(two_pairs)
    assert client.get(f"{base}/duplicates/").json()["count"] == n
    assert client.get(f"{base}/duplicates/", {"decision": "all"}).json()["count"] == n
    assert client.get(f"{base}/conflicts/", {"stage": "title-abstract"}).status_code == 200


# A read of request input by hand: ``request.GET.get(...)``, ``request.POST["x"]``, ...
RAW_READ = re.compile(r"request\.(?:GET|POST|query_params|data)\s*(?:\.get\b|\.getlist\b|\[)")
VIEW_MODULES = [
    *sorted((REPO / "screening" / "views").glob("*.py")),
    *sorted((REPO / "screening" / "api").glob("*.py")),
    *sorted((REPO / "extraction" / "views").glob("*.py")),
    *sorted((REPO / "extraction" / "api").glob("*.py")),
    REPO / "reviewflow" / "reviews" / "views.py",
    REPO / "reviewflow" / "reviews" / "api.py",
]


def test_views_read_request_input_through_forms_serializers_or_reviewflow_params():
    raw = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in VIEW_MODULES
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if RAW_READ.search(line)
    ]
    assert raw == [], "parse these with a form, a serializer or reviewflow.params:\n" + "\n".join(
        raw
    )


def test_risk_of_bias_plots_answer_malformed_parameters_as_without_them(review, owner, reviewer):
    """The plots of a form's consensus (#23) read ``weight`` (a number field of the form)
    and ``download``: anything else is the default, so the body is the one without them."""
    from extraction.form_templates import TEMPLATES
    from extraction.services.forms import create_form, publish_form
    from extraction.spec import FieldSpec, FormSpec, SectionSpec

    spec = FormSpec(
        title="RoB",
        extractors_needed=1,
        sections=(
            SectionSpec("Study", fields=(FieldSpec("n", "Participants", "integer"),)),
            *TEMPLATES["rob1"].sections,
        ),
    )
    form = publish_form(form=create_form(review=review, actor=owner, spec=spec), actor=owner)
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    args = [review.slug, form.pk]
    urls = [reverse("extraction-rob-plots", args=args)] + [
        reverse("extraction-rob-plot", args=[*args, kind, fmt])
        for kind in ("traffic-light", "summary")
        for fmt in ("svg", "png")
    ]
    failures = []
    for url in urls:
        baseline = client.get(url)
        assert baseline.status_code == 200, url
        for param in ("weight", "download"):
            for value in MALFORMED:
                response = client.get(url, {param: value})
                if response.status_code != 200 or (
                    url.endswith((".svg", ".png")) and response.content != baseline.content
                ):
                    failures.append(_failure(f"GET {url} ?{_shown({param: value})}", response))
    assert not failures, "\n".join(failures)


SYNTHESIS_PARAMS = ("outcome", "measure", "method", "knha", "subgroup", "download")
# Values of MALFORMED that are choices of a synthesis parameter (the last of a list counts).
SYNTHESIS_CHOICES = {"knha": ("0", "1"), "download": ("1",)}


def _a_choice(param: str, value: str | list[str]) -> bool:
    last = value[-1] if isinstance(value, list) else value
    return last in SYNTHESIS_CHOICES.get(param, ())


def test_synthesis_answers_malformed_parameters_as_without_them(review, owner, reviewer, reviewer2):
    """The meta-analysis page, its plots and CSV (#23) fall back to the default analysis for
    any parameter that is not one of its choices; the API answers 400 naming it."""
    from extraction.selectors import included_studies
    from extraction.services.extractions import start_extraction, submit_extraction
    from extraction.services.forms import create_form, publish_form
    from tests.extraction.helpers import included_records
    from tests.extraction.test_synthesis_pages import DATA, SPEC, _values

    included_records(review, owner, (reviewer, reviewer2), n=3)
    form = publish_form(form=create_form(review=review, actor=owner, spec=SPEC), actor=owner)
    for record, row in zip(included_studies(review), DATA, strict=False):
        extraction = start_extraction(form=form, record=record, extractor=reviewer)
        submit_extraction(extraction=extraction, actor=reviewer, values=_values(*row))
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    args = [review.slug, form.pk]
    urls = [
        reverse("extraction-synthesis", args=args),
        reverse("extraction-synthesis-plot", args=[*args, "forest", "svg"]),
        reverse("extraction-synthesis-csv", args=[*args, "results"]),
        reverse("extraction-synthesis-csv", args=[*args, "inputs"]),
    ]
    failures = []
    for url in urls:
        baseline = client.get(url)
        assert baseline.status_code == 200, url
        for param in SYNTHESIS_PARAMS:
            for value in MALFORMED:
                response = client.get(url, {param: value})
                if response.status_code != 200 or (
                    not url.endswith("/")
                    and not _a_choice(param, value)
                    and response.content != baseline.content
                ):
                    failures.append(_failure(f"GET {url} ?{_shown({param: value})}", response))
    # The long CSV of every outcome (#23) reads ``binary`` and ``continuous``; anything
    # malformed (and the page's own parameters) gives the file of the defaults.
    long_url = reverse("extraction-synthesis-long-csv", args=args)
    baseline = client.get(long_url)
    assert baseline.status_code == 200 and baseline.content.count(b"\n") == 4, long_url
    for param in (*SYNTHESIS_PARAMS, "binary", "continuous"):
        for value in MALFORMED:
            response = client.get(long_url, {param: value})
            if response.status_code != 200 or response.content != baseline.content:
                failures.append(_failure(f"GET {long_url} ?{_shown({param: value})}", response))
    # The RevMan 5 file (#23) reads no parameter: any one gives the same file.
    rm5_url = reverse("extraction-synthesis-rm5", args=args)
    baseline = client.get(rm5_url)
    assert baseline.status_code == 200 and b"<DICH_DATA " in baseline.content, rm5_url
    for param in SYNTHESIS_PARAMS:
        for value in MALFORMED:
            response = client.get(rm5_url, {param: value})
            if response.status_code != 200 or response.content != baseline.content:
                failures.append(_failure(f"GET {rm5_url} ?{_shown({param: value})}", response))
    api = APIClient()
    api.force_authenticate(owner)
    path = f"/api/v1/reviews/{review.slug}/forms/{form.pk}/synthesis/"
    baseline = api.get(path).json()
    for param in SYNTHESIS_PARAMS[:-1]:
        for value in MALFORMED:
            if _a_choice(param, value):
                continue
            response = api.get(path, {param: value})
            last = value[-1] if isinstance(value, list) else value
            if not last:
                ok = response.status_code == 200 and response.json() == baseline
            else:
                ok = response.status_code == 400 and response.json()["field"] == param
            if not ok:
                failures.append(_failure(f"GET {path} ?{_shown({param: value})}", response))
    assert not failures, "\n".join(failures)
