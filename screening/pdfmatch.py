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

A title and first author name a *work*; companion papers (the adults and the adolescents
arms of one study, a follow-up that adds a subtitle) share authors, abstract and most of a
title. So a title match is sure only when the record's title is on the page word for word
(line breaks, hyphenation and capitals aside) and does not go on there (no subtitle the
record lacks), or else when page 1 shows the *publication*: a citation line with the
record's year, volume and first page. The abstract is no such evidence: companions and
preprints share it. And a page 1 that names a DOI, but not the record's, is another
publication's until a person says otherwise.
"""

from __future__ import annotations

import functools
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
    year: int | None = None
    volume: str = ""
    pages: str = ""
    abstract: str = ""


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


@dataclass(frozen=True)
class _TitleHit:
    score: int
    notice: bool  # the title follows a notice phrase ("Erratum:")
    span: tuple[int, int] | None  # where on the (plain) page the title was aligned
    exact: bool  # the record's whole title, word for word, and nothing more
    goes_on: bool = False  # the record's whole title is there, but a longer title follows


def _title_score(title: str, pdf: PdfText, head: str, page: str) -> _TitleHit:
    """The best title score (metadata title or the aligned stretch of ``head``, the plain
    form of ``page``), whether that title follows a notice phrase, and whether the record's
    title is there word for word."""
    wanted = _plain(title)
    if len(wanted) < 10:
        return _TitleHit(0, False, None, exact=False)
    scores: list[tuple[float, bool, tuple[int, int] | None]] = [(0.0, False, None)]
    meta = _plain(pdf.title)
    if meta:
        # "Correction of hyponatraemia" is an article when the record's title says so too.
        notice = NOTICE_TITLE_RE.match(meta) is not None and not wanted.startswith(meta.split()[0])
        scores.append((fuzz.token_sort_ratio(wanted, meta), notice, None))
    if head:
        # The title is somewhere on the page: the best aligned stretch of it.
        found = fuzz.partial_ratio_alignment(wanted, head)
        if found is not None:
            stretch = (found.dest_start, found.dest_end)
            scores.append((found.score, _is_notice(head[: found.dest_start]), stretch))
    best, notice, span = max(scores, key=lambda s: s[0])
    if best < UNSURE_SCORE:
        return _TitleHit(round(best), notice, span, exact=False)
    in_meta, meta_goes_on = title_found(title, pdf.title)
    on_page, page_goes_on = title_found(title, page)
    goes_on = meta_goes_on or page_goes_on
    return _TitleHit(
        round(best), notice, span, exact=(in_meta or on_page) and not goes_on, goes_on=goes_on
    )


@functools.lru_cache(maxsize=4)  # one page and one metadata title, for every candidate
def _letters(text: str) -> tuple[str, str, list[int]]:
    """``text`` decomposed and lower-cased, its letters and digits alone, and where each of
    those sits in the first: line breaks, hyphens, spaces and capitals no longer count."""
    norm = unicodedata.normalize("NFKD", text).lower()
    where = [i for i, c in enumerate(norm) if c.isalnum()]
    return norm, "".join(norm[i] for i in where), where


# After a title: more words on its line (after any punctuation), or a colon on the next
# line opening a subtitle.
GOES_ON_RE = re.compile(r"[^\w\n]*[^\W\d_]{2}|\s*:\s*\w")


def title_found(title: str, text: str) -> tuple[bool, bool]:
    """Whether ``text`` carries ``title`` word for word (line breaks, hyphens and capitals
    aside), and whether it goes on somewhere it does: a subtitle or more words on its line,
    as a companion paper's longer title does."""
    _, wanted, _ = _letters(title)
    if len(wanted) < 10 or not text:
        return False, False
    norm, letters, where = _letters(text)
    found = goes_on = False
    start = letters.find(wanted)
    while start != -1:
        found = True
        end = where[start + len(wanted) - 1] + 1
        goes_on = goes_on or GOES_ON_RE.match(norm, end) is not None
        start = letters.find(wanted, start + 1)
    return found, goes_on


def first_page_number(pages: str) -> str:
    """``"1015"`` of ``"1015-1033"``, ``"e0123"`` of ``"e0123"``; empty when there is none."""
    found = re.match(r"\s*([A-Za-z]?\d+)", pages)
    return found.group(1) if found else ""


def citation_line(c: Candidate, page: str) -> str:
    """A line of ``page`` citing the record's publication: its year, and its volume followed
    closely by its first page ("J Gambl Stud (2020) 36:1015–1033", "2020;115(6):1015"),
    which a companion paper, even in the same journal and year, does not share. Empty when
    the record lacks any of the three or no line has them."""
    volume = re.sub(r"\D", "", c.volume)
    first = first_page_number(c.pages)
    if not (c.year and volume and first):
        return ""
    together = re.compile(
        rf"(?<![\w.]){re.escape(volume)}(?!\w)[^\n]{{0,25}}?(?<!\w){re.escape(first)}(?!\w)",
        re.IGNORECASE,
    )
    year = re.compile(rf"(?<!\d){c.year}(?!\d)")
    for line in page.splitlines():
        if year.search(line) and together.search(line):
            return " ".join(line.split())[:120]
    return ""


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
    # The DOIs page 1 itself names (a later page's are mostly its references').
    page_dois = set(find_dois(" ".join((pdf.subject, text.split("\f", 1)[0]))))
    scored: list[Scored] = []
    # Where on the page each record's whole title was found (None: in the metadata).
    full_titles: dict[int, tuple[int, int] | None] = {}
    for c in candidates:
        hit = _title_score(c.title, pdf, head, text)
        title = hit.score
        if title < UNSURE_SCORE:
            continue
        if title >= SURE_SCORE:
            full_titles[c.id] = hit.span
        name = surname(c.first_author)
        found = bool(name) and re.search(rf"\b{re.escape(name)}\b", authors_text) is not None
        score = title if found else max(0, title - AUTHOR_MISSING_PENALTY)
        reason = f"title {title} %, " + (
            f"first author {name.title()} found" if found else "first author not found"
        )
        doubt = ""
        if hit.notice:
            doubt = "the PDF looks like a notice about it (erratum, retraction)"
        elif c.doi and (foreign := page_dois - set(find_dois(c.abstract))):
            # A DOI the record's own abstract cites is not the PDF's.
            doubt = f"page 1 names DOI {sorted(foreign)[0]}, not the record's"
        elif not hit.exact and title >= SURE_SCORE:
            cited = citation_line(c, text)
            if cited:
                reason += f", page 1 cites its year, volume and pages ({cited})"
            else:
                doubt = (
                    "the PDF's title goes on past the record's"
                    if hit.goes_on
                    else "the PDF's title is not the record's word for word"
                ) + " (a companion paper?) and page 1 cites no year, volume and pages of it"
        if doubt:
            score = min(score, SURE_SCORE - 1)
            reason += f", but {doubt}"
        scored.append(Scored(c.id, score, reason))
    scored.sort(key=lambda s: (-s.score, s.record))
    scored = [s for s in scored if s.score >= UNSURE_SCORE][:MAX_CANDIDATES]
    if not scored:
        return Match("none")
    best = scored[0]
    runner_up = scored[1].score if len(scored) > 1 else 0
    # A page that also carries another record's whole title elsewhere (a notice quoting the
    # article it corrects, a commentary) names both, whoever's first author it shows. A
    # companion's title aligned on the very stretch of the best's is that title read with a
    # word changed, not a second title.
    best_span = full_titles.get(best.record)
    named_both = any(
        span is None or best_span is None or not _overlap(span, best_span)
        for record, span in full_titles.items()
        if record != best.record
    )
    sure = best.score >= SURE_SCORE and best.score - runner_up >= SURE_MARGIN and not named_both
    return Match("sure" if sure else "unsure", scored)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def candidates_from(rows: Sequence[dict[str, object]]) -> list[Candidate]:
    """Candidates from record rows (``id``, ``title``, ``authors``, ``doi``, ``pmid``, and
    ``year``, ``volume``, ``pages``, ``abstract`` where given)."""
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
                year=int(str(row["year"])) if row.get("year") else None,
                volume=str(row.get("volume") or ""),
                pages=str(row.get("pages") or ""),
                abstract=str(row.get("abstract") or ""),
            )
        )
    return out
