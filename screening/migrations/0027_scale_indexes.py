"""Indexes that keep the records list and the duplicate queue inside their review when the
database holds many reviews (#25: plans checked at 2 million records by bench/scale.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0026_round_prisma_counts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="record",
            index=models.Index(fields=["review", "search", "position"], name="record_review_order"),
        ),
        migrations.AddIndex(
            model_name="duplicatepair",
            index=models.Index(
                fields=["review", "decision", "-score", "id"], name="pair_review_queue"
            ),
        ),
    ]
