# Written for issue #17: running imports and deduplications show they are alive.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0014_vote_blind_after_reveal"),
    ]

    operations = [
        migrations.AddField(
            model_name="search",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
