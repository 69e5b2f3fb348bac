"""The PRISMA 2020 diagram: arithmetic checks, layout, SVG/PDF/PNG and the CSV template.

Pure Python (no database, no Django): run with ``pytest -p no:django``.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import replace
from itertools import combinations

import pytest
from defusedxml.ElementTree import fromstring

from screening.prisma import (
    PrismaCounts,
    Problem,
    build_layout,
    check,
    from_csv,
    prisma_pdf,
    prisma_png,
    prisma_svg,
    render_svg,
    to_csv,
)
from screening.prisma.counts import LIST_FIELDS, NUMBER_FIELDS
from screening.prisma.layout import PAD, Layout, arrow_geometry
from screening.prisma.metrics import text_width
from screening.prisma.pdf import pdf_text
from screening.prisma.png import _drawable

SVG = "{http://www.w3.org/2000/svg}"
NEW_DBR = "Identification of new studies via databases and registers"
NEW_OTHER = "Identification of new studies via other methods"
PREVIOUS = "Previous studies"
NOT_DRAWN = {"dbr_included_reports", "other_included_reports"}


def consistent(*, updated: bool, other_methods: bool) -> PrismaCounts:
    """Counts that add up, every number different so each can be found in a drawing."""
    counts = PrismaCounts(
        database_results=310,
        database_specific_results=[("PubMed", 160), ("Embase", 120), ("CINAHL", 30)],
        register_results=22,
        register_specific_results=[("ClinicalTrials.gov", 22)],
        duplicates=51,
        excluded_automatic=11,
        excluded_other=6,
        records_screened=264,
        records_excluded=193,
        dbr_sought_reports=71,
        dbr_notretrieved_reports=7,
        dbr_assessed=64,
        dbr_excluded=[("Wrong population", 21), ("Wrong outcome", 13), ("Wrong design", 4)],
        dbr_included_reports=26,
        new_studies=19,
        new_reports=26,
        updated=updated,
        other_methods=other_methods,
    )
    if other_methods:
        counts = replace(
            counts,
            website_results=8,
            organisation_results=9,
            citations_results=17,
            other_sought_reports=34,
            other_notretrieved_reports=2,
            other_assessed=32,
            other_excluded=[("No outcome data", 27)],
            other_included_reports=5,
            new_studies=23,
            new_reports=31,
        )
    if updated:
        counts = replace(
            counts, previous_studies=42, previous_reports=57, total_studies=61, total_reports=83
        )
    return counts


TEMPLATES = [
    pytest.param(False, False, id="new-review"),
    pytest.param(False, True, id="new-review-other-methods"),
    pytest.param(True, False, id="updated-review"),
    pytest.param(True, True, id="updated-review-other-methods"),
]


def svg_lines(svg: str) -> list[str]:
    root = fromstring(svg)
    return [el.text or "" for el in root.iter(f"{SVG}text")]


def drawn_numbers(counts: PrismaCounts) -> list[str]:
    expected = []
    for name in NUMBER_FIELDS:
        value = getattr(counts, name)
        if value is not None and name not in NOT_DRAWN:
            expected.append(f"(n = {value})")
    for name in LIST_FIELDS:
        expected += [f"{item} (n = {n})" for item, n in getattr(counts, name)]
    return expected


# --- check() ---------------------------------------------------------------------------


@pytest.mark.parametrize(("updated", "other_methods"), TEMPLATES)
def test_consistent_counts_have_no_problems(updated: bool, other_methods: bool) -> None:
    assert check(consistent(updated=updated, other_methods=other_methods)) == []


def test_inconsistent_counts_name_the_box_and_the_gap() -> None:
    counts = replace(
        consistent(updated=False, other_methods=True),
        database_results=300,  # the databases listed add up to 310
        records_screened=120,
        dbr_sought_reports=80,
        dbr_excluded=[("Wrong population", 20)],
        other_assessed=33,
        new_reports=30,
    )
    assert check(counts) == [
        Problem(
            "database_results",
            "Records identified from databases is 300 but the per-database counts add up to "
            "310 (10 missing)",
            -10,
        ),
        Problem(
            "records_screened",
            "Records screened is 120 but identified − removed gives 254 (134 missing)",
            -134,
        ),
        Problem(
            "dbr_sought_reports",
            "Reports sought for retrieval (databases and registers) is 80 but screened − "
            "excluded gives -73 (153 too many)",
            153,
        ),
        Problem(
            "dbr_assessed",
            "Reports assessed for eligibility (databases and registers) is 64 but sought − "
            "not retrieved gives 73 (9 missing)",
            -9,
        ),
        Problem(
            "dbr_excluded",
            "Reports excluded (databases and registers) is 20 but assessed − included gives 38 "
            "(18 missing)",
            -18,
        ),
        Problem(
            "other_assessed",
            "Reports assessed for eligibility (other methods) is 33 but sought − not retrieved "
            "gives 32 (1 too many)",
            1,
        ),
        Problem(
            "other_excluded",
            "Reports excluded (other methods) is 27 but assessed − included gives 28 (1 missing)",
            -1,
        ),
        Problem(
            "new_reports",
            "Reports of included studies is 30 but included reports from databases and "
            "registers + other methods give 31 (1 missing)",
            -1,
        ),
    ]


def test_records_screened_sentence() -> None:
    counts = PrismaCounts(
        database_results=100, register_results=30, duplicates=5, excluded_automatic=0,
        excluded_other=0, records_screened=120,
    )  # fmt: skip
    assert [p.message for p in check(counts)] == [
        "Records screened is 120 but identified − removed gives 125 (5 missing)"
    ]


def test_unknown_numbers_skip_the_checks_they_are_in() -> None:
    counts = consistent(updated=False, other_methods=False)
    counts = replace(counts, duplicates=None, dbr_notretrieved_reports=None, dbr_excluded=[])
    assert [p.box for p in check(counts)] == ["dbr_excluded"]  # 38 excluded, no reasons


def test_other_methods_column_is_only_checked_when_drawn() -> None:
    counts = replace(consistent(updated=False, other_methods=False), other_assessed=-4)
    assert check(counts) == []
    problems = check(replace(counts, other_methods=True, other_sought_reports=3))
    assert (
        Problem(
            "other_assessed",
            "Reports assessed for eligibility (other methods) is -4, "
            "but a count cannot be negative",
            -4,
        )
        in problems
    )


def test_per_database_counts_stand_in_for_a_missing_total() -> None:
    counts = replace(consistent(updated=False, other_methods=False), database_results=None)
    assert check(counts) == []
    counts = replace(counts, database_specific_results=[("PubMed", 160)])
    assert [p.box for p in check(counts)] == ["records_screened"]


def test_to_json_is_keyed_by_the_template_names() -> None:
    data = consistent(updated=True, other_methods=True).to_json()
    assert data["records_screened"] == 264
    assert data["database_specific_results"][0] == {"name": "PubMed", "n": 160}
    assert data["dbr_excluded"][-1] == {"name": "Wrong design", "n": 4}
    assert data["updated"] is True and data["other_methods"] is True
    assert set(NUMBER_FIELDS) | set(LIST_FIELDS) <= set(data)


# --- layout -----------------------------------------------------------------------------


def long_counts(*, updated: bool, other_methods: bool) -> PrismaCounts:
    """Many sources and long reasons, so boxes grow and wrap."""
    counts = consistent(updated=updated, other_methods=other_methods)
    reasons = [(f"Reason number {i} with a rather long explanation of why", 1) for i in range(12)]
    counts = replace(
        counts,
        database_specific_results=[(f"Database{i}", 10) for i in range(31)],
        dbr_excluded=[*reasons, ("Wrong population", 26)],
    )
    if other_methods:
        word = "ASupercalifragilisticexpialidociousWordWithoutAnySpaces"
        counts = replace(counts, other_excluded=[(word, 27)])
    return counts


def assert_well_formed(layout: Layout) -> None:
    for a, b in combinations(layout.boxes, 2):
        apart = a.right <= b.x or b.right <= a.x or a.bottom <= b.y or b.bottom <= a.y
        assert apart, f"{a.key} overlaps {b.key}"
    for box in layout.boxes:
        assert box.x >= 0 and box.right <= layout.width, box.key
        assert box.y >= 0 and box.bottom <= layout.height, box.key
        if box.style in ("normal", "footnote", "warning", "heading"):
            for line in box.lines:
                room = box.w - 2 * PAD - line.indent
                assert text_width(line.text, box.font_size, bold=line.bold) <= room + 0.01, (
                    box.key,
                    line.text,
                )
            assert len(box.lines) * box.font_size * 1.25 + 2 * PAD <= box.h + 0.01, box.key
    for arrow in layout.arrows:
        shaft, head = arrow_geometry(arrow)
        for (x0, y0), (x1, y1) in zip(arrow.points, arrow.points[1:]):
            assert x0 == x1 or y0 == y1, "arrows run straight across or down"
            for box in layout.boxes:
                # Arrows start and end on a box's edge but never pass through one.
                inside_x = max(x0, x1) > box.x + 0.5 and min(x0, x1) < box.right - 0.5
                inside_y = max(y0, y1) > box.y + 0.5 and min(y0, y1) < box.bottom - 0.5
                assert not (inside_x and inside_y), f"arrow {arrow.points} crosses {box.key}"
        assert head[0] == arrow.points[-1]


@pytest.mark.parametrize(("updated", "other_methods"), TEMPLATES)
def test_no_two_boxes_overlap_and_text_fits(updated: bool, other_methods: bool) -> None:
    assert_well_formed(build_layout(consistent(updated=updated, other_methods=other_methods)))
    assert_well_formed(build_layout(long_counts(updated=updated, other_methods=other_methods)))
    unknown = PrismaCounts(updated=updated, other_methods=other_methods)
    assert_well_formed(build_layout(unknown))


@pytest.mark.parametrize(("updated", "other_methods"), TEMPLATES)
def test_layout_has_the_templates_boxes(updated: bool, other_methods: bool) -> None:
    layout = build_layout(consistent(updated=updated, other_methods=other_methods))
    keys = set(layout.keys)
    core = {f"box{i}" for i in range(2, 11)} | {"newstud", "identification", "screening"}
    assert core | {"included", "footnotes"} <= keys
    assert ({"box1", "box16", "prevstud"} <= keys) is updated
    assert ({"box1", "box16", "prevstud"} & keys == set()) is not updated
    assert ({"box11", "box12", "box13", "box14", "box15", "othstud"} <= keys) is other_methods
    assert "warnings" not in keys
    # One arrow per flow: 8 in the main column, 5 for other methods, 2 for the totals.
    assert len(layout.arrows) == 8 + 5 * other_methods + 2 * updated


def test_layout_is_deterministic() -> None:
    counts = long_counts(updated=True, other_methods=True)
    assert build_layout(counts) == build_layout(counts)
    assert prisma_pdf(counts) == prisma_pdf(counts)


def test_boxes_on_one_row_line_up_with_the_box_they_flow_from() -> None:
    layout = build_layout(consistent(updated=True, other_methods=True))
    box = layout.box
    assert box("box2").cx == box("box4").cx == box("box6").cx == box("box10").cx
    assert box("box6").cy == box("box12").cy  # reports sought, both columns
    assert box("box8").cy == box("box14").cy  # reports assessed, both columns
    assert box("box10").bottom < box("box16").y


def test_unknown_numbers_show_a_dash() -> None:
    lines = svg_lines(prisma_svg(PrismaCounts()))
    assert "Records screened (n = –)" in lines


def test_problems_get_a_red_panel_and_a_red_frame_in_a_draft() -> None:
    counts = replace(consistent(updated=False, other_methods=False), duplicates=56)
    # #19: a figure for a report never carries the panel; a draft does.
    assert not any(box.problem for box in build_layout(counts).boxes)
    layout = build_layout(counts, draft=True)
    assert layout.box("box4").problem and layout.box("box4").stroke == "#c00000"
    assert [box.key for box in layout.boxes if box.problem] == ["box4", "warnings"]
    panel = layout.box("warnings")
    assert panel.y > layout.box("footnotes").bottom and panel.bottom <= layout.height
    text = " ".join(line.text for line in panel.lines)
    assert "• Records screened is 264 but identified − removed gives 259 (5 too many)" in text
    assert_well_formed(layout)
    svg_text = " ".join(svg_lines(render_svg(layout)))
    assert "These counts do not add up" in svg_text
    assert "Records screened is 264 but identified − removed gives 259 (5 too many)" in svg_text
    assert "Records screened is 264" in pdf_strings(prisma_pdf(counts, draft=True))
    assert "Records screened is 264" not in pdf_strings(prisma_pdf(counts))
    assert "warnings" not in build_layout(consistent(updated=False, other_methods=False)).keys


# --- SVG --------------------------------------------------------------------------------


@pytest.mark.parametrize(("updated", "other_methods"), TEMPLATES)
def test_svg_shows_every_number_and_the_right_headings(updated: bool, other_methods: bool) -> None:
    counts = consistent(updated=updated, other_methods=other_methods)
    svg = prisma_svg(counts)
    root = fromstring(svg)
    assert root.tag == f"{SVG}svg"
    lines = svg_lines(svg)
    text = " ".join(lines)  # a label and its "(n = …)" may be wrapped onto two lines
    for number in drawn_numbers(counts):
        assert number in text
    assert NEW_DBR in lines
    assert (NEW_OTHER in lines) is other_methods
    assert (PREVIOUS in lines) is updated
    included = "New studies included in review" if updated else "Studies included in review"
    reports = "Reports of new included studies" if updated else "Reports of included studies"
    assert f"{included} (n = {counts.new_studies})" in text
    assert f"{reports} (n = {counts.new_reports})" in text
    assert ("Total studies included in review (n = 61)" in text) is updated
    assert ("Reports of total included studies (n = 83)" in text) is updated
    for word in ("Identification", "Screening", "Included", "Records identified from*:"):
        assert word in lines
    assert "Records removed before screening:" in lines
    assert any(line.startswith("*Consider, if feasible") for line in lines)
    assert any(line.startswith("**If automation tools were used") for line in lines)


def test_svg_escapes_user_text() -> None:
    name = '<script>&"'
    counts = replace(
        consistent(updated=False, other_methods=False),
        database_specific_results=[("PubMed", 160), ("Embase", 120), (name, 30)],
        dbr_excluded=[("Wrong population", 21), ("Wrong outcome", 13), ("Bad </text> ]]>", 4)],
    )
    svg = prisma_svg(counts)
    assert "<script>" not in svg and "</text> ]]>" not in svg
    assert "&lt;script&gt;&amp;&quot; (n = 30)" in svg
    lines = svg_lines(svg)
    assert f"{name} (n = 30)" in lines
    assert "Bad </text> ]]> (n = 4)" in lines


def test_svg_survives_control_characters_in_names() -> None:
    counts = PrismaCounts(dbr_excluded=[("Tab\tand\x00nul\x1b", 3), ("\ud800lone", 1)])
    lines = svg_lines(prisma_svg(counts))  # parses: no character XML forbids
    assert "Tab and nul (n = 3)" in lines
    assert "\ufffdlone (n = 1)" in lines


# --- PDF --------------------------------------------------------------------------------


def pdf_strings(pdf: bytes) -> str:
    """The text of the shown strings, un-escaped, from the uncompressed content stream."""
    shown = re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", pdf)

    def unescape(raw: bytes) -> str:
        raw = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), raw)
        return re.sub(rb"\\(.)", rb"\1", raw).decode("cp1252")

    return "\n".join(unescape(s) for s in shown)


@pytest.mark.parametrize(("updated", "other_methods"), TEMPLATES)
def test_pdf_is_well_formed_and_shows_every_number(updated: bool, other_methods: bool) -> None:
    counts = consistent(updated=updated, other_methods=other_methods)
    pdf = prisma_pdf(counts)
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.rstrip().endswith(b"%%EOF")
    text = " ".join(pdf_strings(pdf).splitlines())
    for number in drawn_numbers(counts):
        assert number in text
    assert (NEW_OTHER in text) is other_methods
    assert (PREVIOUS in text) is updated
    # The cross-reference table points at every object, and startxref at the table.
    found = re.search(rb"startxref\n(\d+)\n%%EOF", pdf)
    assert found
    startxref = int(found.group(1))
    assert pdf[startxref:].startswith(b"xref\n0 8\n")
    offsets = re.findall(rb"(\d{10}) 00000 n \n", pdf[startxref:])
    assert len(offsets) == 7
    for obj, offset in enumerate(offsets, start=1):
        assert pdf[int(offset) :].startswith(b"%d 0 obj\n" % obj)
    found = re.search(rb"/Length (\d+) >>\nstream\n", pdf)
    assert found
    length = int(found.group(1))
    stream_start = pdf.index(b"stream\n") + len(b"stream\n")
    assert pdf[stream_start + length :].startswith(b"endstream")


def test_pdf_text_is_winansi_with_question_marks_for_the_rest() -> None:
    assert pdf_text("a(b)\\c") == b"(a\\(b\\)\\\\c)"
    assert pdf_text("Müller – 5 − 3 Ω 中") == b"(M\\374ller \\226 5 - 3 ? ?)"
    counts = PrismaCounts(database_specific_results=[("Müller Ω", 1)], database_results=1)
    assert "Müller ? (n = 1)" in pdf_strings(prisma_pdf(counts))


# --- PNG --------------------------------------------------------------------------------


@pytest.mark.parametrize(("updated", "other_methods"), TEMPLATES)
def test_png_is_print_resolution(updated: bool, other_methods: bool) -> None:
    png = prisma_png(consistent(updated=updated, other_methods=other_methods))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 2400
    layout = build_layout(consistent(updated=updated, other_methods=other_methods))
    assert abs(width / height - layout.width / layout.height) < 0.01
    chunk = png.index(b"pHYs")
    per_metre = struct.unpack(">I", png[chunk + 4 : chunk + 8])[0]
    assert per_metre * 0.0254 >= 299  # at least 300 dpi
    assert (
        zlib.crc32(png[chunk : chunk + 13]) == struct.unpack(">I", png[chunk + 13 : chunk + 17])[0]
    )


def test_png_draws_what_its_font_lacks_as_a_look_alike() -> None:
    assert _drawable("Études – Ω (n = 5)", None) == "Etudes - ? (n = 5)"
    png = prisma_png(PrismaCounts(database_specific_results=[("Études – Ω", 5)]), scale=1)
    assert png.startswith(b"\x89PNG")


# --- CSV --------------------------------------------------------------------------------


@pytest.mark.parametrize(("updated", "other_methods"), TEMPLATES)
def test_csv_round_trip(updated: bool, other_methods: bool) -> None:
    counts = long_counts(updated=updated, other_methods=other_methods)
    counts.dbr_excluded.append(("Wrong comparator, placebo", 0))  # a comma in a name
    assert from_csv(to_csv(counts)) == counts
    empty = PrismaCounts(updated=updated, other_methods=other_methods)
    assert from_csv(to_csv(empty), updated=updated, other_methods=other_methods) == empty


def test_csv_has_the_template_rows() -> None:
    text = to_csv(consistent(updated=True, other_methods=True))
    lines = text.splitlines()
    assert lines[0] == "data,node,box,description,boxtext,tooltips,url,n"
    rows = {line.split(",")[0]: line for line in lines[1:]}
    assert rows["records_screened"] == (
        "records_screened,node9,box4,Records screened (databases and registers),"
        "Records screened,Records screened (databases and registers),records_screened.html,264"
    )
    assert rows["dbr_excluded"].endswith(
        ',"Wrong population, 21; Wrong outcome, 13; Wrong design, 4"'
    )
    assert rows["database_specific_results"].endswith(',"PubMed, 160; Embase, 120; CINAHL, 30"')
    for label in ("identification", "screening", "included"):
        assert label in rows
    assert [line.split(",")[2] for line in lines[1:] if line.startswith("NA,")] == [
        "prevstud",
        "newstud",
        "othstud",
    ]


def test_csv_semicolons_in_names_become_commas() -> None:
    counts = PrismaCounts(dbr_excluded=[("No data; abstract only", 3)])
    assert from_csv(to_csv(counts)).dbr_excluded == [("No data, abstract only", 3)]


def test_csv_reader_is_tolerant_of_what_others_write() -> None:
    text = (
        "\ufeffdata,node,box,description,boxtext,tooltips,url,n,notes\n"
        "NA,node4,prevstud,Grey title box,Previous studies,NA,prevstud.html,0,\n"
        "database_results,node7,box2,Records identified from: Databases,Databases,NA,NA,"
        '"1,234",mine\n'
        "register_results,NA,box2,Registers,Registers,NA,NA,NA,\n"
        "records_screened,node9,box4,Records screened,Records screened,NA,NA,xxx,\n"
        'dbr_excluded,node14,box9,Reports excluded,Reports excluded,NA,NA,"Wrong, 3; Bad, 2",\n'
        "total_studies_ma,NA,box17,Meta-analysis,Meta-analysis,NA,NA,7,\n"
        "something_else,,,,,,,hello,\n"
    )
    counts = from_csv(text)
    assert counts.database_results == 1234
    assert counts.register_results is None
    assert counts.records_screened is None
    assert counts.dbr_excluded == [("Wrong", 3), ("Bad", 2)]
    assert not counts.updated and not counts.other_methods


@pytest.mark.parametrize(
    ("n", "message"),
    [
        ("12a", 'row 3 (records_screened): "12a" is not a whole number'),
        ("-5", 'row 3 (records_screened): "-5" is not a whole number'),
        ("1.5", 'row 3 (records_screened): "1.5" is not a whole number'),
    ],
)
def test_csv_reader_names_the_row_and_field_of_a_bad_number(n: str, message: str) -> None:
    text = f"data,n\nduplicates,4\nrecords_screened,{n}\n"
    with pytest.raises(ValueError) as error:
        from_csv(text)
    assert str(error.value) == message


def test_csv_reader_errors_for_lists_twice_and_no_header() -> None:
    with pytest.raises(ValueError) as error:
        from_csv('data,n\ndbr_excluded,"Reason1, xxx; Reason2, 4"\n')
    assert (
        str(error.value)
        == 'row 2 (dbr_excluded): "Reason1, xxx" needs a whole number after its last comma'
    )
    with pytest.raises(ValueError) as error:
        from_csv("data,n\nduplicates,4\nduplicates,5\n")
    assert str(error.value) == "row 3 (duplicates): appears twice (first in row 2)"
    with pytest.raises(ValueError) as error:
        from_csv("field,value\nduplicates,4\n")
    assert str(error.value) == (
        'not a PRISMA2020 template: the header needs a "data" and an "n" column'
    )


def test_csv_infers_the_template_unless_told() -> None:
    text = "data,n\nprevious_studies,12\nwebsite_results,0\n"
    counts = from_csv(text)
    assert counts.updated and not counts.other_methods
    assert not from_csv(text, updated=False).updated
    assert from_csv(text, other_methods=True).other_methods
