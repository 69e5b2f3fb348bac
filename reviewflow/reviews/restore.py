"""Restore a review from the archive ``reviewflow.reviews.backup`` writes, under any slug.

Every row is inserted anew in one transaction, so the new rows get new ids and every
reference is renumbered; any failure leaves the database (and the media folder) as it was.

An archive is read as a stream and bounded before anything is written: an entry compressed
other than stored or deflated, one that unpacks to more than ``MAX_RATIO`` times its
compressed size, a stored file or manifest over ``MAX_UPLOAD_MB``, or a row line over
``MAX_UPLOAD_MB`` is refused with a message naming the entry (a zip bomb allocates nothing).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from zipfile import ZIP_DEFLATED, ZIP_STORED, BadZipFile, ZipFile, ZipInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models.fields.files import FileField

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.backup import (
    FORMAT,
    ID_CONTEXT,
    ID_REFERENCES,
    VERSION,
    IdMaps,
    ModelPlan,
    backup_plan,
    is_user_model,
    m2m_through,
    model_label,
)
from reviewflow.reviews.models import Membership, Review, Role

BATCH = 1000
# An entry may unpack to at most this many times its compressed size. Rows of JSON deflate
# about 5-20:1 and stored exports and PDFs less; zeros deflate about 1000:1. Entries up to
# RATIO_FREE_BYTES are exempt: a small, very regular file is no threat.
MAX_RATIO = 100
RATIO_FREE_BYTES = 1 << 20


@dataclass
class RestoreSummary:
    review: Review
    counts: dict[str, int]
    files: int
    users_created: list[str]


def _max_bytes() -> int:
    return int(settings.MAX_UPLOAD_MB) * 1024 * 1024


def _check_entries(archive: ZipFile, name: str) -> None:
    """Refuse an archive any entry of which would unpack past the limits. Checked on the
    sizes the archive declares: ``ZipFile`` never unpacks an entry past its declared size
    (and fails its CRC check if the data is cut short)."""
    limit = _max_bytes()
    for info in archive.infolist():
        entry = info.filename
        if info.compress_type not in (ZIP_STORED, ZIP_DEFLATED):
            # bzip2 and LZMA inflate a whole read at once, past any size we could check.
            raise ReviewflowError(
                f"{name}: entry {entry} is compressed in a way backupreview never writes "
                "(only stored and deflated entries are read); nothing was changed."
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FREE_BYTES and ratio > MAX_RATIO:
            raise ReviewflowError(
                f"{name}: entry {entry} unpacks to {info.file_size:,} bytes from "
                f"{info.compress_size:,} (more than {MAX_RATIO}:1), which looks like a zip "
                "bomb; nothing was changed."
            )
        if not entry.startswith("data/") and info.file_size > limit:
            raise ReviewflowError(
                f"{name}: entry {entry} unpacks to {info.file_size:,} bytes, more than the "
                f"upload limit of {settings.MAX_UPLOAD_MB} MB (MAX_UPLOAD_MB); nothing was "
                "changed."
            )


def _read_manifest(archive: ZipFile, name: str) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError):
        raise ReviewflowError(f"{name}: not a reviewflow review backup (no manifest).") from None
    if manifest.get("format") != FORMAT:
        raise ReviewflowError(f"{name}: not a reviewflow review backup.")
    if manifest.get("version") != VERSION:
        raise ReviewflowError(
            f"{name}: backup format version {manifest.get('version')}; this reviewflow "
            f"reads version {VERSION}."
        )
    return dict(manifest)


def _rows(archive: ZipFile, label: str, name: str) -> Iterator[dict[str, Any]]:
    """The rows of one model, a line at a time; a line past the upload limit is refused
    before it is read whole."""
    limit = _max_bytes()
    entry = f"data/{label}.jsonl"
    with archive.open(entry) as lines:
        number = 0
        while line := lines.readline(limit + 1):
            number += 1
            if len(line) > limit:
                raise ReviewflowError(
                    f"{name}: {entry} line {number} is longer than the upload limit of "
                    f"{settings.MAX_UPLOAD_MB} MB (MAX_UPLOAD_MB); nothing was changed."
                )
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    raise ReviewflowError(
                        f"{name}: {entry} line {number} is not a row of JSON; nothing was changed."
                    ) from None


def restore_review(
    *, path: Path, slug: str | None = None, owner: Any | None = None
) -> RestoreSummary:
    """Restore the archive at ``path`` as a new review (under ``slug`` if given).

    Users are matched by username; a user the database lacks is created without a usable
    password (a site admin sets one). ``owner`` becomes an owner of the restored review.
    All or nothing: on any error no row is written and no file stays behind.
    """
    name = Path(path).name
    try:
        archive = ZipFile(path)
    except (OSError, BadZipFile) as exc:
        raise ReviewflowError(f"{name}: cannot open the backup ({exc}).") from None
    saved: list[tuple[Any, str]] = []
    try:
        with archive, transaction.atomic():
            _check_entries(archive, name)
            return _restore(archive, name, slug, owner, saved)
    except BaseException as exc:
        for storage, stored_name in saved:
            storage.delete(stored_name)
        if isinstance(exc, IntegrityError | DatabaseError):
            raise ReviewflowError(
                f"{name}: the backup could not be restored, nothing was changed ({exc})."
            ) from exc
        if isinstance(exc, BadZipFile | EOFError | zlib.error):  # a bad CRC, cut-off data
            raise ReviewflowError(
                f"{name}: the archive is damaged ({exc}); nothing was changed."
            ) from exc
        raise


def _restore(
    archive: ZipFile, name: str, slug: str | None, owner: Any, saved: list[tuple[Any, str]]
) -> RestoreSummary:
    from reviewflow.reviews.services import SLUG_RE, record_audit

    manifest = _read_manifest(archive, name)
    plan = backup_plan()
    by_label = {mp.label: mp for mp in plan}
    stored = {entry["label"]: entry for entry in manifest["models"]}
    for label, entry in stored.items():
        mp = by_label.get(label)
        if mp is None:
            raise ReviewflowError(
                f"{name}: the backup holds {label}, which this installation does not have."
            )
        unknown = set(entry["fields"]) - {f.name for f in mp.fields}
        if unknown:
            raise ReviewflowError(
                f"{name}: {label} in the backup has fields this installation does not know: "
                f"{', '.join(sorted(unknown))}."
            )
    new_slug = slug or manifest["review"]["slug"]
    if not SLUG_RE.match(new_slug):
        raise ReviewflowError(
            f"“{new_slug}” is not a valid slug: use lower-case letters, digits and hyphens."
        )
    if Review.objects.filter(slug=new_slug).exists():
        raise ReviewflowError(
            f"A review with the slug “{new_slug}” already exists: choose another with --slug."
        )

    User = get_user_model()
    users: dict[str, Any] = {}
    created: list[str] = []

    def user_id(username: str | None) -> int | None:
        if username is None:
            return None
        if username not in users:
            user = User._base_manager.filter(username=username).first()
            if user is None:
                user = User(username=username)
                user.set_unusable_password()
                user.save()
                created.append(username)
            users[username] = user.pk
        return int(users[username])

    maps: IdMaps = {}
    # (model, field) → old value → new: every row with the same old value gets the same new.
    renewed: dict[tuple[str, str], dict[str, str]] = {}
    later: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    counts: dict[str, int] = {}
    files = 0
    for mp in plan:
        if mp.label not in stored:
            counts[mp.label] = 0
            continue
        restorer = _ModelRestorer(mp, set(stored[mp.label]["fields"]), maps, later)
        for row in _rows(archive, mp.label, name):
            values: dict[str, Any] = {}
            deferred: dict[str, Any] = {}
            for f in mp.fields:
                if f.name not in restorer.names:
                    continue  # a field newer than the backup: its default
                raw = row["fields"].get(f.name)
                if f.name in mp.renewed and raw is not None:
                    raw = renewed.setdefault((mp.label, f.name), {}).setdefault(
                        str(raw), str(uuid.uuid4())
                    )
                if f.name in mp.deferred:
                    if raw is not None and raw != f.get_default():
                        deferred[f.name] = raw
                    continue
                if f.is_relation:
                    values[f.attname] = _link(f, raw, maps, user_id, name=name)
                elif isinstance(f, FileField):
                    values[f.attname], copied = _restore_file(archive, mp, row["pk"], f, raw, saved)
                    files += copied
                else:
                    try:
                        values[f.attname] = f.to_python(raw)
                    except ValidationError as exc:
                        raise ReviewflowError(
                            f"{name}: {mp.label} {row['pk']}: {f.name}: "
                            f"{' '.join(exc.messages)} Nothing was changed."
                        ) from None
            if deferred:
                # Fixers of ids that are not foreign keys may need other values of the row.
                deferred.update({k: row["fields"].get(k) for k in ID_CONTEXT.get(mp.label, ())})
            if mp.model is Review:
                values["slug"] = new_slug
            restorer.add(row["pk"], mp.model(**values), deferred, row.get("m2m") or {})
        restorer.flush()
        counts[mp.label] = restorer.count

    _apply_deferred(plan, later, maps, user_id, name)
    _apply_m2m(plan, later, maps, user_id, name)

    review = Review.objects.get(slug=new_slug)
    if owner is not None:
        Membership.objects.update_or_create(
            review=review, user=owner, defaults={"role": Role.OWNER}
        )
    record_audit(
        review=review,
        actor=owner,
        action="review.restored",
        target=review.title,
        after={"from": manifest["review"]["slug"], "created_at": manifest["created_at"]},
    )
    return RestoreSummary(review=review, counts=counts, files=files, users_created=created)


class _ModelRestorer:
    """Inserts one model's rows in batches, in the backup's id order (so new ids keep the
    old ids' order, which constraints such as ``record_a < record_b`` rely on)."""

    def __init__(
        self,
        mp: ModelPlan,
        names: set[str],
        maps: IdMaps,
        later: dict[str, list[tuple[int, dict[str, Any]]]],
    ):
        self.mp, self.names, self.later = mp, names, later
        self.ids = maps.setdefault(mp.label, {})
        self.batch: list[tuple[int, Any, dict[str, Any], dict[str, Any]]] = []
        self.count = 0

    def add(self, old_pk: int, obj: Any, deferred: dict[str, Any], m2m: dict[str, Any]) -> None:
        self.batch.append((old_pk, obj, deferred, m2m))
        self.count += 1
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        objs = [obj for _, obj, _, _ in self.batch]
        self.mp.model._base_manager.bulk_create(objs, batch_size=BATCH)
        for old, obj, deferred, m2m in self.batch:
            if obj.pk is None:
                raise ReviewflowError("This database does not return the ids of new rows.")
            self.ids[old] = obj.pk
            if deferred:
                self.later.setdefault(self.mp.label, []).append((obj.pk, deferred))
            if m2m:
                self.later.setdefault(f"m2m:{self.mp.label}", []).append((obj.pk, m2m))
        self.batch.clear()


def _link(
    f: models.Field[Any, Any],
    raw: Any,
    maps: IdMaps,
    user_id: Callable[[str | None], int | None],
    *,
    name: str,
) -> Any:
    """The new id a foreign key's old value stands for."""
    if raw is None:
        return None
    target = f.related_model
    if is_user_model(target):
        return user_id(raw)
    label = model_label(target)  # type: ignore[arg-type]
    new = maps.get(label, {}).get(int(raw))
    if new is None:
        raise ReviewflowError(
            f"{name}: {f.model._meta.label_lower}.{f.name} points to {label} {raw}, "
            "which the backup does not hold."
        )
    return new


def _restore_file(
    archive: ZipFile,
    mp: ModelPlan,
    old_pk: int,
    f: FileField,
    raw: str | None,
    saved: list[tuple[Any, str]],
) -> tuple[str, int]:
    """The stored name of the file restored from the archive, and 1 if one was copied."""
    if not raw:
        return raw or "", 0
    entry = f"files/{mp.label}/{old_pk}/{f.name}/{PurePosixPath(raw).name}"
    try:
        info: ZipInfo = archive.getinfo(entry)
    except KeyError:
        return raw, 0  # the file was already missing when the backup was made
    target = f.generate_filename(None, PurePosixPath(raw).name)
    # Streamed (its size bounded by _check_entries) through a scratch file, so that a damaged
    # entry fails its CRC check before storage holds a part of it.
    with archive.open(info) as data, tempfile.SpooledTemporaryFile(1 << 20) as scratch:
        shutil.copyfileobj(data, scratch, 1 << 20)
        scratch.seek(0)
        stored_name = f.storage.save(target, File(scratch, name=PurePosixPath(raw).name))
    saved.append((f.storage, stored_name))
    return stored_name, 1


def _apply_deferred(
    plan: list[ModelPlan],
    later: dict[str, list[tuple[int, dict[str, Any]]]],
    maps: IdMaps,
    user_id: Callable[[str | None], int | None],
    name: str,
) -> None:
    for mp in plan:
        rows = later.get(mp.label) or []
        if not rows:
            continue
        fixers = ID_REFERENCES.get(mp.label, {})
        by_name = {f.name: f for f in mp.fields}
        objs = []
        for new_pk, deferred in rows:
            obj = mp.model(pk=new_pk)
            # Start from the defaults the row was inserted with, so one update sets them all.
            for fname in mp.deferred:
                setattr(obj, by_name[fname].attname, by_name[fname].get_default())
            for fname, raw in deferred.items():
                if fname not in mp.deferred:
                    continue  # context for a fixer (ID_CONTEXT), not a deferred field
                f = by_name[fname]
                if fname in fixers:
                    value = fixers[fname](raw, deferred, maps)
                elif f.is_relation:
                    value = _link(f, raw, maps, user_id, name=name)
                else:
                    value = f.to_python(raw)
                setattr(obj, f.attname, value)
            objs.append(obj)
        mp.model._base_manager.bulk_update(objs, sorted(mp.deferred), batch_size=500)


def _apply_m2m(
    plan: list[ModelPlan],
    later: dict[str, list[tuple[int, dict[str, Any]]]],
    maps: IdMaps,
    user_id: Callable[[str | None], int | None],
    name: str,
) -> None:
    for mp in plan:
        for m in mp.m2m:
            through, src, tgt = m2m_through(m)
            target_label = model_label(m.related_model)  # type: ignore[arg-type]
            links = []
            for new_pk, m2m in later.get(f"m2m:{mp.label}", []):
                for raw in m2m.get(m.name, []):
                    if is_user_model(m.related_model):
                        target = user_id(raw)
                    else:
                        target = maps.get(target_label, {}).get(int(raw))
                    if target is None:
                        raise ReviewflowError(
                            f"{name}: {mp.label}.{m.name} links to "
                            f"{target_label} {raw}, which the backup does not hold."
                        )
                    links.append(through(**{src: new_pk, tgt: target}))
            through._base_manager.bulk_create(links, batch_size=BATCH)
