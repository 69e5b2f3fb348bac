"""An export read as database rows, in this process or in a second one.

An import does two things of about equal cost: parsing the file, and writing its records.
In one process they take turns; ``ParserProcess`` parses in a child process (``python -m
screening.importers.pipeline``) while this process writes, so a large import uses two
cores. Both sources give the same items, built by the same code (``record_values``):
a ``Rejection``, or a record's values in the order of ``VALUE_COLUMNS``.

The child sends frames on its standard output: a 4-byte length, then a ``marshal``-encoded
tuple (``("head", format, encoding, warnings)``, ``("items", items, bytes_read,
warnings)``, ``("end", warnings, bytes_read, peak_kib)`` or ``("error", kind, message)``).
``marshal`` carries only plain values (str, int, bool, None, tuples, lists), and the bytes
come from our own child, never from a user. A thread of this process drains the pipe into
a bounded queue, so the child parses ahead while a batch is being written (a pipe alone
holds 64 KB, and the two would take turns again), and memory stays bounded: at most
``QUEUE_FRAMES`` frames of ``FRAME_RECORDS`` records wait.

Nothing here imports Django: the child starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import marshal
import os
import queue
import subprocess
import sys
import threading
import traceback
import zlib
from collections.abc import Callable, Iterator, Mapping
from operator import attrgetter, getitem
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO

import orjson

from screening.bibliography import FIELDS, MAX_LENGTHS, Kind

from . import FileFormatError, ParsedRecord, ParseResult, Rejection, parse_file

FRAME_RECORDS = 500  # records per frame sent by the child
QUEUE_FRAMES = 16  # frames read ahead of the writer (about 500 records each)
_LENGTH = 4  # bytes of a frame's length prefix

# The bibliographic fields by how a row carries them: text cut to its column's length,
# lists as JSON, whole numbers checked; each group in the table's order. (Grouped, a record
# is read with one attribute fetch and cut in C: this runs for every record of an import.)
_TEXTS = tuple(f.name for f in FIELDS if f.kind in (Kind.TEXT, Kind.SHORT_TEXT))
_LISTS = tuple(f.name for f in FIELDS if f.kind is Kind.LIST)
_NUMBERS = tuple(f.name for f in FIELDS if f.kind is Kind.INTEGER)
assert len(_TEXTS) + len(_LISTS) + len(_NUMBERS) == len(FIELDS), "a kind rows cannot carry"
_SMALLINT_MAX = 32767  # the columns' range (PositiveSmallIntegerField)

# The columns ``record_values`` gives, in order. The importer adds the review, the search
# and the position before them and the creation time after them.
VALUE_COLUMNS = (
    "line",
    "source_record_id",
    *_TEXTS,
    *_LISTS,
    *_NUMBERS,
    "incomplete",
    "raw",
    "merge_kind",
    "filled_from",
)

Item = Rejection | tuple[Any, ...]


class ReadFailure(Exception):
    """The file's bytes could not be read or decoded (the child's ``OSError``,
    ``UnicodeError``, gzip or zlib error, passed on with its message)."""


class ParserCrashed(RuntimeError):
    """The parser process failed on something unexpected, or ended without finishing."""


READ_ERRORS: tuple[type[BaseException], ...] = (
    UnicodeError,
    OSError,
    EOFError,
    gzip.BadGzipFile,
    zlib.error,
    ReadFailure,
)


def record_values(
    parsed: ParsedRecord, position: int, maxlen: Mapping[str, int] = MAX_LENGTHS
) -> tuple[Any, ...]:
    """A record's values for ``VALUE_COLUMNS``: text cut to its column's length (``maxlen``,
    the table's lengths unless told; a field it leaves out is kept whole), JSON columns
    encoded. ``position`` is the record's 1-based place among the file's results."""
    return _values_maker(maxlen)(parsed, position)


def _values_maker(maxlen: Mapping[str, int]) -> Callable[[ParsedRecord, int], tuple[Any, ...]]:
    """``record_values`` with the column lengths bound once (the import's hot loop)."""
    fields = attrgetter(*_TEXTS, *_LISTS, *_NUMBERS)  # one tuple of them, in that order
    lists_at, numbers_at = len(_TEXTS), len(_TEXTS) + len(_LISTS)
    # A slice to None keeps the whole text.
    cuts = tuple(slice(None, maxlen.get(name) or None) for name in _TEXTS)
    dumps, encode_error = orjson.dumps, orjson.JSONEncodeError

    def encoded(value: Any) -> str:
        try:
            return dumps(value).decode()
        except encode_error:  # what orjson refuses (a lone surrogate): as json did
            return json.dumps(value, ensure_ascii=False)

    def number(value: int | None) -> int | None:
        return value if value and 0 < value < _SMALLINT_MAX else None

    def values(parsed: ParsedRecord, position: int) -> tuple[Any, ...]:
        given = fields(parsed)
        return (
            max(parsed.line, 0),
            (parsed.record_id or str(position))[:255],
            *map(getitem, given[:lists_at], cuts),
            *map(encoded, given[lists_at:numbers_at]),
            *map(number, given[numbers_at:]),
            not (parsed.title and parsed.authors),
            encoded(parsed.raw),
            "",
            "{}",
        )

    return values


def items_of(
    results: Iterator[ParseResult], maxlen: Mapping[str, int] = MAX_LENGTHS
) -> Iterator[Item]:
    """Parse results as items: rejections as they are, records as their values."""
    values = _values_maker(maxlen)
    for position, result in enumerate(results, start=1):
        if isinstance(result, Rejection):
            yield result
        else:
            yield values(result, position)


# ---------------------------------------------------------------- reading the stored file


class CountingReader(io.RawIOBase):
    """Counts the bytes read from the stored file, so the page can show progress."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class LimitedReader(io.RawIOBase):
    """Stops a compressed upload from inflating past a limit (a gzip bomb)."""

    def __init__(self, raw: io.BufferedIOBase, limit: int):
        self.raw, self.limit, self.total = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.total += len(data)
        if self.total > self.limit:
            raise FileFormatError(
                f"the compressed file unpacks to more than {self.limit // 1048576} MB"
            )
        buffer[: len(data)] = data
        return len(data)


def open_stored(raw: BinaryIO, gzip_limit: int) -> tuple[BinaryIO, CountingReader]:
    """The stored file as a buffered stream, inflated when it is gzip-compressed (an
    EndNote XML ``.xml.gz``, say) but never past ``gzip_limit`` bytes; and the counter of
    the stored bytes read so far."""
    counting = CountingReader(raw)
    buffered = io.BufferedReader(counting, buffer_size=1 << 16)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        inflated = gzip.GzipFile(fileobj=buffered)
        return io.BufferedReader(LimitedReader(inflated, gzip_limit)), counting
    return buffered, counting


class InProcess:
    """The file parsed in this process, as it is read."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        fmt: str,
        column_map: dict[str, str] | None,
        maxlen: Mapping[str, int] = MAX_LENGTHS,
        gzip_limit: int,
        encoding: str = "auto",
    ):
        self._stream, self._counting = open_stored(stream, gzip_limit)
        parsed = parse_file(self._stream, fmt=fmt, column_map=column_map, encoding=encoding)
        self.format, self.encoding, self.warnings = parsed.format, parsed.encoding, parsed.warnings
        self.items: Iterator[Item] = items_of(parsed.results, maxlen)

    @property
    def bytes_read(self) -> int:
        return self._counting.count

    def close(self) -> None:
        self._stream.close()


# ---------------------------------------------------------------- the parser process


def _write_frame(out: IO[bytes], message: tuple[Any, ...]) -> None:
    data = marshal.dumps(message)
    out.write(len(data).to_bytes(_LENGTH, "little"))
    out.write(data)


def _read_frame(source: IO[bytes]) -> bytes | None:
    head = source.read(_LENGTH)
    if len(head) < _LENGTH:
        return None
    size = int.from_bytes(head, "little")
    data = source.read(size)
    return data if len(data) == size else None


def _peak_kib() -> int:
    """This process's peak resident memory since it began running Python (``VmHWM``;
    ``ru_maxrss`` would count the pages of the process it was forked from); 0 where
    ``/proc`` does not tell (macOS)."""
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:  # noqa: PTH123
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def child_main(config: dict[str, Any], out: IO[bytes]) -> None:
    """The child's work: parse ``config["path"]`` and send its items on ``out``. The
    importer may stop reading at any point (superseded, failed, its worker killed): the
    next write then raises ``BrokenPipeError``, which ``main`` takes as the end."""
    chunk: list[Any] = []
    try:
        with open(config["path"], "rb") as raw:  # noqa: PTH123 - a plain binary read
            stream, counting = open_stored(raw, int(config["gzip_limit"]))
            parsed = parse_file(
                stream,
                fmt=config["format"],
                column_map=config["column_map"],
                encoding=config.get("encoding", "auto"),
            )
            _write_frame(out, ("head", parsed.format, parsed.encoding, list(parsed.warnings)))
            for item in items_of(parsed.results, config["maxlen"]):
                chunk.append((item.line, item.message) if isinstance(item, Rejection) else item)
                if len(chunk) >= FRAME_RECORDS:
                    _write_frame(out, ("items", chunk, counting.count, list(parsed.warnings)))
                    chunk = []
            if chunk:
                _write_frame(out, ("items", chunk, counting.count, list(parsed.warnings)))
            _write_frame(out, ("end", list(parsed.warnings), counting.count, _peak_kib()))
        return
    except BrokenPipeError:
        raise
    except FileFormatError as exc:
        error = ("error", "format", str(exc))
    except READ_ERRORS as exc:
        error = ("error", "read", str(exc))
    except Exception:
        error = ("error", "crash", traceback.format_exc())
    # The records read before the error are counted, as they are in the importing process.
    if chunk:
        _write_frame(out, ("items", chunk, counting.count, list(parsed.warnings)))
    _write_frame(out, error)


class ParserProcess:
    """The file parsed in a child process, read ahead by a thread of this one.

    Use it as a context manager: leaving it stops the child and the thread, whether or
    not every item was read. Errors arrive as they would from ``InProcess``:
    ``FileFormatError``, ``ReadFailure`` (for the read errors), or ``ParserCrashed``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fmt: str,
        column_map: dict[str, str] | None,
        maxlen: Mapping[str, int] = MAX_LENGTHS,
        gzip_limit: int,
        encoding: str = "auto",
    ):
        config = {
            "path": str(path),
            "format": fmt,
            "encoding": encoding,
            "column_map": column_map,
            "maxlen": dict(maxlen),
            "gzip_limit": gzip_limit,
        }
        root = str(Path(__file__).resolve().parent.parent.parent)
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        )
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [sys.executable, "-m", "screening.importers.pipeline"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                cwd=root,
            )
        except OSError as exc:  # no such interpreter, no processes left, …
            raise ParserCrashed(f"the parser process could not start: {exc}") from exc
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(json.dumps(config).encode())
            self._process.stdin.close()
        except OSError as exc:  # it ended before reading its instructions
            self._process.kill()
            self._process.wait()
            self._process.stdout.close()
            raise ParserCrashed(f"the parser process could not start: {exc}") from exc
        self._frames: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._stop = threading.Event()
        self._reader = threading.Thread(
            target=self._read_ahead, args=(self._process.stdout,), daemon=True
        )
        self._reader.start()
        self.bytes_read = 0
        self.child_peak_kib = 0  # the child's peak memory, sent with its last frame
        self._ended = False
        self.format, self.encoding, self.warnings = "", "", list[str]()
        try:
            head = self._next()
            if head[0] != "head":
                raise ParserCrashed(f"the parser process began with {head[0]!r}")
            _, self.format, self.encoding, self.warnings = head
        except BaseException:
            self.close()
            raise
        self.items: Iterator[Item] = self._items()

    def __enter__(self) -> ParserProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _read_ahead(self, source: IO[bytes]) -> None:
        try:
            while not self._stop.is_set():
                frame = _read_frame(source)
                self._frames.put(frame)
                if frame is None:
                    return
        except (OSError, ValueError):  # the pipe was closed under us: we are stopping
            self._frames.put(None)

    def _next(self) -> tuple[Any, ...]:
        frame = self._frames.get()
        if frame is None:
            code = self._process.wait()
            raise ParserCrashed(
                f"the parser process ended before the end of the file (exit code {code})"
            )
        message: tuple[Any, ...] = marshal.loads(frame)  # noqa: S302 - from our own child
        if message[0] == "error":
            _, kind, text = message
            if kind == "format":
                raise FileFormatError(text)
            if kind == "read":
                raise ReadFailure(text)
            raise ParserCrashed(f"the parser process failed:\n{text}")
        return message

    def _items(self) -> Iterator[Item]:
        while True:
            message = self._next()
            if message[0] == "end":
                _, self.warnings, self.bytes_read, self.child_peak_kib = message
                self._ended = True
                return
            _, chunk, self.bytes_read, self.warnings = message
            for item in chunk:
                yield Rejection(*item) if len(item) == 2 else item

    @property
    def exit_code(self) -> int | None:
        """The child's exit status once it has ended (negative: killed by that signal)."""
        return self._process.poll()

    def close(self) -> None:
        """Stop the child (if it still runs) and the reading thread."""
        self._stop.set()
        if self._ended:  # it sent its last frame and is exiting
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        if self._process.poll() is None:
            self._process.kill()
        # The thread may wait to put a frame in a full queue: take them until it ends.
        while self._reader.is_alive():
            with contextlib.suppress(queue.Empty):
                self._frames.get(timeout=0.05)
        self._reader.join()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def main() -> int:
    config = json.loads(sys.stdin.buffer.read())
    # Only frames go to the real standard output; a stray print goes to standard error.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=1 << 16)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        child_main(config, out)
        out.close()
    except BrokenPipeError:
        # The importer stopped reading; what is left in our buffer cannot be sent either.
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
