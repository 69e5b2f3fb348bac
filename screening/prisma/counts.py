"""The numbers of a PRISMA 2020 flow diagram, and the arithmetic that ties them together.

Field names are those of the PRISMA2020 R package's CSV template (``data`` column), so the
JSON of ``GET prisma/``, the CSV export and the drawn diagram all speak one vocabulary.
``None`` means "not known" and is drawn as ``(n = –)``; it never becomes 0 by accident.

Two fields are reviewflow's own and not in the template: ``dbr_included_reports`` and
``other_included_reports``, the reports each column contributes to the Included box. The
template only has their sum (``new_reports``), which is not enough to check either column's
"assessed − excluded = included" step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["LIST_FIELDS", "NUMBER_FIELDS", "PrismaCounts", "Problem", "check", "in_progress"]

Named = list[tuple[str, int]]

# The order of the PRISMA2020 template, which is also the order of the JSON.
NUMBER_FIELDS = (
    "previous_studies",
    "previous_reports",
    "database_results",
    "register_results",
    "website_results",
    "organisation_results",
    "citations_results",
    "duplicates",
    "excluded_automatic",
    "excluded_other",
    "records_screened",
    "records_excluded",
    "dbr_sought_reports",
    "dbr_notretrieved_reports",
    "dbr_assessed",
    "dbr_included_reports",
    "other_sought_reports",
    "other_notretrieved_reports",
    "other_assessed",
    "other_included_reports",
    "new_studies",
    "new_reports",
    "total_studies",
    "total_reports",
)
LIST_FIELDS = (
    "database_specific_results",
    "register_specific_results",
    "dbr_excluded",
    "other_excluded",
)


@dataclass
class PrismaCounts:
    """Every number a PRISMA 2020 flow diagram shows (``None`` = unknown).

    ``updated`` draws the "Previous studies" column and the total boxes (an updated review);
    ``other_methods`` draws the "via other methods" column. The list fields hold
    ``(name, n)`` pairs: a database or register and its records, or an exclusion reason and
    its reports.
    """

    previous_studies: int | None = None
    previous_reports: int | None = None
    database_results: int | None = None
    database_specific_results: Named = field(default_factory=list)
    register_results: int | None = None
    register_specific_results: Named = field(default_factory=list)
    website_results: int | None = None
    organisation_results: int | None = None
    citations_results: int | None = None
    duplicates: int | None = None
    excluded_automatic: int | None = None
    excluded_other: int | None = None
    records_screened: int | None = None
    records_excluded: int | None = None
    dbr_sought_reports: int | None = None
    dbr_notretrieved_reports: int | None = None
    dbr_assessed: int | None = None
    dbr_excluded: Named = field(default_factory=list)
    dbr_included_reports: int | None = None
    other_sought_reports: int | None = None
    other_notretrieved_reports: int | None = None
    other_assessed: int | None = None
    other_excluded: Named = field(default_factory=list)
    other_included_reports: int | None = None
    new_studies: int | None = None
    new_reports: int | None = None
    total_studies: int | None = None
    total_reports: int | None = None
    updated: bool = False
    other_methods: bool = False
    # Not in the template: what is still being screened, so that a review in progress is
    # not taken for a diagram that does not add up (``check`` sets these aside, and
    # ``in_progress`` says them). ``None``: not known (counts read from a CSV, say).
    records_open: int | None = None
    dbr_reports_open: int | None = None
    other_reports_open: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The counts keyed by field name; list fields as ``[{"name", "n"}]``."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in LIST_FIELDS:
                value = [{"name": name, "n": n} for name, n in value]
            data[f.name] = value
        return data


@dataclass(frozen=True)
class Problem:
    """One failed check: the field of the box that is off, a sentence for the reader, and
    ``difference`` = the number shown minus the number the other boxes give (−5: 5 missing).
    """

    box: str
    message: str
    difference: int


LABELS = {
    "previous_studies": "Studies included in previous version of review",
    "previous_reports": "Reports of studies included in previous version of review",
    "database_results": "Records identified from databases",
    "register_results": "Records identified from registers",
    "website_results": "Records identified from websites",
    "organisation_results": "Records identified from organisations",
    "citations_results": "Records identified from citation searching",
    "duplicates": "Duplicate records removed",
    "excluded_automatic": "Records marked as ineligible by automation tools",
    "excluded_other": "Records removed for other reasons",
    "records_screened": "Records screened",
    "records_excluded": "Records excluded",
    "dbr_sought_reports": "Reports sought for retrieval (databases and registers)",
    "dbr_notretrieved_reports": "Reports not retrieved (databases and registers)",
    "dbr_assessed": "Reports assessed for eligibility (databases and registers)",
    "dbr_excluded": "Reports excluded (databases and registers)",
    "dbr_included_reports": "Reports included from databases and registers",
    "other_sought_reports": "Reports sought for retrieval (other methods)",
    "other_notretrieved_reports": "Reports not retrieved (other methods)",
    "other_assessed": "Reports assessed for eligibility (other methods)",
    "other_excluded": "Reports excluded (other methods)",
    "other_included_reports": "Reports included from other methods",
    "new_studies": "New studies included in review",
    "new_reports": "Reports of new included studies",
    "total_studies": "Total studies included in review",
    "total_reports": "Reports of total included studies",
}


def _sum(*terms: int | None) -> int | None:
    if any(t is None for t in terms):
        return None
    return sum(t for t in terms if t is not None)


def _minus(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a - b


def _named_total(named: Named) -> int | None:
    return sum(n for _, n in named) if named else None


class _Checker:
    def __init__(self, counts: PrismaCounts) -> None:
        self.counts = counts
        self.problems: list[Problem] = []

    def compare(
        self,
        box: str,
        shown: int | None,
        expected: int | None,
        how: str,
        still_open: int | None = None,
        open_what: str = "",
    ) -> None:
        """A problem when ``shown`` differs from ``expected``; ``still_open`` items are not
        yet in ``shown`` (still being screened) and are set aside, not reported."""
        if shown is None or expected is None:
            return
        if still_open:
            expected -= still_open
            how = f"{how} (with the {still_open} {open_what} still open set aside)"
        if shown == expected:
            return
        difference = shown - expected
        gap = f"{-difference} missing" if difference < 0 else f"{difference} too many"
        label = LABELS[box]
        if box == "new_reports" and not self.counts.updated:
            label = "Reports of included studies"
        message = f"{label} is {shown} but {how} {expected} ({gap})"
        self.problems.append(Problem(box, message, difference))

    def not_negative(self, box: str, label: str, value: int | None) -> None:
        if value is not None and value < 0:
            message = f"{label} is {value}, but a count cannot be negative"
            self.problems.append(Problem(box, message, value))

    def column(self, prefix: str) -> None:
        """Sought → not retrieved → assessed → excluded (with reasons) → included."""
        c = self.counts
        sought = getattr(c, f"{prefix}_sought_reports")
        assessed = getattr(c, f"{prefix}_assessed")
        reasons: Named = getattr(c, f"{prefix}_excluded")
        if prefix == "dbr":
            sought_from = _minus(c.records_screened, c.records_excluded)
            self.compare(
                "dbr_sought_reports",
                sought,
                sought_from,
                "screened − excluded gives",
                c.records_open,
                "records",
            )
        not_retrieved = getattr(c, f"{prefix}_notretrieved_reports")
        assessed_from = _minus(sought, not_retrieved)
        self.compare(
            f"{prefix}_assessed",
            assessed,
            assessed_from,
            "sought − not retrieved gives",
            getattr(c, f"{prefix}_reports_open"),
            "reports",
        )
        excluded_from = _minus(assessed, getattr(c, f"{prefix}_included_reports"))
        self.compare(
            f"{prefix}_excluded",
            sum(n for _, n in reasons),
            excluded_from,
            "assessed − included gives",
        )


def check(c: PrismaCounts) -> list[Problem]:
    """The arithmetic of PRISMA2020.md, box by box, skipping any step with an unknown term.

    Only the columns the diagram draws are checked (``other_*`` with ``other_methods``).
    An empty list of exclusion reasons counts as 0 reports excluded, so reports that were
    excluded without a recorded reason show up as missing rather than vanish. Per-database
    (per-register) counts stand in for an unknown database (register) total.
    """
    checker = _Checker(c)
    for name in NUMBER_FIELDS:
        if c.other_methods or not name.startswith("other_"):
            checker.not_negative(name, LABELS[name], getattr(c, name))
    for name in LIST_FIELDS:
        if c.other_methods or not name.startswith("other_"):
            for item, n in getattr(c, name):
                checker.not_negative(name, item, n)

    checker.compare(
        "database_results",
        c.database_results,
        _named_total(c.database_specific_results),
        "the per-database counts add up to",
    )
    checker.compare(
        "register_results",
        c.register_results,
        _named_total(c.register_specific_results),
        "the per-register counts add up to",
    )
    databases = c.database_results
    if databases is None:
        databases = _named_total(c.database_specific_results)
    registers = c.register_results
    if registers is None:
        registers = _named_total(c.register_specific_results)
    identified = _sum(databases, registers)
    removed = _sum(c.duplicates, c.excluded_automatic, c.excluded_other)
    checker.compare(
        "records_screened",
        c.records_screened,
        _minus(identified, removed),
        "identified − removed gives",
    )
    checker.column("dbr")
    included = c.dbr_included_reports
    how = "included reports from databases and registers"
    if c.other_methods:
        checker.column("other")
        included = _sum(included, c.other_included_reports)
        how += " + other methods"
    how += " give"
    checker.compare("new_reports", c.new_reports, included, how)
    return checker.problems


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def in_progress(c: PrismaCounts) -> list[str]:
    """What is still being screened, one calm sentence per stage (empty when done): the
    boxes below these stages grow as it is screened, and ``check`` sets it aside."""
    notes = []
    if c.records_open:
        notes.append(
            f"Screening in progress: {_count(c.records_open, 'record')} still open at "
            "title/abstract."
        )
    reports = (c.dbr_reports_open or 0) + ((c.other_reports_open or 0) if c.other_methods else 0)
    if reports:
        notes.append(f"Full-text screening in progress: {_count(reports, 'report')} still open.")
    return notes
