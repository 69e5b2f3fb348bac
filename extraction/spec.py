"""Extraction forms as plain data: the definition, its checks, and the values extractors give.

A form is a ``FormSpec``: sections of fields; a field of kind ``table`` has columns (one row
per arm, per outcome × time point, …); a field of kind ``judgement`` holds a risk-of-bias
judgement (``FieldSpec.rob2`` ties it, and the signalling questions, to a tool of
``extraction.rob`` and a domain). Everything here is
pure Python over dicts, so the Django side stores ``FormSpec.to_dict()`` in a JSON field and
the same code checks a form built in the browser, one posted to the API, and a template.

Values go through ``clean_values``: it accepts what JSON clients send and the strings HTML
forms post, and returns one normal form per kind (see its docstring), so that two
extractions can be compared with ``==`` (``compare_values``), agreed values pre-fill the
consensus (``agreed_values``), and values survive a new version of the form
(``carry_values``). Messages are written for the person filling in the form and name the
field, and in tables the row and column: ``Arms, row 2, Events: must be at least 0``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reviewflow.errors import ReviewflowError

from . import rob, rob2

__all__ = [
    "COLUMN_KINDS",
    "JUDGEMENTS",
    "KINDS",
    "KIND_LABELS",
    "ColumnSpec",
    "FieldComparison",
    "FieldError",
    "FieldSpec",
    "FormSpec",
    "RowComparison",
    "SectionSpec",
    "agreed_values",
    "carry_values",
    "check_form_spec",
    "clean_values",
    "compare_values",
    "make_key",
]

KINDS = (
    "short_text",
    "long_text",
    "integer",
    "decimal",
    "boolean",
    "date",
    "single_choice",
    "multiple_choice",
    "table",
    "judgement",
)
COLUMN_KINDS = tuple(k for k in KINDS if k not in ("table", "judgement"))
KIND_LABELS = {
    "short_text": "Short text",
    "long_text": "Long text",
    "integer": "Whole number",
    "decimal": "Decimal number",
    "boolean": "Yes/no",
    "date": "Date",
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "table": "Table",
    "judgement": "Risk-of-bias judgement",
}
NUMBER_KINDS = ("integer", "decimal")
CHOICE_KINDS = ("single_choice", "multiple_choice")
# The stored values of a judgement field, with the words the pages show.
JUDGEMENTS = rob2.JUDGEMENTS

REQUIRED = "This field is required."
NOT_APPLICABLE_REACHED = 'cannot be "NA": the answers to the questions before it make it apply'
MAX_SHORT_TEXT = 1000
MAX_LONG_TEXT = 50_000
MAX_TABLE_ROWS = 1000
MAX_DIGITS = 15  # before, and after, the decimal point
MAX_MAGNITUDE = 10**MAX_DIGITS
_KEY_RE = re.compile(r"[a-z0-9_]+\Z")
_INT_RE = re.compile(r"[+-]?\d+\Z")
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TRUE = {"yes", "true", "on"}
_FALSE = {"no", "false"}


def _fmt_decimal(value: Decimal) -> str:
    """``Decimal("12.50")`` → ``"12.5"``, ``Decimal("1E+2")`` → ``"100"``, ``-0`` → ``"0"``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


# ---------------------------------------------------------------------------------------
# The definition


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table field; also the attributes every field has."""

    key: str
    label: str
    kind: str
    required: bool = False
    help: str = ""
    min: Decimal | None = None
    max: Decimal | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "kind": self.kind,
            "required": self.required,
            "help": self.help,
            "min": None if self.min is None else _fmt_decimal(self.min),
            "max": None if self.max is None else _fmt_decimal(self.max),
            "unit": self.unit,
            "choices": list(self.choices),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, place: str = "Column") -> ColumnSpec:
        return cls(**_common_from_dict(data, place))


@dataclass(frozen=True)
class FieldSpec(ColumnSpec):
    """A field of a section. ``columns`` only on tables; ``rob2`` only on risk-of-bias
    fields.

    ``rob2`` is ``{"domain": "D1".."D5", "question": "1.1"}`` on a signalling question and
    ``{"domain": "D1".."D5" | "overall"}`` on a judgement field; with ``"tool"`` (a key of
    ``extraction.rob.TOOLS``: ``quadas2``, ``rob1``, ``nos_cohort``, …) it belongs to that
    tool instead of RoB 2, and QUADAS-2 judgements may add ``"aspect": "applicability"``.
    """

    columns: tuple[ColumnSpec, ...] = ()
    rob2: dict[str, str] | None = None

    def __hash__(self) -> int:  # rob2 is a dict; equal fields still hash equal
        return hash((self.key, self.kind, self.label))

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["columns"] = [c.to_dict() for c in self.columns]
        data["rob2"] = dict(self.rob2) if self.rob2 is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, place: str = "Field") -> FieldSpec:
        common = _common_from_dict(data, place)
        columns_data = _list(data, "columns")
        if not isinstance(columns_data, list | tuple):
            raise ReviewflowError(f"{place}: columns must be a list", field="spec")
        columns = tuple(
            ColumnSpec.from_dict(c, place=f"{place}, column {i}")
            for i, c in enumerate(columns_data, start=1)
        )
        rob2_data = data.get("rob2")
        meta: dict[str, str] | None = None
        if rob2_data is not None:
            if not isinstance(rob2_data, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in rob2_data.items()
            ):
                raise ReviewflowError(f"{place}: rob2 must map names to text", field="spec")
            meta = dict(rob2_data)
        return cls(**common, columns=columns, rob2=meta)


@dataclass(frozen=True)
class SectionSpec:
    title: str
    description: str = ""
    fields: tuple[FieldSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, place: str = "Section") -> SectionSpec:
        if not isinstance(data, Mapping):
            raise ReviewflowError(f"{place}: must be an object", field="spec")
        fields_data = _list(data, "fields")
        if not isinstance(fields_data, list | tuple):
            raise ReviewflowError(f"{place}: fields must be a list", field="spec")
        return cls(
            title=_text(data, "title", place),
            description=_text(data, "description", place),
            fields=tuple(
                FieldSpec.from_dict(f, place=f"{place}, field {i}")
                for i, f in enumerate(fields_data, start=1)
            ),
        )


@dataclass(frozen=True)
class FormSpec:
    title: str
    description: str = ""
    extractors_needed: int = 2
    sections: tuple[SectionSpec, ...] = ()

    def fields(self) -> list[FieldSpec]:
        """All fields, in the order the extractor sees them."""
        return [f for s in self.sections for f in s.fields]

    def field(self, key: str) -> FieldSpec | None:
        """The field with this key, or ``None``."""
        return next((f for f in self.fields() if f.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "extractors_needed": self.extractors_needed,
            "sections": [s.to_dict() for s in self.sections],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormSpec:
        """Read a form from JSON-able data; wrong shapes raise ``ReviewflowError``.

        Missing optional attributes take their defaults. This checks shapes and types only;
        ``check_form_spec`` checks the rules (unique keys, choices, bounds, …).
        """
        if not isinstance(data, Mapping):
            raise ReviewflowError("The form must be an object.", field="spec")
        sections_data = _list(data, "sections")
        if not isinstance(sections_data, list | tuple):
            raise ReviewflowError("Form: sections must be a list", field="spec")
        needed = data.get("extractors_needed", 2)
        if isinstance(needed, str) and needed.strip().isdigit():
            needed = int(needed)
        if isinstance(needed, bool) or not isinstance(needed, int):
            raise ReviewflowError("Extractors per study must be 1 or 2.", field="extractors_needed")
        return cls(
            title=_text(data, "title", "Form"),
            description=_text(data, "description", "Form"),
            extractors_needed=needed,
            sections=tuple(
                SectionSpec.from_dict(s, place=f"Section {i}")
                for i, s in enumerate(sections_data, start=1)
            ),
        )


def _list(data: Mapping[str, Any], name: str) -> Any:
    """The value, ``[]`` when absent or null (anything else is checked by the caller)."""
    value = data.get(name)
    return [] if value is None else value


def _text(data: Mapping[str, Any], name: str, place: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReviewflowError(f"{place}: {name} must be text", field="spec")
    return value.strip()


def _bound(data: Mapping[str, Any], name: str, place: str) -> Decimal | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ReviewflowError(f"{place}: {name} must be a number", field="spec")
    text = str(value).strip()
    if not _DECIMAL_RE.match(text):
        raise ReviewflowError(f"{place}: {name} must be a number", field="spec")
    return Decimal(text)


def _common_from_dict(data: Mapping[str, Any], place: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ReviewflowError(f"{place}: must be an object", field="spec")
    choices = _list(data, "choices")
    if not isinstance(choices, list | tuple) or not all(isinstance(c, str) for c in choices):
        raise ReviewflowError(f"{place}: choices must be a list of texts", field="spec")
    required = data.get("required", False)
    if not isinstance(required, bool):
        raise ReviewflowError(f"{place}: required must be true or false", field="spec")
    return {
        "key": _text(data, "key", place),
        "label": _text(data, "label", place),
        "kind": _text(data, "kind", place),
        "required": required,
        "help": _text(data, "help", place),
        "min": _bound(data, "min", place),
        "max": _bound(data, "max", place),
        "unit": _text(data, "unit", place),
        "choices": tuple(c.strip() for c in choices),
    }


def make_key(label: str, taken: Iterable[str] = ()) -> str:
    """A key for a new field or column made from its label, not in ``taken``.

    ``make_key("Sample size (n)", {"sample_size_n"})`` → ``"sample_size_n_2"``.
    """
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_label.lower()).strip("_")[:40].strip("_") or "field"
    used = set(taken)
    key, n = base, 1
    while key in used:
        n += 1
        key = f"{base}_{n}"
    return key


# ---------------------------------------------------------------------------------------
# Checking the definition


def check_form_spec(spec: FormSpec) -> None:
    """Raise ``ReviewflowError`` naming the first place where the form breaks a rule.

    Rules: the form has a title and needs 1 or 2 extractors; sections have titles; field
    and column keys are slugs (``[a-z0-9_]+``), field keys unique in the form and column
    keys unique in their table; labels are not empty; kinds are known (tables and
    judgements cannot be columns); choice kinds have at least one choice and no duplicate,
    other kinds have none; bounds only on numbers, whole on whole numbers, min ≤ max;
    units only on numbers; tables have at least one column and only tables have columns;
    risk-of-bias metadata names a known tool (RoB 2 when it names none) and one of its
    domains and questions, at most one field per question and per domain judgement (and
    aspect), and a question offers only the tool's answers.
    """
    if not spec.title:
        raise ReviewflowError("The form needs a title.", field="title")
    if spec.extractors_needed not in (1, 2):
        raise ReviewflowError("Extractors per study must be 1 or 2.", field="extractors_needed")
    seen_keys: dict[str, str] = {}
    seen_rob2: dict[tuple[str, ...], str] = {}
    for s_index, section in enumerate(spec.sections, start=1):
        if not section.title:
            raise ReviewflowError(f"Section {s_index}: needs a title", field="spec")
        for f_index, fld in enumerate(section.fields, start=1):
            place = f"Section {s_index}, field {f_index}" + (
                f' ("{fld.label}")' if fld.label else ""
            )
            _check_common(fld, place, KINDS)
            if fld.key in seen_keys:
                raise ReviewflowError(f'{place}: key "{fld.key}" is used twice', field=fld.key)
            seen_keys[fld.key] = place
            if fld.kind == "table":
                if not fld.columns:
                    raise ReviewflowError(
                        f"{place}: a table needs at least one column", field=fld.key
                    )
                column_keys: set[str] = set()
                for c_index, column in enumerate(fld.columns, start=1):
                    c_place = f"{place}, column {c_index}" + (
                        f' ("{column.label}")' if column.label else ""
                    )
                    _check_common(column, c_place, COLUMN_KINDS)
                    if column.key in column_keys:
                        raise ReviewflowError(
                            f'{c_place}: key "{column.key}" is used twice', field=fld.key
                        )
                    column_keys.add(column.key)
            elif fld.columns:
                raise ReviewflowError(f"{place}: only tables have columns", field=fld.key)
            _check_rob2(fld, place, seen_rob2)


def _check_common(item: ColumnSpec, place: str, kinds: tuple[str, ...]) -> None:
    key = item.key
    if not item.key:
        raise ReviewflowError(f"{place}: needs a key", field="spec")
    if not _KEY_RE.match(item.key):
        raise ReviewflowError(
            f'{place}: key "{item.key}" may contain only a-z, 0-9 and _', field="spec"
        )
    if not item.label:
        raise ReviewflowError(f"{place}: needs a label", field=key)
    if item.kind not in kinds:
        if item.kind in KINDS:
            raise ReviewflowError(
                f"{place}: a {KIND_LABELS[item.kind].lower()} cannot be a table column", field=key
            )
        raise ReviewflowError(f'{place}: unknown kind "{item.kind}"', field=key)
    if item.kind in CHOICE_KINDS:
        if not item.choices:
            raise ReviewflowError(f"{place}: needs at least one choice", field=key)
        if any(not c for c in item.choices):
            raise ReviewflowError(f"{place}: a choice is empty", field=key)
        seen: set[str] = set()
        for choice in item.choices:
            if choice in seen:
                raise ReviewflowError(f'{place}: choice "{choice}" is listed twice', field=key)
            seen.add(choice)
    elif item.choices:
        raise ReviewflowError(f"{place}: only choice fields have choices", field=key)
    if item.kind in NUMBER_KINDS:
        for name, bound in (("minimum", item.min), ("maximum", item.max)):
            if bound is not None and not bound.is_finite():
                raise ReviewflowError(f"{place}: the {name} must be a number", field=key)
            if item.kind == "integer" and bound is not None and bound != bound.to_integral_value():
                raise ReviewflowError(f"{place}: the {name} must be a whole number", field=key)
        if item.min is not None and item.max is not None and item.min > item.max:
            raise ReviewflowError(
                f"{place}: the minimum ({_fmt_decimal(item.min)}) is greater than the maximum "
                f"({_fmt_decimal(item.max)})",
                field=key,
            )
    else:
        if item.min is not None or item.max is not None:
            raise ReviewflowError(
                f"{place}: only number fields have a minimum or maximum", field=key
            )
        if item.unit:
            raise ReviewflowError(f"{place}: only number fields have a unit", field=key)


def _check_rob2(fld: FieldSpec, place: str, seen: dict[tuple[str, ...], str]) -> None:
    meta = fld.rob2
    if meta is None:
        if fld.kind == "judgement":
            raise ReviewflowError(
                f"{place}: a judgement field must name its RoB 2 domain", field=fld.key
            )
        return
    tool = rob.tool_of(meta)
    if tool is None:
        raise ReviewflowError(
            f'{place}: unknown risk-of-bias tool "{meta.get("tool")}" (use {", ".join(rob.TOOLS)})',
            field=fld.key,
        )
    name = tool.name
    domain = meta.get("domain", "")
    question = meta.get("question")
    aspect = meta.get("aspect")
    allowed = {"tool", "domain", "question"} | ({"aspect"} if tool.aspects else set())
    extra = set(meta) - allowed
    if extra:
        raise ReviewflowError(
            f"{place}: unknown {name} setting {', '.join(sorted(extra))}", field=fld.key
        )
    if domain not in (*tool.domains, rob.OVERALL):
        raise ReviewflowError(f'{place}: unknown {name} domain "{domain}"', field=fld.key)
    if aspect is not None and (
        aspect not in tool.aspects or fld.kind != "judgement" or domain == rob.OVERALL
    ):
        raise ReviewflowError(
            f'{place}: "{aspect}" is not a judgement of {name} domain {domain}', field=fld.key
        )
    if fld.kind == "judgement":
        if question is not None:
            raise ReviewflowError(
                f"{place}: a judgement field does not name a signalling question", field=fld.key
            )
        slot: tuple[str, ...] = (tool.key, domain, "", aspect or "")
    else:
        if fld.kind != "single_choice" or question is None:
            raise ReviewflowError(
                f"{place}: {name} settings belong on judgement fields and on signalling "
                "questions (single choice)",
                field=fld.key,
            )
        known = {q.id: q for q in tool.questions.get(domain, ())}
        if question not in known:
            raise ReviewflowError(
                f'{place}: "{question}" is not a signalling question of {name} domain {domain}',
                field=fld.key,
            )
        offered = known[question].answers
        wrong = [c for c in fld.choices if c not in offered]
        if wrong:
            raise ReviewflowError(
                f'{place}: "{wrong[0]}" is not an answer to {name} question {question} '
                f"(use {', '.join(offered)})",
                field=fld.key,
            )
        slot = (tool.key, domain, question)
    if slot in seen:
        if question:
            what = f"question {question}"
        elif aspect:
            what = f"the {domain} {aspect} judgement"
        else:
            what = f"the {domain} judgement"
        raise ReviewflowError(f"{place}: {what} is already asked in {seen[slot]}", field=fld.key)
    seen[slot] = place


# ---------------------------------------------------------------------------------------
# Cleaning values


@dataclass(frozen=True)
class FieldError:
    """A problem with one value, for the person who typed it.

    ``field`` is the field key; ``row`` (1-based, as counted in what was submitted) and
    ``column`` (the column key) locate a table cell; ``column_label`` is for the message.
    """

    field: str
    label: str
    message: str
    row: int | None = None
    column: str | None = None
    column_label: str = ""

    def __str__(self) -> str:
        place = self.label
        if self.row is not None:
            place += f", row {self.row}"
        if self.column is not None:
            place += f", {self.column_label or self.column}"
        return f"{place}: {self.message}"


class _Invalid(Exception):
    """One cell or field value is wrong; the message is user-facing."""


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == [] or raw == {}


def _clean_text(item: ColumnSpec, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Invalid("must be text")
    text = raw.strip()
    limit = MAX_SHORT_TEXT if item.kind == "short_text" else MAX_LONG_TEXT
    if len(text) > limit:
        raise _Invalid(f"must be at most {limit} characters")
    return text


def _check_bounds(item: ColumnSpec, number: Decimal) -> None:
    if item.min is not None and number < item.min:
        raise _Invalid(f"must be at least {_fmt_decimal(item.min)}")
    if item.max is not None and number > item.max:
        raise _Invalid(f"must be at most {_fmt_decimal(item.max)}")


def _clean_integer(item: ColumnSpec, raw: Any) -> int:
    if isinstance(raw, bool):
        raise _Invalid("must be a whole number")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and _INT_RE.match(raw.strip()) and len(raw.strip()) <= 40:
        value = int(raw.strip())
    else:
        raise _Invalid("must be a whole number")
    if abs(value) >= MAX_MAGNITUDE:
        raise _Invalid("is too large")
    _check_bounds(item, Decimal(value))
    return value


def _clean_decimal(item: ColumnSpec, raw: Any) -> str:
    if isinstance(raw, bool):
        raise _Invalid("must be a number")
    if isinstance(raw, Decimal):
        number = raw
    elif isinstance(raw, int | float | str):
        text = str(raw).strip()
        if not _DECIMAL_RE.match(text) or len(text) > 60:
            raise _Invalid("must be a number")
        number = Decimal(text)
    else:
        raise _Invalid("must be a number")
    if not number.is_finite():
        raise _Invalid("must be a number")
    # Bounded so that "1e999999999" cannot become a billion digits, and values fit any
    # database's JSON and a spreadsheet cell.
    if number and number.adjusted() >= MAX_DIGITS:
        raise _Invalid("is too large")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DIGITS:
        raise _Invalid(f"may have at most {MAX_DIGITS} decimal places")
    _check_bounds(item, number)
    return _fmt_decimal(number)


def _clean_boolean(item: ColumnSpec, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _Invalid("must be yes or no")


def _clean_date(item: ColumnSpec, raw: Any) -> str:
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        return raw.isoformat()
    if isinstance(raw, str) and _DATE_RE.match(raw.strip()):
        with contextlib.suppress(ValueError):  # "2024-02-30": the shape of a date, no day
            return dt.date.fromisoformat(raw.strip()).isoformat()
    raise _Invalid("must be a date written YYYY-MM-DD")


def _clean_choice(item: ColumnSpec, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Invalid("must be one of the allowed values")
    choice = raw.strip()
    if choice not in item.choices:
        raise _Invalid(f'"{choice}" is not one of the allowed values')
    return choice


def _clean_choices(item: ColumnSpec, raw: Any) -> list[str]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(c, str) for c in items):
        raise _Invalid("must be a list of the allowed values")
    chosen = {c.strip() for c in items if c.strip()}
    for choice in sorted(chosen):
        if choice not in item.choices:
            raise _Invalid(f'"{choice}" is not one of the allowed values')
    return [c for c in item.choices if c in chosen]


def _clean_judgement(item: ColumnSpec, raw: Any) -> dict[str, str] | None:
    if isinstance(raw, str):
        raw = {"judgement": raw}
    if not isinstance(raw, Mapping):
        raise _Invalid("must be a judgement")
    unknown = set(raw) - {"judgement", "override_reason"}
    if unknown:
        raise _Invalid(f"unknown part {', '.join(sorted(map(str, unknown)))}")
    word = raw.get("judgement")
    reason = raw.get("override_reason") or ""
    if not isinstance(reason, str):
        raise _Invalid("the reason must be text")
    if _is_empty(word):
        if reason.strip():
            raise _Invalid("choose a judgement for this reason")
        return None
    # Judgements are never table columns (check_form_spec), so ``item`` is a field.
    fld = item if isinstance(item, FieldSpec) else FieldSpec(item.key, item.label, item.kind)
    if not isinstance(word, str):
        words = list(rob.judgement_labels(fld).values())
        raise _Invalid(f"must be {', '.join(words[:-1])} or {words[-1]}")
    judgement = _parse_judgement(fld, word)
    if judgement is None:
        raise _Invalid(f'"{word.strip()}" is not one of the allowed values')
    if len(reason.strip()) > MAX_LONG_TEXT:
        raise _Invalid(f"the reason must be at most {MAX_LONG_TEXT} characters")
    return {"judgement": judgement, "override_reason": reason.strip()}


def _parse_judgement(item: FieldSpec, word: str) -> str | None:
    tool = rob.tool_of(item.rob2)
    if tool is None or tool.key == rob.DEFAULT_TOOL:
        return rob2.parse_judgement(word)
    aspect = (item.rob2 or {}).get("aspect")
    return tool.parse_judgement(word, aspect if aspect in tool.aspects else None)


_CLEANERS: dict[str, Callable[[ColumnSpec, Any], Any]] = {
    "short_text": _clean_text,
    "long_text": _clean_text,
    "integer": _clean_integer,
    "decimal": _clean_decimal,
    "boolean": _clean_boolean,
    "date": _clean_date,
    "single_choice": _clean_choice,
    "multiple_choice": _clean_choices,
    "judgement": _clean_judgement,
}


def _clean_one(item: ColumnSpec, raw: Any) -> Any:
    """The normal value, or ``None`` when empty; raises ``_Invalid``."""
    if _is_empty(raw):
        return None
    value = _CLEANERS[item.kind](item, raw)
    return None if value in ("", [], None) else value


def _clean_table(
    fld: FieldSpec, raw: Any, *, complete: bool, errors: list[FieldError]
) -> list[dict[str, Any]]:
    if isinstance(raw, Mapping):
        # HTML-ish {"0": {...}, "1": {...}}: rows in the order of their numeric keys.
        try:
            raw = [raw[k] for k in sorted(raw, key=lambda k: int(k))]
        except (TypeError, ValueError):
            errors.append(FieldError(fld.key, fld.label, "must be a list of rows"))
            return []
    if not isinstance(raw, list | tuple):
        errors.append(FieldError(fld.key, fld.label, "must be a list of rows"))
        return []
    if len(raw) > MAX_TABLE_ROWS:
        errors.append(FieldError(fld.key, fld.label, f"may have at most {MAX_TABLE_ROWS} rows"))
        return []
    columns = {c.key: c for c in fld.columns}
    rows: list[dict[str, Any]] = []
    for number, raw_row in enumerate(raw, start=1):
        if raw_row is None:
            continue
        if not isinstance(raw_row, Mapping):
            errors.append(FieldError(fld.key, fld.label, "must be a set of columns", row=number))
            continue
        for name in raw_row:
            if name not in columns:
                errors.append(
                    FieldError(fld.key, fld.label, f'unknown column "{name}"', row=number)
                )
        row: dict[str, Any] = {}
        row_errors: list[FieldError] = []
        for column in fld.columns:
            try:
                value = _clean_one(column, raw_row.get(column.key))
            except _Invalid as exc:
                row_errors.append(
                    FieldError(fld.key, fld.label, str(exc), number, column.key, column.label)
                )
                continue
            if value is not None:
                row[column.key] = value
        if not row and not row_errors:
            continue  # a completely empty row: the extractor added it and left it
        if complete:
            for column in fld.columns:
                if (
                    column.required
                    and column.key not in row
                    and not any(e.column == column.key for e in row_errors)
                ):
                    row_errors.append(
                        FieldError(fld.key, fld.label, REQUIRED, number, column.key, column.label)
                    )
        column_order = {c.key: i for i, c in enumerate(fld.columns)}
        row_errors.sort(key=lambda e: column_order.get(e.column or "", -1))
        errors.extend(row_errors)
        if row:
            rows.append(row)
    return rows


def clean_values(
    spec: FormSpec, values: Mapping[str, Any], *, complete: bool
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check and normalise an extractor's values; return ``(values, errors)``.

    Accepts JSON values or the strings HTML forms post. Normal forms: short and long text
    ``str`` (stripped); whole numbers ``int`` (``"3.5"``, ``true`` rejected); decimals a
    canonical ``str`` (``"12.50"`` → ``"12.5"``, bounds compared as ``Decimal``); yes/no
    ``bool`` (``"yes"``/``"no"``/``"true"``/``"false"``/``"on"``, ``""`` is empty); dates
    ``"YYYY-MM-DD"``; single choice a ``str`` among the choices; multiple choice a ``list``
    of choices in the form's order; tables a ``list`` of ``{column key: value}`` rows,
    completely empty rows dropped (a row may also come as ``{"0": {...}, "1": {...}}``);
    judgements ``{"judgement": "low"|"some_concerns"|"high", "override_reason": str}`` (a
    bare ``"low"`` or ``"Some concerns"`` is accepted too).

    Empty values are left out of the result; values with errors too. A key the form does
    not have is an error. With ``complete=True`` (submitting) required fields and required
    columns of non-empty rows left empty are errors, as are RoB 2 signalling questions the
    algorithm needs (given the other answers) and a judgement that differs from the RoB 2
    proposal without a reason.
    """
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    fields = spec.fields()
    known = {f.key for f in fields}
    for key in values:
        if key not in known:
            errors.append(FieldError(str(key), str(key), "is not a field of this form"))
    for fld in fields:
        raw = values.get(fld.key)
        if fld.kind == "table":
            if _is_empty(raw):
                continue
            rows = _clean_table(fld, raw, complete=complete, errors=errors)
            if rows:
                cleaned[fld.key] = rows
            continue
        try:
            value = _clean_one(fld, raw)
        except _Invalid as exc:
            errors.append(FieldError(fld.key, fld.label, str(exc)))
            continue
        if value is not None:
            cleaned[fld.key] = value
    if complete:
        failed = {e.field for e in errors}
        needed = rob.needed_question_keys(spec, cleaned)
        for fld in fields:
            if fld.key in failed:
                continue
            if fld.key in needed and cleaned.get(fld.key) == "NA":
                errors.append(FieldError(fld.key, fld.label, NOT_APPLICABLE_REACHED))
            elif fld.key not in cleaned and (fld.required or fld.key in needed):
                errors.append(FieldError(fld.key, fld.label, REQUIRED))
        proposals = rob.proposed_judgements(spec, cleaned)
        for fld in fields:
            value = cleaned.get(fld.key)
            if fld.kind != "judgement" or value is None:
                continue
            proposal = proposals.get(fld.key)
            if (
                proposal is not None
                and value["judgement"] != proposal
                and not value["override_reason"]
            ):
                errors.append(
                    FieldError(
                        fld.key,
                        fld.label,
                        f"the {_proposer(fld)} proposes "
                        f'"{rob.judgement_labels(fld).get(proposal, proposal)}"; give a reason '
                        "for overriding it",
                    )
                )
    order = {f.key: i for i, f in enumerate(fields)}
    errors.sort(key=lambda e: (order.get(e.field, -1), e.row or 0))
    return cleaned, errors


def _proposer(fld: FieldSpec) -> str:
    tool = rob.tool_of(fld.rob2)
    return tool.proposer if tool is not None and tool.proposer else "algorithm"


# ---------------------------------------------------------------------------------------
# Comparing two extractions


@dataclass(frozen=True)
class RowComparison:
    """One table row compared by position; ``index`` is 1-based, as shown to users.

    ``a``/``b`` are the rows (``None`` when that extraction has fewer rows); ``cells`` maps
    each column key to whether the two cells agree (two empty cells agree).
    """

    index: int
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    agree: bool
    cells: dict[str, bool]


@dataclass(frozen=True)
class FieldComparison:
    field: FieldSpec
    a: Any
    b: Any
    agree: bool
    rows: tuple[RowComparison, ...] = ()


def _same(kind: str, a: Any, b: Any) -> bool:
    if kind == "judgement" and isinstance(a, Mapping) and isinstance(b, Mapping):
        # Agreement is on the judgement; the reasons are pre-filled side by side.
        return a.get("judgement") == b.get("judgement")
    return bool(a == b)


def compare_values(
    spec: FormSpec, a: Mapping[str, Any], b: Mapping[str, Any]
) -> list[FieldComparison]:
    """Compare two cleaned extractions field by field, and tables row by row (by position).

    Two empty values agree. Judgements agree when the judgements are the same, whatever
    the reasons. A table agrees when it has the same number of rows and every cell agrees.
    """
    result: list[FieldComparison] = []
    for fld in spec.fields():
        va, vb = a.get(fld.key), b.get(fld.key)
        if fld.kind != "table":
            result.append(FieldComparison(fld, va, vb, _same(fld.kind, va, vb)))
            continue
        rows_a = va if isinstance(va, list) else []
        rows_b = vb if isinstance(vb, list) else []
        rows: list[RowComparison] = []
        for i in range(max(len(rows_a), len(rows_b))):
            ra = rows_a[i] if i < len(rows_a) else None
            rb = rows_b[i] if i < len(rows_b) else None
            cells = {c.key: (ra or {}).get(c.key) == (rb or {}).get(c.key) for c in fld.columns}
            agree = ra is not None and rb is not None and all(cells.values())
            rows.append(RowComparison(i + 1, ra, rb, agree, cells))
        result.append(FieldComparison(fld, va, vb, all(r.agree for r in rows), rows=tuple(rows)))
    return result


def agreed_values(spec: FormSpec, a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """What both extractors agree on, to pre-fill the consensus form.

    Fields: the value when both gave the same non-empty value. Judgements: the judgement
    when it is the same, with both override reasons kept (one when they are equal).
    Tables: each row present in both extractions (by position) with the cells that agree;
    disagreeing cells are left empty, rows with no agreeing non-empty cell are left out.
    """
    agreed: dict[str, Any] = {}
    for comparison in compare_values(spec, a, b):
        fld = comparison.field
        if fld.kind == "table":
            rows = []
            for row in comparison.rows:
                if row.a is None or row.b is None:
                    continue
                kept = {k: row.a[k] for k, same in row.cells.items() if same and k in row.a}
                if kept:
                    rows.append(kept)
            if rows:
                agreed[fld.key] = rows
        elif comparison.agree and comparison.a is not None:
            if fld.kind == "judgement":
                both = (comparison.a.get("override_reason"), comparison.b.get("override_reason"))
                reasons = list(dict.fromkeys(r for r in both if r))
                agreed[fld.key] = {
                    "judgement": comparison.a["judgement"],
                    "override_reason": "\n\n".join(reasons),
                }
            else:
                agreed[fld.key] = comparison.a
    return agreed


# ---------------------------------------------------------------------------------------
# Carrying values to a new version of the form

# Which old kind can become which new kind, and how the value is turned into raw input for
# the new field (then cleaned as if typed, so bounds and choices of the new version apply).
_TEXT_KINDS = ("short_text", "long_text")
_TO_TEXT = (*_TEXT_KINDS, "integer", "decimal", "date", "single_choice")


def _convert(value: Any, old_kind: str, new_kind: str) -> Any:
    """Raw input for ``new_kind`` from a cleaned ``old_kind`` value; raises ``_Invalid``."""
    if old_kind == new_kind:
        return value
    if new_kind in _TEXT_KINDS and old_kind in _TO_TEXT:
        return str(value)
    if new_kind in _TEXT_KINDS and old_kind == "boolean":
        return "yes" if value else "no"
    if (old_kind, new_kind) in (("integer", "decimal"), ("decimal", "integer")):
        return str(value)
    if (old_kind, new_kind) == ("single_choice", "multiple_choice"):
        return [value]
    if (old_kind, new_kind) == ("multiple_choice", "single_choice"):
        if len(value) != 1:
            raise _Invalid("more than one choice cannot become a single choice")
        return value[0]
    if (old_kind, new_kind) == ("short_text", "single_choice"):
        return value
    raise _Invalid(
        f"a {KIND_LABELS[old_kind].lower()} cannot become a {KIND_LABELS[new_kind].lower()}"
    )


def carry_values(
    old: FormSpec, new: FormSpec, values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Carry an extraction's values to a new version of its form, field by field (by key).

    Returns ``(values, carried keys, dropped)``: a value is carried when the new version
    still has a field with its key, of a compatible kind (the same kind; text ← numbers,
    dates, choices, yes/no; whole number ↔ decimal; single ↔ multiple choice with one
    choice; short text → single choice), and the value is still valid there (bounds,
    choices). Table rows are carried cell by cell; a column no longer in the table is
    reported once, a cell no longer valid with its row. ``dropped`` says, for the person,
    what was left behind and why: ``Sample size: the field is no longer in the form``.
    """
    carried: dict[str, Any] = {}
    carried_keys: list[str] = []
    dropped: list[str] = []
    new_fields = {f.key: f for f in new.fields()}
    for old_field in old.fields():
        if old_field.key not in values or values[old_field.key] is None:
            continue
        value = values[old_field.key]
        new_field = new_fields.get(old_field.key)
        if new_field is None:
            dropped.append(f"{old_field.label}: the field is no longer in the form")
            continue
        if old_field.kind == "table" or new_field.kind == "table":
            if old_field.kind != new_field.kind:
                dropped.append(
                    f"{old_field.label}: a {KIND_LABELS[old_field.kind].lower()} cannot become "
                    f"a {KIND_LABELS[new_field.kind].lower()}"
                )
                continue
            rows = _carry_table(old_field, new_field, value, dropped)
            if rows:
                carried[new_field.key] = rows
                carried_keys.append(new_field.key)
            continue
        try:
            raw = _convert(value, old_field.kind, new_field.kind)
            new_value = _clean_one(new_field, raw)
        except _Invalid as exc:
            dropped.append(f"{old_field.label}: {exc}")
            continue
        if new_value is not None:
            carried[new_field.key] = new_value
            carried_keys.append(new_field.key)
    return carried, carried_keys, dropped


def _carry_table(
    old_field: FieldSpec, new_field: FieldSpec, rows: Any, dropped: list[str]
) -> list[dict[str, Any]]:
    new_columns = {c.key: c for c in new_field.columns}
    result: list[dict[str, Any]] = []
    reported: set[str] = set()
    for row_number, row in enumerate(rows if isinstance(rows, list) else [], start=1):
        new_row: dict[str, Any] = {}
        for old_column in old_field.columns:
            if row.get(old_column.key) is None:
                continue
            place = f"{old_field.label}, row {row_number}, {old_column.label}"
            new_column = new_columns.get(old_column.key)
            if new_column is None:
                if old_column.key not in reported:
                    reported.add(old_column.key)
                    dropped.append(
                        f"{old_field.label}, {old_column.label}: the column is no longer in the "
                        "table"
                    )
                continue
            try:
                raw = _convert(row[old_column.key], old_column.kind, new_column.kind)
                value = _clean_one(new_column, raw)
            except _Invalid as exc:
                dropped.append(f"{place}: {exc}")
                continue
            if value is not None:
                new_row[new_column.key] = value
        if new_row:
            result.append(new_row)
    return result
