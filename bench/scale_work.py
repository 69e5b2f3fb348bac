"""The subprocess workers of ``bench/scale.py`` (#25), and its backup and restore timing.

Each ``worker_*`` runs in a subprocess started by ``bench/scale.py --worker KIND …`` with
``DATABASE_URL`` set to one of the benchmark's databases, and returns one JSON object:

- ``build``: migrate, then write the reviews with ``COPY`` (``scale-big`` first).
- ``pages``, ``plans``: the big review's pages timed; the plan check of the hot paths.
- ``import``: a new review, a RIS file imported through the service the Celery task runs,
  then the deduplication and the document matrix the import queues, each timed apart.
- ``drop-review``: the restored copy of ``scale-big`` counted against the original, then
  deleted (``run_backup_restore``, which times ``backupreview`` and ``restorereview``).
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import screening as base  # record text

REPO = Path(__file__).resolve().parent.parent
STAGE = "title-abstract"
BIG = "scale-big"
IMPORTED = "scale-import"  # the review the import step makes
RESTORED = "scale-big-restored"  # the copy restorereview makes, deleted after
DUPLICATE_EVERY = 4  # a quarter of the records are duplicates
PAIR_EVERY = 20
CONFLICT_EVERY = 10
POOL = 4_000  # distinct abstracts and titles drawn, reused with a record number

# ---------------------------------------------------------------- build (subprocess)


def _defaults(model: Any) -> dict[str, Any]:
    """Each column's default as ``COPY`` takes it (JSON as text)."""
    out: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        value = f.get_default() if (f.has_default() or f.empty_strings_allowed) else None
        if isinstance(value, dict | list):
            value = json.dumps(value)
        out[f.column] = value
    return out


class Copier:
    """Rows of one model through ``COPY``, ids given (so votes can be referred to)."""

    def __init__(self, cursor: Any, model: Any) -> None:
        self.model = model
        self.defaults = _defaults(model)
        self.columns = ["id", *self.defaults]
        table = model._meta.db_table
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
        self.next_id = cursor.fetchone()[0] + 1
        cols = ", ".join(f'"{c}"' for c in self.columns)
        self.copy = cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN")  # noqa: S608
        self.writer = self.copy.__enter__()
        self.rows = 0

    def write(self, **values: Any) -> int:
        row_id = self.next_id
        self.next_id += 1
        merged = {**self.defaults, **values}
        self.writer.write_row([row_id, *(merged[c] for c in self.columns[1:])])
        self.rows += 1
        return row_id

    def close(self, cursor: Any) -> None:
        self.copy.__exit__(None, None, None)
        table = self.model._meta.db_table
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )


def worker_build(sizes: list[int], load_users: int, big_screened: float) -> dict[str, Any]:
    """Migrate, then write the reviews of ``sizes`` (the first is ``scale-big``)."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from reviewflow.reviews.models import AuditEvent, Role
    from reviewflow.reviews.services import add_member, create_review
    from screening.models import (
        Conflict,
        DuplicatePair,
        Outcome,
        Record,
        ScreeningState,
        Search,
        SearchStatus,
        Vote,
    )

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        empty_bytes = cursor.fetchone()[0]
    rng = random.Random(2025)
    abstracts = [base._abstract(rng) for _ in range(POOL)]
    titles = [base._sentence(rng).rstrip(".") for _ in range(POOL)]
    now = timezone.now()
    owner = User.objects.create_user("scale-owner")
    earlier = [User.objects.create_user(f"scale-earlier-{n}") for n in (1, 2)]
    load = [User.objects.create_user(f"scale-load-{n:02d}") for n in range(load_users)]
    tokens = [Token.objects.create(user=u).key for u in load]
    reviews = []
    searches = []
    for n, size in enumerate(sizes):
        slug = BIG if n == 0 else f"scale-{n:03d}"
        review = create_review(title=f"Scale review {n}", slug=slug, owner=owner)
        for user in earlier:
            add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
        reviews.append(review)
        searches.append(
            Search.objects.create(
                review=review,
                source="MEDLINE",
                filename=f"{slug}.ris",
                format="ris",
                status=SearchStatus.DONE,
                records_read=size,
                records_imported=size,
                created_by=owner,
            )
        )
    # Half the load users screen the big review; the others one of the next largest each.
    half = load_users // 2
    slugs = []
    for i, user in enumerate(load):
        others = len(reviews) - 1
        review = reviews[0] if i < half or not others else reviews[1 + (i - half) % others]
        if not review.memberships.filter(user=user).exists():
            add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
        slugs.append(review.slug)
    setup = time.perf_counter()

    counts = dict.fromkeys(("records", "votes", "outcomes", "conflicts", "pairs", "audit"), 0)
    with transaction.atomic(), connection.cursor() as cursor:
        for review, search, size in zip(reviews, searches, sizes, strict=True):
            screened_share = big_screened if review.slug == BIG else rng.random()
            records = Copier(cursor, Record)
            ids: list[int] = []
            unique: list[int] = []
            for pos in range(1, size + 1):
                k = rng.randrange(POOL)
                title = f"{titles[k]} ({review.pk}.{pos})"
                authors = [f"{rng.choice(base._SURNAMES)}, {rng.choice('ABCDEFGH')}."] * 3
                year = rng.randint(1995, 2024)
                journal = rng.choice(base._JOURNALS)
                pmid = str(review.pk * 10_000_000 + pos)
                doi = f"10.{1000 + review.pk}/scale.{pos}"
                duplicate = pos > 1 and pos % DUPLICATE_EVERY == 2
                raw = {"TY": ["JOUR"], "TI": [title], "AU": authors, "PY": [str(year)]}
                raw |= {"JO": [journal], "DO": [doi], "AB": [abstracts[k]]}
                rid = records.write(
                    review_id=review.pk,
                    search_id=search.pk,
                    position=pos,
                    line=1 + (pos - 1) * 24,
                    source_record_id=pmid,
                    title=title,
                    abstract=abstracts[k],
                    authors=json.dumps(authors),
                    year=year,
                    journal=journal,
                    doi=doi,
                    pmid=pmid,
                    language="eng",
                    publication_type="JOUR",
                    raw=json.dumps(raw),
                    duplicate_of_id=ids[-1] if duplicate else None,
                    merge_kind="auto" if duplicate else "",
                    created_at=now,
                )
                ids.append(rid)
                if not duplicate:
                    unique.append(rid)
            records.close(cursor)
            counts["records"] += records.rows
            pairs = Copier(cursor, DuplicatePair)
            for pos in range(PAIR_EVERY, size, PAIR_EVERY):
                pairs.write(
                    review_id=review.pk,
                    record_a_id=ids[pos - 1],
                    record_b_id=ids[pos],
                    score=round(rng.uniform(0.5, 0.95), 3),
                    reasons=json.dumps(["title", "year"]),
                    decision="pending" if rng.random() < 0.3 else "confirmed",
                    created_at=now,
                )
            pairs.close(cursor)
            counts["pairs"] += pairs.rows
            # Screened: a prefix of the unique records in the order next offers them
            # (``record_screening_order``).
            unique.sort(key=lambda rid: (rid * 7919 % 10007, rid))
            screened = unique[: int(len(unique) * screened_share)]
            # One COPY at a time on a connection: each table in its own pass.
            votes = Copier(cursor, Vote)
            vote_ids = []
            for rid in screened:
                decision = "include" if rid % 5 == 0 else "exclude"
                for slot, user in enumerate(earlier, start=1):
                    vote_ids.append(
                        votes.write(
                            review_id=review.pk,
                            record_id=rid,
                            stage=STAGE,
                            reviewer_id=user.pk,
                            slot=slot,
                            decision=decision,
                            created_at=now,
                        )
                    )
            votes.close(cursor)
            states = Copier(cursor, ScreeningState)
            for rid in screened:
                states.write(review_id=review.pk, record_id=rid, stage=STAGE, votes=2, closed=True)
            states.close(cursor)
            conflicts = Copier(cursor, Conflict)
            for n, rid in enumerate(screened):
                if n % CONFLICT_EVERY == 3:
                    conflicts.write(review_id=review.pk, record_id=rid, stage=STAGE, created_at=now)
            conflicts.close(cursor)
            outcomes = Copier(cursor, Outcome)
            for n, rid in enumerate(screened):
                if n % CONFLICT_EVERY == 3:
                    continue
                outcomes.write(
                    review_id=review.pk,
                    record_id=rid,
                    stage=STAGE,
                    decision="include" if rid % 5 == 0 else "exclude",
                    kind="agreement",
                    created_at=now,
                )
            outcomes.close(cursor)
            # As the app writes them: each vote by its voter, and each record it settles a
            # system event (no actor) of the record: agreed, or a conflict opened.
            audit = Copier(cursor, AuditEvent)
            voters = [user.pk for _ in screened for user in earlier]
            for vid, actor in zip(vote_ids, voters, strict=True):
                audit.write(
                    review_id=review.pk,
                    actor_id=actor,
                    action="vote.cast",
                    target=f"vote {vid}",
                    object_type="vote",
                    object_id=vid,
                    created_at=now,
                )
            for n, rid in enumerate(screened):
                agreed = n % CONFLICT_EVERY != 3
                audit.write(
                    review_id=review.pk,
                    action="outcome.agreed" if agreed else "conflict.opened",
                    target=f"record {rid}",
                    object_type="record",
                    object_id=rid,
                    created_at=now,
                )
            audit.close(cursor)
            counts["votes"] += votes.rows
            counts["outcomes"] += outcomes.rows
            counts["conflicts"] += conflicts.rows
            counts["audit"] += audit.rows
    copied = time.perf_counter()
    connection.cursor().execute("VACUUM ANALYZE")
    analysed = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size_bytes = cursor.fetchone()[0]
    return {
        "tokens": tokens,
        "slugs": slugs,
        "counts": counts,
        "migrate_s": migrated - started,
        "copy_s": copied - setup,
        "analyse_s": analysed - copied,
        "total_s": analysed - started,
        "bytes": size_bytes,
        "empty_bytes": empty_bytes,
    }


# ---------------------------------------------------------------- pages (subprocess)

PAGES = {
    "records list, page 1": f"/r/{BIG}/records/",
    "records list, middle page": f"/r/{BIG}/records/?page=MIDDLE",
    "records API, page 1": f"/api/v1/reviews/{BIG}/records/",
    "records API, middle page": f"/api/v1/reviews/{BIG}/records/?page=MIDDLE",
    "PRISMA (API)": f"/api/v1/reviews/{BIG}/prisma/",
    "PRISMA page": f"/r/{BIG}/prisma/",
    "duplicate queue": f"/r/{BIG}/duplicates/",
    "export all records (CSV)": f"/r/{BIG}/exports/records-all.csv",
}


def worker_pages(repeat: int, big: int) -> dict[str, Any]:
    """Each of ``PAGES`` timed; the middle page is half way through the big review's
    records, 50 a page (the page size of the list and of the API)."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="scale-owner"))
    out: dict[str, Any] = {}
    for name, url in PAGES.items():
        url = url.replace("MIDDLE", str(max(1, big // 100)))
        times = []
        for _ in range(repeat + 1):  # the first warms caches and is not counted
            started = time.perf_counter()
            response: Any = client.get(url)
            size = len(b"".join(response.streaming_content)) if response.streaming else 0
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code}")
        out[name] = {"ms": statistics.median(times[1:]), "bytes": size}
    return out


def worker_plans() -> dict[str, Any]:
    """The plan check of ``tests/screening/test_scale_plans.py`` on this database: every
    read-only hot path's queries explained, problems listed (the test's own data is far
    smaller; here the planner sees the real proportions)."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.screening import test_scale_plans as plans

    client = Client()
    client.force_login(User.objects.get(username="scale-owner"))
    out: dict[str, list[str]] = {}
    for name, visit in plans.HOT_PATHS.items():
        if name.startswith(("next", "screening page")):
            continue  # they write (a vote, a claim): left to the load above
        with CaptureQueriesContext(connection) as ctx:
            visit(client, BIG)
        out[name] = plans.explain_all(list(ctx.captured_queries))
    return out


# ---------------------------------------------------------------- import (subprocess)


def write_ris(path: Path, count: int, duplicates: float = 0.25) -> int:
    """``count`` RIS records: ``bench/import.py``'s synthetic export (a module named
    ``import``, so loaded by name) for all but the share ``duplicates``, which repeat
    earlier records (drawn at random, appended in random order) as a second database
    exports them: the title in lower case with a full stop, and half of them without DOI
    or URL. Returns how many are repeats."""
    import importlib

    repeats = int(count * duplicates)
    rng = random.Random(25)
    chosen = set(rng.sample(range(count - repeats), repeats))
    importlib.import_module("bench.import").write_ris(path, count - repeats)
    again: list[str] = []
    with path.open(encoding="utf-8") as ris:
        number, block = 0, []
        for line in ris:
            if number in chosen:
                block.append(line)
            if line.startswith("ER  -"):
                if block:
                    again.append(_exported_again(block, bare=len(again) % 2 == 0))
                number, block = number + 1, []
    rng.shuffle(again)
    with path.open("a", encoding="utf-8", newline="\n") as out:
        out.writelines(again)
    return repeats


def _exported_again(block: list[str], *, bare: bool) -> str:
    lines = []
    for line in block:
        if line.startswith("TI  - "):
            line = f"TI  - {line[6:].rstrip().lower()}.\n"
        elif bare and line.startswith(("DO  - ", "UR  - ")):
            continue
        lines.append(line)
    return "".join(lines) + "\n\n"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker_import(path: str) -> dict[str, Any]:
    """Upload ``path`` as a search of a new review (``create_search``), then run the tasks
    the upload and the import queue, in the order a worker receives them, each timed:
    ``import_search`` (``run_import``), then ``dedup_search`` and ``build_document_matrix``
    (sent when the import commits). The tasks are called in this process (a Celery worker
    calls the same functions); ``send_task`` is caught so that each runs once, timed apart.
    Peak memory is this process's (a large file is parsed in a second process, not counted)."""
    import django

    django.setup()
    from django.contrib.auth.models import User

    from reviewflow.broker import task_named
    from reviewflow.reviews.services import create_review
    from screening.models import DuplicatePair, Record, Search, SearchStatus
    from screening.services import identification

    sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def catch(task: Any, *args: Any, **kwargs: Any) -> bool:
        sent.append((task if isinstance(task, str) else task.name, args, kwargs))
        return True

    identification.send_task = catch

    def run(name: str) -> tuple[Any, float]:
        found = [(args, kwargs) for task, args, kwargs in sent if task == name]
        if len(found) != 1:
            raise SystemExit(f"expected one {name} task to be queued, found {len(found)}")
        args, kwargs = found[0]
        started = time.perf_counter()
        value = task_named(name)(*args, **kwargs)
        return value, time.perf_counter() - started

    owner = User.objects.get(username="scale-owner")
    review = create_review(title="Scale import", slug=IMPORTED, owner=owner)
    started = time.perf_counter()
    with open(path, "rb") as upload:
        search = identification.create_search(
            review=review, actor=owner, file=upload, filename=Path(path).name, source="MEDLINE"
        )
    upload_s = time.perf_counter() - started
    status, import_s = run(identification.IMPORT_TASK)
    import_peak = _peak_mb()
    search = Search.objects.get(pk=search.pk)
    if status != SearchStatus.DONE:
        raise SystemExit(f"import ended as {status}: {search.failure}")
    merged, dedup_s = run(identification.DEDUP_TASK)
    dedup_peak = _peak_mb()
    matrix_rows, matrix_s = run(identification.MATRIX_TASK)
    records = Record.objects.filter(review=review)
    return {
        "upload_s": upload_s,
        "import_s": import_s,
        "dedup_s": dedup_s,
        "matrix_s": matrix_s,
        "matrix_rows": matrix_rows,
        "read": search.records_read,
        "imported": search.records_imported,
        "rejected": search.records_rejected,
        "merged": merged,
        "remaining": records.filter(duplicate_of__isnull=True).count(),
        "pending": DuplicatePair.objects.filter(review=review, decision="pending").count(),
        "import_peak_mb": import_peak,
        "dedup_peak_mb": dedup_peak,
    }


# ---------------------------------------------------------------- backup and restore


def measured(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd`` to its end: wall time, and peak resident memory from ``wait4`` (that
    process's own ``ru_maxrss``, not the largest of every child this process has had, as
    ``RUSAGE_CHILDREN`` would give)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} exited {proc.returncode}: {text[-2000:]}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "output": text.strip()}


def run_backup_restore(env: dict[str, str], data_dir: Path) -> dict[str, Any]:
    """``manage.py backupreview scale-big``, then ``restorereview`` of its archive as a new
    review (``RESTORED``) in the same database, each timed with its peak memory; then the
    copy is checked and deleted (``worker_drop_review``), leaving the database as before."""
    archive = data_dir / f"{BIG}.zip"
    manage = [sys.executable, str(REPO / "manage.py")]
    backup = measured([*manage, "backupreview", BIG, "-o", str(archive)], env)
    size = archive.stat().st_size
    restore = measured([*manage, "restorereview", str(archive), "--slug", RESTORED], env)
    archive.unlink()
    scale = [sys.executable, str(REPO / "bench" / "scale.py")]
    dropped = base._run_json([*scale, "--worker", "drop-review"], env)
    return {"backup": backup, "restore": restore, "bytes": size, **dropped}


def worker_drop_review() -> dict[str, Any]:
    """Count the restored copy's rows against the original's, then delete the copy with
    every row that points at it, by Django's cascade."""
    import django

    django.setup()
    from django.db import transaction

    from reviewflow.reviews.backup import backup_plan
    from reviewflow.reviews.models import Review

    original, copy = Review.objects.get(slug=BIG), Review.objects.get(slug=RESTORED)
    differ = {}
    for plan in backup_plan():
        a, b = plan.rows_of(original).count(), plan.rows_of(copy).count()
        if a != b and plan.label != "reviews.auditevent":  # the restore audits itself
            differ[plan.label] = [a, b]
    started = time.perf_counter()
    with transaction.atomic():
        deleted, _ = copy.delete()  # merges and all (screening.signals undoes them first)
    delete_s = time.perf_counter() - started
    left = Review.objects.filter(slug=RESTORED).exists()
    return {"differ": differ, "delete_s": delete_s, "deleted_rows": deleted, "left": left}
