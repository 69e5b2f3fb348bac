"""Evidence (#22): the quote and page behind each extracted value, checked, saved with
drafts and submissions, carried into the consensus, chosen there, in the API and exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.http import QueryDict
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from extraction.errors import ExtractionInvalid
from extraction.evidence import QUOTE_MAX, clean_evidence, evidence_from_post
from extraction.exports import build_export, csv_files, write_json, write_xlsx
from extraction.models import Consensus, Extraction
from extraction.services.consensus import consensus_for, save_consensus
from extraction.services.extractions import save_draft, start_extraction, submit_extraction
from reviewflow.reviews.models import AuditEvent
from screening.services.fulltext import attach_full_text
from tests.extraction.helpers import GOOD, included_records, published_form, spec
from tests.screening.test_pdf_matching import make_pdf

pytestmark = pytest.mark.django_db

BASE = "/api/v1/reviews/msc-t2d"
SIZE = {"quote": "A total of 40 participants\n  were randomised", "page": 1}
ARMS_N = {"quote": "20 received MSC", "page": 2}


@pytest.fixture
def records(review, owner, reviewer, reviewer2):
    return included_records(review, owner, (reviewer, reviewer2))


@pytest.fixture
def form(review, owner, records):
    return published_form(review, owner)


@pytest.fixture
def with_pdf(review, records, reviewer):
    """Study 1 has a two-page PDF."""
    pdf = io.BytesIO(make_pdf(["A total of 40 participants were randomised"], pages=2))
    attach_full_text(
        review=review, record=records[0], actor=reviewer, file=pdf, filename="trial.pdf"
    )
    return records[0]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# ------------------------------------------------------------------------------ checking


def test_evidence_is_checked_against_the_form_values_and_pdf():
    form_spec = spec()
    values = {"sample_size": 40, "arms": [{"arm": "MSC", "n": 20}]}
    cleaned, errors = clean_evidence(
        form_spec,
        values,
        {
            "sample_size": SIZE,
            "arms.1.n": ARMS_N,
            "arms.1.arm": {"quote": "   ", "page": 1},  # an empty quote is no evidence
            "country": None,
        },
        page_count=2,
    )
    assert errors == []
    assert cleaned == {
        "sample_size": {"quote": "A total of 40 participants were randomised", "page": 1},
        "arms.1.n": {"quote": "20 received MSC", "page": 2},
    }
    _, errors = clean_evidence(
        form_spec,
        values,
        {
            "colour": SIZE,
            "country": SIZE,
            "sample_size": {"quote": "x" * (QUOTE_MAX + 1), "page": 1},
            "arms": SIZE,
            "arms.2.n": ARMS_N,
            "arms.1.mean": ARMS_N,
            "arms.1.colour": ARMS_N,
        },
        page_count=2,
    )
    assert [str(e) for e in errors] == [
        "colour: is not a field of this form",
        "Sample size: evidence: the quote is 2,001 characters long; at most 2,000",
        "Country: evidence: a quote needs a value beside it",
        "Arms: evidence: “arms”: name a cell as arms.<row>.<column>",
        "Arms, row 1, Mean HbA1c: evidence: a quote needs a value beside it",
        "Arms, row 1: evidence: “colour” is not a column of this table",
        "Arms, row 2, Participants: evidence: row 2 is not a row of this table",
    ]


@pytest.mark.parametrize(
    "page,message",
    [
        (3, "page 3 is beyond the end of the PDF (2 pages)"),
        (0, "the page must be 1 or more"),
        ("two", "the page must be a whole number, not “two”"),
        (True, "give the page the quote is on"),
        (None, "give the page the quote is on"),
    ],
)
def test_a_page_outside_the_pdf_is_named(page, message):
    _, errors = clean_evidence(
        spec(), {"sample_size": 40}, {"sample_size": {"quote": "40", "page": page}}, page_count=2
    )
    assert [str(e) for e in errors] == [f"Sample size: evidence: {message}"]


def test_evidence_not_an_object_is_refused():
    _, errors = clean_evidence(spec(), {}, ["quote"], page_count=None)
    assert [str(e) for e in errors] == ["evidence: must be an object keyed by field"]


def test_the_html_form_keys_table_cells_by_their_row_among_filled_rows():
    data = QueryDict(mutable=True)
    data.update(
        {"f-sample_size": "40", "ev-quote-f-sample_size": "40 were", "ev-page-f-sample_size": "1"}
    )
    # Row index 0 was emptied in the page: index 3 is the table's first row.
    data.update({"f-arms-0-arm": "", "f-arms-3-arm": "MSC", "f-arms-3-n": "20"})
    data.update({"ev-quote-f-arms-3-n": "20 received", "ev-page-f-arms-3-n": "2"})
    data.update({"ev-quote-f-arms-0-arm": "gone", "ev-page-f-arms-0-arm": "1"})
    data.update({"ev-quote-f-country": "", "ev-page-f-country": ""})
    assert evidence_from_post(spec(), data) == {
        "sample_size": {"quote": "40 were", "page": "1"},
        "arms.1.n": {"quote": "20 received", "page": "2"},
    }


# ------------------------------------------------------------------------------ services


def test_a_draft_keeps_its_quotes_and_a_bad_quote_saves_nothing(form, with_pdf, reviewer):
    extraction = start_extraction(form=form, record=with_pdf, extractor=reviewer)
    save_draft(
        extraction=extraction,
        actor=reviewer,
        values=GOOD,
        evidence={"sample_size": SIZE, "arms.2.n": ARMS_N},
    )
    extraction.refresh_from_db()
    assert extraction.evidence == {
        "sample_size": {"quote": "A total of 40 participants were randomised", "page": 1},
        "arms.2.n": ARMS_N,
    }
    event = AuditEvent.objects.filter(action="extraction.saved").latest("id")
    assert "arms" in event.after["fields"] and "sample_size" in event.after["fields"]

    with pytest.raises(ExtractionInvalid) as caught:
        save_draft(
            extraction=extraction,
            actor=reviewer,
            values={**GOOD, "country": "Chile"},
            evidence={"sample_size": {"quote": "40", "page": 7}},
        )
    assert caught.value.message == (
        "Sample size: evidence: page 7 is beyond the end of the PDF (2 pages)"
    )
    extraction.refresh_from_db()
    assert extraction.values["country"] == "Spain"
    assert extraction.evidence["arms.2.n"] == ARMS_N

    # Without evidence, the saved quotes stay where their values stay.
    values = {**GOOD, "arms": GOOD["arms"][:1]}
    save_draft(extraction=extraction, actor=reviewer, values=values)
    extraction.refresh_from_db()
    assert list(extraction.evidence) == ["sample_size"]


def _both_submit(form, record, reviewer, reviewer2, second_quote):
    for user, quote in ((reviewer, SIZE), (reviewer2, second_quote)):
        extraction = start_extraction(form=form, record=record, extractor=user)
        submit_extraction(
            extraction=extraction, actor=user, values=GOOD, evidence={"sample_size": quote}
        )


def test_the_consensus_opens_with_a_quote_and_keeps_the_chosen_one(
    form, with_pdf, owner, reviewer, reviewer2
):
    other = {"quote": "forty participants (page 2, table 1)", "page": 2}
    _both_submit(form, with_pdf, reviewer, reviewer2, other)
    consensus = consensus_for(form=form, record=with_pdf)
    # Agreed value: the first extractor's quote comes with it.
    assert consensus.evidence["sample_size"]["page"] == 1
    save_consensus(
        form=form,
        record=with_pdf,
        actor=owner,
        values=consensus.values,
        final=True,
        evidence={"sample_size": other},
    )
    consensus.refresh_from_db()
    assert consensus.evidence == {"sample_size": other}
    assert consensus.is_final
    with pytest.raises(ExtractionInvalid):
        save_consensus(
            form=form,
            record=with_pdf,
            actor=owner,
            values=consensus.values,
            final=False,
            evidence={
                "sample_size": {"quote": "", "page": 1},
                "country": {"quote": "Spain", "page": 5},
            },
        )
    consensus.refresh_from_db()
    assert consensus.evidence == {"sample_size": other} and consensus.is_final


# ------------------------------------------------------------------------------ API


def test_the_api_saves_evidence_and_blinds_it_like_values(
    form, with_pdf, owner, reviewer, reviewer2
):
    mine = start_extraction(form=form, record=with_pdf, extractor=reviewer)
    theirs = start_extraction(form=form, record=with_pdf, extractor=reviewer2)
    url = f"{BASE}/extractions/{mine.pk}/"
    response = api(reviewer).patch(
        url, {"values": GOOD, "evidence": {"sample_size": SIZE}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["evidence"]["sample_size"]["page"] == 1
    # A null entry removes one quote; the others stay (merged like values).
    response = api(reviewer).patch(
        url, {"evidence": {"arms.1.n": ARMS_N, "sample_size": None}}, format="json"
    )
    assert response.json()["evidence"] == {"arms.1.n": ARMS_N}
    bad = api(reviewer).patch(url, {"evidence": {"arms.9.n": ARMS_N}}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {
            "field": "arms",
            "row": 9,
            "column": "n",
            "message": "Arms, row 9, Participants: evidence: row 9 is not a row of this table",
        }
    ]
    assert api(reviewer).patch(url, {"evidence": ["x"]}, format="json").status_code == 400
    # Before both submit, the other extractor's evidence is as hidden as their values.
    listed = api(reviewer2).get(f"{BASE}/extractions/{mine.pk}/")
    assert listed.status_code == 404
    submit = f"{BASE}/extractions/{theirs.pk}/submit/"
    other = {"quote": "forty", "page": 2}
    response = api(reviewer2).post(
        submit, {"values": GOOD, "evidence": {"sample_size": other}}, format="json"
    )
    assert response.status_code == 200, response.content
    api(reviewer).post(f"{BASE}/extractions/{mine.pk}/submit/", {}, format="json")
    seen = api(reviewer2).get(f"{BASE}/extractions/{mine.pk}/").json()
    assert seen["evidence"] == {"arms.1.n": ARMS_N}
    consensus_url = f"{BASE}/consensus/{form.pk}/{with_pdf.pk}/"
    put = api(owner).put(
        consensus_url, {"evidence": {"sample_size": other}, "final": True}, format="json"
    )
    assert put.status_code == 200, put.content
    assert put.json()["evidence"] == {"sample_size": other}
    assert put.json()["status"] == "final"
    assert Consensus.objects.get(form=form, record=with_pdf).evidence == {"sample_size": other}


# ------------------------------------------------------------------------------ exports


def test_exports_carry_quote_and_page_columns_formula_safe(
    review, form, with_pdf, owner, reviewer, reviewer2
):
    evil = {"quote": '=HYPERLINK("x")', "page": 2}
    _both_submit(form, with_pdf, reviewer, reviewer2, SIZE)
    consensus = consensus_for(form=form, record=with_pdf)
    save_consensus(
        form=form,
        record=with_pdf,
        actor=owner,
        values=consensus.values,
        final=True,
        evidence={"sample_size": evil, "arms.1.n": ARMS_N},
    )
    export = build_export(review=review, forms=[form])
    files = dict(csv_files(export, "trial"))
    studies = list(csv.reader(io.StringIO(files["trial.csv"])))
    header = studies[0]
    assert header[-3:] == ["notice_kind", "notice_doi", "notice_date"]  # then notices (#21)
    assert header[-17:][:4] == [
        "design quote",
        "design page",
        "sample_size quote",
        "sample_size page",
    ]
    row = dict(zip(header, studies[1], strict=True))
    assert row["sample_size quote"] == '\'=HYPERLINK("x")'
    assert row["sample_size page"] == "2"
    assert row["design quote"] == ""
    arms = list(csv.reader(io.StringIO(files["trial_arms.csv"])))
    assert arms[0] == [
        "study_id", "row", "arm", "n", "mean",
        "arm quote", "arm page", "n quote", "n page", "mean quote", "mean page",
    ]  # fmt: skip
    assert arms[1][7:9] == ["20 received MSC", "2"]
    out = io.BytesIO()
    write_xlsx(export, out)
    sheet = load_workbook(io.BytesIO(out.getvalue()))["Studies"]
    values = list(sheet.values)
    column = values[0].index("sample_size quote")
    assert values[1][column] == '\'=HYPERLINK("x")'
    assert values[1][column + 1] == 2
    text = io.StringIO()
    write_json(export, text)
    assert json.loads(text.getvalue())["forms"][0]["studies"][0]["evidence"]["arms.1.n"] == ARMS_N


def test_exports_without_evidence_keep_their_columns(review, form, records, reviewer, reviewer2):
    for user in (reviewer, reviewer2):
        extraction = start_extraction(form=form, record=records[1], extractor=user)
        submit_extraction(extraction=extraction, actor=user, values=GOOD)
    export = build_export(review=review, forms=[form], extractor=reviewer)
    header = next(csv.reader(io.StringIO(dict(csv_files(export, "t"))["t.csv"])))
    assert not any(name.endswith((" quote", " page")) for name in header)


# ------------------------------------------------------------------------------ pages


def test_the_pages_save_quotes_and_show_each_extractors_at_consensus(
    client_for, form, with_pdf, owner, reviewer, reviewer2
):
    url = reverse("extraction-page", args=[form.review.slug, form.pk, with_pdf.pk])
    for user, quote in ((reviewer, "40 participants"), (reviewer2, "forty participants")):
        start_extraction(form=form, record=with_pdf, extractor=user)
        client = client_for(user)
        data = {
            "f-design": "RCT",
            "f-sample_size": "40",
            "f-arms-0-arm": "MSC",
            "f-arms-0-n": "20",
            "ev-quote-f-sample_size": quote,
            "ev-page-f-sample_size": "1",
            "ev-quote-f-arms-0-n": "20 received MSC",
            "ev-page-f-arms-0-n": "2",
            "action": "submit",
        }
        bad = client.post(url, {**data, "ev-page-f-sample_size": "9"})
        assert bad.status_code == 400
        assert "evidence: page 9 is beyond the end of the PDF (2 pages)" in bad.content.decode()
        assert client.post(url, data).status_code == 302
    saved = Extraction.objects.get(form=form, record=with_pdf, extractor=reviewer2)
    assert saved.evidence == {
        "sample_size": {"quote": "forty participants", "page": 1},
        "arms.1.n": ARMS_N,
    }
    page = client_for(reviewer).get(url).content.decode()
    assert "<q data-evidence-quote>40 participants</q>" in page
    compare = reverse("extraction-compare", args=[form.review.slug, form.pk, with_pdf.pk])
    html = client_for(owner).get(compare).content.decode()
    assert f'data-quote-of="{reviewer.username}">Quote: <q>40 participants</q> (page 1)' in html
    assert f'data-quote-of="{reviewer2.username}">Quote: <q>forty participants</q>' in html
    assert "Row 1, Participants — " in html
    # The owner keeps the second extractor's quote.
    response = client_for(owner).post(
        compare,
        {
            "f-design": "RCT",
            "f-sample_size": "40",
            "ev-quote-f-sample_size": "forty participants",
            "ev-page-f-sample_size": "1",
            "action": "finalise",
        },
    )
    assert response.status_code == 302
    consensus = Consensus.objects.get(form=form, record=with_pdf)
    assert consensus.evidence == {"sample_size": {"quote": "forty participants", "page": 1}}
