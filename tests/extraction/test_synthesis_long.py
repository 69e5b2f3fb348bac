"""The long CSV of every outcome of a form (#23): rows and numbers are the engine's, cells
are formula-safe, only final consensus a person may see is in it, outsiders get 404."""

from __future__ import annotations

import csv
import dataclasses
import io
import math

import pytest
from django.urls import reverse

from extraction.selectors import included_studies
from extraction.services.extractions import save_draft, start_extraction, submit_extraction
from extraction.services.forms import create_form, publish_form
from extraction.spec import ColumnSpec, FieldSpec, SectionSpec
from extraction.synthesis import compute_effects
from extraction.synthesis_long import LONG_HEADER
from tests.extraction.helpers import included_records
from tests.extraction.test_synthesis_pages import DATA, SPEC, _values

REPORTED = FieldSpec(
    "reported",
    "Reported estimates",
    "table",
    columns=(
        ColumnSpec("outcome", "Outcome", "short_text"),
        ColumnSpec("time_point", "Time point", "short_text"),
        ColumnSpec("measure", "Measure", "short_text"),
        ColumnSpec("estimate", "Estimate", "decimal"),
        ColumnSpec("ci_low", "CI low", "decimal"),
        ColumnSpec("ci_high", "CI high", "decimal"),
    ),
)
LONG_SPEC = dataclasses.replace(
    SPEC, sections=(*SPEC.sections, SectionSpec("Reported", fields=(REPORTED,)))
)
# Pain at 6 weeks, (mean, sd, n) of Drug then Placebo, for the first three studies.
PAIN = [((4.0, 1.5, 50), (5.0, 1.6, 48)), ((3.2, 2.0, 30), (3.9, 2.1, 31)), None, None]


def _long_values(i: int) -> dict:
    values = _values(*DATA[i])
    if PAIN[i] is not None:
        values["continuous"] = [
            {"outcome": "Pain", "time_point": "6 weeks", "arm": arm, "mean": m, "sd": sd, "n": n}
            for arm, (m, sd, n) in zip(("Drug", "Placebo"), PAIN[i], strict=True)
        ]
    if i == 0:
        values["dichotomous"] += [
            {"outcome": "=2+3", "time_point": "1 day", "arm": "@arm", "events": 1, "total": 9},
            {"outcome": "=2+3", "time_point": "1 day", "arm": "Placebo", "events": 2, "total": 9},
        ]
        values["reported"] = [
            {"outcome": "Stroke", "time_point": "1 year", "measure": "OR", "estimate": "0.8",
             "ci_low": "0.6", "ci_high": "1.1"}
        ]  # fmt: skip
    return values


@pytest.fixture
def long_form(review, owner, reviewer, reviewer2):
    """Four studies with a final consensus (two outcomes for most, one reported estimate), a
    fifth that reviewer2 is still drafting with 1/999 vs 2/999."""
    included_records(review, owner, (reviewer, reviewer2), n=5)
    form = publish_form(form=create_form(review=review, actor=owner, spec=LONG_SPEC), actor=owner)
    studies = list(included_studies(review))
    for i, record in enumerate(studies[:4]):
        extraction = start_extraction(form=form, record=record, extractor=reviewer)
        submit_extraction(extraction=extraction, actor=reviewer, values=_long_values(i))
    draft = start_extraction(form=form, record=studies[4], extractor=reviewer2)
    save_draft(extraction=draft, actor=reviewer2, values=_values(1, 999, 2, 999, "Asia"))
    return form


def _url(form):
    return reverse("extraction-synthesis-long-csv", args=[form.review.slug, form.pk])


def _rows(response):
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.django_db
def test_long_csv_needs_a_member(client, client_for, long_form, outsider, viewer):
    assert client_for(outsider).get(_url(long_form)).status_code == 404
    assert client.get(_url(long_form)).status_code == 302
    response = client_for(viewer).get(_url(long_form))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].endswith('-v1-all-outcomes.csv"')


@pytest.mark.django_db
def test_long_csv_rows_and_numbers_are_the_engines(client_for, long_form, viewer):
    rows = _rows(client_for(viewer).get(_url(long_form)))
    assert list(rows[0]) == LONG_HEADER
    # Study 1: Death, "=2+3", Pain, Stroke; study 2: Death, Pain; studies 3-4: Death.
    assert [(r["outcome"], r["measure"]) for r in rows] == [
        ("Death", "OR"), ("'=2+3", "OR"), ("Pain", "MD"), ("Stroke", "OR"),
        ("Death", "OR"), ("Pain", "MD"),
        ("Death", "OR"),
        ("Death", "OR"),
    ]  # fmt: skip
    death = [r for r in rows if r["outcome"] == "Death"]
    engine = compute_effects(
        [("s", {"ai": a, "n1i": n1, "ci": c, "n2i": n2}) for a, n1, c, n2, _ in DATA[:3]],
        "OR",
    )
    for row, effect in zip(death, engine.effects, strict=False):
        assert float(row["yi"]) == pytest.approx(effect.yi)
        assert float(row["vi"]) == pytest.approx(effect.vi)
        assert float(row["sei"]) == pytest.approx(effect.se)
        assert float(row["estimate"]) == pytest.approx(math.exp(effect.yi))
        assert float(row["ci_low"]) == pytest.approx(math.exp(effect.ci_low))
        assert float(row["ci_high"]) == pytest.approx(math.exp(effect.ci_high))
    first = death[0]
    assert (first["ai"], first["bi"], first["ci"], first["di"]) == ("10", "90", "20", "80")
    assert (first["n1i"], first["n2i"], first["arm1"], first["arm2"]) == (
        "100",
        "100",
        "Drug",
        "Placebo",
    )
    assert first["kind"] == "binary" and first["zero_cell_correction"] == "0"
    zero = death[1]  # 0/50 vs 5/50: 1/2 added to every cell
    assert zero["zero_cell_correction"] == "0.5" and zero["ai"] == "0" and zero["bi"] == "50"
    assert "0.5" in zero["note"] or "1/2" in zero["note"]
    lacking = death[3]  # no comparator arm: its row stays, without an effect
    assert lacking["yi"] == lacking["vi"] == "" and lacking["ci"] == ""
    assert lacking["note"].startswith("missing: Events (arm 2, the comparator")
    pain = [r for r in rows if r["outcome"] == "Pain"]
    md = compute_effects(
        [
            (
                str(i),
                {"m1i": a[0], "sd1i": a[1], "n1i": a[2], "m2i": b[0], "sd2i": b[1], "n2i": b[2]},
            )
            for i, (a, b) in enumerate(p for p in PAIN if p)
        ],
        "MD",
    )
    assert [float(r["yi"]) for r in pain] == pytest.approx([e.yi for e in md.effects])
    assert [float(r["vi"]) for r in pain] == pytest.approx([e.vi for e in md.effects])
    assert float(pain[0]["estimate"]) == pytest.approx(-1.0)
    assert (pain[0]["m1i"], pain[0]["sd1i"], pain[0]["n2i"]) == ("4", "1.5", "48")
    [stroke] = [r for r in rows if r["outcome"] == "Stroke"]
    reported = compute_effects(
        [("s", {"estimate": 0.8, "ci_low": 0.6, "ci_high": 1.1})], "OR"
    ).effects[0]
    assert stroke["kind"] == "reported" and stroke["reported_estimate"] == "0.8"
    assert float(stroke["yi"]) == pytest.approx(math.log(0.8))
    assert float(stroke["vi"]) == pytest.approx(reported.vi)


@pytest.mark.django_db
def test_long_csv_measures_follow_the_parameters(client_for, long_form, viewer):
    client = client_for(viewer)
    rows = _rows(client.get(_url(long_form), {"binary": "RD", "continuous": "SMD"}))
    assert [r["measure"] for r in rows[:4]] == ["RD", "RD", "SMD", "OR"]  # reported keeps OR
    assert float(rows[0]["yi"]) == pytest.approx(-0.1)
    assert float(rows[0]["estimate"]) == pytest.approx(-0.1)
    smd = compute_effects(
        [("s", {"m1i": 4.0, "sd1i": 1.5, "n1i": 50, "m2i": 5.0, "sd2i": 1.6, "n2i": 48})], "SMD"
    ).effects[0]
    assert float(rows[2]["yi"]) == pytest.approx(smd.yi)
    # A malformed choice is the default, never an error.
    fallback = _rows(client.get(_url(long_form), {"binary": "XX", "continuous": "=1"}))
    assert [r["measure"] for r in fallback[:3]] == ["OR", "OR", "MD"]


@pytest.mark.django_db
def test_long_csv_cells_cannot_run_as_formulas(client_for, long_form, viewer):
    text = client_for(viewer).get(_url(long_form)).content.decode()
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert "'=2+3" in cells and "'@arm" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _num(c))]


def _num(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.mark.django_db
def test_a_study_without_final_consensus_is_not_in_the_long_csv(
    client_for, long_form, owner, reviewer, reviewer2
):
    for user in (reviewer, reviewer2, owner):
        response = client_for(user).get(_url(long_form))
        rows = _rows(response)
        assert len({r["study_id"] for r in rows}) == 4
        assert "999" not in {r["n1i"] for r in rows} | {r["n2i"] for r in rows}


@pytest.mark.django_db
def test_page_links_the_long_csv_in_the_pages_measure(client_for, long_form, viewer):
    page = reverse("extraction-synthesis", args=[long_form.review.slug, long_form.pk])
    text = client_for(viewer).get(page, {"measure": "RR"}).content.decode()
    assert f'href="{_url(long_form)}?binary=RR" data-download="long-csv"' in text
    text = client_for(viewer).get(page).content.decode()
    assert f'href="{_url(long_form)}" data-download="long-csv"' in text


# Session, user, membership with its review, form; the final consensus with its records.
LONG_QUERIES = 5


@pytest.mark.parametrize("n", [2, 6])
def test_long_csv_query_count_does_not_grow_with_studies(
    n, client_for, review, owner, reviewer, reviewer2, django_assert_num_queries
):
    included_records(review, owner, (reviewer, reviewer2), n=n)
    form = publish_form(form=create_form(review=review, actor=owner, spec=LONG_SPEC), actor=owner)
    for i, record in enumerate(included_studies(review)):
        extraction = start_extraction(form=form, record=record, extractor=reviewer)
        submit_extraction(extraction=extraction, actor=reviewer, values=_long_values(i % 4))
    client = client_for(reviewer)
    with django_assert_num_queries(LONG_QUERIES):
        assert len(_rows(client.get(_url(form)))) > n
