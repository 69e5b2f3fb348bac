"""Reading an uploaded export as text without loading it whole.

Exports arrive in UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark
(Web of Science), Windows-1252 (older EndNote and Ovid files), or a national encoding such
as GBK (CNKI and other Chinese databases). ``open_text`` decides from the first 64 KB and
returns a text stream over the rest of the file, so a 500 MB export is decoded as it is
parsed. The byte-order mark is dropped, so the first record's first tag reads ``TY`` and
not ``\\ufeffTY``.

A head that is valid UTF-8 is read as UTF-8 at once. Otherwise charset-normalizer looks at
a sample of it: the lines of the first 64 KB that have a byte outside ASCII, at most
``SAMPLE_SIZE`` bytes of them (the ASCII tags around them say nothing about the encoding).
A sample whose bytes beyond ASCII mostly stand alone ("Müller", "résumé") is Latin script
and skips the detector; when the detector finds a Latin-script text too, the file is read
as Windows-1252 as before: on samples this small it cannot tell the Latin code pages apart
(it takes German for Baltic), and Windows-1252 is the one exports use. Any other script
(Chinese, Japanese, Korean, Cyrillic, Greek, …) is read in the encoding it found, with a
warning naming it. A user who knows better names the encoding (``encoding=`` of
``parse_file``: the upload form's choice, ``importcitations --encoding``), and no
detection runs.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from typing import TYPE_CHECKING, BinaryIO, TextIO, cast

from .base import FileFormatError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

HEAD_SIZE = 64 * 1024

BINARY_MESSAGE = "the file is binary, not a text export"
XLS_MESSAGE = "old Excel .xls files cannot be read: save the sheet as .xlsx or CSV"
CP1252_WARNING = "file is not valid UTF-8; read as Windows-1252"
SAMPLE_SIZE = 16 * 1024  # bytes of non-ASCII lines charset-normalizer looks at

# The encodings a user can name instead of detection: the codec and how it is shown. The
# codec is what Python decodes with (GB18030 reads GBK and GB2312 files alike).
ENCODINGS: dict[str, str] = {
    "utf-8": "UTF-8",
    "windows-1252": "Windows-1252 (Western European)",
    "iso-8859-1": "ISO-8859-1 (Latin-1)",
    "windows-1250": "Windows-1250 (Central European)",
    "windows-1251": "Windows-1251 (Cyrillic)",
    "gb18030": "GBK / GB18030 (Simplified Chinese)",
    "big5": "Big5 (Traditional Chinese)",
    "shift_jis": "Shift JIS (Japanese)",
    "euc-jp": "EUC-JP (Japanese)",
    "euc-kr": "EUC-KR (Korean)",
    "utf-16": "UTF-16",
}
_HIGH_BYTE_RE = re.compile(rb"[\x80-\xff]")
_LONE_HIGH_BYTE_RE = re.compile(rb"(?<![\x80-\xff])[\x80-\xff](?![\x80-\xff])")
# What detection chooses among: the encodings of exports that are not UTF-8 (fewer
# candidates, fewer ways to be wrong, and a faster answer).
_CANDIDATES = (
    "cp1252",
    "cp1250",
    "cp1251",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp874",
    "gb18030",
    "big5",
    "cp932",
    "euc_jp",
    "cp949",
)

# Signatures of files people upload by mistake. ZIP is left to the dispatcher: an XLSX
# workbook is a ZIP file.
_BINARY_SIGNATURES = (
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",  # JPEG
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"7z\xbc\xaf",
    b"Rar!",
)
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .doc


class _Replay(io.RawIOBase):
    """A raw stream that gives ``prefix`` and then the rest of ``source``.

    With ``check_utf8`` it also watches the bytes go by and records one warning the first
    time they stop being UTF-8 (the text layer replaces such bytes with U+FFFD).
    """

    def __init__(
        self,
        prefix: bytes,
        source: BinaryIO,
        *,
        check_utf8: bool = False,
        blank_nul: bool = False,
        warnings: list[str] | None = None,
    ) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._source = source
        self._blank_nul = blank_nul
        self._decoder = codecs.getincrementaldecoder("utf-8")() if check_utf8 else None
        self._warnings = warnings if warnings is not None else []
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
        else:
            data = self._source.read(len(view))
            if self._blank_nul and b"\x00" in data:
                # NUL bytes past the head (which refuses them as binary) are damage; no
                # database text column stores them (PostgreSQL refuses the whole batch).
                data = data.replace(b"\x00", b" ")
                self._warn_nul()
            n = len(data)
            view[:n] = data
        if self._decoder is not None:
            self._check(view[:n], final=n == 0)
        self._offset += n
        return n

    _nul_seen = False

    def _warn_nul(self) -> None:
        if not self._nul_seen:  # one warning is enough; every chunk is still cleaned
            self._nul_seen = True
            self._warnings.append("the file has NUL bytes (binary data); they were read as spaces")

    def _check(self, data: memoryview, *, final: bool) -> None:
        assert self._decoder is not None
        try:
            self._decoder.decode(data, final)
        except UnicodeDecodeError as error:
            self._decoder = None
            self._warnings.append(
                f"the file has bytes that are not valid UTF-8 (first near byte "
                f"{self._offset + error.start + 1:,}); they were replaced with \ufffd"
            )


def read_head(stream: BinaryIO, size: int = HEAD_SIZE) -> bytes:
    """Read up to ``size`` bytes from ``stream`` (short reads are retried until EOF)."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def check_encoding(requested: str) -> str:
    """``requested`` (``"auto"`` or one of ``ENCODINGS``), or ``FileFormatError``."""
    if requested != "auto" and requested not in ENCODINGS:
        raise FileFormatError(
            f"unknown encoding {requested!r}: use auto or one of {', '.join(ENCODINGS)}"
        )
    return requested


def sniff_encoding(head: bytes, requested: str = "auto") -> tuple[str, str, int, list[str]]:
    """Decide how to decode a file from its first bytes.

    Returns ``(codec, name, bom_length, warnings)``: the Python codec that reads the bytes
    after the byte-order mark, the encoding name to report, how many bytes of byte-order
    mark to skip, and warnings for the user. ``requested`` names the encoding instead of
    detecting it (one of ``ENCODINGS``). Raises ``FileFormatError`` for binary files.
    """
    if head.startswith(_OLE_SIGNATURE):
        raise FileFormatError(XLS_MESSAGE)
    if head.startswith(_BINARY_SIGNATURES):
        raise FileFormatError(BINARY_MESSAGE)
    if check_encoding(requested) != "auto":
        return _requested(head, requested)
    # UTF-32's little-endian mark begins with UTF-16's: test it first.
    if head.startswith(codecs.BOM_UTF32_LE):
        return "utf-32-le", "utf-32-le", 4, []
    if head.startswith(codecs.BOM_UTF32_BE):
        return "utf-32-be", "utf-32-be", 4, []
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", "utf-16-le", 2, []
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", "utf-16-be", 2, []
    bom_length = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    if not bom_length:
        utf16 = _utf16_without_bom(head)
        if utf16:
            return utf16, utf16, 0, []
    body = head[bom_length:]
    if b"\x00" in body:
        raise FileFormatError(BINARY_MESSAGE)
    if _is_utf8(body, complete=len(head) < HEAD_SIZE):
        return "utf-8", "utf-8-sig" if bom_length else "utf-8", bom_length, []
    detected = _detect(body)
    if detected is None:
        return "cp1252", "windows-1252", bom_length, [CP1252_WARNING]
    codec, name = detected
    return codec, name, bom_length, [f"file is not valid UTF-8; read as {name} (detected)"]


def _detect(body: bytes) -> tuple[str, str] | None:
    """``(codec, name)`` of a text that is not in a Latin script, from a sample of its
    non-ASCII lines; ``None`` when it is Latin (or nothing better is found)."""
    sample = bytearray()
    position = 0
    while len(sample) < SAMPLE_SIZE and (match := _HIGH_BYTE_RE.search(body, position)):
        start = body.rfind(b"\n", 0, match.start()) + 1
        end = body.find(b"\n", match.end())
        end = len(body) if end < 0 else end
        sample += body[start : min(end, start + SAMPLE_SIZE - len(sample))] + b"\n"
        position = end
    # Latin text has a byte beyond ASCII here and there ("Müller", "résumé"); the other
    # scripts write whole words of them, and the East Asian encodings two bytes a letter.
    # Most bytes beyond ASCII standing alone: Latin, at once (detection can take a Latin
    # letter pair for a Japanese or Chinese character).
    lone = len(_LONE_HIGH_BYTE_RE.findall(sample))
    if lone * 2 > len(_HIGH_BYTE_RE.findall(sample)):
        return None
    from charset_normalizer import from_bytes  # imported on this rare path only

    best = from_bytes(bytes(sample), cp_isolation=list(_CANDIDATES)).best()
    if best is None or not _is_other_script(str(best)):
        return None
    codec = codecs.lookup(best.encoding).name
    name = f"windows-{codec[2:]}" if codec.startswith("cp125") else codec.replace("_", "-")
    return codec, name


def _is_other_script(text: str) -> bool:
    """Whether most letters beyond ASCII in ``text`` belong to a script other than Latin."""
    letters = [c for c in text if ord(c) > 127 and c.isalpha()]
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return len(letters) > 2 * latin


def _requested(head: bytes, requested: str) -> tuple[str, str, int, list[str]]:
    """How to read a file in the encoding its uploader named: a byte-order mark of that
    encoding is skipped, and bytes that it cannot decode in the head are counted."""
    codec = codecs.lookup(requested).name
    bom_length = 0
    if codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
        bom_length = len(codecs.BOM_UTF8)
    elif codec == "utf-16":
        if head.startswith(codecs.BOM_UTF16_LE):
            codec, bom_length = "utf-16-le", 2
        elif head.startswith(codecs.BOM_UTF16_BE):
            codec, bom_length = "utf-16-be", 2
        else:
            codec = _utf16_without_bom(head) or "utf-16-le"
    elif b"\x00" in head:
        raise FileFormatError(BINARY_MESSAGE)
    warnings = []
    body = head[bom_length:]
    try:
        codecs.getincrementaldecoder(codec)().decode(body, final=len(head) < HEAD_SIZE)
    except UnicodeDecodeError as error:
        warnings.append(
            f"the file has bytes that are not valid {requested} (first near byte "
            f"{bom_length + error.start + 1:,}); they were replaced with \ufffd"
        )
    return codec, requested, bom_length, warnings


def decode_head(head: bytes, codec: str, bom_length: int) -> str:
    """The decoded text of ``head`` (a partial last character is dropped)."""
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    return decoder.decode(head[bom_length:], final=False)


def open_text(stream: BinaryIO, encoding: str = "auto") -> tuple[TextIO, str, list[str]]:
    """Open a binary upload as text: ``(text stream, encoding name, warnings)``.

    ``warnings`` is a live list: if bytes that are not UTF-8 turn up after the first 64 KB
    of a file read as UTF-8, they are replaced with U+FFFD and a warning is appended while
    the text is read. Raises ``FileFormatError`` when the file is binary.
    """
    head = read_head(stream)
    codec, name, bom_length, warnings = sniff_encoding(head, encoding)
    return text_stream(head, stream, codec, bom_length, warnings), name, warnings


def text_stream(
    head: bytes, rest: BinaryIO, codec: str, bom_length: int, warnings: list[str]
) -> TextIO:
    """A text stream over ``head`` (already read from ``rest``) followed by ``rest``."""
    wide = codec.startswith(("utf-16", "utf-32"))  # NUL bytes are part of their text
    raw = _Replay(
        head[bom_length:],
        rest,
        check_utf8=codec == "utf-8",
        blank_nul=not wide,
        warnings=warnings,
    )
    buffered = io.BufferedReader(raw, buffer_size=HEAD_SIZE)
    # newline=None: "\r\n", "\r" and "\n" all end a line (exports mix them in one file).
    text = io.TextIOWrapper(buffered, encoding=codec, errors="replace", newline=None)
    return cast(TextIO, _NulFreeText(text, warnings)) if wide else text


class _NulFreeText(io.TextIOBase):
    """Text of a UTF-16/32 file with U+0000 read as a space, as ``_Replay`` does with the
    NUL bytes of other files (no database text column stores NUL)."""

    def __init__(self, inner: TextIO, warnings: list[str]) -> None:
        super().__init__()
        self._inner, self._warnings, self._warned = inner, warnings, False

    def readable(self) -> bool:
        return True

    def _clean(self, text: str) -> str:
        if "\x00" not in text:
            return text
        if not self._warned:
            self._warned = True
            self._warnings.append(
                "the file has NUL characters (binary data); they were read as spaces"
            )
        return text.replace("\x00", " ")

    def read(self, size: int | None = -1) -> str:
        return self._clean(self._inner.read(-1 if size is None else size))

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self._clean(self._inner.readline(-1 if size is None else size))

    def close(self) -> None:
        self._inner.close()
        super().close()


def binary_stream(head: bytes, rest: BinaryIO) -> BinaryIO:
    """A binary stream over ``head`` (already read from ``rest``) followed by ``rest``."""
    return io.BufferedReader(_Replay(head, rest), buffer_size=HEAD_SIZE)


def _is_utf8(data: bytes, *, complete: bool = False) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_bom(head: bytes) -> str:
    """``utf-16-le``/``utf-16-be`` when the head looks like ASCII text in UTF-16, else ``""``."""
    sample = head[:4096]
    if len(sample) < 8:
        return ""
    even_nul = sample[0::2].count(0) / len(sample[0::2])
    odd_nul = sample[1::2].count(0) / len(sample[1::2])
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return ""
