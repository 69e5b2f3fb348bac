"""The RevMan 5 file (.rm5) of a form's outcomes: its structure against a real RevMan 5 file,
read back through defusedxml the way parsers of Cochrane review files read them, and its
download.

The real file is ``inst/extdata/Fleiss1993.rm5`` of the R package meta
(github.com/guido-s/meta, commit 6f708f262e815d85d2178a7007c5953553e741e2), written by
RevMan 5.0.23. It is not copied here: the element order and the attribute names below were
read from it, and the tests hold our file to them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from defusedxml import ElementTree as SafeET
from django.urls import reverse

from extraction.form_templates import TEMPLATES
from extraction.synthesis_rm5 import rm5_export, study_id
from extraction.synthesis_run import StudyInput
from tests.extraction.test_synthesis_pages import (
    DATA,
    SPEC,
    _values,
    pooled,  # noqa: F401  (a fixture)
)


def _names(text: str) -> set[str]:
    return set(text.split())


# --- What the real file holds (Fleiss1993.rm5) -------------------------------------------
REAL_TOP = [
    "COVER_SHEET",
    "MAIN_TEXT",
    "STUDIES_AND_REFERENCES",
    "CHARACTERISTICS_OF_STUDIES",
    "QUALITY_ITEMS",
    "SOF_TABLES",
    "ADDITIONAL_TABLES",
    "ANALYSES_AND_DATA",
    "FIGURES",
    "FEEDBACK",
    "APPENDICES",
    "EXTENSIONS",
]
REAL_ROOT = _names("DESCRIPTION DOI GROUP_ID ID MERGED_FROM MODIFIED MODIFIED_BY REVIEW_NO")
REAL_ROOT |= _names("REVMAN_SUB_VERSION REVMAN_VERSION SPLIT_FROM STAGE STATUS TYPE VERSION_NO")
REAL_STUDY = {"DATA_SOURCE", "ID", "MODIFIED", "MODIFIED_BY", "NAME", "YEAR"}
# Both outcome kinds carry these; the binary one adds its events and log-scale results.
_OUTCOME = _names("CHI2 CI_END CI_START CI_STUDY CI_TOTAL DF EFFECT_MEASURE EFFECT_SIZE")
_OUTCOME |= _names("ESTIMABLE I2 I2_Q ID MODIFIED MODIFIED_BY NO P_CHI2 P_Q P_Z Q RANDOM")
_OUTCOME |= _names("SCALE SORT_BY STUDIES SUBGROUPS SUBGROUP_TEST TAU2 TOTALS TOTAL_1")
_OUTCOME |= {"TOTAL_2", "WEIGHT", "Z"}
REAL_DICH_OUTCOME = _OUTCOME | {"EVENTS_1", "EVENTS_2", "LOG_CI_END", "LOG_CI_START"}
REAL_DICH_OUTCOME |= {"LOG_EFFECT_SIZE", "METHOD", "SWAP_EVENTS"}
REAL_CONT_OUTCOME = _OUTCOME | {"UNITS"}
_DATA = _names("CI_END CI_START EFFECT_SIZE ESTIMABLE MODIFIED MODIFIED_BY ORDER SE")
_DATA |= {"STUDY_ID", "TOTAL_1", "TOTAL_2", "WEIGHT"}
REAL_DICH_DATA = _DATA | _names("EVENTS_1 EVENTS_2 LOG_CI_END LOG_CI_START LOG_EFFECT_SIZE")
REAL_DICH_DATA |= {"O_E", "VAR"}
REAL_CONT_DATA = _DATA | {"MEAN_1", "MEAN_2", "SD_1", "SD_2"}
REAL_OUTCOME_CHILDREN = ["NAME", "GROUP_LABEL_1", "GROUP_LABEL_2", "GRAPH_LABEL_1"]
REAL_OUTCOME_CHILDREN += ["GRAPH_LABEL_2"]

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
PAIN = [
    {
        "outcome": "Pain",
        "time_point": "6 weeks",
        "arm": "Drug",
        "mean": "4.1",
        "sd": "1.2",
        "n": 30,
    },
    {
        "outcome": "Pain",
        "time_point": "6 weeks",
        "arm": "Placebo",
        "mean": "5",
        "sd": "1.5",
        "n": 31,
    },
]


def _studies():
    studies = [StudyInput(i, f"Family{i} 200{i}", _values(*row)) for i, row in enumerate(DATA, 1)]
    first = studies[0]
    studies[0] = StudyInput(
        first.study_id, "Müller-Łukasz 2001", {**first.values, "continuous": PAIN}
    )
    return studies


def _export(studies=None):
    return rm5_export(
        SPEC,
        studies or _studies(),
        title="Aspirin ≥ 75 mg review",
        comparison="Drug vs placebo",
        now=NOW,
    )


def _read(body: bytes) -> list[dict]:
    """The rows a reader of RevMan files takes out (as the Cochrane parsers do: COMPARISON →
    DICH_OUTCOME/CONT_OUTCOME → DICH_DATA/CONT_DATA, STUDY_ID → the STUDY's NAME and YEAR)."""
    root = SafeET.fromstring(body)
    names = {s.get("ID"): (s.get("NAME"), s.get("YEAR")) for s in root.iter("STUDY")}
    rows = []
    for comparison in root.iter("COMPARISON"):
        for kind in ("DICH", "CONT"):
            for outcome in comparison.findall(f"{kind}_OUTCOME"):
                for data in outcome.findall(f"{kind}_DATA"):
                    row = {
                        "comparison": comparison.findtext("NAME"),
                        "outcome": outcome.findtext("NAME"),
                        "measure": outcome.get("EFFECT_MEASURE"),
                        "study": names[data.get("STUDY_ID")],
                    }
                    keys = ("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")
                    if kind == "CONT":
                        keys = ("MEAN_1", "SD_1", "TOTAL_1", "MEAN_2", "SD_2", "TOTAL_2")
                    row |= {k: float(data.get(k)) for k in keys}
                    rows.append(row)
    return rows


def test_the_file_has_the_real_files_structure_and_attributes():
    export = _export()
    assert export.body.startswith(
        b'<?xml version="1.0" encoding="ISO-8859-1" standalone="no"?>\n<COCHRANE_REVIEW '
    )
    root = SafeET.fromstring(export.body)
    assert [child.tag for child in root] == REAL_TOP
    assert set(root.attrib) == REAL_ROOT
    assert (root.get("TYPE"), root.get("REVMAN_VERSION")) == ("INTERVENTION", "5")
    assert root.findtext("COVER_SHEET/TITLE") == "Aspirin ≥ 75 mg review"
    [dich] = root.iter("DICH_OUTCOME")
    [cont] = root.iter("CONT_OUTCOME")
    assert set(dich.attrib) == REAL_DICH_OUTCOME and set(cont.attrib) == REAL_CONT_OUTCOME
    assert [c.tag for c in dich][:5] == REAL_OUTCOME_CHILDREN
    assert all(set(d.attrib) == REAL_DICH_DATA for d in dich.iter("DICH_DATA"))
    assert all(set(d.attrib) == REAL_CONT_DATA for d in cont.iter("CONT_DATA"))
    assert all(set(s.attrib) == REAL_STUDY for s in root.iter("STUDY"))
    # Every datum names a study the file includes, each with its characteristics row.
    ids = {s.get("ID") for s in root.iter("STUDY")}
    assert {d.get("STUDY_ID") for d in root.iter() if d.tag in ("DICH_DATA", "CONT_DATA")} == ids
    chars = {c.get("STUDY_ID") for c in root.iter("INCLUDED_CHAR")}
    assert chars == ids
    # RevMan computes the statistics: the file carries none of its own.
    assert dich.get("EFFECT_SIZE") == "" and dich.get("I2") == ""
    assert (dich.get("EVENTS_1"), dich.get("TOTAL_1")) == ("22", "230")  # 10+0+12, 100+50+80
    assert dich.get("STUDIES") == "3" and dich.get("DF") == "2"
    assert [d.get("ORDER") for d in root.iter() if d.tag in ("DICH_DATA", "CONT_DATA")] == [
        "1",
        "2",
        "3",
        "4",
    ]


def test_a_reader_of_revman_files_gets_our_data_back():
    export = _export()
    rows = _read(export.body)
    dich = [r for r in rows if r["measure"] == "RR"]
    assert [
        (r["study"], r["EVENTS_1"], r["TOTAL_1"], r["EVENTS_2"], r["TOTAL_2"]) for r in dich
    ] == [
        (("Müller-Łukasz", "2001"), 10, 100, 20, 100),
        (("Family2", "2002"), 0, 50, 5, 50),
        (("Family3", "2003"), 12, 80, 18, 82),
    ]
    assert {r["outcome"] for r in dich} == {"Death · 1 year (Dichotomous outcomes)"}
    [pain] = [r for r in rows if r["measure"] == "SMD"]
    assert pain["outcome"] == "Pain · 6 weeks (Continuous outcomes)"
    assert (pain["MEAN_1"], pain["SD_1"], pain["TOTAL_1"]) == (4.1, 1.2, 30)
    assert (pain["MEAN_2"], pain["SD_2"], pain["TOTAL_2"]) == (5.0, 1.5, 31)
    assert {r["comparison"] for r in rows} == {"Drug vs placebo"}
    # The fourth study has no comparator arm: left out, and said so.
    assert export.left_out == [
        "Family4 2004: Death · 1 year (Dichotomous outcomes) (per-arm data incomplete)"
    ]
    assert (export.outcomes, export.studies) == (2, 3)
    # Characters outside ISO-8859-1 travel as character references.
    assert b"&#321;" in export.body and b"&#8805;" in export.body and b"M\xfcller" in export.body


def test_study_ids_are_written_as_revman_writes_them():
    assert study_id("ISIS-2") == "STD-ISIS_x002d_2"  # as in the real file
    assert study_id("AMIS") == "STD-AMIS"
    assert study_id("Smith 2001") == "STD-Smith_x0020_2001"


def test_a_reported_estimate_is_left_out_with_the_reason():
    spec = TEMPLATES["outcomes"]
    wide = StudyInput(1, "Only 2020", {"dichotomous": []})
    export = rm5_export(spec, [wide], title="T", comparison="C", now=NOW)
    root = SafeET.fromstring(export.body)
    assert list(root.iter("DICH_OUTCOME")) == [] and export.outcomes == 0
    assert root.find("ANALYSES_AND_DATA/COMPARISON/NAME").text == "C"


@pytest.fixture
def rm5_url(pooled):  # noqa: F811  (the imported fixture)
    return reverse("extraction-synthesis-rm5", args=[pooled.review.slug, pooled.pk])


@pytest.mark.django_db
def test_download_for_members_only_and_never_a_draft(client_for, rm5_url, viewer, outsider, client):
    response = client_for(viewer).get(rm5_url)
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('-v1.rm5"')
    rows = _read(response.content)
    assert len(rows) == 3
    assert b'TOTAL_1="999"' not in response.content  # reviewer2's draft stays out
    assert client_for(outsider).get(rm5_url).status_code == 404
    assert client.get(rm5_url).status_code == 302
