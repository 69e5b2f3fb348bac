"""Typed reads of query strings and form fields, for views that need no whole form.

Each function takes ``request.GET``, ``request.POST`` or DRF's ``request.query_params`` and
one name, and a malformed value (``abc``, ``-1``, ``1e309``, a NUL byte, 5,000 digits, a
"digit" such as ``²``) is never a 500. Pages get the caller's default, which is what a
person who edited the address bar expects; the API asks for ``strict`` choices and answers
400 naming the parameter. A parameter given twice counts by its last value, as
``QueryDict.get`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, TypeVar

from django.http import QueryDict

from reviewflow.errors import ReviewflowError

T = TypeVar("T")

# The largest id a row can have (a BIGINT): a bigger number names nothing, and SQLite
# refuses it in a query instead of matching no rows.
MAX_ID = 2**63 - 1
# ASCII digits only: int() also takes "٣" and "1_000", and refuses "²" that isdigit() lets
# through; past 19 digits a number is beyond MAX_ID (and int() refuses 4,300).
_WHOLE = re.compile(r"[+-]?[0-9]{1,19}")
# The JSON escape of a NUL byte: a backslash not itself escaped, then u0000.
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def text_param(params: QueryDict, name: str, *, default: str = "") -> str:
    """The value of ``name``, or ``default`` when it is absent. A NUL byte, which no stored
    text holds and PostgreSQL refuses in a query, becomes a space."""
    value = params.get(name)
    if value is None:
        return default
    return value.replace("\x00", " ")


def one_text_param(params: QueryDict, name: str) -> str | None:
    """As ``text_param``, but ``None`` when ``name`` is given more than once: two values
    (``?record=1&record=2``) name no one thing, and are not guessed at."""
    if len(params.getlist(name)) > 1:
        return None
    return text_param(params, name)


def without_nul(params: QueryDict) -> QueryDict:
    """A copy of ``params`` with each NUL byte of its values as a space (as ``text_param``
    does), for code that reads fields by names it builds (an extraction form's values):
    PostgreSQL refuses a NUL byte in text and in ``jsonb``."""
    copy = params.copy()
    for name, values in params.lists():
        copy.setlist(name, [value.replace("\x00", " ") for value in values])
    return copy


def json_param(params: QueryDict, name: str) -> Any:
    """``name`` decoded as JSON, each NUL byte in its strings (raw or the escape ``\\u0000``)
    as a space. Raises ``ValueError`` for anything that is not JSON: nesting too deep to
    decode (which ``json.loads`` answers with ``RecursionError``) and a number of more
    than 4,300 digits included."""
    text = _NUL_ESCAPE.sub(r"\1\\u0020", text_param(params, name))
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{name} is nested too deeply") from None


def parse_int(text: str, *, min_value: int | None = None, max_value: int = MAX_ID) -> int | None:
    """``text`` (spaces around it allowed) as a whole number from ``min_value`` to
    ``max_value``, or None when it is anything else."""
    text = text.strip()
    if not _WHOLE.fullmatch(text):
        return None
    number = int(text)
    if (min_value is not None and number < min_value) or number > max_value:
        return None
    return number


def int_param(
    params: QueryDict,
    name: str,
    *,
    default: T,
    min_value: int | None = None,
    max_value: int = MAX_ID,
) -> int | T:
    """``name`` as a whole number from ``min_value`` to ``max_value``, or ``default`` when it
    is absent, blank, not a whole number, or out of bounds."""
    number = parse_int(params.get(name) or "", min_value=min_value, max_value=max_value)
    return default if number is None else number


def choice_param(
    params: QueryDict, name: str, *, choices: Collection[str], default: str, strict: bool = False
) -> str:
    """``name`` when it is one of ``choices``, else ``default`` (also when absent or blank).

    ``strict`` (for the API, whose error handler answers it with 400): a value that is not
    a choice raises a ``ReviewflowError`` naming the choices. Pages are never strict.
    """
    value = params.get(name) or ""
    if not value:
        return default
    if value in choices:
        return value
    if strict:
        raise ReviewflowError(f"{name} must be one of: {', '.join(choices)}.", field=name)
    return default
