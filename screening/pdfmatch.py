"""Reading a PDF's text and matching it to the review's records (a pure core: no ORM).

``read_pdf`` extracts the text once (pypdf) and says when it cannot: a corrupt or
password-protected file gets a message, a scan without OCR comes back flagged ``no_text``.
``match_pdf`` finds the record a PDF is the full text of:

1. identifiers: a DOI or PMID in the PDF's metadata or first pages equal to a record's is a
   sure match (two records named that way: unsure, a person picks);
2. else the title (rapidfuzz, against the metadata title and the first page's text) and the
   first author's surname: ``SURE`` at 92 and above with the first author found and a clear
   lead over the next candidate, ``UNSURE`` from 70, else no match.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PyPdfError
from rapidfuzz import fuzz

SURE_SCORE = 92
UNSURE_SCORE = 70
# The sure candidate must lead the next one by this much, else a person picks.
SURE_MARGIN = 5
AUTHOR_MISSING_PENALTY = 15
# Identifiers and titles are looked for in the first pages only: a DOI further on is
# usually one of the references.
HEAD_PAGES = 2
HEAD_CHARS = 6000
MAX_TEXT_CHARS = 2_000_000
MAX_CANDIDATES = 3

# pypdf raises its own errors for most damage, and these for the rest (a truncated stream,
# a malformed number, a broken object table): a bad file is the uploader's to fix, and the
# batch goes on to the next file.
PDF_READ_ERRORS: tuple[type[BaseException], ...] = (
    PyPdfError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    RecursionError,
    zlib.error,
    struct.error,
)

DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
PMID_RE = re.compile(r"\bPMID\s*:?\s*(\d{1,9})\b", re.IGNORECASE)
_TRAILING = ".,;:)]}'"

Verdict = Literal["sure", "unsure", "none"]


@dataclass(frozen=True)
class PdfText:
    """What a PDF says: its text (pages split by form feeds), page count and metadata."""

    text: str = ""
    page_count: int = 0
    title: str = ""
    author: str = ""
    subject: str = ""
    error: str = ""

    @property
    def no_text(self) -> bool:
        return not self.error and not self.text.strip()

    @property
    def head(self) -> str:
        return "\f".join(self.text.split("\f")[:HEAD_PAGES])[:HEAD_CHARS]


@dataclass(frozen=True)
class Candidate:
    """A record the PDF may be the full text of."""

    id: int
    title: str = ""
    first_author: str = ""
    doi: str = ""
    pmid: str = ""


@dataclass(frozen=True)
class Scored:
    record: int
    score: int
    reason: str


@dataclass(frozen=True)
class Match:
    verdict: Verdict
    candidates: list[Scored] = field(default_factory=list)

    @property
    def best(self) -> Scored | None:
        return self.candidates[0] if self.candidates else None


def read_pdf(data: bytes) -> PdfText:
    """Extract the text and metadata of a PDF; ``error`` says why it could not be read."""
    if not data.startswith(b"%PDF-"):
        return PdfText(error="this is not a PDF file.")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return PdfText(error="the PDF is password-protected; upload an unprotected copy.")
        pages = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            pages.append(text)
            size += len(text)
            if size > MAX_TEXT_CHARS:
                break
        meta = reader.metadata
        title = str(meta.title or "") if meta else ""
        author = str(meta.author or "") if meta else ""
        subject = str(meta.subject or "") if meta else ""
        count = len(reader.pages)
    except FileNotDecryptedError:
        return PdfText(error="the PDF is password-protected; upload an unprotected copy.")
    except PDF_READ_ERRORS as exc:
        return PdfText(error=f"the PDF is damaged and could not be read ({exc}).")
    text = "\f".join(p.replace("\x00", "") for p in pages)[:MAX_TEXT_CHARS]
    return PdfText(text=text, page_count=count, title=title, author=author, subject=subject)


def normalise_doi(doi: str) -> str:
    doi = doi.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "http://dx.doi.org/", "doi:"):
        if doi.startswith(prefix):
            doi = doi[len(prefix) :]
    return doi.rstrip(_TRAILING)


def find_dois(text: str) -> list[str]:
    """The DOIs in ``text``, normalised, in order of appearance, each once."""
    found: dict[str, None] = {}
    for m in DOI_RE.finditer(text):
        found[normalise_doi(m.group(1))] = None
    return list(found)


def find_pmids(text: str) -> list[str]:
    found: dict[str, None] = {}
    for m in PMID_RE.finditer(text):
        found[m.group(1).lstrip("0")] = None
    return list(found)


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def surname(author: str) -> str:
    """The family name of ``"Smith, John"`` or ``"John Smith"``."""
    author = author.strip()
    if "," in author:
        return _plain(author.split(",", 1)[0])
    words = _plain(author).split()
    return words[-1] if words else ""


def _title_score(title: str, pdf: PdfText, head: str) -> int:
    wanted = _plain(title)
    if len(wanted) < 10:
        return 0
    scores = [0.0]
    if pdf.title.strip():
        scores.append(fuzz.token_sort_ratio(wanted, _plain(pdf.title)))
    if head:
        # The title is somewhere on the first page: the best aligned stretch of it.
        scores.append(fuzz.partial_ratio(wanted, head))
    return round(max(scores))


def match_pdf(pdf: PdfText, candidates: Iterable[Candidate]) -> Match:
    """Which candidate ``pdf`` is the full text of, with a stated confidence (0–100)."""
    candidates = list(candidates)
    head_raw = pdf.head
    ids_text = " ".join((pdf.title, pdf.subject, head_raw))
    dois = set(find_dois(ids_text))
    pmids = set(find_pmids(ids_text))
    by_id: list[Scored] = []
    for c in candidates:
        if c.doi and normalise_doi(c.doi) in dois:
            by_id.append(Scored(c.id, 100, f"DOI {normalise_doi(c.doi)} is in the PDF"))
        elif c.pmid and c.pmid.lstrip("0") in pmids:
            by_id.append(Scored(c.id, 100, f"PMID {c.pmid} is in the PDF"))
    if by_id:
        return Match("sure" if len(by_id) == 1 else "unsure", by_id[:MAX_CANDIDATES])
    head = _plain(head_raw)
    authors_text = _plain(pdf.author) + " " + head
    scored: list[Scored] = []
    for c in candidates:
        title = _title_score(c.title, pdf, head)
        if title < UNSURE_SCORE:
            continue
        name = surname(c.first_author)
        found = bool(name) and re.search(rf"\b{re.escape(name)}\b", authors_text) is not None
        score = title if found else max(0, title - AUTHOR_MISSING_PENALTY)
        reason = f"title {title} %, " + (
            f"first author {name.title()} found" if found else "first author not found"
        )
        scored.append(Scored(c.id, score, reason))
    scored.sort(key=lambda s: (-s.score, s.record))
    scored = [s for s in scored if s.score >= UNSURE_SCORE][:MAX_CANDIDATES]
    if not scored:
        return Match("none")
    best = scored[0]
    runner_up = scored[1].score if len(scored) > 1 else 0
    sure = best.score >= SURE_SCORE and best.score - runner_up >= SURE_MARGIN
    return Match("sure" if sure else "unsure", scored)


def candidates_from(rows: Sequence[dict[str, object]]) -> list[Candidate]:
    """Candidates from record rows (``id``, ``title``, ``authors``, ``doi``, ``pmid``)."""
    out = []
    for row in rows:
        authors = row.get("authors") or []
        first = str(authors[0]) if isinstance(authors, list) and authors else ""
        out.append(
            Candidate(
                id=int(str(row["id"])),
                title=str(row.get("title") or ""),
                first_author=first,
                doi=str(row.get("doi") or ""),
                pmid=str(row.get("pmid") or ""),
            )
        )
    return out
