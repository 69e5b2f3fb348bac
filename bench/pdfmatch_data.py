"""Full-text PDFs built from real records, to measure how well PDFs find their records.

Shared by ``bench/pdfmatch.py`` (the table) and
``tests/screening/test_pdf_matching_accuracy.py`` (the floors).

The records are real: the PubMed and Scopus RIS exports of one search on gambling harms
(``../shared/data/exports/citesource-gambling-harms/``, from ESHackathon/CiteSource, GPL-3),
read by reviewflow's own importer and reduced to one record per publication (same DOI, or
titles at least 95 % alike and of the same kind: an erratum is not its article), as
deduplication leaves them. No PDF is shipped: each one is
written here from a record's own title, authors, journal, year, DOI and abstract, laid out in
one of the ways real articles are (see ``LAYOUTS``). Some records are kept out of the review
(their PDFs must stay unmatched), and some PDFs are of a *different* publication whose title
nearly equals a review record's (an erratum, a companion paper): they must not be attached.
"""

from __future__ import annotations

import io
import os
import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from screening.dedup.normalise import notice_kind
from screening.importers import parse_file
from screening.importers.base import ParsedRecord
from screening.pdfmatch import Candidate, Match, _plain, match_pdf, read_pdf

DATA = Path(
    os.environ.get(
        "REVIEWFLOW_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
EXPORTS = ("20221207_gambling-harms_pubmed_176.ris", "20221207_gambling-harms_scopus_255.ris")

# How the first page looks. "doi_*" layouts print the record's DOI on page 1.
LAYOUTS = (
    "doi_banner",  # journal banner, DOI link, title, authors, abstract
    "doi_footer",  # title, authors, abstract, then "doi:" in the page's footer
    "title_wrapped",  # running header, title broken over lines, authors, abstract; no DOI
    "title_hyphenated",  # as above, a long word of the title hyphenated at a line end
    "title_upper",  # title in capitals, "SURNAME I" authors, no DOI
    "metadata",  # PDF Title/Author metadata, a cover page without the title, no DOI
    "letter_refs",  # a short letter: no own DOI, page 2 cites two other review records
)
NEAR_KINDS = ("erratum", "sibling")


@dataclass(frozen=True)
class Case:
    """One PDF and what it truly is: the review record it is the full text of, or none."""

    pdf: bytes
    truth: int | None  # candidate id, None when its publication is not in the review
    kind: str  # a layout, "outsider:<layout>", or "near:<erratum|sibling:...|real>"
    record_title: str


def load_records(folder: Path | None = None) -> list[ParsedRecord]:
    """The exports' records, one per publication, in file order."""
    folder = folder or DATA / "exports" / "citesource-gambling-harms"
    kept: list[ParsedRecord] = []
    dois: set[str] = set()
    titles: list[tuple[str, str]] = []
    for name in EXPORTS:
        with (folder / name).open("rb") as fh:
            parsed = parse_file(fh)
            for r in parsed.results:
                if not isinstance(r, ParsedRecord) or not r.title:
                    continue
                doi, title = r.doi.lower(), _plain(r.title)
                kind = notice_kind(r.title, r.publication_type)  # an erratum is not its article
                if (doi and doi in dois) or any(
                    k == kind and fuzz.ratio(title, t) >= 95 for t, k in titles
                ):
                    continue
                kept.append(r)
                titles.append((title, kind))
                if doi:
                    dois.add(doi)
    return kept


# --- writing PDFs -------------------------------------------------------------------------


def _latin(text: str) -> str:
    """Text a Type1 font with WinAnsiEncoding can show (accents kept where Latin-1 has them)."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "'")
    return text.encode("latin-1", "replace").decode("latin-1")


def _esc(text: str) -> str:
    return _latin(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(pages: Sequence[Sequence[str]], *, title: str = "", author: str = "") -> bytes:
    """A valid PDF with one text line per entry (Helvetica, extractable) on each page, and
    ``title``/``author`` in its Info dictionary when given."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets: list[int] = []

    def obj(number: int, body: bytes) -> None:
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")

    page_numbers = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{n} 0 R" for n in page_numbers)
    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(2, f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for lines, n in zip(pages, page_numbers, strict=True):
        ops = " ".join(f"({_esc(line)}) Tj T*" for line in lines)
        stream = f"BT /F1 9 Tf 54 760 Td 11 TL {ops} ET".encode("latin-1")
        obj(
            n,
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            f"<< /Font << /F1 3 0 R >> >> /Contents {n + 1} 0 R >>".encode(),
        )
        obj(n + 1, f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    info = 4 + 2 * len(pages)
    entries = (f"/Title ({_esc(title)}) " if title else "") + (
        f"/Author ({_esc(author)})" if author else ""
    )
    obj(info, f"<< /Producer (reviewflow bench) {entries} >>".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {info + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {info + 1} /Root 1 0 R /Info {info} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def _hyphenate(lines: list[str]) -> list[str]:
    """Break the first long word that ends a line (not the last line) with a hyphen."""
    for i, line in enumerate(lines[:-1]):
        words = line.split()
        last = words[-1]
        if len(last) >= 8 and last.isalpha():
            cut = len(last) // 2
            lines = list(lines)
            lines[i] = " ".join([*words[:-1], last[:cut] + "-"])
            lines[i + 1] = last[cut:] + " " + lines[i + 1]
            return lines
    return lines


def _given_family(author: str) -> tuple[str, str]:
    family, _, given = author.partition(",")
    return given.strip(), family.strip()


def _byline(authors: Sequence[str], style: str) -> str:
    names = []
    for a in authors[:6]:
        given, family = _given_family(a)
        initials = "".join(w[0] for w in given.replace("-", " ").split() if w)
        if style == "upper":
            names.append(f"{family.upper()} {initials}")
        elif style == "initials":
            names.append(f"{'. '.join(initials)}. {family}" if initials else family)
        else:
            names.append(f"{given} {family}".strip())
    more = ", et al." if len(authors) > 6 else ""
    return ", ".join(names) + more


def _header(r: ParsedRecord) -> str:
    return f"{r.journal or 'Journal'} ({r.year or ''}) {r.volume}:{r.pages}".strip()


def _abstract(r: ParsedRecord) -> list[str]:
    text = r.abstract or "No abstract available."
    return ["Abstract", *_wrap(text, 95)[:25]]


def page_one(r: ParsedRecord, layout: str, rng: random.Random) -> tuple[list[str], str, str]:
    """The first page's lines and the Info title/author for ``r`` in ``layout``."""
    affiliation = "Department of Psychology, University, City, Country"
    title_lines = _wrap(r.title, rng.choice((48, 60, 75)))
    body = _abstract(r)
    received = f"Received: 3 March {r.year or 2020} / Accepted: 9 June {r.year or 2020}"
    if layout == "doi_banner":
        lines = [
            (r.journal or "Journal").upper(),
            f"https://doi.org/{r.doi}",
            "ORIGINAL ARTICLE",
            *title_lines,
            _byline(r.authors, "full"),
            affiliation,
            received,
            *body,
        ]
    elif layout == "doi_footer":
        footer = f"{_header(r)} doi:{r.doi}"
        lines = [*title_lines, _byline(r.authors, "initials"), affiliation, *body, footer]
    elif layout in ("title_wrapped", "title_hyphenated", "letter_refs"):
        if layout == "title_hyphenated":
            title_lines = _hyphenate(_wrap(r.title, 40))
        kicker = "LETTER TO THE EDITOR" if layout == "letter_refs" else "Research Article"
        lines = [
            _header(r),
            kicker,
            *title_lines,
            _byline(r.authors, "full"),
            affiliation,
            *body,
        ]
    elif layout == "title_upper":
        lines = [
            _header(r),
            *_wrap(r.title.upper(), 50),
            _byline(r.authors, "upper"),
            affiliation,
            *body,
        ]
    elif layout == "metadata":
        lines = [
            r.journal or "Journal",
            "Author accepted manuscript",
            "This is the accepted version of the article.",
            "Copyright the authors. Reuse under the licence stated by the publisher.",
        ]
        return lines, r.title, "; ".join(_byline(r.authors, "full").split(", "))
    else:
        raise ValueError(f"unknown layout {layout!r}")
    return lines, "", ""


def _cited(r: ParsedRecord) -> str:
    given, family = _given_family(r.authors[0]) if r.authors else ("", "Anon")
    return f"{family} {given[:1]}, et al. {r.title} {r.journal}. {r.year}. doi:{r.doi}"


def build_pdf(
    r: ParsedRecord, layout: str, rng: random.Random, others: Sequence[ParsedRecord]
) -> bytes:
    lines, title, author = page_one(r, layout, rng)
    second = ["Introduction", *_wrap(r.abstract or "", 95)[:10]]
    if layout == "letter_refs":
        second += ["References", *[_cited(o) for o in others[:2]]]
    return write_pdf([lines, second], title=title, author=author)


SWAPS = {
    "adults": "adolescents",
    "adolescents": "adults",
    "men": "women",
    "women": "men",
    "australia": "New Zealand",
    "online": "land-based",
    "cross-sectional": "longitudinal",
    "longitudinal": "cross-sectional",
    "older": "younger",
    "young": "older",
    "students": "employees",
}


def near_duplicate(r: ParsedRecord, kind: str) -> ParsedRecord:
    """A different publication whose title nearly equals ``r``'s, by the same authors:

    - ``erratum``: "Erratum:" before the same title, its own DOI;
    - ``sibling``: a companion paper, one word of the title changed (adults/adolescents,
      men/women, online/land-based, another country...), else its subtitle replaced by "a
      longitudinal follow-up" (a title without either keeps its words and adds that
      subtitle: the hardest case, since the record's whole title is in the PDF's).
    """
    doi = f"{r.doi}.x" if r.doi else ""
    title, abstract = r.title, r.abstract
    if kind == "erratum":
        title = f"Erratum: {r.title}"
        abstract = (
            "The authors regret an error in the table of results. "
            "The corrected values are given below; the conclusions are unchanged."
        )
    else:
        words = r.title.split()
        for i, w in enumerate(words):
            if w.lower().strip(",.:;") in SWAPS:
                words[i] = SWAPS[w.lower().strip(",.:;")] + w[len(w.rstrip(",.:;")) :]
                kind = "sibling:word"
                break
        else:
            main, colon, _ = r.title.partition(":")
            kind = "sibling:subtitle" if colon else "sibling:extended"
            words = f"{main.strip().rstrip('.')}: a longitudinal follow-up".split()
        title = " ".join(words)
    twin = ParsedRecord(
        line=0,
        record_id=kind,
        raw={},
        title=title,
        authors=r.authors,
        journal=r.journal,
        year=(r.year or 2020) + 1,
        doi=doi,
        abstract=abstract,
    )
    return twin


# --- the benchmark -------------------------------------------------------------------------


@dataclass
class Tally:
    pdfs: int = 0
    in_review: int = 0
    sure_right: int = 0
    sure_wrong: int = 0  # attached to a record it is not the full text of
    unsure: int = 0
    unsure_with_truth: int = 0  # the true record among the unsure candidates
    unmatched: int = 0
    unmatched_in_review: int = 0  # a PDF of a review record left unmatched

    @property
    def sure(self) -> int:
        return self.sure_right + self.sure_wrong

    @property
    def precision(self) -> float:
        return self.sure_right / self.sure if self.sure else 1.0

    @property
    def recall(self) -> float:
        return self.sure_right / self.in_review if self.in_review else 1.0


@dataclass
class Outcome:
    case: Case
    match: Match


def build_cases(
    records: Sequence[ParsedRecord],
    *,
    seed: int = 22,
    size: int | None = None,
    outsiders: float = 0.08,
    near: int = 10,
) -> tuple[list[Candidate], list[Case]]:
    """The review's candidates and the PDFs: one per review record (``size`` of them at
    most), one per outsider, ``near`` near-duplicates of review records."""
    rng = random.Random(seed)
    pool = list(records)
    rng.shuffle(pool)
    if size is not None:
        pool = pool[: round(size / (1 - outsiders))]
    # Real near-duplicates: two different publications of the export with titles at least
    # 85 % alike (here a BMJ letter and its erratum). The second stays out of the review.
    plain = [_plain(r.title) for r in pool]
    real_near = {
        j
        for i in range(len(pool))
        for j in range(i + 1, len(pool))
        if fuzz.ratio(plain[i], plain[j]) >= 85
    }
    rest = [r for j, r in enumerate(pool) if j not in real_near]
    n_out = max(1, round(len(pool) * outsiders)) - len(real_near)
    outside, inside = rest[: max(0, n_out)], rest[max(0, n_out) :]
    twins = [pool[j] for j in sorted(real_near)]
    candidates = [
        Candidate(
            id=i,
            title=r.title,
            first_author=r.authors[0] if r.authors else "",
            doi=r.doi,
            pmid=r.pmid,
            year=r.year,
            volume=r.volume,
            pages=r.pages,
            abstract=r.abstract,
        )
        for i, r in enumerate(inside, start=1)
    ]
    cases: list[Case] = []
    for i, r in enumerate(inside, start=1):
        layout = LAYOUTS[rng.randrange(len(LAYOUTS))]
        if layout.startswith("doi_") and not r.doi:
            layout = "title_wrapped"
        others = rng.sample(inside, 2)
        others = [o for o in others if o is not r and o.doi] or []
        cases.append(Case(build_pdf(r, layout, rng, others), i, layout, r.title))
    for r in outside:
        layout = LAYOUTS[rng.randrange(len(LAYOUTS) - 1)]
        if layout.startswith("doi_") and not r.doi:
            layout = "title_wrapped"
        cases.append(Case(build_pdf(r, layout, rng, []), None, f"outsider:{layout}", r.title))
    for r in twins:
        layout = "title_wrapped"  # no DOI: its own DOI would settle it
        cases.append(Case(build_pdf(r, layout, rng, []), None, "near:real", r.title))
    for k, r in enumerate(rng.sample(inside, min(near, len(inside)))):
        twin = near_duplicate(r, NEAR_KINDS[k % len(NEAR_KINDS)])
        layout = LAYOUTS[rng.randrange(len(LAYOUTS) - 1)]
        if layout.startswith("doi_") and not twin.doi:
            layout = "title_wrapped"
        pdf = build_pdf(twin, layout, rng, [])
        cases.append(Case(pdf, None, f"near:{twin.record_id}", twin.title))
    return candidates, cases


def run(candidates: Sequence[Candidate], cases: Sequence[Case]) -> tuple[Tally, list[Outcome]]:
    tally = Tally()
    outcomes = []
    for case in cases:
        match = match_pdf(read_pdf(case.pdf), candidates)
        outcomes.append(Outcome(case, match))
        tally.pdfs += 1
        tally.in_review += case.truth is not None
        best = match.best.record if match.best else None
        if match.verdict == "sure":
            if best == case.truth:
                tally.sure_right += 1
            else:
                tally.sure_wrong += 1
        elif match.verdict == "unsure":
            tally.unsure += 1
            tally.unsure_with_truth += case.truth in {c.record for c in match.candidates}
        else:
            tally.unmatched += 1
            tally.unmatched_in_review += case.truth is not None
    return tally, outcomes


def kind_of(case: Case) -> str:
    return re.sub(r":.*", "", case.kind) if case.kind.startswith("outsider") else case.kind
