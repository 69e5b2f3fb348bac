"""The live effect-size panel, the synthesis page, its downloads and its API, on a scripted
review whose studies have a final consensus; the numbers are the engine's."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from django.urls import reverse
from PIL import Image

from extraction.form_templates import TEMPLATES
from extraction.selectors import included_studies
from extraction.services.extractions import save_draft, start_extraction, submit_extraction
from extraction.services.forms import create_form, publish_form
from extraction.spec import FieldSpec, SectionSpec
from extraction.synthesis import compute_effects, meta_analyse, subgroup_analysis
from tests.extraction.helpers import included_records

REGION = FieldSpec("region", "Region", "single_choice", choices=("Europe", "Asia"))
# The outcomes template, one extractor per study (final at once), and a field to split by.
SPEC = dataclasses.replace(
    TEMPLATES["outcomes"],
    extractors_needed=1,
    sections=(SectionSpec("Study", fields=(REGION,)), *TEMPLATES["outcomes"].sections),
)
# (Drug events, total, Placebo events, total, region) per study; the last has no comparator.
DATA = [
    (10, 100, 20, 100, "Europe"),
    (0, 50, 5, 50, "Asia"),
    (12, 80, 18, 82, "Europe"),
    (7, 60, None, None, "Asia"),
]


def _values(a, n1, c, n2, region):
    rows = [{"outcome": "Death", "time_point": "1 year", "arm": "Drug", "events": a, "total": n1}]
    if c is not None:
        rows.append(
            {"outcome": "Death", "time_point": "1 year", "arm": "Placebo", "events": c, "total": n2}
        )
    return {"region": region, "dichotomous": rows}


@pytest.fixture
def pooled(review, owner, reviewer, reviewer2):
    """Four studies with a final consensus (one lacks its comparator arm), a fifth included
    study that reviewer2 is still drafting with two extractors needed."""
    included_records(review, owner, (reviewer, reviewer2), n=5)
    form = publish_form(form=create_form(review=review, actor=owner, spec=SPEC), actor=owner)
    studies = list(included_studies(review))
    for record, row in zip(studies, DATA, strict=False):
        extraction = start_extraction(form=form, record=record, extractor=reviewer)
        submit_extraction(extraction=extraction, actor=reviewer, values=_values(*row))
    draft = start_extraction(form=form, record=studies[4], extractor=reviewer2)
    save_draft(extraction=draft, actor=reviewer2, values=_values(1, 999, 2, 999, "Asia"))
    return form


def _engine(measure="OR", method="REML", subgroups=False):
    rows = [
        (f"s{i}", {"ai": a, "n1i": n1, "ci": c, "n2i": n2}, region)
        for i, (a, n1, c, n2, region) in enumerate(DATA[:3])
    ]
    effects = compute_effects(rows, measure)
    if subgroups:
        return effects, subgroup_analysis(effects, method=method)
    return effects, meta_analyse(effects, method=method)


def _url(form, name="extraction-synthesis", *args):
    return reverse(name, args=[form.review.slug, form.pk, *args])


def _api(form):
    return reverse("api-form-synthesis", args=[form.review.slug, form.pk])


@pytest.mark.django_db
def test_synthesis_pages_need_a_member(client, client_for, pooled, outsider, viewer):
    for url in (
        _url(pooled),
        _url(pooled, "extraction-synthesis-plot", "forest", "svg"),
        _url(pooled, "extraction-synthesis-csv", "results"),
        _url(pooled, "extraction-synthesis-csv", "inputs"),
        _api(pooled),
    ):
        assert client_for(outsider).get(url).status_code == 404
        assert client_for(viewer).get(url).status_code == 200
    assert client.get(_url(pooled)).status_code == 302


@pytest.mark.django_db
def test_api_numbers_are_the_engines(client_for, pooled, viewer):
    body = client_for(viewer).get(_api(pooled), {"measure": "OR", "method": "REML"}).json()
    assert body["studies_with_consensus"] == 4
    assert body["studies_without_consensus"] == 1
    [outcome] = body["outcomes"]
    assert outcome["label"] == "Death · 1 year (Dichotomous outcomes)"
    assert outcome["measures"] == ["OR", "RR", "RD"] and outcome["studies"] == 4
    analysis = body["analysis"]
    _, result = _engine()
    for key in ("k", "estimate", "se", "ci_low", "ci_high", "tau2", "i2", "q"):
        assert analysis["result"][key] == pytest.approx(getattr(result, key)), key
    assert [s["yi"] for s in analysis["studies"]] == pytest.approx(
        [e.yi for e in _engine()[0].effects]
    )
    assert analysis["studies"][1]["corrected"] is True
    [left_out] = analysis["left_out"]
    assert left_out["reason"].startswith("missing: Events (arm 2, the comparator")


@pytest.mark.django_db
def test_mantel_haenszel_knapp_hartung_and_subgroups(client_for, pooled, viewer):
    client = client_for(viewer)
    mh = client.get(_api(pooled), {"measure": "RR", "method": "MH"}).json()["analysis"]
    assert mh["result"]["method"] == "MH"
    knha = client.get(_api(pooled), {"method": "DL", "knha": "1"}).json()["analysis"]
    assert knha["result"]["knha"] is True and knha["result"]["distribution"] == "t(2)"
    sub = client.get(_api(pooled), {"subgroup": "region", "method": "DL"}).json()["analysis"]
    _, expected = _engine(method="DL", subgroups=True)
    assert sub["subgroups"]["test_for_subgroup_differences"]["q"] == pytest.approx(
        expected.q_between
    )
    assert sub["subgroups"]["subgroups"]["Europe"]["k"] == 2


@pytest.mark.django_db
def test_api_rejects_unknown_choices_with_a_message(client_for, pooled, viewer):
    response = client_for(viewer).get(_api(pooled), {"method": "XX"})
    assert response.status_code == 400
    assert "method must be one of: FE, MH, DL, REML." in response.content.decode()


@pytest.mark.django_db
def test_page_shows_the_forest_plot_inline_and_who_is_left_out(client_for, pooled, viewer):
    page = client_for(viewer).get(_url(pooled), {"measure": "RR", "subgroup": "region"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in text and "Forest plot: risk ratio" in text
    assert "Subtotal (95% CI)" in text
    assert "1 included study has no final consensus you can see yet" in text
    assert "missing: Events (arm 2, the comparator" in text
    assert "A funnel plot needs at least 10 studies; this analysis has 3." in text
    assert "style=" not in text and "<script>" not in text
    assert 'href="' + _url(pooled, "extraction-synthesis-plot", "forest", "png") in text


@pytest.mark.django_db
def test_malformed_page_parameters_fall_back_to_defaults(client_for, pooled, viewer):
    response = client_for(viewer).get(
        _url(pooled), {"outcome": "nope", "measure": "SMD", "method": "x", "knha": "yes"}
    )
    assert response.status_code == 200
    assert "random effects, REML" in response.content.decode()


@pytest.mark.django_db
def test_downloads_are_svg_png_pdf_and_safe_csv(client_for, pooled, viewer):
    client = client_for(viewer)
    svg = client.get(_url(pooled, "extraction-synthesis-plot", "forest", "svg"))
    assert svg["Content-Type"] == "image/svg+xml" and svg.content.startswith(b"<svg")
    png = client.get(_url(pooled, "extraction-synthesis-plot", "forest", "png"), {"download": "1"})
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert png["Content-Disposition"].startswith("attachment;")
    assert Image.open(io.BytesIO(png.content)).size[0] == 1700
    pdf = client.get(_url(pooled, "extraction-synthesis-plot", "forest", "pdf"))
    assert pdf.content[:5] == b"%PDF-" and pdf["Content-Type"] == "application/pdf"
    funnel = client.get(_url(pooled, "extraction-synthesis-plot", "funnel", "svg"))
    assert funnel.status_code == 404  # 3 studies: too few
    assert client.get(_url(pooled, "extraction-synthesis-plot", "forest", "gif")).status_code == 404
    response = client.get(_url(pooled, "extraction-synthesis-csv", "results"), {"measure": "RD"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["study", "subgroup", "measure", "estimate"]
    assert [r[2] for r in rows[1:]] == ["RD"] * 5  # 3 studies, the pooled row, 1 left out
    assert float(rows[1][3]) == pytest.approx(-0.1)


@pytest.mark.django_db
def test_live_panel_computes_what_the_page_posts(client_for, pooled, reviewer):
    url = _url(pooled, "extraction-effects")
    post = {
        "f-dichotomous-0-outcome": "Death",
        "f-dichotomous-0-time_point": "1 year",
        "f-dichotomous-0-arm": "Drug",
        "f-dichotomous-0-events": "10",
        "f-dichotomous-0-total": "100",
        "f-dichotomous-1-outcome": "Death",
        "f-dichotomous-1-time_point": "1 year",
        "f-dichotomous-1-arm": "Placebo",
        "f-dichotomous-1-total": "100",
    }
    text = client_for(reviewer).post(url, post).content.decode()
    assert text.count("Missing: Events (arm 2: Placebo)") == 3
    text = client_for(reviewer).post(url, {**post, "f-dichotomous-1-events": "20"}).content.decode()
    assert "0.444 [0.196, 1.006]" in text  # OR 800/1800, its CI from var(log OR), by hand
    assert "0.500 [" in text and "-0.100 [" in text


@pytest.mark.django_db
def test_live_panel_calls_an_invalid_cell_invalid_naming_the_field_and_why(
    client_for, pooled, reviewer
):
    url = _url(pooled, "extraction-effects")
    arms = {
        "f-dichotomous-0-outcome": "Death",
        "f-dichotomous-0-arm": "Drug",
        "f-dichotomous-0-events": "ten",
        "f-dichotomous-0-total": "100",
        "f-dichotomous-1-outcome": "Death",
        "f-dichotomous-1-arm": "Placebo",
        "f-dichotomous-1-total": "100",
    }
    text = client_for(reviewer).post(url, arms).content.decode()
    # Invalid, with the field and why; the input not typed at all is still missing.
    assert (
        text.count(
            "Invalid: Events (arm 1: Drug): “ten” must be a whole number; "
            "missing: Events (arm 2: Placebo)"
        )
        == 3
    )
    assert "Missing: Events (arm 1: Drug)" not in text
    # Events above the total: the engine's check, in the form's words.
    more = {**arms, "f-dichotomous-0-events": "120", "f-dichotomous-1-events": "20"}
    text = client_for(reviewer).post(url, more).content.decode()
    assert (
        text.count(
            "Cannot compute: Events (arm 1: Drug) (120 events) is more than Total (arm 1: Drug) "
            "(100 participants)"
        )
        == 3
    )
    # A negative SD and a negative N (the template asks for at least 0 in both).
    continuous = {
        "f-continuous-0-outcome": "Pain",
        "f-continuous-0-arm": "Drug",
        "f-continuous-0-mean": "4.1",
        "f-continuous-0-sd": "-1.2",
        "f-continuous-0-n": "30",
        "f-continuous-1-outcome": "Pain",
        "f-continuous-1-arm": "Placebo",
        "f-continuous-1-mean": "5",
        "f-continuous-1-sd": "1.5",
        "f-continuous-1-n": "-3",
    }
    text = client_for(reviewer).post(url, continuous).content.decode()
    assert (
        text.count(
            "Invalid: SD (arm 1: Drug): “-1.2” must be at least 0; "
            "N (arm 2: Placebo): “-3” must be at least 0</td>"
        )
        == 2
    )  # MD and SMD
    assert "data-missing" not in text


@pytest.mark.django_db
def test_live_panel_needs_a_reviewer_and_a_post(client, client_for, pooled, outsider, viewer):
    url = _url(pooled, "extraction-effects")
    assert client_for(outsider).post(url, {}).status_code == 404
    assert client_for(viewer).post(url, {}).status_code == 403
    assert client_for(viewer).get(url).status_code == 405
    assert client.post(url, {}).status_code == 302


@pytest.mark.django_db
def test_unsubmitted_values_of_another_extractor_never_reach_the_synthesis(
    client_for, pooled, owner, reviewer, reviewer2
):
    # reviewer2 drafts 1/999 vs 2/999 for the fifth study: no one's analysis includes it,
    # not even reviewer2's own (the synthesis reads final consensus only).
    draft_log_or = compute_effects([("x", {"ai": 1, "n1i": 999, "ci": 2, "n2i": 999})], "OR")
    for user in (reviewer, reviewer2, owner):
        body = client_for(user).get(_api(pooled)).json()
        studies = body["analysis"]["studies"]
        assert len(studies) == 3 and body["studies_without_consensus"] == 1
        assert all(s["yi"] != pytest.approx(draft_log_or.effects[0].yi) for s in studies)
        page = client_for(user).get(_url(pooled)).content.decode()
        assert "999" not in page


# Session, user, membership with its review, form; the final consensus with its records; the
# included studies counted (outcomes, full-text reports, records).
PAGE_QUERIES = 8


@pytest.mark.parametrize("n", [2, 5])
def test_synthesis_page_query_count_does_not_grow_with_studies(
    n, client_for, review, owner, reviewer, reviewer2, django_assert_num_queries
):
    included_records(review, owner, (reviewer, reviewer2), n=n)
    form = publish_form(form=create_form(review=review, actor=owner, spec=SPEC), actor=owner)
    for i, record in enumerate(included_studies(review)):
        extraction = start_extraction(form=form, record=record, extractor=reviewer)
        values = _values(10 + i, 100, 20, 100, "Europe")
        submit_extraction(extraction=extraction, actor=reviewer, values=values)
    client = client_for(reviewer)
    with django_assert_num_queries(PAGE_QUERIES):
        assert client.get(_url(form), {"subgroup": "region"}).status_code == 200


@pytest.mark.django_db
def test_inputs_csv_round_trips_through_the_metaanalysis_reader(client_for, pooled, viewer):
    """The inputs file is what metafor and our command read: pooled again, it gives the
    page's numbers."""
    from extraction.synthesis.io import read_effects_csv

    client = client_for(viewer)
    params = {"measure": "OR", "method": "DL", "subgroup": "region"}
    response = client.get(_url(pooled, "extraction-synthesis-csv", "inputs"), params)
    assert response["Content-Disposition"].endswith('-OR-DL-inputs.csv"')
    text = response.content.decode()
    header, first = text.splitlines()[:2]
    assert header.startswith("study,subgroup,outcome,time_point,arm1,arm2,ai,bi,ci,di,n1i,n2i,")
    assert ",Europe,Death,1 year,Drug,Placebo,10,,20,,100,100," in first
    effects = read_effects_csv(response.content, measure="OR")
    assert len(effects.effects) == 3 and len(effects.excluded) == 1
    again = meta_analyse(effects, method="DL")
    api = client.get(_api(pooled), params).json()["analysis"]["result"]
    assert again.estimate == pytest.approx(api["estimate"])
    assert again.tau2 == pytest.approx(api["tau2"])
