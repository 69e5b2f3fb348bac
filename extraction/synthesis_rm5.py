"""A form's outcomes as a RevMan 5 review file (``.rm5``): the included studies, one
comparison, and each outcome's per-arm data (events and totals, or means, SDs and totals),
for RevMan 5 and for RevMan Web's "import a RevMan 5 review".

No published specification of the ``.rm5`` XML was found (searched: Cochrane's RevMan
help and knowledge base, the RevMan 5 user guides, package documentation of R meta); the
structure follows real RevMan 5 files instead: ``inst/extdata/Fleiss1993.rm5``
of the R package meta (github.com/guido-s/meta, written by RevMan 5.0.23), whose element
and attribute names, order and empty skeleton this writer reproduces, and the element paths
the parsers of Cochrane review files read (``COMPARISON`` → ``DICH_OUTCOME``/``CONT_OUTCOME``
→ ``DICH_DATA``/``CONT_DATA``, each datum's ``STUDY_ID`` naming a ``STUDY`` of
``INCLUDED_STUDIES``).

Only the data are written: every computed attribute (effect sizes, CIs, weights,
heterogeneity) is left empty, as the real file leaves them on its continuous outcome, for
RevMan to calculate. Binary outcomes are written with the risk ratio and Mantel–Haenszel
fixed effect, continuous ones with the standardised mean difference (the values the real
files show; RevMan changes either in one click). Comparisons that are a reported estimate
only (no per-arm data) have no place in the file and are listed as left out.

Pure (no ORM): the caller passes the studies it may show (final consensus only).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree import ElementTree as ET

from extraction.effect_inputs import Comparison, comparisons_of
from extraction.spec import FormSpec
from extraction.synthesis_run import StudyInput

__all__ = ["Rm5Export", "rm5_export", "study_id"]

ENCODING = "ISO-8859-1"  # as the real file declares; other characters become references
_YEAR = re.compile(r"^(.*?)\s+((?:1[89]|20)\d\d)$")


@dataclass
class Rm5Export:
    body: bytes
    outcomes: int
    studies: int
    left_out: list[str] = field(default_factory=list)  # "Study: outcome (why)"


def study_id(name: str) -> str:
    """RevMan's study ID: ``STD-`` and the name, each character outside ``[A-Za-z0-9]``
    written as ``_xHHHH_`` (the real file has ``STD-ISIS_x002d_2`` for "ISIS-2")."""
    return "STD-" + "".join(c if c.isascii() and c.isalnum() else f"_x{ord(c):04x}_" for c in name)


def _split_year(label: str) -> tuple[str, str]:
    match = _YEAR.match(label)
    return (match.group(1), match.group(2)) if match else (label, "")


def _num(value: float | None) -> str:
    """A number as RevMan writes it: counts as integers, measurements as decimals."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    # RevMan writes attributes in alphabetical order; so do we (order means nothing to XML).
    element = ET.SubElement(parent, tag, dict(sorted(attrs.items())))
    if text is not None:
        element.text = text
    return element


def _empty(parent: ET.Element, *tags: str) -> None:
    for tag in tags:
        ET.SubElement(parent, tag)


def _person(parent: ET.Element, role: str) -> None:
    person = _sub(parent, "PERSON", ID="????", ROLE=role)
    _empty(person, "PREFIX", "FIRST_NAME", "MIDDLE_INITIALS", "LAST_NAME", "SUFFIX")
    _empty(person, "POSITION", "EMAIL_1", "EMAIL_2", "URL", "MOBILE_PHONE")
    address = _sub(person, "ADDRESS")
    _empty(address, "DEPARTMENT", "ORGANISATION", "ADDRESS_1", "ADDRESS_2", "CITY", "ZIP")
    _empty(address, "REGION")
    _sub(address, "COUNTRY", "Not specified", CODE="NONE")
    _empty(address, "PHONE_1", "PHONE_2", "FAX_1", "FAX_2")
    _empty(person, "FOOTNOTE")


def _cover_sheet(root: ET.Element, title: str, stamp: dict[str, str]) -> None:
    cover = _sub(root, "COVER_SHEET", **stamp)
    _sub(cover, "TITLE", title, **stamp)
    _person(_sub(cover, "CONTACT"), "UNKNOWN")
    _person(_sub(cover, "CREATORS"), "AUTHOR")
    dates = _sub(cover, "DATES")
    for tag in ("UP_TO_DATE", "LAST_SEARCH", "NEXT_STAGE"):
        _sub(_sub(dates, tag), "DATE", DAY="", MONTH="", YEAR="")
    for tag in ("PROTOCOL_PUBLISHED", "REVIEW_PUBLISHED", "LAST_CITATION_ISSUE"):
        _sub(dates, tag, ISSUE="", YEAR="")
    _empty(cover, "WHATS_NEW", "HISTORY")
    _empty(_sub(cover, "SOURCES_OF_SUPPORT"), "INTERNAL_SOURCES", "EXTERNAL_SOURCES")
    _sub(cover, "MESH_TERMS", VERIFIED="NO")
    _empty(cover, "KEYWORDS")


def _main_text(root: ET.Element) -> None:
    main = _sub(root, "MAIN_TEXT")
    summary = _sub(main, "SUMMARY")
    _sub(summary, "TITLE", "[Plain language title]")
    _sub(_sub(summary, "SUMMARY_BODY"), "P", "[Summary text]")
    _empty(
        _sub(main, "ABSTRACT"),
        "ABS_BACKGROUND",
        "ABS_OBJECTIVES",
        "ABS_SEARCH_STRATEGY",
        "ABS_SELECTION_CRITERIA",
        "ABS_DATA_COLLECTION",
        "ABS_RESULTS",
        "ABS_CONCLUSIONS",
    )
    body = _sub(main, "BODY")
    _empty(_sub(body, "BACKGROUND"), "CONDITION", "INTERVENTION", "THEORY", "IMPORTANCE")
    _empty(body, "OBJECTIVES")
    methods = _sub(body, "METHODS")
    criteria = _sub(methods, "SELECTION_CRITERIA")
    _empty(criteria, "CRIT_STUDIES", "CRIT_PARTICIPANTS", "CRIT_INTERVENTIONS")
    _empty(_sub(criteria, "CRIT_OUTCOMES"), "CRIT_OUTCOMES_PRIMARY", "CRIT_OUTCOMES_SECONDARY")
    _empty(_sub(methods, "SEARCH_METHODS"), "ELECTRONIC_SEARCHES", "OTHER_SEARCHES")
    _empty(
        _sub(methods, "DATA_COLLECTION"),
        "STUDY_SELECTION",
        "DATA_EXTRACTION",
        "QUALITY_ASSESSMENT",
        "EFFECT_MEASURES",
        "UNIT_OF_ANALYSIS",
        "MISSING_DATA",
        "HETEROGENEITY_ASSESSMENT",
        "BIAS_ASSESSMENT",
        "DATA_SYNTHESIS",
        "SUBGROUP_ANALYSIS",
        "SENSITIVITY_ANALYSIS",
    )
    results = _sub(body, "RESULTS")
    _empty(
        _sub(results, "STUDY_DESCRIPTION"),
        "SEARCH_RESULTS",
        "INCLUDED_STUDIES_DESCR",
        "EXCLUDED_STUDIES_DESCR",
    )
    _empty(
        _sub(results, "STUDY_QUALITY"),
        "ALLOCATION",
        "BLINDING",
        "EXCLUSIONS",
        "SELECTIVE_REPORTING",
        "OTHER_BIAS_SOURCES",
    )
    _empty(results, "INTERVENTION_EFFECTS")
    _empty(
        _sub(body, "DISCUSSION"),
        "SUMMARY_OF_RESULTS",
        "APPLICABILITY_OF_FINDINGS",
        "QUALITY_OF_EVIDENCE",
        "POTENTIAL_BIASES",
        "AGREEMENT",
    )
    _empty(_sub(body, "CONCLUSIONS"), "IMPLICATIONS_PRACTICE", "IMPLICATIONS_RESEARCH")
    _empty(
        main,
        "ACKNOWLEDGEMENTS",
        "CONFLICT_OF_INTEREST",
        "CONTRIBUTIONS",
        "PRO_REV_DIFF",
        "PUBLIC_NOTES",
    )


def _studies(root: ET.Element, names: Sequence[str], stamp: dict[str, str]) -> None:
    refs = _sub(root, "STUDIES_AND_REFERENCES", **stamp)
    studies = _sub(refs, "STUDIES", **stamp)
    included = _sub(studies, "INCLUDED_STUDIES", **stamp)
    for label in names:
        name, year = _split_year(label)
        study = _sub(
            included, "STUDY", DATA_SOURCE="PUB", ID=study_id(label), NAME=name, YEAR=year, **stamp
        )
        _empty(_sub(study, "REFERENCE", PRIMARY="NO", TYPE="JOURNAL_ARTICLE"), "IDENTIFIERS")
        _empty(study, "IDENTIFIERS")
    _empty(studies, "EXCLUDED_STUDIES", "AWAITING_STUDIES", "ONGOING_STUDIES")
    _empty(
        _sub(refs, "OTHER_REFERENCES"),
        "ADDITIONAL_REFERENCES",
        "OTHER_VERSIONS_REFERENCES",
        "PENDING_REFERENCES",
    )
    characteristics = _sub(root, "CHARACTERISTICS_OF_STUDIES", **stamp)
    included_chars = _sub(
        characteristics,
        "CHARACTERISTICS_OF_INCLUDED_STUDIES",
        SORT_BY="STUDY",
        USER_DEF_1_ENABLED="NO",
        USER_DEF_2_ENABLED="NO",
        USER_DEF_3_ENABLED="NO",
        **stamp,
    )
    for label in names:
        char = _sub(included_chars, "INCLUDED_CHAR", STUDY_ID=study_id(label))
        _empty(char, "CHAR_METHODS", "CHAR_PARTICIPANTS", "CHAR_INTERVENTIONS")
        _empty(char, "CHAR_OUTCOMES", "CHAR_NOTES")
    _empty(included_chars, "FOOTNOTES")
    _empty(
        _sub(characteristics, "CHARACTERISTICS_OF_EXCLUDED_STUDIES", SORT_BY="STUDY"), "FOOTNOTES"
    )
    for tag in ("CHARACTERISTICS_OF_AWAITING_STUDIES", "CHARACTERISTICS_OF_ONGOING_STUDIES"):
        _empty(
            _sub(
                characteristics,
                tag,
                SORT_BY="STUDY",
                USER_DEF_1_ENABLED="NO",
                USER_DEF_2_ENABLED="NO",
                USER_DEF_3_ENABLED="NO",
            ),
            "FOOTNOTES",
        )


# Computed attributes RevMan fills in; written empty (see the module docstring).
_OUTCOME_COMPUTED: tuple[str, ...] = (
    "CHI2",
    "CI_END",
    "CI_START",
    "EFFECT_SIZE",
    "I2",
    "I2_Q",
    "P_CHI2",
)
_OUTCOME_COMPUTED += ("P_Q", "P_Z", "Q", "TAU2", "WEIGHT", "Z")
_DICH_COMPUTED: tuple[str, ...] = (
    "CI_END",
    "CI_START",
    "EFFECT_SIZE",
    "LOG_CI_END",
    "LOG_CI_START",
)
_DICH_COMPUTED += ("LOG_EFFECT_SIZE", "SE", "VAR")
_CONT_COMPUTED = ("CI_END", "CI_START", "EFFECT_SIZE", "SE", "WEIGHT")


def _outcome(
    comparison_el: ET.Element,
    number: int,
    kind: str,
    name: str,
    rows: Sequence[tuple[str, Comparison]],
    stamp: dict[str, str],
    order: list[int],
) -> None:
    dich = kind == "binary"
    total_1 = sum(c.values.get("n1i") or 0 for _, c in rows)
    total_2 = sum(c.values.get("n2i") or 0 for _, c in rows)
    attrs = dict.fromkeys(_OUTCOME_COMPUTED, "")
    attrs |= {
        "CI_STUDY": "95",
        "CI_TOTAL": "95",
        "DF": str(max(len(rows) - 1, 0)),
        "EFFECT_MEASURE": "RR" if dich else "SMD",
        "ESTIMABLE": "YES",
        "ID": f"CMP-001.{number:02d}",
        "NO": str(number),
        "RANDOM": "NO",
        "SCALE": "100.0",
        "SORT_BY": "USER" if dich else "STUDY",
        "STUDIES": str(len(rows)),
        "SUBGROUPS": "NO",
        "SUBGROUP_TEST": "YES",
        "TOTALS": "YES",
        "TOTAL_1": _num(total_1),
        "TOTAL_2": _num(total_2),
        **stamp,
    }
    if dich:
        attrs |= {
            "EVENTS_1": _num(sum(c.values.get("ai") or 0 for _, c in rows)),
            "EVENTS_2": _num(sum(c.values.get("ci") or 0 for _, c in rows)),
            "LOG_CI_END": "",
            "LOG_CI_START": "",
            "LOG_EFFECT_SIZE": "",
            "METHOD": "MH",
            "SWAP_EVENTS": "NO",
        }
    else:
        attrs["UNITS"] = ""
    outcome = _sub(comparison_el, "DICH_OUTCOME" if dich else "CONT_OUTCOME", **attrs)
    first = rows[0][1]
    arm1 = first.arms[0] if first.arms else ""
    arm2 = first.arms[1] if len(first.arms) > 1 else ""
    _sub(outcome, "NAME", name)
    _sub(outcome, "GROUP_LABEL_1", arm1 or "Experimental")
    _sub(outcome, "GROUP_LABEL_2", arm2 or "Control")
    _sub(outcome, "GRAPH_LABEL_1", "Favours experimental")
    _sub(outcome, "GRAPH_LABEL_2", "Favours control")
    for label, c in rows:
        order[0] += 1
        v = c.values
        data = dict.fromkeys(_DICH_COMPUTED if dich else _CONT_COMPUTED, "")
        data |= {"ESTIMABLE": "YES", "ORDER": str(order[0]), "STUDY_ID": study_id(label), **stamp}
        if dich:
            data |= {
                "EVENTS_1": _num(v.get("ai")),
                "EVENTS_2": _num(v.get("ci")),
                "O_E": "0.0",
                "TOTAL_1": _num(v.get("n1i")),
                "TOTAL_2": _num(v.get("n2i")),
                "WEIGHT": "",
            }
        else:
            data |= {
                "MEAN_1": _num(v.get("m1i")),
                "MEAN_2": _num(v.get("m2i")),
                "SD_1": _num(v.get("sd1i")),
                "SD_2": _num(v.get("sd2i")),
                "TOTAL_1": _num(v.get("n1i")),
                "TOTAL_2": _num(v.get("n2i")),
            }
        _sub(outcome, "DICH_DATA" if dich else "CONT_DATA", **data)


_NEEDS = {
    "binary": ("ai", "n1i", "ci", "n2i"),
    "continuous": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
}


def _per_arm(c: Comparison) -> Comparison | None:
    """The comparison with events and totals per arm (a wide 2×2 table's totals filled in),
    or ``None`` when it lacks what RevMan's data entry needs."""
    v = dict(c.values)
    if c.kind == "binary":
        for events, non_events, total in (("ai", "bi", "n1i"), ("ci", "di", "n2i")):
            if v.get(total) is None and v.get(events) is not None and v.get(non_events) is not None:
                v[total] = (v[events] or 0) + (v[non_events] or 0)
    needs = _NEEDS.get(c.kind)
    if needs is None or any(v.get(k) is None for k in needs):
        return None
    return Comparison(**{**c.__dict__, "values": v})


def rm5_export(
    spec: FormSpec,
    studies: Sequence[StudyInput],
    *,
    title: str,
    comparison: str,
    now: datetime,
) -> Rm5Export:
    """The review file: the studies that report any exportable outcome, one comparison
    named ``comparison``, an outcome per form table × outcome × time point; ``now`` dates
    every element (RevMan's ``MODIFIED``)."""
    stamp = {"MODIFIED": now.strftime("%Y-%m-%d %H:%M:%S %z"), "MODIFIED_BY": "reviewflow"}
    outcomes: dict[str, tuple[str, str, list[tuple[str, Comparison]]]] = {}
    left_out: list[str] = []
    for study in studies:
        for c in comparisons_of(spec, study.values):
            ready = _per_arm(c)
            where = f"{study.label}: {c.label} ({c.table_label})"
            if ready is None:
                why = (
                    "a reported estimate; RevMan 5 files hold per-arm data"
                    if c.kind == "reported"
                    else "per-arm data incomplete"
                )
                left_out.append(f"{where} ({why})")
                continue
            name = f"{c.label} ({c.table_label})"
            item = outcomes.setdefault(f"{c.kind}|{c.key}", (c.kind, name, []))
            item[2].append((study.label, ready))
    names = list(dict.fromkeys(label for _, _, rows in outcomes.values() for label, _ in rows))
    digest = hashlib.sha256(f"{title}\n{comparison}".encode()).hexdigest()
    attrs = {
        "DESCRIPTION": "",
        "DOI": "",
        "GROUP_ID": "",
        "ID": str(int(digest[:15], 16)),  # a number, as RevMan's review IDs are
        "MERGED_FROM": "",
        **stamp,
        "REVIEW_NO": "",
        "REVMAN_SUB_VERSION": "5.0.23",  # the version whose files this writer follows
        "REVMAN_VERSION": "5",
        "SPLIT_FROM": "",
        "STAGE": "R",
        "STATUS": "A",
        "TYPE": "INTERVENTION",
        "VERSION_NO": "0.0",
    }
    root = ET.Element("COCHRANE_REVIEW", dict(sorted(attrs.items())))
    _cover_sheet(root, title, stamp)
    _main_text(root)
    _studies(root, names, stamp)
    _sub(root, "QUALITY_ITEMS", **stamp)
    _empty(root, "SOF_TABLES", "ADDITIONAL_TABLES")
    analyses = _sub(root, "ANALYSES_AND_DATA", CALCULATED_DATA="YES", **stamp)
    comparison_el = _sub(analyses, "COMPARISON", ID="CMP-001", **stamp, NO="1")
    _sub(comparison_el, "NAME", comparison)
    order = [0]
    for number, (kind, name, rows) in enumerate(outcomes.values(), start=1):
        _outcome(comparison_el, number, kind, name, rows, stamp, order)
    _empty(root, "FIGURES", "FEEDBACK", "APPENDICES", "EXTENSIONS")
    ET.indent(root, space="")  # one element a line, unindented, as RevMan writes them
    body = ET.tostring(root, encoding=ENCODING, xml_declaration=False)
    header = f'<?xml version="1.0" encoding="{ENCODING}" standalone="no"?>\n'.encode("ascii")
    return Rm5Export(header + body, len(outcomes), len(names), left_out)
