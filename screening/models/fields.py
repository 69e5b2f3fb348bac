"""Model fields of the screening app."""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


class JSONTextField(models.JSONField):
    """A JSON value stored as plain text, on PostgreSQL as on SQLite.

    For ``Record.raw``: every field of the source file, written once per record by the
    import (100,000 records in a large export) and only ever read whole, never queried by
    key. PostgreSQL's ``jsonb`` would re-parse each value into its binary form on insert
    (a large share of an import's time) and reorder the keys, so the record page would not
    show the tags in the file's order; SQLite's ``JSON_VALID`` check parses it once more.
    The Python side is a ``JSONField``'s: a dict in, a dict out.
    """

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "text"

    def db_check(self, connection: BaseDatabaseWrapper) -> None:
        return None

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        return json.dumps(value, cls=self.encoder, ensure_ascii=False)
