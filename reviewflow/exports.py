"""Helpers shared by every export a user can download."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A spreadsheet cell that cannot run as a formula (CSV/XLSX formula injection).

    Text starting with ``= + - @``, a tab or a carriage return gets a leading apostrophe,
    which spreadsheets show as text; numbers and other values pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
