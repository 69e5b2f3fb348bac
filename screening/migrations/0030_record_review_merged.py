"""A review's merged records, indexed within the review (#25): with the foreign key's own
index of ``review`` gone (0029), the planner read every review's merged records through
the index of ``duplicate_of`` for the duplicates page's counts at 2 million records."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0029_scale_fewer_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="record",
            index=models.Index(
                condition=models.Q(("duplicate_of__isnull", False)),
                fields=["review", "duplicate_of"],
                name="record_review_merged",
            ),
        ),
    ]
