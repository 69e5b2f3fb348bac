"""Reading a PDF's text and matching it to the review's records (a pure core: no ORM).

``read_pdf`` extracts the text once (pypdf) and says when it cannot: a corrupt or
password-protected file gets a message, a scan without OCR comes back flagged ``no_text``.
``match_pdf`` finds the record a PDF is the full text of:

1. identifiers: a DOI or PMID in the PDF's metadata or first page equal to a record's is a
   sure match (two records named that way: unsure, a person picks);
2. else the title (rapidfuzz, against the metadata title and the first page's text) and the
   first author's surname: ``SURE`` at 92 and above with the first author found and a clear
   lead over the next candidate, ``UNSURE`` from 70, else no match. A title right after a
   notice phrase ("Erratum:", "Retraction:") is a notice about the record, not its full text,
   and a page carrying two records' whole titles names both: never sure.
3. only when the first page names no record, the second page is read the same way (the title
   may sit behind a cover page), but what is found there alone is at most unsure: page 2 of a
   short paper is its reference list, full of other records' DOIs and titles.
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
# A notice about another publication repeats its title after one of these phrases (on plain,
# lower-cased text). screening.dedup.normalise has the fuller rule for records; the cores
# are independent, and here only the words just before the title matter.
_NOTICE = (
    r"(?:errat(?:um|a)|corrigend(?:um|a)|corrections?|correction notice|addendum"
    r"|retraction(?: notice| note)?|notice of retraction|expression of concern)"
    r"(?: (?:to|of|for|on|regarding))?(?: the article)?"
)
NOTICE_BEFORE_TITLE_RE = re.compile(rf"\b{_NOTICE}$")
NOTICE_TITLE_RE = re.compile(rf"^{_NOTICE}\b")
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


def _is_notice(before: str) -> bool:
    """Whether the words just before a title make the PDF a notice about it."""
    return NOTICE_BEFORE_TITLE_RE.search(before[-40:].strip()) is not None


def _title_score(title: str, pdf: PdfText, head: str) -> tuple[int, bool]:
    """The best title score (metadata title or the aligned stretch of ``head``), and whether
    that title follows a notice phrase."""
    wanted = _plain(title)
    if len(wanted) < 10:
        return 0, False
    scores = [(0.0, False)]
    meta = _plain(pdf.title)
    if meta:
        # "Correction of hyponatraemia" is an article when the record's title says so too.
        notice = NOTICE_TITLE_RE.match(meta) is not None and not wanted.startswith(meta.split()[0])
        scores.append((fuzz.token_sort_ratio(wanted, meta), notice))
    if head:
        # The title is somewhere on the page: the best aligned stretch of it.
        found = fuzz.partial_ratio_alignment(wanted, head)
        if found is not None:
            scores.append((found.score, _is_notice(head[: found.dest_start])))
    best, notice = max(scores, key=lambda s: s[0])
    return round(best), notice


def match_pdf(pdf: PdfText, candidates: Iterable[Candidate]) -> Match:
    """Which candidate ``pdf`` is the full text of, with a stated confidence (0–100)."""
    candidates = list(candidates)
    first_page = pdf.text.split("\f", 1)[0][:HEAD_CHARS]
    match = _match_text(pdf, candidates, first_page)
    if match.verdict != "none" or "\f" not in pdf.head:
        return match
    later = _match_text(pdf, candidates, pdf.head)
    return Match("unsure", later.candidates) if later.verdict == "sure" else later


def _match_text(pdf: PdfText, candidates: list[Candidate], text: str) -> Match:
    ids_text = " ".join((pdf.title, pdf.subject, text))
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
    head = _plain(text)
    authors_text = _plain(pdf.author) + " " + head
    scored: list[Scored] = []
    full_titles: set[int] = set()  # records whose whole title is in the PDF
    for c in candidates:
        title, notice = _title_score(c.title, pdf, head)
        if title < UNSURE_SCORE:
            continue
        if title >= SURE_SCORE:
            full_titles.add(c.id)
        name = surname(c.first_author)
        found = bool(name) and re.search(rf"\b{re.escape(name)}\b", authors_text) is not None
        score = title if found else max(0, title - AUTHOR_MISSING_PENALTY)
        reason = f"title {title} %, " + (
            f"first author {name.title()} found" if found else "first author not found"
        )
        if notice:
            score = min(score, SURE_SCORE - 1)
            reason += ", but the PDF looks like a notice about it (erratum, retraction)"
        scored.append(Scored(c.id, score, reason))
    scored.sort(key=lambda s: (-s.score, s.record))
    scored = [s for s in scored if s.score >= UNSURE_SCORE][:MAX_CANDIDATES]
    if not scored:
        return Match("none")
    best = scored[0]
    runner_up = scored[1].score if len(scored) > 1 else 0
    # A page that also carries another record's whole title (a notice quoting the article
    # it corrects, a commentary) names both, whoever's first author it shows.
    named_both = bool(full_titles - {best.record})
    sure = best.score >= SURE_SCORE and best.score - runner_up >= SURE_MARGIN and not named_both
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
