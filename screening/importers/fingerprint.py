"""Fingerprints that tell a repeated export from a new one (pure: no Django).

Two are kept per search. ``content_fingerprint``: the SHA-256 of the file's bytes, inflated
first when gzipped, so the same export uploaded twice (or once zipped and once not) is the
same. ``records_fingerprint``: the SHA-256 of the sorted identities of the file's records,
so the same records exported again from the same database (another file format, or the
same format with other line endings or field order) are recognised too.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections.abc import Iterable
from typing import BinaryIO

from .base import FileFormatError

__all__ = ["content_fingerprint", "record_identity", "records_fingerprint"]

CHUNK = 1 << 20
_NOT_WORD = re.compile(r"[\W_]+")


def content_fingerprint(stream: BinaryIO, *, gzip_limit: int) -> str:
    """SHA-256 (hex) of the stream's bytes from where it stands, inflated when it starts
    with the gzip magic number but never past ``gzip_limit`` bytes (a gzip bomb). The
    stream is left where it was."""
    start = stream.tell()
    digest = hashlib.sha256()
    try:
        if stream.read(2) == b"\x1f\x8b":
            stream.seek(start)
            total = 0
            with gzip.GzipFile(fileobj=stream) as inflated:
                while chunk := inflated.read(CHUNK):
                    total += len(chunk)
                    if total > gzip_limit:
                        raise FileFormatError(
                            f"the compressed file unpacks to more than {gzip_limit // 1048576} MB"
                        )
                    digest.update(chunk)
        else:
            stream.seek(start)
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise FileFormatError(f"the compressed file could not be read ({exc})") from None
    finally:
        stream.seek(start)
    return digest.hexdigest()


def record_identity(*, doi: str, pmid: str, title: str, year: int | None) -> str:
    """What makes a record the same record in two exports of one database: its DOI, else
    its PMID, else its title (letters and digits only, case-folded) and year."""
    doi = doi.strip().casefold()
    if doi:
        return f"doi:{doi}"
    pmid = pmid.strip()
    if pmid:
        return f"pmid:{pmid}"
    words = _NOT_WORD.sub(" ", title.casefold()).strip()
    return f"title:{words}|{year or ''}"


def records_fingerprint(identities: Iterable[str]) -> str:
    """SHA-256 (hex) of the sorted identities: the same multiset of records gives the same
    fingerprint whatever their order in the file."""
    digest = hashlib.sha256()
    for identity in sorted(identities):
        digest.update(identity.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
