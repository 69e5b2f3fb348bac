"""Importing one search (an export file) into a review, streamed and in batches.

The import runs in a Celery task (``screening.tasks.import_search``) that may be delivered
twice (``acks_late``) or killed half-way. ``run_import`` is therefore written to be re-run:
each run takes the search over by bumping ``attempt``, deletes whatever an earlier attempt
left, and writes its batches only while it still owns the search. Records of a search are
shown nowhere until the search is ``done``, so nobody sees a half-imported file, and a file
that fails leaves no records at all.

A file of at least ``IMPORT_PARSER_PROCESS_MIN_MB`` is parsed in a second process while this
one writes (``screening.importers.pipeline``); both ways give the same rows.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, reset_queries, transaction
from django.db.models import Q
from django.utils import timezone

from reviewflow import bulk
from reviewflow.broker import send_task, task_named
from reviewflow.errors import ReviewflowError
from reviewflow.heartbeat import beating, later_beat
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening import bibliography
from screening.importers import ENCODINGS, FORMATS, FileFormatError, Rejection
from screening.importers.pipeline import (
    READ_ERRORS,
    VALUE_COLUMNS,
    InProcess,
    Item,
    ParserCrashed,
    ParserProcess,
)
from screening.importers.tabular import FIELD_NAMES
from screening.models import (
    OtherMethod,
    Record,
    Search,
    SearchQuerySet,
    SearchStatus,
    SourceType,
    Vote,
)
from screening.selectors.rounds import current_round

log = logging.getLogger(__name__)

BATCH_SIZE = 5000  # records per transaction: progress moves every few thousand records
MAX_STORED_ERRORS = 1000
IMPORT_DEFERRED = "Search saved; the import will start when the task queue is back."
# The tasks sit above this module and call it, so it queues them by name.
IMPORT_TASK = "screening.tasks.import_search"
DEDUP_TASK = "screening.tasks.dedup_search"
MATRIX_TASK = "screening.tasks.build_document_matrix"  # screening.services.prioritisation
COLUMN_MAP_FIELDS = FIELD_NAMES


_Source = InProcess | ParserProcess


class _Superseded(Exception):
    """Another run of the same task took the search over; this one stops quietly."""


def max_upload_bytes() -> int:
    return int(settings.MAX_UPLOAD_MB) * 1024 * 1024


@transaction.atomic
def create_search(
    *,
    review: Review,
    actor: User | None,
    file: UploadedFile | IO[bytes],
    filename: str,
    source: str,
    source_type: str = SourceType.DATABASE,
    other_method: str = "",
    search_date: date | None = None,
    search_string: str = "",
    fmt: str = "auto",
    column_map: dict[str, str] | None = None,
    encoding: str = "auto",
    supersedes: int | None = None,
) -> Search:
    """Store an uploaded export as a new search and queue its import after commit.

    A file whose content was already imported into the review is refused
    (``RepeatedSearch``, naming the earlier search) unless ``supersedes`` names that
    search: the new one is then a new run of it and replaces it once imported.
    """
    source = source.strip()
    if not source:
        raise ReviewflowError("Name the source of this search (e.g. PubMed).", field="source")
    if source_type not in SourceType.values:
        raise ReviewflowError(
            f"Unknown source type “{source_type}”: choose database, register or other.",
            field="source_type",
        )
    if other_method and other_method not in OtherMethod.values:
        raise ReviewflowError(
            f"Unknown other method “{other_method}”: choose website, organisation or citation.",
            field="other_method",
        )
    if source_type != SourceType.OTHER:
        other_method = ""
    if fmt != "auto" and fmt not in FORMATS:
        raise ReviewflowError(
            f"Unknown format “{fmt}”: choose auto or one of {', '.join(FORMATS)}.",
            field="format",
        )
    if encoding != "auto" and encoding not in ENCODINGS:
        raise ReviewflowError(
            f"Unknown encoding “{encoding}”: choose auto or one of {', '.join(ENCODINGS)}.",
            field="encoding",
        )
    column_map = {k.strip(): v for k, v in (column_map or {}).items() if k.strip() and v}
    bad = sorted(set(column_map.values()) - set(COLUMN_MAP_FIELDS))
    if bad:
        raise ReviewflowError(
            f"Unknown field in the column mapping: {', '.join(bad)}.", field="column_map"
        )
    size = _size_of(file)
    if size == 0:
        raise ReviewflowError(f"{filename}: the file is empty.", field="file")
    if size > max_upload_bytes():
        raise ReviewflowError(
            f"{filename}: the file is {size / 1048576:.1f} MB; the limit is "
            f"{settings.MAX_UPLOAD_MB} MB.",
            field="file",
        )
    earlier = check_supersedes(review=review, supersedes=supersedes)
    content_sha256 = _content_sha256(file)
    check_not_repeated(review=review, content_sha256=content_sha256, supersedes=earlier)
    from django.core.files import File

    search = Search(
        review=review,
        source=source[:120],
        source_type=source_type,
        other_method=other_method,
        search_date=search_date,
        search_string=search_string.strip(),
        filename=filename[:255],
        file_size=size,
        format_requested=fmt,
        encoding_requested=encoding,
        column_map=column_map,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        content_sha256=content_sha256,
        supersedes=earlier,
        round=current_round(review),
    )
    search.file.save(filename[-100:] or "export", File(file), save=False)
    search.save()
    record_audit(
        review=review,
        actor=actor,
        action="search.created",
        target=f"{source}: {filename}",
        after={
            "source_type": source_type,
            "format": fmt,
            "encoding": encoding,
            "size": size,
            "supersedes": earlier.pk if earlier else None,
        },
    )
    search_id = search.pk

    def send() -> None:
        # When the broker is down the search stays queued and the worker sends its import
        # when it connects; the caller tells the user (``IMPORT_DEFERRED``).
        if not send_task(IMPORT_TASK, search_id):
            search.import_deferred = True

    transaction.on_commit(send)
    return search


def _size_of(file: Any) -> int:
    size = getattr(file, "size", None)
    if size is not None:
        return int(size)
    pos = file.tell()
    file.seek(0, io.SEEK_END)
    end = file.tell()
    file.seek(pos)
    return int(end - pos)


def _claim(search_id: int, only_if_queued: bool = False) -> tuple[Search, int] | None:
    """Take the search over for this run; ``None`` when it is already finished (or, with
    ``only_if_queued``, when another run has taken it)."""
    with transaction.atomic():
        search = Search.objects.select_for_update().get(pk=search_id)
        if search.is_finished or (only_if_queued and search.status != SearchStatus.QUEUED):
            return None
        search.attempt += 1
        search.status = SearchStatus.RUNNING
        search.started_at = timezone.now()
        search.bytes_read = search.records_read = 0
        search.records_imported = search.records_rejected = 0
        search.errors, search.warnings, search.failure = [], [], ""
        search.save()
        # Whatever an earlier, interrupted attempt wrote goes before this one starts.
        Record.objects.filter(search=search).delete()
        # The first heartbeat is taken last: however long the deletion took, the run is
        # not silent when this commits (a restart pass waits for the row meanwhile).
        search.heartbeat_at = timezone.now()
        Search.objects.filter(pk=search.pk).update(heartbeat_at=search.heartbeat_at)
        return search, search.attempt


# The columns of a record row: ``_Batch`` puts the review, the search and the
# position before the values of ``pipeline.record_values``, and the creation time after.
RECORD_COLUMNS = ("review_id", "search_id", "position", *VALUE_COLUMNS, "created_at")


class _Batch:
    """The next ``BATCH_SIZE`` records of a file as rows, read while they are written.

    Rejections are counted on the search as they pass. A record's position is its 1-based
    place among the file's results, so it equals ``search.records_read``. ``ended``: the
    file had no more records.
    """

    def __init__(self, items: Iterator[Item], search: Search):
        self.items, self.search, self.ended = items, search, False

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        search = self.search
        review_id, search_id = search.review_id, search.pk
        created_at = search.started_at or timezone.now()
        added = 0
        for item in self.items:
            search.records_read += 1
            if isinstance(item, Rejection):
                search.records_rejected += 1
                if len(search.errors) < MAX_STORED_ERRORS:
                    search.errors.append({"line": item.line, "message": item.message})
                continue
            yield (review_id, search_id, search.records_read, *item, created_at)
            added += 1
            if added >= BATCH_SIZE:
                return
        self.ended = True


def _import_batch(source: _Source, search: Search, attempt: int) -> bool:
    """Read and store the next batch of records in one transaction; whether the file ended.

    On PostgreSQL the records go into a ``COPY`` as they are read, so the server stores
    one while the next is read (no batch held in memory); on SQLite, which writes in this
    process, the batch is read first and written after, so the write lock is held only
    while writing.
    """
    batch = _Batch(source.items, search)
    rows: Iterable[tuple[Any, ...]] = batch if connection.vendor == "postgresql" else list(batch)
    with transaction.atomic():
        _check_owner(search, attempt)
        added = bulk.insert_rows(Record, RECORD_COLUMNS, rows)
        _record_progress(search, added, source.bytes_read)
    # A worker run with DEBUG on would otherwise keep every query's text in memory.
    reset_queries()
    return batch.ended


def _cpus() -> int:
    """CPUs this process may run on (all of the machine's where the system cannot say)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; not macOS
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def _parse_in_child(search: Search) -> bool:
    """Whether to parse the search's file in a second process (see ``pipeline``): a file
    of at least ``IMPORT_PARSER_PROCESS_MIN_MB``, stored on disk, on a machine with more
    than one CPU for this process. Smaller files import faster without starting one."""
    threshold = settings.IMPORT_PARSER_PROCESS_MIN_MB
    if threshold < 0 or search.file_size < threshold * 1048576:
        return False
    if _cpus() < 2:
        return False
    try:
        search.file.path  # noqa: B018 - raises for storages without local files
    except NotImplementedError:
        return False
    return True


@contextmanager
def _open_source(search: Search) -> Iterator[_Source]:
    """The search's file as items, parsed in a second process or in this one."""
    fmt, column_map = search.format_requested, search.column_map
    encoding = search.encoding_requested
    gzip_limit = 20 * max_upload_bytes()
    if _parse_in_child(search):
        try:
            child = ParserProcess(
                search.file.path,
                fmt=fmt,
                column_map=column_map,
                gzip_limit=gzip_limit,
                encoding=encoding,
            )
        except ParserCrashed as exc:
            # It never began reading (an interpreter that cannot run it, say, or a crash
            # before the first record): the file is parsed here instead, and an error in
            # the file itself shows there as it would have.
            log.warning("search %s: parsing in this process instead: %s", search.pk, exc)
        else:
            with child:
                yield child
            return
    with search.file.open("rb") as stored:
        source = InProcess(
            stored, fmt=fmt, column_map=column_map, gzip_limit=gzip_limit, encoding=encoding
        )
        try:
            yield source
        finally:
            source.close()


def run_import(
    *,
    search_id: int,
    on_batch: Callable[[Search], None] | None = None,
    only_if_queued: bool = False,
) -> Search:
    """Parse the search's file and store its records; safe to run again at any point.

    ``only_if_queued`` (a re-sent task, see ``requeue_queued_searches``) leaves a search
    that another run has started alone: that run, or its redelivery, finishes it.

    ``on_batch`` is called after each committed batch of ``BATCH_SIZE`` records but the
    last (tests use it to interrupt a run).
    """
    claimed = _claim(search_id, only_if_queued)
    if claimed is None:
        return Search.objects.get(pk=search_id)
    search, attempt = claimed
    try:
        with beating(lambda: _beat(search_id, attempt)), _open_source(search) as source:
            search.format, search.encoding = source.format, source.encoding
            search.warnings = list(source.warnings)
            while not _import_batch(source, search, attempt):
                if on_batch:
                    on_batch(search)
            # Warnings can grow while the file is read (bad bytes past the first chunk).
            search.warnings = list(source.warnings)
    except _Superseded:
        log.info("import of search %s superseded by a newer attempt", search_id)
        return Search.objects.get(pk=search_id)
    except FileFormatError as exc:
        return _fail(search, attempt, f"{search.filename}: {exc}")
    except READ_ERRORS as exc:
        return _fail(search, attempt, f"{search.filename}: the file could not be read ({exc}).")
    except Exception:
        log.exception("import of search %s failed", search_id)
        _fail(
            search,
            attempt,
            f"{search.filename}: the import stopped on an unexpected error and nothing was "
            "imported; the server log has the details.",
        )
        raise
    if search.records_read == 0:
        return _fail(search, attempt, f"{search.filename}: the file holds no records.")
    if search.records_rejected > len(search.errors):
        search.warnings.append(
            f"{search.records_rejected - len(search.errors)} more rejections are not listed."
        )
    repeated = _repeated_records(search)
    if repeated:
        return _fail(search, attempt, repeated)
    with transaction.atomic():
        _check_owner(search, attempt)
        if search.supersedes_id is not None:
            _retire_superseded(search)
        search.status = SearchStatus.DONE
        # New to a review already being screened: ``next`` offers its records first.
        search.imported_mid_screening = Vote.objects.filter(review_id=search.review_id).exists()
        search.bytes_read = search.file_size
        search.finished_at = search.dedup_requested_at = timezone.now()
        search.heartbeat_at = None  # the import's; its deduplication writes its own
        search.save()
        record_audit(
            review=search.review,
            actor=None,
            action="search.imported",
            target=f"{search.source}: {search.filename}",
            after={
                "read": search.records_read,
                "imported": search.records_imported,
                "rejected": search.records_rejected,
                "format": search.format,
            },
        )
        review_id, search_id = search.review_id, search.pk
        # Lost or unsendable, the deduplication stays pending (``dedup_requested_at``) and
        # the worker sends it again when it connects (``requeue_pending_dedups``).
        transaction.on_commit(
            lambda: send_task(DEDUP_TASK, review_id, search_id, only_if_pending=True)
        )
        # The prioritisation model's document-term matrix, built now rather than at the
        # first vote after the import (12–15 s at 20,000 records); lost, it is built then.
        transaction.on_commit(lambda: send_task(MATRIX_TASK, review_id))
    return search


def requeue_queued_searches(older_than: timedelta | None = None) -> list[int]:
    """Send the import task again for every search still queued; return their ids.

    Redis keeps its queue in memory: a restart (or a crash) of the broker loses the tasks
    waiting in it, and their searches would stay queued for ever. The worker calls this
    each time it connects to the broker (``reviewflow.celery.RequeueQueuedSearches``).
    A re-sent task only starts a search nobody has started, so a task that was not lost
    after all costs one message and a lookup. ``older_than``: only searches queued at least
    that long (the worker's periodic pass, for a task the web process could not send while
    the worker stayed connected).
    """
    queued = Search.objects.filter(status=SearchStatus.QUEUED).order_by("pk")
    if older_than is not None:
        queued = queued.filter(created_at__lte=timezone.now() - older_than)
    ids = list(queued.values_list("pk", flat=True))
    for search_id in ids:
        task_named(IMPORT_TASK).delay(search_id, only_if_queued=True)
    return ids


def requeue_pending_dedups(older_than: timedelta | None = None) -> list[int]:
    """Send the deduplication again for every imported search still waiting for one;
    return their ids. Like ``requeue_queued_searches``: a re-sent task runs only while the
    search's deduplication is still pending, so one that was not lost runs once."""
    pending = Search.objects.filter(
        status=SearchStatus.DONE, dedup_requested_at__isnull=False
    ).order_by("pk")
    if older_than is not None:
        pending = pending.filter(dedup_requested_at__lte=timezone.now() - older_than)
    rows = list(pending.values_list("pk", "review_id"))
    for search_id, review_id in rows:
        task_named(DEDUP_TASK).delay(review_id, search_id, only_if_pending=True)
    return [search_id for search_id, _ in rows]


def restart_stale_imports(stale_after: timedelta) -> list[int]:
    """Start again every import still running but silent (``heartbeat_at``) for
    ``stale_after``; return their ids.

    A worker that loses only its pool process has the broker deliver the task again; one
    killed whole leaves the message unacknowledged for Redis's visibility timeout (an hour)
    or loses it (the filesystem broker). Each search goes back to ``queued`` in one
    conditional UPDATE, so of two workers running this pass at once only one sends it. The
    task sent starts over cleanly (``_claim``: a new attempt, the dead attempt's records
    deleted); should the silent run be alive after all, it stops at its next batch
    (``_check_owner``: the search is no longer running).
    """
    cutoff = timezone.now() - stale_after
    silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    running = Search.objects.filter(silent, status=SearchStatus.RUNNING)
    restarted = []
    for search_id in _stale_ids(running):
        with transaction.atomic():
            if not running.filter(pk=search_id).update(
                status=SearchStatus.QUEUED, heartbeat_at=None
            ):
                continue  # another pass restarted it, or it beat since
            search = Search.objects.select_related("review").get(pk=search_id)
            record_audit(
                review=search.review,
                actor=None,
                action="search.restarted",
                target=f"{search.source}: {search.filename}",
                before={"attempt": search.attempt, "records_read": search.records_read},
                after={"silent_for_seconds": int(stale_after.total_seconds())},
            )
        restarted.append(search_id)
        # Unsendable, it stays queued and ``requeue_queued_searches`` sends it later.
        send_task(IMPORT_TASK, search_id, only_if_queued=True)
    return restarted


def restart_stale_dedups(stale_after: timedelta) -> list[int]:
    """Send again the deduplication of every search whose deduplication started but has
    been silent for ``stale_after`` (its worker died whole; it rolled back, so the search
    is still pending); return their ids. Claimed like ``restart_stale_imports``: one
    conditional UPDATE clears the heartbeat, so two passes at once send it once."""
    cutoff = timezone.now() - stale_after
    running = Search.objects.filter(
        status=SearchStatus.DONE, dedup_requested_at__isnull=False, heartbeat_at__lt=cutoff
    )
    restarted = []
    for search_id in _stale_ids(running):
        if running.filter(pk=search_id).update(heartbeat_at=None):
            review_id = Search.objects.values_list("review_id", flat=True).get(pk=search_id)
            restarted.append(search_id)
            send_task(DEDUP_TASK, review_id, search_id, only_if_pending=True)
    return restarted


def _stale_ids(searches: SearchQuerySet) -> list[int]:
    """The candidates of a restart pass (each is then claimed on its own)."""
    return list(searches.order_by("pk").values_list("pk", flat=True))


def _check_owner(search: Search, attempt: int) -> None:
    current = Search.objects.select_for_update().values_list("attempt", "status").get(pk=search.pk)
    if current[0] != attempt or current[1] != SearchStatus.RUNNING:
        raise _Superseded


def _record_progress(search: Search, added: int, bytes_read: int) -> None:
    """Count a batch in the search row, inside the batch's transaction."""
    search.records_imported += added
    search.bytes_read = min(bytes_read, search.file_size)
    Search.objects.filter(pk=search.pk).update(
        records_read=search.records_read,
        records_imported=search.records_imported,
        records_rejected=search.records_rejected,
        bytes_read=search.bytes_read,
        format=search.format,
        encoding=search.encoding,
        heartbeat_at=timezone.now(),
    )


def _beat(search_id: int, attempt: int) -> None:
    """The import's heartbeat between batches (``beating``), while this attempt owns it."""
    Search.objects.filter(pk=search_id, attempt=attempt, status=SearchStatus.RUNNING).update(
        heartbeat_at=later_beat(timezone.now())
    )


def _fail(search: Search, attempt: int, message: str) -> Search:
    """The whole file is refused: no record of it stays, and the page says why."""
    try:
        with transaction.atomic():
            _check_owner(search, attempt)
            Record.objects.filter(search=search).delete()
            search.status = SearchStatus.FAILED
            search.failure = message
            search.records_imported = 0
            search.finished_at = timezone.now()
            search.heartbeat_at = None
            search.save()
            record_audit(
                review=search.review,
                actor=None,
                action="search.failed",
                target=f"{search.source}: {search.filename}",
                after={"failure": message},
            )
    except _Superseded:
        pass  # a newer attempt owns the search now; its outcome is the one that counts
    return Search.objects.get(pk=search.pk)


@transaction.atomic
def delete_search(*, search: Search, actor: User) -> None:
    """Delete a search and its records, while nobody has screened any of them."""
    if not search.is_finished:
        raise ReviewflowError("Wait for the import to finish before deleting this search.")
    if search_has_screening(search):
        raise ReviewflowError(
            "Records of this search have been screened: it can no longer be deleted."
        )
    record_audit(
        review=search.review,
        actor=actor,
        action="search.deleted",
        target=f"{search.source}: {search.filename}",
        before={"imported": search.records_imported, "rejected": search.records_rejected},
    )
    review = search.review
    _remove_records(search)
    search.file.delete(save=False)
    search.delete()
    from screening.services.dedup import reapply_clusters

    reapply_clusters(review)


def _remove_records(search: Search) -> None:
    """Delete the search's records. Records of other searches merged into them stand alone
    again (the caller re-clusters them from the pairs that remain: ``reapply_clusters``);
    primaries give back the fields they took from them."""
    gone = set(Record.objects.filter(search=search).values_list("pk", flat=True))
    Record.objects.filter(duplicate_of__search=search).exclude(search=search).update(
        duplicate_of=None, merge_kind=""
    )
    for primary in (
        Record.objects.filter(review=search.review).exclude(search=search).exclude(filled_from={})
    ):
        returned = [name for name, source in primary.filled_from.items() if source in gone]
        if returned:
            for name in returned:
                setattr(primary, name, bibliography.BY_NAME[name].empty)
                del primary.filled_from[name]
            primary.save()
    Record.objects.filter(search=search).delete()


def search_has_screening(search: Search) -> bool:
    """Whether any record of ``search`` carries a screening vote (pilot votes included)."""
    from screening.models import PilotVote, Vote

    return (
        Vote.objects.filter(record__search=search).exists()
        or PilotVote.objects.filter(record__search=search).exists()
    )


# --- One export counts once (issue #19): fingerprints, repeats and new runs ---------------


class RepeatedSearch(ReviewflowError):
    """An upload that would count records the review already counts; ``earlier`` is the
    search it repeats (a new run of it is allowed: ``supersedes``)."""

    def __init__(self, message: str, *, earlier: Search):
        super().__init__(message, field="supersedes", code="conflict")
        self.earlier = earlier


def _content_sha256(file: Any) -> str:
    """The file's fingerprint, or "" for a compressed file that cannot be inflated (a
    gzip bomb, a broken archive): its import fails and says why, and a failed search
    repeats nothing."""
    from screening.importers.fingerprint import content_fingerprint

    try:
        return content_fingerprint(file, gzip_limit=20 * max_upload_bytes())
    except FileFormatError:
        return ""


def check_supersedes(*, review: Review, supersedes: int | None) -> Search | None:
    """The earlier search a new upload replaces, when it may: a search of this review,
    imported, not already replaced, and with no screening vote on its records (votes are
    never moved or dropped silently: those records stay)."""
    if supersedes is None:
        return None
    earlier = Search.objects.filter(review=review, pk=supersedes).first()
    if earlier is None:
        raise ReviewflowError(
            f"Search {supersedes} is not a search of this review.", field="supersedes"
        )
    if earlier.status == SearchStatus.SUPERSEDED:
        raise ReviewflowError(
            f"{earlier.describe()} has already been replaced by a newer run.",
            field="supersedes",
        )
    if earlier.status != SearchStatus.DONE:
        raise ReviewflowError(
            f"{earlier.describe()} is {earlier.get_status_display().lower()}: only an imported "
            "search can be replaced by a new run (delete a failed one instead).",
            field="supersedes",
        )
    if search_has_screening(earlier):
        raise ReviewflowError(
            f"Records of {earlier.describe()} have been screened, so a new run cannot replace "
            "it: the votes would be lost. Import the new run as a search of its own; "
            "deduplication merges the records both runs found.",
            field="supersedes",
        )
    return earlier


def check_not_repeated(*, review: Review, content_sha256: str, supersedes: Search | None) -> None:
    """Refuse a file whose exact content (inflated when gzipped) is already a counted or
    importing search of the review, unless it is a new run of that very search."""
    if not content_sha256:
        return
    earlier = (
        Search.objects.filter(
            review=review,
            content_sha256=content_sha256,
            status__in=[SearchStatus.QUEUED, SearchStatus.RUNNING, SearchStatus.DONE],
        )
        .order_by("created_at", "pk")
        .first()
    )
    if earlier is None or (supersedes is not None and earlier.pk == supersedes.pk):
        return
    raise RepeatedSearch(
        f"This file was already imported as {earlier.describe()}; importing it again "
        "would count its records twice in PRISMA. If it is a new run of that search, "
        f"choose it under “New run of” (API: supersedes={earlier.pk}; importcitations "
        f"--supersedes {earlier.pk}) and it replaces the earlier one.",
        earlier=earlier,
    )


def _repeated_records(search: Search) -> str:
    """Fingerprint the imported records (``records_sha256``) and return why the search must
    fail, or "": the same records from the same source are already counted, or the search
    it replaces can no longer be replaced."""
    from screening.importers.fingerprint import record_identity, records_fingerprint

    rows = Record.objects.filter(search=search).values_list("doi", "pmid", "title", "year")
    search.records_sha256 = records_fingerprint(
        record_identity(doi=doi, pmid=pmid, title=title, year=year)
        for doi, pmid, title, year in rows.iterator(chunk_size=5000)
    )
    if search.supersedes_id is not None:
        try:
            check_supersedes(review=search.review, supersedes=search.supersedes_id)
        except ReviewflowError as exc:
            return f"{search.filename}: not imported, because it was to replace an earlier " + (
                f"search and cannot: {exc.message}"
            )
    earlier = (
        Search.objects.filter(
            review_id=search.review_id,
            status=SearchStatus.DONE,
            source__iexact=search.source,
            records_sha256=search.records_sha256,
        )
        .exclude(pk=search.pk)
        .exclude(pk=search.supersedes_id)
        .order_by("created_at", "pk")
        .first()
    )
    if earlier is None:
        return ""
    return (
        f"{search.filename}: the same {search.records_read} records from {search.source} "
        f"were already imported as {earlier.describe()}; counting them again would inflate "
        "“records identified”. Nothing was imported. If this is a new run of that search, "
        f"upload it again choosing that search under “New run of” (API: supersedes="
        f"{earlier.pk}; importcitations --supersedes {earlier.pk}), and delete this failed "
        "search."
    )


def _retire_superseded(search: Search) -> None:
    """Inside the transaction that finishes ``search``: the search it is a new run of
    stops counting (status ``superseded``, its records removed and re-clustered)."""
    earlier = Search.objects.select_for_update().get(pk=search.supersedes_id)
    _remove_records(earlier)
    earlier.status = SearchStatus.SUPERSEDED
    earlier.dedup_requested_at = None
    earlier.save(update_fields=["status", "dedup_requested_at"])
    record_audit(
        review=search.review,
        actor=None,
        action="search.superseded",
        target=f"{earlier.source}: {earlier.filename}",
        before={"imported": earlier.records_imported},
        after={"replaced_by": search.pk, "filename": search.filename},
    )
    from screening.services.dedup import reapply_clusters

    reapply_clusters(search.review)
