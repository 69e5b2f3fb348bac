"""Fewer indexes to write at each imported record and each vote (#25): a foreign key's own
index goes where an index or unique constraint already leads with its column, and so do
the unused indexes of ``Record.doi`` and ``Record.pmid`` (never looked up across reviews),
``vote_review_stage_user`` (the first three columns of ``vote_history``) and
``pair_review_decision`` (the first two of ``pair_review_queue``).

The fields change in Django's state only; in the database only the indexes are dropped, by
name (``IF EXISTS``: the ``_like`` copies are PostgreSQL's alone), so the foreign key
constraints are not dropped and validated again over a hosted installation's tables."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reviews', '0007_scale_fewer_indexes'),
        ('screening', '0028_keyset_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='duplicatepair',
            name='pair_review_decision',
        ),
        migrations.RemoveIndex(
            model_name='vote',
            name='vote_review_stage_user',
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='claim',
                    name='record',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='screening.record'),
                ),
                migrations.AlterField(
                    model_name='claim',
                    name='reviewer',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='conflict',
                    name='record',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='conflicts', to='screening.record'),
                ),
                migrations.AlterField(
                    model_name='duplicatepair',
                    name='record_a',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='screening.record'),
                ),
                migrations.AlterField(
                    model_name='duplicatepair',
                    name='review',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='duplicate_pairs', to='reviews.review'),
                ),
                migrations.AlterField(
                    model_name='outcome',
                    name='record',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='outcomes', to='screening.record'),
                ),
                migrations.AlterField(
                    model_name='outcome',
                    name='review',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='outcomes', to='reviews.review'),
                ),
                migrations.AlterField(
                    model_name='record',
                    name='doi',
                    field=models.CharField(blank=True, max_length=255),
                ),
                migrations.AlterField(
                    model_name='record',
                    name='pmid',
                    field=models.CharField(blank=True, max_length=20),
                ),
                migrations.AlterField(
                    model_name='record',
                    name='review',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='records', to='reviews.review'),
                ),
                migrations.AlterField(
                    model_name='record',
                    name='search',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='records', to='screening.search'),
                ),
                migrations.AlterField(
                    model_name='screeningstate',
                    name='record',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='screening_states', to='screening.record'),
                ),
                migrations.AlterField(
                    model_name='vote',
                    name='record',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='votes', to='screening.record'),
                ),
                migrations.AlterField(
                    model_name='vote',
                    name='review',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='votes', to='reviews.review'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    [
                    "DROP INDEX IF EXISTS screening_claim_record_id_5c7f5ea7;",
                    "DROP INDEX IF EXISTS screening_claim_reviewer_id_46f3d6bc;",
                    "DROP INDEX IF EXISTS screening_conflict_record_id_5b187fce;",
                    "DROP INDEX IF EXISTS screening_duplicatepair_record_a_id_2ec38bbc;",
                    "DROP INDEX IF EXISTS screening_duplicatepair_review_id_6b618388;",
                    "DROP INDEX IF EXISTS screening_outcome_record_id_cbc6e145;",
                    "DROP INDEX IF EXISTS screening_outcome_review_id_623e9811;",
                    "DROP INDEX IF EXISTS screening_record_doi_1f23b925;",
                    "DROP INDEX IF EXISTS screening_record_doi_1f23b925_like;",
                    "DROP INDEX IF EXISTS screening_record_pmid_5470317c;",
                    "DROP INDEX IF EXISTS screening_record_pmid_5470317c_like;",
                    "DROP INDEX IF EXISTS screening_record_review_id_a121fece;",
                    "DROP INDEX IF EXISTS screening_record_search_id_c4d70af2;",
                    "DROP INDEX IF EXISTS screening_screeningstate_record_id_ed36589b;",
                    "DROP INDEX IF EXISTS screening_vote_record_id_5e6a859d;",
                    "DROP INDEX IF EXISTS screening_vote_review_id_732b8380;",
                    ],
                    reverse_sql=migrations.RunSQL.noop,
                ),
            ],
        ),
    ]
