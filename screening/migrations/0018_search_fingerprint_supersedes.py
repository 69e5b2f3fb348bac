"""Issue #19: one export counts once. Fingerprints of a search's file and records, the
search a new run replaces, the ``superseded`` status, and "searches" in the admin."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0017_labels"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="search",
            options={"ordering": ["created_at", "id"], "verbose_name_plural": "searches"},
        ),
        migrations.RemoveConstraint(
            model_name="search",
            name="search_status_valid",
        ),
        migrations.AddField(
            model_name="search",
            name="content_sha256",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.AddField(
            model_name="search",
            name="records_sha256",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="search",
            name="supersedes",
            field=models.ForeignKey(
                blank=True,
                help_text="The earlier search this one is a new run of; it replaces it once "
                "imported.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="superseded_by",
                to="screening.search",
            ),
        ),
        migrations.AlterField(
            model_name="search",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("failed", "Failed"),
                    ("superseded", "Superseded"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="search",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["queued", "running", "done", "failed", "superseded"])
                ),
                name="search_status_valid",
            ),
        ),
    ]
