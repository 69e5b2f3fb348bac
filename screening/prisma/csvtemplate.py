"""The counts as the PRISMA2020 R package / Shiny app CSV template, and back.

``to_csv`` writes the template's rows in the template's order, with its ``node``, ``box``,
``description``, ``boxtext``, ``tooltips`` and ``url`` columns, so the file opens in the
Shiny app (https://estech.shinyapps.io/prisma_flowdiagram/) as if made there. List fields
are ``"Name, n; Name, n"`` in the ``n`` column; unknown numbers are left empty.

Two rows are reviewflow's own and come last: the reports each column adds to the Included
box (``dbr_incl_reports``, ``other_incl_reports``). Their names avoid the words the R
package looks rows up by with ``grep`` ("included", "new_reports", …), which would make it
read two rows for one of its own. The R package ignores them.

``from_csv`` reads such a file back, whoever wrote it: it goes by the ``data`` column,
ignores columns and rows it does not know, and accepts the template's placeholders
(empty, ``NA``, ``xxx``) as unknown numbers. The template has no switch for the updated
review or the other-methods column: they are on when any of their numbers is above 0,
unless the caller says otherwise.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import fields
from typing import Any

from .counts import LIST_FIELDS, NUMBER_FIELDS, PrismaCounts

__all__ = ["HEADER", "from_csv", "to_csv"]

HEADER = ("data", "node", "box", "description", "boxtext", "tooltips", "url", "n")
_EXCLUDED_HELP = (
    "[separate reasons and numbers using ; e.g. Reason1, xxx; Reason2, xxx; Reason3, xxx]"
)

# (data, node, box, description, boxtext, tooltips, url), in the template's order.
TEMPLATE_ROWS: tuple[tuple[str, ...], ...] = (
    ("NA", "node4", "prevstud", "Grey title box; Previous studies", "Previous studies",
     "Grey title box; Previous studies", "prevstud.html"),
    ("previous_studies", "node5", "box1", "Studies included in previous version of review",
     "Studies included in previous version of review",
     "Studies included in previous version of review", "previous_studies.html"),
    ("previous_reports", "NA", "box1", "Reports of studies included in previous version of review",
     "Reports of studies included in previous version of review", "NA", "previous_reports.html"),
    ("NA", "node6", "newstud",
     "Yellow title box; Identification of new studies via databases and registers",
     "Identification of new studies via databases and registers",
     "Yellow title box; Identification of new studies via databases and registers",
     "newstud.html"),
    ("database_results", "node7", "box2", "Records identified from: Databases", "Databases",
     "Records identified from: Databases and Registers", "database_results.html"),
    ("database_specific_results", "NA", "box2", "Records identified from: specific databases",
     "Specific Databases", "NA", "database_results.html"),
    ("register_results", "NA", "box2", "Records identified from: Registers", "Registers", "NA",
     "NA"),
    ("register_specific_results", "NA", "box2", "Records identified from: specific registers",
     "Specific Registers", "NA", "database_results.html"),
    ("NA", "node16", "othstud", "Grey title box; Identification of new studies via other methods",
     "Identification of new studies via other methods",
     "Grey title box; Identification of new studies via other methods", "othstud.html"),
    ("website_results", "node17", "box11", "Records identified from: Websites", "Websites",
     "Records identified from: Websites, Organisations and Citation Searching",
     "website_results.html"),
    ("organisation_results", "", "box11", "Records identified from: Organisations",
     "Organisations", "NA", "NA"),
    ("citations_results", "NA", "box11", "Records identified from: Citation searching",
     "Citation searching", "NA", "NA"),
    ("duplicates", "node8", "box3", "Duplicate records", "Duplicate records", "Duplicate records",
     "duplicates.html"),
    ("excluded_automatic", "NA", "box3", "Records marked as ineligible by automation tools",
     "Records marked as ineligible by automation tools", "NA", "NA"),
    ("excluded_other", "NA", "box3", "Records removed for other reasons",
     "Records removed for other reasons", "NA", "NA"),
    ("records_screened", "node9", "box4", "Records screened (databases and registers)",
     "Records screened", "Records screened (databases and registers)", "records_screened.html"),
    ("records_excluded", "node10", "box5", "Records excluded (databases and registers)",
     "Records excluded", "Records excluded (databases and registers)", "records_excluded.html"),
    ("dbr_sought_reports", "node11", "box6",
     "Reports sought for retrieval (databases and registers)",
     "Reports sought for retrieval", "Reports sought for retrieval (databases and registers)",
     "dbr_sought_reports.html"),
    ("dbr_notretrieved_reports", "node12", "box7",
     "Reports not retrieved (databases and registers)",
     "Reports not retrieved", "Reports not retrieved (databases and registers)",
     "dbr_notretrieved_reports.html"),
    ("other_sought_reports", "node18", "box12", "Reports sought for retrieval (other)",
     "Reports sought for retrieval", "Reports sought for retrieval (other)",
     "other_sought_reports.html"),
    ("other_notretrieved_reports", "node19", "box13", "Reports not retrieved (other)",
     "Reports not retrieved", "Reports not retrieved (other)", "other_notretrieved_reports.html"),
    ("dbr_assessed", "node13", "box8", "Reports assessed for eligibility (databases and registers)",
     "Reports assessed for eligibility",
     "Reports assessed for eligibility (databases and registers)", "dbr_assessed.html"),
    ("dbr_excluded", "node14", "box9",
     f"Reports excluded (databases and registers): {_EXCLUDED_HELP}", "Reports excluded",
     "Reports excluded (databases and registers)", "dbrexcludedrecords.html"),
    ("other_assessed", "node20", "box14", "Reports assessed for eligibility (other)",
     "Reports assessed for eligibility", "Reports assessed for eligibility (other)",
     "other_assessed.html"),
    ("other_excluded", "node21", "box15", f"Reports excluded (other): {_EXCLUDED_HELP}",
     "Reports excluded", "Reports excluded (other)", "other_excluded.html"),
    ("new_studies", "node15", "box10", "New studies included in review",
     "New studies included in review", "New studies included in review", "new_studies.html"),
    ("new_reports", "NA", "box10", "Reports of new included studies",
     "Reports of new included studies", "NA", "NA"),
    ("total_studies", "node22", "box16", "Total studies included in review",
     "Total studies included in review", "Total studies included in review", "total_studies.html"),
    ("total_reports", "NA", "box16", "Reports of total included studies",
     "Reports of total included studies", "NA", "NA"),
    ("identification", "node1", "identification", "Blue identification box", "Identification",
     "Blue identification box", "identification.html"),
    ("screening", "node2", "screening", "Blue screening box", "Screening", "Blue screening box",
     "screening.html"),
    ("included", "node3", "included", "Blue included box", "Included", "Blue included box",
     "included.html"),
    ("dbr_incl_reports", "NA", "box10",
     "reviewflow: reports included from databases and registers (not in the PRISMA2020 template)",
     "Reports included from databases and registers", "NA", "NA"),
    ("other_incl_reports", "NA", "box10",
     "reviewflow: reports included from other methods (not in the PRISMA2020 template)",
     "Reports included from other methods", "NA", "NA"),
)  # fmt: skip

# CSV ``data`` name → field, where they differ (see the module docstring).
_ALIASES = {
    "dbr_incl_reports": "dbr_included_reports",
    "other_incl_reports": "other_included_reports",
}
_UNKNOWN = {"", "na", "xxx", "n/a"}
_NUMBER = re.compile(r"\d+|\d{1,3}(?:[ ,\u00a0\u202f]\d{3})+")
_PREVIOUS = ("previous_studies", "previous_reports", "total_studies", "total_reports")
_OTHER_SOURCES = ("website_results", "organisation_results", "citations_results")


def _format_named(items: list[tuple[str, int]]) -> str:
    # ";" separates the items: a name cannot carry one, so it becomes ",".
    return "; ".join(f"{name.replace(';', ',')}, {n}" for name, n in items)


def to_csv(counts: PrismaCounts) -> str:
    """The PRISMA2020 template CSV for ``counts``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for row in TEMPLATE_ROWS:
        name = _ALIASES.get(row[0], row[0])
        if name in LIST_FIELDS:
            n = _format_named(getattr(counts, name))
        elif name in NUMBER_FIELDS:
            value = getattr(counts, name)
            n = "" if value is None else str(value)
        else:
            n = ""
        writer.writerow((*row, n))
    return buffer.getvalue()


def _number(text: str, where: str) -> int | None:
    text = text.strip()
    if text.lower() in _UNKNOWN:
        return None
    if not _NUMBER.fullmatch(text):
        raise ValueError(f'{where}: "{text}" is not a whole number')
    return int(re.sub(r"\D", "", text))


def _named(text: str, where: str) -> list[tuple[str, int]]:
    text = text.strip()
    if text.lower() in _UNKNOWN:
        return []
    items = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, comma, n = part.rpartition(",")
        # A bare number is the R package's "total without names": the name is then empty.
        if not comma:
            name, n = "", part
        value = _number(n, where) if n.strip().lower() not in _UNKNOWN else None
        if value is None:
            raise ValueError(f'{where}: "{part}" needs a whole number after its last comma')
        items.append((name.strip(), value))
    return items


def from_csv(
    text: str, *, updated: bool | None = None, other_methods: bool | None = None
) -> PrismaCounts:
    """Counts from a PRISMA2020 template CSV. Raises ``ValueError`` naming the row (the
    header is row 1) and the field for a number it cannot read."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    if "data" not in columns or "n" not in columns:
        raise ValueError('not a PRISMA2020 template: the header needs a "data" and an "n" column')
    known = {f.name for f in fields(PrismaCounts)} & (set(NUMBER_FIELDS) | set(LIST_FIELDS))
    values: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for row_number, row in enumerate(reader, start=2):
        data = (row.get(columns["data"]) or "").strip()
        name = _ALIASES.get(data, data)
        if name not in known:
            continue
        where = f"row {row_number} ({data})"
        if name in seen:
            raise ValueError(f"{where}: appears twice (first in row {seen[name]})")
        seen[name] = row_number
        n = row.get(columns["n"]) or ""
        values[name] = _named(n, where) if name in LIST_FIELDS else _number(n, where)
    counts = PrismaCounts(**values)
    if updated is None:
        updated = any(getattr(counts, name) for name in _PREVIOUS)
    if other_methods is None:
        other_methods = any(
            getattr(counts, name)
            for name in (*NUMBER_FIELDS, *LIST_FIELDS)
            if name.startswith("other_") or name in _OTHER_SOURCES
        )
    counts.updated = updated
    counts.other_methods = other_methods
    return counts
