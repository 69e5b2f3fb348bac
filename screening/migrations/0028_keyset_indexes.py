"""The index a reviewer's history of votes is paged by: newest first, read by key from any
depth (#25: keyset pagination instead of OFFSET)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0027_scale_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="vote",
            index=models.Index(
                fields=["review", "stage", "reviewer", "created_at", "id"], name="vote_history"
            ),
        ),
    ]
