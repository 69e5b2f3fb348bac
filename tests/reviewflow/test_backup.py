"""backupreview / restorereview: a review round-trips through an archive."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import models

from extraction.models import Form
from extraction.services.forms import new_form_version
from reviewflow.errors import ReviewflowError
from reviewflow.reviews import backup
from reviewflow.reviews.backup import backup_plan, backup_review
from reviewflow.reviews.models import AuditEvent, Review
from reviewflow.reviews.restore import restore_review
from screening.models import (
    Conflict,
    DuplicatePair,
    FullTextReport,
    MergeKind,
    PairDecision,
    Record,
    Search,
    Stage,
)
from screening.services import dedup, identification, prisma
from screening.services.fulltext import attach_full_text, mark_not_retrieved
from screening.services.screening import pilot
from screening.services.screening.conflicts import resolve_conflict
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.screening.votes import cast_vote
from tests.extraction.helpers import published_form
from tests.screening.factories import ris_records, upload

pytestmark = pytest.mark.django_db(transaction=True)  # imports and dedup run on commit

TITLE = "Mesenchymal stem cells for knee osteoarthritis: a randomised trial"
PDF = b"%PDF-1.4\n% a tiny full text\n%%EOF\n"


def ris(*records: dict[str, str]) -> str:
    out = []
    for r in records:
        out.append("TY  - JOUR")
        for tag, value in r.items():
            for v in value.split("|"):
                out.append(f"{tag}  - {v}")
        out.append("ER  - \n")
    return "\n".join(out)


SURE_A = {
    "TI": TITLE,
    "AU": "Smith, John|Doe, Ann",
    "PY": "2019",
    "JO": "Stem Cells Transl Med",
    "VL": "8",
    "IS": "2",
    "SP": "100",
    "EP": "110",
    "DO": "10.1002/sctm.19-0001",
}
SURE_B = {
    **{k: v for k, v in SURE_A.items() if k != "IS"},  # the primary takes the issue from A
    "TI": TITLE.upper(),
    "AU": "Smith, J.|Doe, A.",
    "EP": "10",
    "DO": "https://doi.org/10.1002/SCTM.19-0001",
    "AB": "An abstract only Embase has.",
}
UNSURE = {k: v for k, v in SURE_A.items() if k != "DO"} | {"VL": "9", "AU": "Smith, John"}
OTHER = {
    "TI": "Adipose-derived stromal cells in rheumatoid arthritis",
    "AU": "Lee, K",
    "PY": "2021",
    "JO": "Arthritis Res Ther",
    "DO": "10.1186/s13075-021-0001",
}


def import_file(review, owner, text, name, source, **extra):
    search = identification.create_search(
        review=review, actor=owner, file=upload(text, name), filename=name, source=source, **extra
    )
    search.refresh_from_db()
    assert search.status == "done", search.failure
    return search


def rec(search, position):
    return Record.objects.get(search=search, position=position)


@pytest.fixture
def full_review(review, owner, reviewer, reviewer2):
    """Imports, automatic and human dedup, a pilot, votes, a conflict, full texts, PRISMA."""
    a = import_file(review, owner, ris(SURE_A, OTHER), "pubmed.ris", "PubMed")
    b = import_file(review, owner, ris(SURE_B, UNSURE), "embase.ris", "Embase")
    import_file(review, owner, ris_records(8), "more.ris", "Scopus")
    import_file(
        review,
        owner,
        ris_records(2, start=50),
        "hand.ris",
        "Hand search",
        source_type="other",
        other_method="citation",
    )
    pending = DuplicatePair.objects.get(review=review, decision=PairDecision.PENDING)
    dedup.decide_pair(pair=pending, actor=owner, duplicate=False)
    update_stage_settings(
        review=review, stage=Stage.TITLE_ABSTRACT, actor=owner, criteria="Adults with T2D."
    )
    round_ = pilot.start_pilot(review=review, stage=Stage.TITLE_ABSTRACT, actor=owner, size=2)
    for record in round_.records.all():
        for user in (reviewer, reviewer2):
            pilot.cast_pilot_vote(pilot=round_, record=record, reviewer=user, decision="include")
    pilot.close_pilot(pilot=round_, actor=owner)

    kept = Record.objects.for_review(review).unique()
    agreed, disputed, excluded = rec(b, 1), rec(a, 2), rec(b, 2)
    assert rec(a, 1).duplicate_of_id == agreed.pk  # the Embase record is the primary
    for user in (reviewer, reviewer2):
        cast_vote(
            review=review,
            record=agreed,
            reviewer=user,
            stage=Stage.TITLE_ABSTRACT,
            decision="include",
            note=f"{user} likes it",
        )
        cast_vote(
            review=review,
            record=excluded,
            reviewer=user,
            stage=Stage.TITLE_ABSTRACT,
            decision="exclude",
        )
    cast_vote(
        review=review,
        record=disputed,
        reviewer=reviewer,
        stage=Stage.TITLE_ABSTRACT,
        decision="include",
    )
    cast_vote(
        review=review,
        record=disputed,
        reviewer=reviewer2,
        stage=Stage.TITLE_ABSTRACT,
        decision="exclude",
    )
    conflict = Conflict.objects.get(record=disputed)
    resolve_conflict(conflict=conflict, actor=owner, decision="include")
    pdf = io.BytesIO(PDF)
    attach_full_text(review=review, record=agreed, actor=owner, file=pdf, filename="smith2019.pdf")
    mark_not_retrieved(review=review, record=disputed, actor=owner, note="Paywalled")
    prisma.update_prisma_settings(
        review=review, actor=owner, duplicates_before_import=3, excluded_other=2
    )
    assert kept.count() >= 10
    return review


def counts_of(review):
    return {mp.label: mp.rows_of(review).count() for mp in backup_plan()}


def test_a_review_round_trips_with_its_counts_prisma_and_links(full_review, tmp_path, owner):
    before = counts_of(full_review)
    prisma_before = prisma.prisma_counts(full_review).to_json()
    path = tmp_path / "msc.zip"

    summary = backup_review(review=full_review, path=path)
    assert oct(path.stat().st_mode)[-3:] == "600"  # every vote, unblinded: owner only
    assert summary.counts == before
    assert summary.files == 5  # four exports and one PDF
    restored = restore_review(path=path, slug="msc-copy").review

    after = counts_of(restored)
    assert after["reviews.auditevent"] == before["reviews.auditevent"] + 1  # the restore itself
    after["reviews.auditevent"] -= 1
    assert after == before
    assert before["screening.vote"] == 6 and before["screening.outcome"] == 3
    assert before["screening.pilotvote"] == 4 and before["screening.duplicatepair"] == 2
    assert prisma.prisma_counts(restored).to_json() == prisma_before
    assert Review.objects.get(slug="msc-t2d").pk != restored.pk  # the original is untouched

    # Links point inside the restored review: duplicates, provenance, reports, audit.
    for old, new in zip(
        Record.objects.filter(review=full_review).order_by("search__created_at", "position"),
        Record.objects.filter(review=restored).order_by("search__created_at", "position"),
        strict=True,
    ):
        assert (old.title, old.merge_kind, old.raw) == (new.title, new.merge_kind, new.raw)
        assert new.search.review_id == restored.pk
        if old.duplicate_of_id:
            assert new.duplicate_of.review_id == restored.pk
            assert new.duplicate_of.position == old.duplicate_of.position
            assert new.merge_kind == MergeKind.AUTO
        for name, source in new.filled_from.items():
            assert Record.objects.get(pk=source).review_id == restored.pk, name
    assert Record.objects.get(
        review=full_review, duplicate_of=None, search__source="Embase", position=1
    ).filled_from
    assert any(r.filled_from for r in Record.objects.filter(review=restored))
    pairs = DuplicatePair.objects.filter(review=restored)
    assert all(p.record_a.review_id == restored.pk and p.record_a_id < p.record_b_id for p in pairs)
    report = FullTextReport.objects.get(review=restored, status="retrieved")
    assert report.pdf.read() == PDF and report.filename == "smith2019.pdf"
    old_file = Search.objects.filter(review=full_review).first().file
    new_search = Search.objects.filter(review=restored).first()
    assert new_search.file.name != old_file.name
    assert new_search.file.read() == old_file.open("rb").read()
    record_events = AuditEvent.objects.filter(review=restored, object_type="record")
    assert record_events.exists()
    assert all(Record.objects.get(pk=e.object_id).review_id == restored.pk for e in record_events)
    members = {(m.user.username, m.role) for m in restored.memberships.select_related("user")}
    assert members == {
        ("olivia", "owner"),
        ("rachel", "reviewer"),
        ("roberto", "reviewer"),
        ("victor", "viewer"),
    }
    assert restored.pilot_rounds.get().records.count() == 2


def test_a_backup_reads_rows_by_ranges_of_their_keys(full_review, tmp_path, monkeypatch):
    # One ORDER BY id over a 100,000-record review sorted its wide rows on disk (11 s of a
    # 34 s backup among 200 reviews): the keys are read first, then a range at a time.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    whole = tmp_path / "whole.zip"
    backup_review(review=full_review, path=whole)
    chunk = backup._in_pk_order.__defaults__
    monkeypatch.setattr(backup._in_pk_order, "__defaults__", (2,))
    with CaptureQueriesContext(connection) as queries:
        summary = backup_review(review=full_review, path=tmp_path / "by-two.zip")
    assert chunk == (2000,)
    records = summary.counts["screening.record"]
    reads = [q["sql"] for q in queries if q["sql"].startswith('SELECT "screening_record"."id",')]
    assert len(reads) == -(-records // 2) and records > 4
    assert all('"screening_record"."id" >=' in sql and '"id" <=' in sql for sql in reads)
    with zipfile.ZipFile(whole) as a, zipfile.ZipFile(tmp_path / "by-two.zip") as b:
        for name in a.namelist():
            if name.startswith("data/"):
                assert a.read(name) == b.read(name), name


def test_restore_into_an_emptied_database_creates_missing_users(full_review, tmp_path, owner):
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)
    prisma_before = prisma.prisma_counts(full_review).to_json()
    assert Record.objects.filter(review=full_review, duplicate_of__isnull=False).exists()
    full_review.delete()  # merged duplicates and all (screening.signals deletes them first)
    get_user_model().objects.filter(username__in=["roberto", "victor"]).delete()

    summary = restore_review(path=path, owner=owner)

    assert summary.review.slug == "msc-t2d"
    assert sorted(summary.users_created) == ["roberto", "victor"]
    roberto = get_user_model().objects.get(username="roberto")
    assert not roberto.has_usable_password()
    assert summary.review.votes.filter(reviewer=roberto).count() == 3
    assert prisma.prisma_counts(summary.review).to_json() == prisma_before


@pytest.mark.parametrize("how", ["instance", "queryset"])
def test_a_review_is_deleted_a_few_records_at_a_time(full_review, monkeypatch, how):
    # Django's cascade alone puts every record's id in one statement: PostgreSQL refuses
    # more than 65,535 parameters, so a review of 70,000 records could not be deleted.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from screening import signals

    monkeypatch.setattr(signals, "RECORDS_PER_DELETE", 2)
    records = Record.objects.filter(review=full_review).count()
    assert records > 4 and Record.objects.filter(duplicate_of__isnull=False).exists()
    with CaptureQueriesContext(connection) as queries:
        if how == "instance":
            full_review.delete()
        else:  # the admin's "delete selected"
            Review.objects.filter(pk=full_review.pk).delete()
    deletes = [q for q in queries if q["sql"].startswith('DELETE FROM "screening_record"')]
    assert len(deletes) == -(-records // 2)
    assert not Record.objects.exists() and not Review.objects.filter(pk=full_review.pk).exists()


def test_restoring_onto_a_taken_slug_changes_nothing(full_review, tmp_path):
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)
    rows = Record.objects.count()
    with pytest.raises(ReviewflowError) as err:
        restore_review(path=path)
    assert err.value.message == (
        "A review with the slug “msc-t2d” already exists: choose another with --slug."
    )
    assert Record.objects.count() == rows and Review.objects.count() == 1


def test_a_broken_archive_is_all_or_nothing(full_review, tmp_path, settings):
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "data/screening.vote.jsonl":
                # The last vote names a record the archive does not hold.
                lines = data.decode().splitlines()
                last = json.loads(lines[-1])
                last["fields"]["record"] = 999999
                data = "\n".join([*lines[:-1], json.dumps(last)]).encode()
            dst.writestr(item, data)
    media_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    reviews, records = Review.objects.count(), Record.objects.count()

    with pytest.raises(ReviewflowError, match="screening.vote.record points to screening.record"):
        restore_review(path=broken, slug="broken")

    assert (Review.objects.count(), Record.objects.count()) == (reviews, records)
    assert sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()) == media_before


def test_a_file_that_is_not_a_backup_is_refused(tmp_path, db):
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(ReviewflowError, match="x.zip: cannot open the backup"):
        restore_review(path=path)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "something-else"}))
    with pytest.raises(ReviewflowError, match="x.zip: not a reviewflow review backup."):
        restore_review(path=path)


def test_every_model_that_belongs_to_a_review_is_carried(db):
    labels = {mp.label for mp in backup_plan()}
    assert {
        "reviews.review",
        "reviews.membership",
        "reviews.auditevent",
        "screening.search",
        "screening.record",
        "screening.duplicatepair",
        "screening.stagesettings",
        "screening.vote",
        "screening.outcome",
        "screening.conflict",
        "screening.fulltextreport",
        "screening.pilotround",
        "screening.pilotvote",
        "screening.prismasettings",
    } <= labels
    assert not labels & set(backup.SKIPPED)


def test_a_model_the_archive_cannot_carry_is_named(db, monkeypatch):
    # Leaving searches out strands records, whose search the archive could not link.
    monkeypatch.setitem(backup.SKIPPED, "screening.search", "pretend")
    with pytest.raises(ReviewflowError, match=r"Backups cannot carry screening\.record\.search"):
        backup_plan()


def test_commands_back_up_and_restore(full_review, outsider, tmp_path, capsys):
    path = tmp_path / "out" / "msc.zip"
    call_command("backupreview", "msc-t2d", "-o", str(path))
    assert (
        f"Backed up “MSC therapy in type 2 diabetes” (msc-t2d) to {path}" in capsys.readouterr().out
    )
    call_command("restorereview", str(path), "--slug", "msc-2", "--owner", "oscar")
    out = capsys.readouterr().out
    assert "Restored “MSC therapy in type 2 diabetes” as msc-2" in out
    assert Review.objects.get(slug="msc-2").memberships.get(user__username="oscar").role == "owner"
    with pytest.raises(CommandError, match="No review with the slug “nope”."):
        call_command("backupreview", "nope", "-o", str(path))
    with pytest.raises(CommandError, match="already exists"):
        call_command("restorereview", str(path), "--slug", "msc-2")


def test_a_review_still_importing_is_not_backed_up(full_review, tmp_path):
    Search.objects.filter(review=full_review, source="Scopus").update(status="running")
    with pytest.raises(ReviewflowError) as err:
        backup_review(review=full_review, path=tmp_path / "x.zip")
    assert err.value.message == (
        "1 search of “msc-t2d” is still importing: back up once it has finished."
    )
    assert not list(tmp_path.iterdir())


def test_a_review_with_extraction_forms_restores_as_a_copy_beside_its_original(
    full_review, owner, tmp_path
):
    published = published_form(full_review, owner)
    draft = new_form_version(form=published, actor=owner)
    other = published_form(full_review, owner)
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)

    restored = restore_review(path=path, slug="msc-copy").review

    copies = Form.objects.filter(review=restored)
    assert sorted((f.version, f.status) for f in copies) == [
        (1, "published"),
        (1, "published"),
        (2, "draft"),
    ]
    # New families, and both versions of the first still share one.
    families = {f.family for f in copies}
    assert len(families) == 2 and not families & {published.family, other.family}
    draft_copy = copies.get(status="draft")
    assert copies.get(family=draft_copy.family, version=1).spec == published.spec
    assert Form.objects.filter(family=draft.family).count() == 2  # the original is untouched
    # The audit trail's form events point to the copy's forms.
    events = AuditEvent.objects.filter(review=restored, object_type="extraction_form")
    assert events.exists()
    assert all(Form.objects.get(pk=e.object_id).review_id == restored.pk for e in events)


def test_a_unique_value_a_copy_cannot_renew_is_named(db, monkeypatch):
    unique_title = models.UniqueConstraint(fields=["title"], name="form_title_unique")
    monkeypatch.setattr(Form._meta, "constraints", [*Form._meta.constraints, unique_title])
    with pytest.raises(ReviewflowError) as err:
        backup_plan()
    assert err.value.message == (
        "Backups cannot restore extraction.form as a copy: its unique form_title_unique "
        "(title) would clash with the original's. Teach reviewflow/reviews/backup.py how to "
        "give a copy new values."
    )


def rewritten(path, tmp_path, replace):
    """A copy of the archive at ``path`` whose entries ``replace`` may swap: it gets the
    entry's name and the destination zip, and returns True when it wrote the entry itself."""
    out = tmp_path / "crafted.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if not replace(item.filename, dst):
                dst.writestr(item, src.read(item))
    return out


def search_file_entry(path):
    with zipfile.ZipFile(path) as archive:
        return next(n for n in archive.namelist() if n.startswith("files/screening.search/"))


def assert_nothing_restored(settings, media_before, reviews, records):
    assert (Review.objects.count(), Record.objects.count()) == (reviews, records)
    assert sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()) == media_before


def test_a_zip_bomb_is_refused_before_anything_is_written(full_review, tmp_path, settings):
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)
    bomb = search_file_entry(path)
    zeros = bytes(1 << 20)

    def huge_zeros(entry, dst):
        if entry != bomb:
            return False
        # 256 MB of zeros, written a megabyte at a time: the archive stays small.
        with dst.open(entry, "w", force_zip64=True) as out:
            for _ in range(256):
                out.write(zeros)
        return True

    crafted = rewritten(path, tmp_path, huge_zeros)
    assert crafted.stat().st_size < 2 * 1024 * 1024
    media_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    reviews, records = Review.objects.count(), Record.objects.count()
    tracemalloc.start()
    try:
        with pytest.raises(ReviewflowError) as err:
            restore_review(path=crafted, slug="bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert err.value.message.startswith(f"crafted.zip: entry {bomb} unpacks to 268,435,456 bytes")
    assert err.value.message.endswith(
        "(more than 100:1), which looks like a zip bomb; nothing was changed."
    )
    assert peak < 32 * 1024 * 1024
    assert_nothing_restored(settings, media_before, reviews, records)


def test_a_stored_file_over_the_upload_limit_is_refused(full_review, tmp_path, settings):
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)
    big = search_file_entry(path)
    settings.MAX_UPLOAD_MB = 1

    def incompressible(entry, dst):
        if entry != big:
            return False
        dst.writestr(entry, os.urandom(1024 * 1024 + 1))
        return True

    crafted = rewritten(path, tmp_path, incompressible)
    media_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    reviews, records = Review.objects.count(), Record.objects.count()
    with pytest.raises(ReviewflowError) as err:
        restore_review(path=crafted, slug="big")
    assert err.value.message == (
        f"crafted.zip: entry {big} unpacks to 1,048,577 bytes, more than the upload limit of "
        "1 MB (MAX_UPLOAD_MB); nothing was changed."
    )
    with pytest.raises(CommandError, match=f"entry {big} unpacks to 1,048,577 bytes"):
        call_command("restorereview", str(crafted), "--slug", "big")
    assert_nothing_restored(settings, media_before, reviews, records)


def test_a_row_line_over_the_upload_limit_is_refused_and_nothing_stays(
    full_review, tmp_path, settings
):
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)
    settings.MAX_UPLOAD_MB = 1

    def long_vote_line(entry, dst):
        if entry != "data/screening.vote.jsonl":
            return False
        # Random hex deflates about 2:1, so only the line limit can stop it.
        dst.writestr(entry, os.urandom(600 * 1024).hex() + "\n")
        return True

    crafted = rewritten(path, tmp_path, long_vote_line)
    media_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    reviews, records = Review.objects.count(), Record.objects.count()
    with pytest.raises(ReviewflowError) as err:
        restore_review(path=crafted, slug="long")
    assert err.value.message == (
        "crafted.zip: data/screening.vote.jsonl line 1 is longer than the upload limit of "
        "1 MB (MAX_UPLOAD_MB); nothing was changed."
    )
    # Searches and their files came before votes: they are rolled back and deleted.
    assert_nothing_restored(settings, media_before, reviews, records)


def test_an_entry_compressed_otherwise_than_backups_are_is_refused(full_review, tmp_path):
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)
    entry = search_file_entry(path)

    def bzip2(name, dst):
        if name != entry:
            return False
        dst.writestr(name, b"TY  - JOUR\n", compress_type=zipfile.ZIP_BZIP2)
        return True

    crafted = rewritten(path, tmp_path, bzip2)
    with pytest.raises(ReviewflowError) as err:
        restore_review(path=crafted, slug="bz")
    assert err.value.message == (
        f"crafted.zip: entry {entry} is compressed in a way backupreview never writes "
        "(only stored and deflated entries are read); nothing was changed."
    )


def test_a_damaged_archive_is_refused_and_nothing_stays(full_review, tmp_path, settings):
    path = tmp_path / "msc.zip"
    backup_review(review=full_review, path=path)
    media_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    reviews, records = Review.objects.count(), Record.objects.count()

    with zipfile.ZipFile(path) as archive:
        votes = archive.read("data/screening.vote.jsonl").decode().splitlines()
    first = json.loads(votes[0])

    def vote_lines(*lines):
        def replace(entry, dst):
            if entry != "data/screening.vote.jsonl":
                return False
            dst.writestr(entry, "\n".join(lines) + "\n")
            return True

        return replace

    crafted = rewritten(path, tmp_path, vote_lines(votes[0], '{"pk": 2, "fie'))
    with pytest.raises(ReviewflowError) as err:
        restore_review(path=crafted, slug="damaged")
    assert err.value.message == (
        "crafted.zip: data/screening.vote.jsonl line 2 is not a row of JSON; nothing was changed."
    )
    assert_nothing_restored(settings, media_before, reviews, records)

    first["fields"]["created_at"] = "yesterday"
    crafted = rewritten(path, tmp_path, vote_lines(json.dumps(first)))
    with pytest.raises(ReviewflowError) as err:
        restore_review(path=crafted, slug="damaged")
    assert err.value.message.startswith(
        f"crafted.zip: screening.vote {first['pk']}: created_at: “yesterday” value has an "
    )
    assert_nothing_restored(settings, media_before, reviews, records)

    # Bytes changed inside a stored file's entry: its CRC no longer matches.
    entry = search_file_entry(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(entry)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ReviewflowError, match=r"^damaged.zip: the archive is damaged \("):
        restore_review(path=damaged, slug="damaged")
    assert_nothing_restored(settings, media_before, reviews, records)
