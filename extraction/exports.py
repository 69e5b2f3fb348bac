"""Extraction data as files: CSV (one row per study, and each table as its own long-format
CSV keyed by study), XLSX (a sheet for the studies and one per table) and JSON (nested).
Each study carries the retraction and correction notices Crossref reports on it (#21).

The data is the final consensus of each study by default, or one extractor's submitted
extractions. Every spreadsheet cell goes through ``reviewflow.exports.safe_cell`` (by way of
``screening.exporters``), so a value typed as ``=cmd()`` stays text.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from extraction.models import (
    Consensus,
    ConsensusStatus,
    Extraction,
    ExtractionStatus,
    Form,
    FormStatus,
)
from extraction.selectors import (
    annotate_visibility,
    consensus_visible_to,
    form_spec,
    is_owner,
)
from extraction.spec import ColumnSpec, FieldSpec, FormSpec
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from screening.exporters import write_rows_csv, write_rows_xlsx
from screening.models import EditorialNotice, Record
from screening.selectors.retractions import NOTICE_COLUMNS, notice_cells, notices_by_record

STUDY_COLUMNS = ["study_id", "title", "first_author", "year", "doi", "pmid"]
LIST_SEPARATOR = "; "


@dataclass(frozen=True)
class Sheet:
    """One table of the export: a name (for file and sheet names), a header and rows."""

    name: str
    label: str
    header: list[str]
    rows: list[list[Any]]


@dataclass
class FormExport:
    form: Form
    spec: FormSpec
    studies: Sheet
    tables: list[Sheet]
    json: dict[str, Any]

    @property
    def sheets(self) -> list[Sheet]:
        return [self.studies, *self.tables]


@dataclass
class ExtractionExport:
    review: Review
    extractor: User | None
    forms: list[FormExport] = field(default_factory=list)
    _notices: dict[int, list[EditorialNotice]] | None = field(default=None, repr=False)

    @property
    def study_count(self) -> int:
        return sum(len(f.studies.rows) for f in self.forms)

    def notices(self) -> dict[int, list[EditorialNotice]]:
        """The retraction and correction notices of the exported studies (#21), read once,
        when a file is written (analyses built on the export never ask for them)."""
        if self._notices is None:
            ids = {int(row[0]) for f in self.forms for row in f.studies.rows}
            self._notices = notices_by_record(self.review, ids) if ids else {}
        return self._notices

    def studies_sheet(self, form_export: FormExport) -> Sheet:
        """The studies sheet of a file: each study's notices in ``NOTICE_COLUMNS`` last."""
        studies, notices = form_export.studies, self.notices()
        return Sheet(
            name=studies.name,
            label=studies.label,
            header=[*studies.header, *NOTICE_COLUMNS],
            rows=[
                [*row, *notice_cells(notices.get(int(row[0]), [])).values()] for row in studies.rows
            ],
        )

    def sheets_of(self, form_export: FormExport) -> list[Sheet]:
        return [self.studies_sheet(form_export), *form_export.tables]


# ------------------------------------------------------------------------------ selecting


def select_forms(review: Review, selector: str | None = None) -> list[Form]:
    """The form versions to export: every published form, or the one ``selector`` names
    (a form id, a family id, or a title, case-insensitive; ``TITLE@2`` or ``ID@2`` picks
    version 2 of that form, which may be superseded)."""
    forms = Form.objects.filter(review=review).exclude(status=FormStatus.DRAFT)
    if not selector:
        chosen = list(forms.filter(status=FormStatus.PUBLISHED).order_by("title", "pk"))
        if not chosen:
            raise ReviewflowError("This review has no published extraction form.", field="form")
        return chosen
    name, _, version_text = selector.strip().rpartition("@")
    if not name or not version_text.isdigit():
        name, version_text = selector.strip(), ""
    family = _family(forms, name)
    if family is None:
        titles = sorted(set(forms.values_list("title", flat=True)))
        known = ", ".join(f"“{t}”" for t in titles) or "none"
        raise ReviewflowError(
            f"No published form “{name}” in this review (its forms: {known}).", field="form"
        )
    versions = forms.filter(family=family)
    if version_text:
        form = versions.filter(version=int(version_text)).first()
        if form is None:
            raise ReviewflowError(
                f"Form “{name}” has no published version {version_text}.", field="form"
            )
        return [form]
    form = versions.filter(status=FormStatus.PUBLISHED).first()
    if form is None:
        raise ReviewflowError(
            f"Form “{name}” has no published version (add @N to pick an older one).",
            field="form",
        )
    return [form]


def _family(forms: QuerySet[Form], name: str) -> Any:
    if name.isdigit():
        match = forms.filter(pk=int(name)).first()
        if match is not None:
            return match.family
    if re.fullmatch(r"[0-9a-fA-F-]{32,36}", name):
        match = forms.filter(family=name).first()
        if match is not None:
            return match.family
    matches = set(forms.filter(title__iexact=name).values_list("family", flat=True))
    if len(matches) > 1:
        raise ReviewflowError(
            f"Several forms are titled “{name}”: choose one by its id.", field="form"
        )
    return matches.pop() if matches else None


# ------------------------------------------------------------------------------ building


def _scalar(fld: ColumnSpec, value: Any) -> Any:
    """A stored value as a spreadsheet cell (numbers stay numbers, dates dates)."""
    if value is None:
        return None
    kind = fld.kind
    if kind == "decimal":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return str(value)
    if kind == "boolean":
        return "yes" if value else "no"
    if kind == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    if kind == "multiple_choice" and isinstance(value, list):
        return LIST_SEPARATOR.join(str(v) for v in value)
    if kind == "judgement" and isinstance(value, Mapping):
        return value.get("judgement")
    return value


def _study_cells(record: Record) -> list[Any]:
    return [
        record.pk,
        record.title,
        record.first_author,
        record.year,
        record.doi,
        record.pmid,
    ]


def _study_json(record: Record) -> dict[str, Any]:
    return dict(zip(STUDY_COLUMNS, _study_cells(record), strict=True))


def _rows(
    form: Form, extractor: User | None, visible_to: User | None
) -> list[tuple[Record, str, dict[str, Any], dict[str, Any]]]:
    """(study record, status, values, evidence) of every study with data, in study order."""
    if extractor is None:
        consensus = (
            Consensus.objects.filter(form=form, status=ConsensusStatus.FINAL)
            .select_related("record")
            .order_by("record_id")
        )
        if visible_to is not None:  # blinding: not while they still extract that study
            consensus = consensus_visible_to(visible_to, consensus)
        return [(c.record, c.status, c.values, c.evidence) for c in consensus]
    extractions = (
        Extraction.objects.filter(form=form, extractor=extractor, status=ExtractionStatus.SUBMITTED)
        .select_related("record")
        .order_by("record_id")
    )
    if visible_to is not None:  # blinding: only what that person may see
        extractions = annotate_visibility(
            extractions, visible_to, owner=is_owner(form.review, visible_to), visible_only=True
        )
    return [(e.record, e.status, e.values, e.evidence) for e in extractions]


def _quote_header(keys: list[str]) -> list[str]:
    return [f"{key} {part}" for key in keys for part in ("quote", "page")]


def _quote_cells(evidence: Mapping[str, Any], keys: list[str]) -> list[Any]:
    """The quote and page of each key (a quote is text typed from a PDF: the writers make
    any formula-looking one safe, as every cell)."""
    cells: list[Any] = []
    for key in keys:
        item = evidence.get(key) or {}
        cells.extend([item.get("quote"), item.get("page")])
    return cells


def _form_export(
    form: Form, *, name: str, label: str, extractor: User | None, visible_to: User | None
) -> FormExport:
    spec = form_spec(form)
    fields = spec.fields()
    scalars = [f for f in fields if f.kind != "table"]
    tables: list[FieldSpec] = [f for f in fields if f.kind == "table"]
    study_rows: list[list[Any]] = []
    table_rows: dict[str, list[list[Any]]] = {t.key: [] for t in tables}
    studies_json: list[dict[str, Any]] = []
    data_rows = _rows(form, extractor, visible_to)
    # "<field> quote" and "<field> page" columns once any study has evidence (exports of
    # forms extracted without the PDF viewer keep their columns).
    quoted = any(evidence for *_, evidence in data_rows)
    for record, status, values, evidence in data_rows:
        study_rows.append(
            [
                *_study_cells(record),
                *(_scalar(f, values.get(f.key)) for f in scalars),
                *(_quote_cells(evidence, [f.key for f in scalars]) if quoted else ()),
            ]
        )
        for table in tables:
            for number, row in enumerate(values.get(table.key) or [], start=1):
                cells = [f"{table.key}.{number}.{c.key}" for c in table.columns]
                table_rows[table.key].append(
                    [
                        record.pk,
                        number,
                        *(_scalar(c, row.get(c.key)) for c in table.columns),
                        *(_quote_cells(evidence, cells) if quoted else ()),
                    ]
                )
        studies_json.append(
            {**_study_json(record), "status": status, "values": values, "evidence": evidence}
        )
    studies = Sheet(
        name=name,
        label=label or "Studies",
        header=[
            *STUDY_COLUMNS,
            *(f.key for f in scalars),
            *(_quote_header([f.key for f in scalars]) if quoted else ()),
        ],
        rows=study_rows,
    )
    sheets = [
        Sheet(
            name=f"{name}_{t.key}" if name else t.key,
            label=f"{label} {t.label}".strip(),
            header=[
                "study_id",
                "row",
                *(c.key for c in t.columns),
                *(_quote_header([c.key for c in t.columns]) if quoted else ()),
            ],
            rows=table_rows[t.key],
        )
        for t in tables
    ]
    data = {
        "id": form.pk,
        "family": str(form.family),
        "version": form.version,
        "status": form.status,
        "title": form.title,
        "spec": form.spec,
        "studies": studies_json,
    }
    return FormExport(form=form, spec=spec, studies=studies, tables=sheets, json=data)


def _names(forms: list[Form]) -> list[str]:
    """File-name parts for several forms (unique, from their titles)."""
    names: list[str] = []
    for form in forms:
        base = re.sub(r"[^a-z0-9]+", "_", form.title.lower()).strip("_")[:40] or f"form{form.pk}"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


def build_export(
    *,
    review: Review,
    forms: list[Form],
    extractor: User | None = None,
    visible_to: User | None = None,
) -> ExtractionExport:
    """The data of ``forms``: final consensus, or ``extractor``'s submitted extractions
    (only those ``visible_to`` may see, when given: pages pass the person downloading)."""
    export = ExtractionExport(review=review, extractor=extractor)
    single = len(forms) == 1
    for form, name in zip(forms, _names(forms), strict=True):
        export.forms.append(
            _form_export(
                form,
                name="" if single else name,
                label="" if single else form.title,
                extractor=extractor,
                visible_to=visible_to,
            )
        )
    return export


# ------------------------------------------------------------------------------ writing


def write_studies_csv(export: ExtractionExport, out: TextIO) -> int:
    """The one-row-per-study CSV of a single form (tables need files of their own)."""
    if len(export.forms) != 1:
        titles = ", ".join(f"“{f.form.title}”" for f in export.forms)
        raise ReviewflowError(
            f"This review has {len(export.forms)} published forms ({titles}): choose one, or "
            "write files.",
            field="form",
        )
    studies = export.studies_sheet(export.forms[0])
    return write_rows_csv(studies.header, studies.rows, out)


def csv_files(export: ExtractionExport, stem: str) -> list[tuple[str, str]]:
    """(file name, CSV text) of every CSV: ``STEM.csv`` for the studies and
    ``STEM_<table key>.csv`` per table (with several forms, ``STEM_<form>.csv`` and
    ``STEM_<form>_<table key>.csv``)."""
    files = []
    for form_export in export.forms:
        for sheet in export.sheets_of(form_export):
            buffer = io.StringIO(newline="")
            write_rows_csv(sheet.header, sheet.rows, buffer)
            name = f"{stem}_{sheet.name}.csv" if sheet.name else f"{stem}.csv"
            files.append((name, buffer.getvalue()))
    return files


def write_csv_files(export: ExtractionExport, path: Path) -> list[Path]:
    """Write the CSVs beside ``path`` (``FILE.csv`` and ``FILE_<table>.csv``)."""
    written = []
    for name, text in csv_files(export, path.stem):
        target = path.with_name(name)
        target.write_text(text, encoding="utf-8", newline="")
        written.append(target)
    return written


def write_csv_zip(export: ExtractionExport, out: BinaryIO, stem: str) -> list[str]:
    """The CSVs in one ZIP archive; returns the names inside."""
    files = csv_files(export, stem)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files:
            archive.writestr(name, text.encode("utf-8"))
    return [name for name, _ in files]


def write_xlsx(export: ExtractionExport, out: BinaryIO) -> None:
    """One workbook: a sheet of studies and one per table, for each form."""
    sheets: dict[str, tuple[list[str], Iterable[list[Any]]]] = {}
    for form_export in export.forms:
        for sheet in export.sheets_of(form_export):
            title = sheet.label
            n = 1
            while title in sheets:  # write_rows_xlsx needs distinct keys
                n += 1
                title = f"{sheet.label} ({n})"
            sheets[title] = (sheet.header, sheet.rows)
    write_rows_xlsx(sheets, out)


def export_json(export: ExtractionExport) -> dict[str, Any]:
    return {
        "review": export.review.slug,
        "data": "extractor" if export.extractor is not None else "consensus",
        "extractor": export.extractor.username if export.extractor is not None else None,
        "exported_at": timezone.now().isoformat(),
        "forms": [_with_notices(f.json, export.notices()) for f in export.forms],
    }


def _with_notices(
    form_json: dict[str, Any], notices: dict[int, list[EditorialNotice]]
) -> dict[str, Any]:
    """A form's JSON with each study's retraction and correction notices (#21)."""
    studies = [
        {
            **study,
            "notices": [
                {
                    "kind": n.kind,
                    "doi": n.notice_doi,
                    "date": n.notice_date.isoformat() if n.notice_date else None,
                }
                for n in notices.get(study["study_id"], [])
            ],
        }
        for study in form_json["studies"]
    ]
    return {**form_json, "studies": studies}


def write_json(export: ExtractionExport, out: TextIO) -> None:
    json.dump(export_json(export), out, ensure_ascii=False, indent=2)
    out.write("\n")
