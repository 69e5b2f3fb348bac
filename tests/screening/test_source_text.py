"""Record text as the source meant it (issue #18): publisher tags as formatting, everything
else as text, highlights in text runs only, structured abstracts as labelled paragraphs,
exports untouched."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.urls import reverse

from screening.highlight import compile_terms
from screening.models import Stage
from screening.services import identification
from screening.services.screening.stage_settings import update_stage_settings
from screening.source_text import abstract_sections, parse, render_abstract, render_inline, truncate
from tests.screening.factories import upload


def inline(text: str, include: list[str] | None = None, exclude: list[str] | None = None) -> str:
    parsed = parse(text)
    marks = compile_terms(include or [], exclude or []).marks(parsed.plain)
    return render_inline(parsed, marks)


def abstract(text: str, include: list[str] | None = None) -> str:
    parsed = parse(text)
    return render_abstract(parsed, compile_terms(include or [], []).marks(parsed.plain))


def tags_of(fragment: str) -> set[str]:
    return set(re.findall(r"<[^>]*>", fragment))


ALLOWED_TAG_FORMS = {
    "<i>", "</i>", "<em>", "</em>", "<b>", "</b>", "<strong>", "</strong>", "<u>", "</u>",
    "<sup>", "</sup>", "<sub>", "</sub>", '<span class="smallcaps">', "</span>", "<br>",
    '<mark class="hl-include">', '<mark class="hl-exclude">', "</mark>",
    '<p class="abstract-section">', "</p>", '<strong class="abstract-label">',
}  # fmt: skip


# ------------------------------------------------------------------------ formatting


def test_publisher_tags_become_formatting_and_entities_their_characters():
    assert inline("<i>In vivo</i> CO<sub>2</sub> and m<sup>2</sup>, <b>bold</b>") == (
        "<i>In vivo</i> CO<sub>2</sub> and m<sup>2</sup>, <b>bold</b>"
    )
    assert inline("&lt;5&#x2009;mm &amp; x&#8805;y") == "&lt;5\u2009mm &amp; x\u2265y"
    assert inline("<EM>Up</EM> <Strong>s</Strong> <u>u</u>") == (
        "<em>Up</em> <strong>s</strong> <u>u</u>"
    )


def test_small_capitals_jats_tags_and_line_breaks():
    assert inline("<sc>Bcl</sc>-2 <smallcaps>x</smallcaps>") == (
        '<span class="smallcaps">Bcl</span>-2 <span class="smallcaps">x</span>'
    )
    assert inline("<jats:italic>E. coli</jats:italic> <jats:sup>+</jats:sup>") == (
        "<i>E. coli</i> <sup>+</sup>"
    )
    assert inline("one<br>two<br/>three<br />four") == "one<br>two<br>three<br>four"


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ('<i onclick="alert(1)">x</i>', '&lt;i onclick="alert(1)"&gt;x&lt;/i&gt;'),
        ("<i style='color:red'>x</i>", "&lt;i style='color:red'&gt;x&lt;/i&gt;"),
        ("<i>unclosed", "&lt;i&gt;unclosed"),
        ("stray</b> close", "stray&lt;/b&gt; close"),
        ("<<i>>x<</i>>", "&lt;<i>&gt;x&lt;</i>&gt;"),
        ("<i><b>crossed</i></b>", "<i>&lt;b&gt;crossed</i>&lt;/b&gt;"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("&lt;i&gt;not markup&lt;/i&gt;", "&lt;i&gt;not markup&lt;/i&gt;"),
        ("<!-- x --><i>a</i>", "&lt;!-- x --&gt;<i>a</i>"),
        ("<svg/onload=alert(1)>", "&lt;svg/onload=alert(1)&gt;"),
        ("<i/>self-closed", "&lt;i/&gt;self-closed"),
        ("</br> and <p/>", "&lt;/br&gt; and &lt;p/&gt;"),
        ("<a href='javascript:x'>l</a>", "&lt;a href='javascript:x'&gt;l&lt;/a&gt;"),
        ("<i\n>split</i>", "&lt;i\n&gt;split&lt;/i&gt;"),
        ("<style>p{}</style>", "&lt;style&gt;p{}&lt;/style&gt;"),
        ("\"quoted\" & 'single'", "\"quoted\" &amp; 'single'"),
    ],
)
def test_anything_else_shows_as_typed(source, shown):
    assert inline(source) == shown


def test_a_less_than_sign_is_text_never_markup_and_never_lost():
    assert inline("p < 0.05 and a<b>c") == "p &lt; 0.05 and a&lt;b&gt;c"
    assert inline("p<0.05, n<i") == "p&lt;0.05, n&lt;i"
    assert inline("IL-6 <10 pg/mL; <i>n</i> = 5") == "IL-6 &lt;10 pg/mL; <i>n</i> = 5"


def test_only_entities_with_their_semicolon_are_decoded():
    assert inline("AT&T, R&D, x&para y, &notanentity; &amp") == (
        "AT&amp;T, R&amp;D, x&amp;para y, &amp;notanentity; &amp;amp"
    )


def test_a_hostile_text_yields_only_allowed_tags_without_attributes():
    hostile = (
        "<i>a<script>b</script></i><b onmouseover=x>c</b><sup><img src=x></sup>"
        "<i><i><i>deep</i></i></i><sub></sub><p>para</p><br><iframe></iframe>"
        '"><svg onload=alert(1)>&lt;script&gt;&#60;b&#62;'
    )
    for fragment in (inline(hostile, ["script", "b"]), abstract(hostile, ["script"])):
        assert tags_of(fragment) <= ALLOWED_TAG_FORMS, fragment
        assert "<script" not in fragment and "<img" not in fragment and "<svg" not in fragment


def test_nested_formatting_is_kept_and_empty_elements_are_left_out():
    assert inline("<b><i>both</i></b>") == "<b><i>both</i></b>"
    assert inline("x<i></i>y") == "xy"


# ------------------------------------------------------------------------ highlighting


def test_highlights_mark_text_inside_formatting():
    assert inline("An <i>in vivo</i> study", ["vivo"]) == (
        'An <i>in <mark class="hl-include">vivo</mark></i> study'
    )


def test_a_term_matches_across_formatting_and_is_split_around_the_tags():
    assert inline("<i>Stem</i> cells", ["stem cell*"]) == (
        '<i><mark class="hl-include">Stem</mark></i><mark class="hl-include"> cells</mark>'
    )
    assert inline("CO<sub>2</sub> laser", ["co2"]) == (
        '<mark class="hl-include">CO</mark><sub><mark class="hl-include">2</mark></sub> laser'
    )


def test_a_term_never_matches_a_tag():
    assert inline("<i>italic</i> i", ["i"]) == '<i>italic</i> <mark class="hl-include">i</mark>'
    assert inline("<sup>1</sup>", ["sup"]) == "<sup>1</sup>"


def test_a_term_matches_text_that_looks_like_markup():
    assert inline("<script>x", [], ["<script>"]) == (
        '<mark class="hl-exclude">&lt;script&gt;</mark>x'
    )


# ------------------------------------------------------------------------ abstracts


MEDLINE = (
    "BACKGROUND: Mesenchymal stromal cells (MSCs) are studied. OBJECTIVE: To assess them. "
    "MATERIALS AND METHODS: We randomised 40 rats. RESULTS: Fewer lesions (p < 0.05). "
    "CONCLUSIONS AND RELEVANCE: MSCs help."
)


def test_a_medline_structured_abstract_becomes_labelled_paragraphs():
    out = abstract(MEDLINE)
    labels = re.findall(r'<strong class="abstract-label">([^<]*)</strong>', out)
    assert labels == [
        "BACKGROUND:",
        "OBJECTIVE:",
        "MATERIALS AND METHODS:",
        "RESULTS:",
        "CONCLUSIONS AND RELEVANCE:",
    ]
    assert out.count('<p class="abstract-section">') == 5
    assert (
        '<p class="abstract-section"><strong class="abstract-label">RESULTS:</strong> '
        "Fewer lesions (p &lt; 0.05).</p>"
    ) in out


def test_title_case_labels_from_the_list_count_too():
    sections = abstract_sections("Background: one. Methods: two. Results: three.")
    assert [(s, e) for s, e, _ in sections] == [(0, 11), (17, 25), (31, 39)]


@pytest.mark.parametrize(
    "text",
    [
        "Infection with HIV: a cohort. Nothing else is labelled here.",
        "We studied cells. Note: this is not a heading. Neither is this.",
        "Ratio 2:1. The rest.",
        "Dose: 5 mg. Time: 2 h.",
    ],
)
def test_an_unstructured_abstract_is_not_split_at_colons(text):
    assert abstract_sections(text) == []
    assert abstract(text).count("<p ") == 1


def test_labels_inside_publisher_bold_and_highlights_across_sections():
    out = abstract("<b>OBJECTIVE:</b> To test stem. <b>DESIGN:</b> Trial of stem cells.", ["stem"])
    assert out == (
        '<p class="abstract-section"><b><strong class="abstract-label">OBJECTIVE:</strong></b>'
        ' To test <mark class="hl-include">stem</mark>.</p>'
        '<p class="abstract-section"><b><strong class="abstract-label">DESIGN:</strong></b>'
        ' Trial of <mark class="hl-include">stem</mark> cells.</p>'
    )


def test_paragraphs_at_blank_lines_and_paragraph_tags_keep_formatting_open():
    out = abstract("One <i>open\n\nstill italic</i> end.<p>Two</p><jats:p>Three</jats:p>")
    assert out == (
        '<p class="abstract-section">One <i>open</i></p>'
        '<p class="abstract-section"><i>still italic</i> end.</p>'
        '<p class="abstract-section">Two</p><p class="abstract-section">Three</p>'
    )


def test_a_formatted_section_break_keeps_the_nesting():
    out = abstract("BACKGROUND: <i>a. METHODS: b</i> c.")
    assert out == (
        '<p class="abstract-section"><strong class="abstract-label">BACKGROUND:</strong>'
        " <i>a.</i></p>"
        '<p class="abstract-section"><i><strong class="abstract-label">METHODS:</strong> b</i>'
        " c.</p>"
    )


def test_an_empty_text_renders_nothing():
    assert inline("") == ""
    assert abstract("") == ""
    assert abstract("\n\n  \n") == ""


# ------------------------------------------------------------------------ truncation


def test_truncation_counts_text_not_tags_and_closes_what_it_cuts():
    parsed = parse("<i>Mesenchymal stromal cells</i> in a long <b>title</b>")
    assert render_inline(truncate(parsed, 200)) == render_inline(parsed)
    assert render_inline(truncate(parsed, 20)) == "<i>Mesenchymal stromal</i>…"
    assert render_inline(truncate(parsed, 19)) == "<i>Mesenchymal</i>…"
    assert render_inline(truncate(parse("<i>" + "x" * 50 + "</i>"), 10)) == (
        "<i>" + "x" * 9 + "</i>…"
    )
    assert render_inline(truncate(parse("a &lt;b&gt; " + "c" * 40), 8)) == "a &lt;b&gt;…"


# ------------------------------------------------------------------------ template filters


def render(template: str, **context: object) -> str:
    return Template("{% load source_text %}" + template).render(Context(context))


def test_the_filters_render_formatting_and_escape_the_rest():
    title = "<i>In vivo</i> x<sup>2</sup> &lt; 3 <script>alert(1)</script>"
    assert render("{{ t|source_text }}", t=title) == (
        "<i>In vivo</i> x<sup>2</sup> &lt; 3 &lt;script&gt;alert(1)&lt;/script&gt;"
    )
    assert render("{{ t|source_text_truncated:12 }}", t=title) == ("<i>In vivo</i> x<sup>2</sup>…")
    assert render("{{ t|default:'(no title)'|source_text }}", t="") == "(no title)"
    assert render("{{ t|source_text }}", t=None) == ""
    hl = compile_terms(["vivo"], [])
    assert render("{{ t|source_abstract:hl }}", t=title, hl=hl) == (
        '<p class="abstract-section"><i>In <mark class="hl-include">vivo</mark></i> x<sup>2</sup>'
        " &lt; 3 &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )


# ------------------------------------------------------------------------ pages and exports

MARKUP_RIS = (
    "TY  - JOUR\n"
    "TI  - <i>In vivo</i> effect of CO<sub>2</sub>: p < 0.05 <script>alert(1)</script>\n"
    "AU  - Smith, A\n"
    "AB  - BACKGROUND: Stem <i>cells</i> matter. METHODS: We did things. "
    "RESULTS: p < 0.05.\n"
    "PY  - 2020\n"
    "ER  - \n"
)


def import_markup(review, owner):
    search = identification.create_search(
        review=review, actor=owner, file=upload(MARKUP_RIS, "m.ris"), filename="m.ris",
        source="PubMed",
    )  # fmt: skip
    identification.run_import(search_id=search.pk)
    return search.records.get()


@pytest.mark.django_db
def test_the_screening_page_shows_formatting_labels_and_highlights(
    review, owner, reviewer, client_for
):
    import_markup(review, owner)
    update_stage_settings(
        review=review, stage=Stage.TITLE_ABSTRACT, actor=owner, include_terms="stem cell*"
    )
    page = client_for(reviewer).get(reverse("screen", args=[review.slug, "title-abstract"]))
    html = page.content.decode()
    assert "<i>In vivo</i> effect of CO<sub>2</sub>: p &lt; 0.05 &lt;script&gt;" in html
    assert '<strong class="abstract-label">METHODS:</strong> We did things.' in html
    assert (
        '<mark class="hl-include">Stem </mark><i><mark class="hl-include">cells</mark></i>'
    ) in html
    assert "<script>alert" not in html


@pytest.mark.django_db
def test_every_page_showing_the_record_renders_its_formatting(review, owner, client_for):
    record = import_markup(review, owner)
    for url in (
        reverse("record-detail", args=[review.slug, record.pk]),
        reverse("review-records", args=[review.slug]),
    ):
        html = client_for(owner).get(url).content.decode()
        assert "<i>In vivo</i> effect of CO<sub>2</sub>" in html, url
        assert "&lt;i&gt;In vivo" not in html.split("Fields as the source gave them")[0], url
        assert "<script>alert" not in html, url


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["ris", "csv", "bibtex"])
def test_exports_keep_the_source_text(review, owner, tmp_path, fmt):
    record = import_markup(review, owner)
    assert record.title.startswith("<i>In vivo</i> effect of CO<sub>2</sub>")
    out = tmp_path / f"export.{fmt}"
    call_command("exportcitations", review.slug, "--format", fmt, "-o", str(out))
    text = out.read_text(encoding="utf-8")
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert rows[0]["title"] == record.title
        assert rows[0]["abstract"] == record.abstract
    else:
        assert "<i>In vivo</i> effect of CO<sub>2</sub>: p < 0.05 <script>alert(1)</script>" in (
            text
        )
        assert "Stem <i>cells</i> matter" in text
    assert "abstract-label" not in text and "&lt;" not in text


# ------------------------------------------------------------------------ speed


def test_hostile_texts_render_in_linear_time():
    many_tags = "<i>a</i> b " * 20_000
    whitespace = "x." + "\n" * 100_000 + " " * 100_000 + "y"
    capitals = ("ABC DEF GHI JKL MNO PQR STU VWX YZ. " * 5_000) + "<" * 50_000
    started = time.perf_counter()
    out = abstract(many_tags, ["a", "b"])
    assert out.count("<mark") == 40_000
    abstract(whitespace, ["x"])
    abstract(capitals, ["abc"])
    inline(capitals, ["abc"])
    assert time.perf_counter() - started < 10  # quadratic work took minutes


def test_a_label_may_end_its_line():
    assert [(s, e) for s, e, _ in abstract_sections("AIMS:\nOne.\nMETHODS:\nTwo.")] == [
        (0, 5),
        (11, 19),
    ]
