"""The audit trail's indexes, all scoped by review but one (#25): the foreign key's own index
of ``review`` and the index of ``created_at`` go (``audit_review_time`` leads with both),
and the actor's index becomes ``audit_actor``, of set actors only. At 2 million records
the planner read the "next system event" of the audit page through the actor's index
(``actor IS NULL``: every review's system events) rather than ``audit_review_system``;
an index without system events cannot be chosen for them.

As in ``screening/0029``: the fields change in Django's state, the database only loses the
indexes, so no foreign key is dropped and validated again."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reviews', '0006_audit_review_system'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('actor__isnull', False)), fields=['actor'], name='audit_actor'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='auditevent',
                    name='actor',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='auditevent',
                    name='created_at',
                    field=models.DateTimeField(default=django.utils.timezone.now),
                ),
                migrations.AlterField(
                    model_name='auditevent',
                    name='review',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='audit_events', to='reviews.review'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    [
                    "DROP INDEX IF EXISTS reviews_auditevent_actor_id_7cda4db1;",
                    "DROP INDEX IF EXISTS reviews_auditevent_created_at_eb688ff5;",
                    "DROP INDEX IF EXISTS reviews_auditevent_review_id_3091c230;",
                    ],
                    reverse_sql=migrations.RunSQL.noop,
                ),
            ],
        ),
    ]
