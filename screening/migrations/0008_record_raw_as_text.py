"""Record.raw as text rather than jsonb, and lz4 for the long columns on PostgreSQL.

An import writes every record once and the record page reads ``raw`` whole: a text column
skips the parse into jsonb on each insert and keeps the tags in the file's order. On
PostgreSQL 14+ built with lz4, ``raw`` and ``abstract`` (together most of a record's bytes)
are compressed with lz4 instead of pglz, several times cheaper to write; values already
stored keep their compression until rewritten.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

import screening.models.fields

LONG_COLUMNS = ("raw", "abstract")


def _lz4_available(schema_editor: BaseDatabaseSchemaEditor) -> bool:
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or connection.pg_version < 140000:  # type: ignore[attr-defined]
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _set_compression(schema_editor: BaseDatabaseSchemaEditor, method: str) -> None:
    if not _lz4_available(schema_editor):
        return
    quote = schema_editor.quote_name
    alters = ", ".join(
        f"ALTER COLUMN {quote(column)} SET COMPRESSION {method}" for column in LONG_COLUMNS
    )
    schema_editor.execute(f"ALTER TABLE {quote('screening_record')} {alters}")


def use_lz4(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _set_compression(schema_editor, "lz4")


def use_default_compression(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _set_compression(schema_editor, "DEFAULT")


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0007_screening_state"),
    ]

    operations = [
        migrations.AlterField(
            model_name="record",
            name="raw",
            field=screening.models.fields.JSONTextField(blank=True, default=dict),
        ),
        migrations.RunPython(use_lz4, use_default_compression),
    ]
