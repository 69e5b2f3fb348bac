"""Risk-of-bias plots (robvis's traffic-light and summary plots): the pure layout, its SVG
(escaped, no script, no style) and PNG, and the page and downloads built from a form's
final consensus."""

from __future__ import annotations

import io
import re

import defusedxml.ElementTree as ET
import pytest
from django.urls import reverse
from PIL import Image

from extraction import robplots
from extraction.form_templates import TEMPLATES
from extraction.rob import quadas2, rob1, robins_i
from extraction.selectors import included_studies
from extraction.services.consensus import save_consensus
from extraction.services.extractions import start_extraction, submit_extraction
from extraction.services.forms import create_form, publish_form
from extraction.spec import FieldSpec, FormSpec, SectionSpec
from tests.screening.screening_fixtures import import_records, vote

ROWS = [
    robplots.StudyRow(
        "Smith 2019",
        {"D1": "low", "D2": "high", "D3": "unclear", "D4": None, "overall": "high"},
        10,
    ),
    robplots.StudyRow(
        "Jones 2020",
        {"D1": "low", "D2": "low", "D3": "low", "D4": "low", "overall": "low"},
        30,
    ),
]


def _quadas(rows=ROWS):
    return robplots.plot_data(quadas2.TOOL, ["D1", "D2", "D3", "D4", "overall"], rows)


def test_summary_shares_count_studies_with_a_judgement_per_domain():
    shares = robplots.summary_shares(_quadas())
    assert shares["D2"] == {"low": 0.5, "unclear": 0.0, "high": 0.5}
    assert shares["D4"] == {"low": 1.0, "unclear": 0.0, "high": 0.0}  # one judged, low
    assert shares["overall"]["high"] == 0.5


def test_weighted_shares_weigh_each_study_and_leave_out_those_without_a_weight():
    shares = robplots.summary_shares(_quadas(), weighted=True)
    assert shares["D2"] == {"low": 0.75, "unclear": 0.0, "high": 0.25}
    rows = [*ROWS, robplots.StudyRow("No weight 2021", {"D1": "high"}, None)]
    assert robplots.summary_shares(_quadas(rows), weighted=True)["D1"]["high"] == 0.0
    assert robplots.summary_shares(_quadas(rows))["D1"]["high"] == pytest.approx(1 / 3)


def test_levels_run_from_best_to_worst_with_robvis_colours_and_symbols():
    data = robplots.plot_data(robins_i.TOOL, [*robins_i.DOMAINS, "overall"], [])
    assert [v for v, _ in data.levels] == [
        "low",
        "moderate",
        "serious",
        "critical",
        "no_information",
    ]
    assert [c[1] for c in data.columns] == ["D1", "D2", "D3", "D4", "D5", "D6", "D7", "Overall"]
    assert robplots.LEVEL_STYLE["low"] == ("#02C100", "+")
    assert robplots.LEVEL_STYLE["serious"] == ("#BF0000", "x")
    assert robplots.LEVEL_STYLE["critical"] == ("#820000", "!")
    assert robplots.LEVEL_STYLE["no_information"] == ("#4EA1F7", "?")


def test_traffic_light_svg_has_a_circle_per_study_and_domain_and_names_the_domains():
    svg = robplots.to_svg(robplots.traffic_light_layout(_quadas()))
    ET.fromstring(svg)  # well-formed XML
    fills = re.findall(r'<circle [^>]*fill="(#[0-9A-F]{6})"', svg)
    grid, legend = fills[:10], fills[10:]
    assert grid == [
        *("#02C100", "#BF0000", "#E2DF07", "#CCCCCC", "#BF0000"),  # Smith: D4 not judged
        *("#02C100",) * 5,
    ]
    assert legend == ["#02C100", "#E2DF07", "#BF0000"]
    for text in ("D1: Patient selection", "D4: Flow and timing", ">Overall<", ">Smith 2019<"):
        assert text in svg


def test_svg_escapes_study_labels_and_has_no_script_or_style():
    rows = [
        robplots.StudyRow('<script>alert("x")</script> & Co\x00', {"D1": "low"}),
        robplots.StudyRow("A" * 200, {"D1": "high"}),
    ]
    for layout in (
        robplots.traffic_light_layout(_quadas(rows)),
        robplots.summary_layout(_quadas(rows)),
    ):
        svg = robplots.to_svg(layout)
        ET.fromstring(svg)  # well-formed XML
        assert "<script" not in svg
        assert "style=" not in svg
        assert " on" not in re.sub(r">[^<]*<", "><", svg)  # no on…= attribute anywhere
    svg = robplots.to_svg(robplots.traffic_light_layout(_quadas(rows)))
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; Co<' in svg
    assert "A" * 59 + "…" in svg and "A" * 61 not in svg


def test_summary_svg_draws_bars_in_proportion():
    svg = robplots.to_svg(robplots.summary_layout(_quadas(), weighted=True))
    assert "Share of studies (weighted)" in svg
    widths = re.findall(r'<rect [^>]*width="([\d.]+)" height="22" fill="#BF0000"', svg)
    assert widths == ["105", "105"]  # D2 and overall: 25 % of 420


def test_png_is_drawn_with_pillow():
    png = robplots.to_png(robplots.traffic_light_layout(_quadas()))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    layout = robplots.traffic_light_layout(_quadas())
    assert image.size == (round(layout.width * 2), round(layout.height * 2))
    # The first study's D2 circle is drawn in robvis's red.
    circle = [s for s in layout.shapes if isinstance(s, robplots.Circle)][1]
    assert image.convert("RGB").getpixel((round(circle.x * 2) - 8, round(circle.y * 2))) == (
        0xBF,
        0,
        0,
    )


def test_form_plot_data_reads_the_forms_judgements_but_not_applicability():
    spec = TEMPLATES["quadas2"]
    values = {
        "d1_judgement": {"judgement": "low", "override_reason": ""},
        "d1_applicability": {"judgement": "high", "override_reason": ""},
        "overall_judgement": {"judgement": "unclear", "override_reason": ""},
    }
    data = robplots.form_plot_data(spec, [("Smith 2019", values)])
    assert data is not None
    assert [c[0] for c in data.columns] == ["D1", "D2", "D3", "D4", "overall"]
    assert data.studies[0].judgements == {
        "D1": "low",
        "D2": None,
        "D3": None,
        "D4": None,
        "overall": "unclear",
    }
    assert robplots.form_plot_data(TEMPLATES["outcomes"], []) is None
    assert robplots.plotted_tool(TEMPLATES["rob1"]) is rob1.TOOL


# --- Pages ---------------------------------------------------------------------------------

WEIGHTED = FormSpec(
    title="Diagnostic accuracy RoB",
    extractors_needed=1,
    sections=(
        SectionSpec("Study", fields=(FieldSpec("participants", "Participants", "integer"),)),
        *TEMPLATES["quadas2"].sections,
    ),
)


def _assessment(d2: str, participants: int | None) -> dict:
    values = {f.key: "Yes" for f in WEIGHTED.fields() if f.kind == "single_choice"}
    values["qd2_1"] = d2
    judgement = {"Yes": "low", "No": "high", "Unclear": "unclear"}[d2]
    values |= {f"d{n}_judgement": "Low risk" for n in (1, 3, 4)}
    values |= {f"d{n}_applicability": "Low concern" for n in (1, 2, 3)}
    values |= {"d2_judgement": judgement, "overall_judgement": judgement}
    if participants is not None:
        values["participants"] = participants
    return values


@pytest.fixture
def settled(review, owner, reviewer, reviewer2):
    """A QUADAS-2 form with a participants count: three studies settled (low, high, unclear
    in domain 2) and a fourth still a draft consensus."""
    records = import_records(review, owner, 4)
    for record in records:
        for stage in ("title-abstract", "full-text"):
            for user in (reviewer, reviewer2):
                vote(review, record, user, "include", stage=stage)
    form = publish_form(form=create_form(review=review, actor=owner, spec=WEIGHTED), actor=owner)
    answers = [("Yes", 100), ("No", 300), ("Unclear", None), ("No", 50)]
    for record, (d2, n) in zip(included_studies(review), answers, strict=True):
        extraction = start_extraction(form=form, record=record, extractor=reviewer)
        values = _assessment(d2, n)
        submit_extraction(extraction=extraction, actor=reviewer, values=values)
        if n == 50:  # one extractor: final at once; the adjudicator reopens this one
            save_consensus(form=form, record=record, actor=owner, values=values, final=False)
    return form


# Session and user, membership, the form, the final consensus with its studies.
QUERIES = 5


def _url(form, kind=None, fmt=None):
    if kind is None:
        return reverse("extraction-rob-plots", args=[form.review.slug, form.pk])
    return reverse("extraction-rob-plot", args=[form.review.slug, form.pk, kind, fmt])


@pytest.mark.django_db
def test_plots_need_a_member_and_outsiders_get_404(client, client_for, settled, outsider, viewer):
    for url in (_url(settled), _url(settled, "traffic-light", "svg")):
        assert client.get(url).status_code == 302
        assert client_for(outsider).get(url).status_code == 404
        assert client_for(viewer).get(url).status_code == 200


@pytest.mark.django_db
def test_plot_page_shows_both_plots_of_the_final_consensus_with_downloads(
    client_for, settled, viewer
):
    page = client_for(viewer).get(_url(settled)).content.decode()
    assert "QUADAS-2: the final consensus of 3 studies" in page
    assert f'src="{_url(settled, "traffic-light", "svg")}"' in page
    assert f'href="{_url(settled, "summary", "png")}?download=1"' in page
    assert '<option value="participants">Participants</option>' in page
    assert "style=" not in page and "<script>" not in page


@pytest.mark.django_db
def test_traffic_light_download_lists_only_final_studies(client_for, settled, viewer):
    response = client_for(viewer).get(_url(settled, "traffic-light", "svg"), {"download": "1"})
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Disposition"] == (
        'attachment; filename="msc-t2d-diagnostic-accuracy-rob-v1-traffic-light.svg"'
    )
    assert "default-src 'none'" in response["Content-Security-Policy"]
    svg = response.content.decode()
    assert svg.count(">Family") == 3  # the fourth study's consensus is a draft
    assert "Family4" not in svg
    inline = client_for(viewer).get(_url(settled, "traffic-light", "png"))
    assert inline["Content-Type"] == "image/png"
    assert inline["Content-Disposition"].startswith("inline;")
    assert Image.open(io.BytesIO(inline.content)).format == "PNG"


@pytest.mark.django_db
def test_summary_is_weighted_by_a_number_field_and_says_who_is_left_out(
    client_for, settled, viewer
):
    client = client_for(viewer)
    plain = client.get(_url(settled, "summary", "svg")).content.decode()
    # Domain 2: one study in three at each level.
    assert re.findall(r'width="([\d.]+)" height="22" fill="#BF0000"', plain)[0] == "140"
    weighted = client.get(_url(settled, "summary", "svg"), {"weight": "participants"})
    assert weighted["Content-Disposition"].endswith('-summary-weighted-participants.svg"')
    svg = weighted.content.decode()
    # Weighted: 100 low and 300 high participants; the study without a count is left out.
    assert re.findall(r'width="([\d.]+)" height="22" fill="#BF0000"', svg)[0] == "315"
    page = client.get(_url(settled), {"weight": "participants"}).content.decode()
    assert "1 study has no positive value to weigh by and is left out" in page


@pytest.mark.django_db
def test_unknown_plots_are_404_and_unknown_weights_are_ignored(client_for, settled, viewer):
    client = client_for(viewer)
    assert client.get(_url(settled, "forest", "svg")).status_code == 404
    assert client.get(_url(settled, "summary", "pdf")).status_code == 404
    plain = client.get(_url(settled, "summary", "svg")).content
    assert client.get(_url(settled, "summary", "svg"), {"weight": "nope"}).content == plain
    assert client.get(_url(settled, "summary", "svg"), {"weight": "qd1_1"}).content == plain


@pytest.mark.django_db
def test_plot_queries_do_not_grow_with_studies(
    client_for, settled, owner, viewer, django_assert_num_queries
):
    client = client_for(viewer)
    with django_assert_num_queries(QUERIES):
        client.get(_url(settled, "traffic-light", "svg"))
    draft = included_studies(settled.review).last()
    save_consensus(
        form=settled, record=draft, actor=owner, values=_assessment("No", 50), final=True
    )
    with django_assert_num_queries(QUERIES):
        assert client.get(_url(settled, "traffic-light", "svg")).content.count(b">Family") == 4
    with django_assert_num_queries(QUERIES):
        client.get(_url(settled, "summary", "png"), {"weight": "participants"})
    with django_assert_num_queries(QUERIES):
        client.get(_url(settled))


@pytest.mark.django_db
def test_the_extraction_overview_links_the_plots_of_risk_of_bias_forms_only(
    client_for, settled, owner
):
    page = client_for(owner).get(reverse("extraction-home", args=[settled.review.slug])).content
    assert f'data-rob-plots="{settled.pk}"'.encode() in page
    other = publish_form(
        form=create_form(review=settled.review, actor=owner, spec=TEMPLATES["outcomes"]),
        actor=owner,
    )
    page = client_for(owner).get(reverse("extraction-home", args=[settled.review.slug])).content
    assert f'data-rob-plots="{other.pk}"'.encode() not in page
