"""Labelled duplicate sets and a synthetic generator, shared by the accuracy test and the bench.

The five labelled sets live in ``../shared/data/dedup/`` (see that folder's README): each has
``records_pre_merged.csv[.gz]`` and ``merged_record_ids.csv`` (true duplicate groups).
:func:`load_labelled_set` turns them into :class:`~screening.dedup.MatchRecord` lists the
way the importers would (authors as ``Family, Given``, DOIs normalised, the PMID read from a
PubMed URL), and :func:`score` measures a result the way ASySD does:

- a set with *n* records in *g* true groups (singletons count as groups) has ``n - g``
  records *to remove* and ``g`` records *to keep*;
- a predicted cluster holding records of *m* true groups removes ``size - m`` records
  rightly and ``m - 1`` wrongly (studies lost: a *false merge*);
- record-level sensitivity = rightly removed / to remove; specificity =
  (to keep - wrongly removed) / to keep; pairwise precision and recall compare the pairs
  inside predicted clusters with the pairs inside true groups.

:func:`synthesise` scales a real set up to any size for the speed bench by copying records
with the perturbations real exports show (case, punctuation, truncated titles, lost DOIs,
initials instead of given names, ``123-30`` vs ``123-130`` pages, print year one later, …).
"""

from __future__ import annotations

import csv
import gzip
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from screening.dedup import MatchRecord, build_clusters, find_matches
from screening.importers.base import clean_text, normalise_doi, parse_year

ASYSD_SETS = ("diabetes", "neuroimaging")
SRA_SETS = ("cytology_screening", "respiratory", "stroke")
ALL_SETS = ASYSD_SETS + SRA_SETS

csv.field_size_limit(10_000_000)


@dataclass
class LabelledSet:
    """One benchmark: its records, the true duplicate groups (size ≥ 2) and the CSV path."""

    name: str
    records: list[MatchRecord]
    groups: list[set[int]]
    csv_path: Path


def record_number(record_id: str) -> int:
    """``id_0000042`` → 42 (the benchmark IDs number the records of the original export)."""
    return int(record_id.rsplit("_", 1)[-1])


_ASYSD_SPLIT_RE = re.compile(r"(?<=\.)(?=[A-Z])")
_INITIALS_RE = re.compile(r"^(?:[A-Z][a-z]?\.|[A-Z]\.-[A-Z]\.)$")


def split_asysd_authors(text: str) -> tuple[str, ...]:
    """``Adeli K.Lewis G. F.`` (ASySD's joined form) → ``("Adeli, K.", "Lewis, G. F.")``."""
    out: list[str] = []
    for chunk in _ASYSD_SPLIT_RE.split(clean_text(text)):
        words = chunk.split()
        if not words:
            continue
        cut = len(words)
        while cut > 1 and _INITIALS_RE.match(words[cut - 1]):
            cut -= 1
        family, given = " ".join(words[:cut]), " ".join(words[cut:])
        out.append(f"{family}, {given}" if given else family)
    return tuple(out)


def split_bibtex_authors(text: str) -> tuple[str, ...]:
    """``Zuna, R E and Wang, S S`` → ``("Zuna, R E", "Wang, S S")``."""
    return tuple(a for a in (clean_text(p) for p in re.split(r"\s+and\s+", text)) if a)


_PMID_URL_RE = re.compile(r"(?:ncbi\.nlm\.nih\.gov/pubmed/|pubmed\.ncbi\.nlm\.nih\.gov/)(\d+)")


def read_rows(path: Path) -> Iterable[dict[str, str]]:
    """The rows of a CSV file, gzipped or not, as dicts."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle)
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle)


def records_csv(folder: Path) -> Path:
    """The ``records_pre_merged.csv`` (or ``.csv.gz``) of one set."""
    plain = folder / "records_pre_merged.csv"
    return plain if plain.exists() else folder / "records_pre_merged.csv.gz"


def row_to_record(row: dict[str, str]) -> MatchRecord:
    """One benchmark CSV row as the importers would hand it to the matcher."""
    author = row.get("author") or ""
    authors = split_bibtex_authors(author) if "," in author else split_asysd_authors(author)
    url = row.get("url") or ""
    pmid_match = _PMID_URL_RE.search(url)
    return MatchRecord(
        id=record_number(row["ID"]),
        title=clean_text(row.get("title")),
        authors=authors,
        year=parse_year(row.get("year")),
        journal=clean_text(row.get("journal")),
        volume=clean_text(row.get("volume")),
        issue=clean_text(row.get("number")),
        pages=clean_text(row.get("pages")),
        doi=normalise_doi(row.get("doi")),
        pmid=pmid_match.group(1) if pmid_match else "",
        isbn="",
        publication_type="",
        abstract=clean_text(row.get("abstract")),
    )


def load_labelled_set(folder: Path) -> LabelledSet:
    """Read one benchmark folder (``records_pre_merged.csv[.gz]`` + ``merged_record_ids.csv``)."""
    path = records_csv(folder)
    records = [row_to_record(row) for row in read_rows(path)]
    groups = [
        {record_number(i) for i in row["merged_ids"].split(";") if i}
        for row in read_rows(folder / "merged_record_ids.csv")
    ]
    return LabelledSet(name=folder.name, records=records, groups=groups, csv_path=path)


# ---------------------------------------------------------------------------------- scoring


@dataclass
class Scores:
    """Accuracy of one clustering against the true groups (see the module docstring)."""

    records: int
    to_remove: int
    removed_right: int
    removed_wrong: int
    sensitivity: float
    specificity: float
    pair_precision: float
    pair_recall: float
    false_merges: int  # predicted clusters that join two or more true groups


def score(
    ids: Iterable[int], clusters: Iterable[Iterable[int]], groups: Iterable[Iterable[int]]
) -> Scores:
    """Score predicted ``clusters`` against true ``groups`` over the records ``ids``."""
    truth: dict[int, int] = {}
    all_ids = list(ids)
    for number, group in enumerate(groups):
        for record_id in group:
            truth[record_id] = number
    next_group = len(truth) + 1_000_000
    for record_id in all_ids:
        if record_id not in truth:
            truth[record_id] = next_group
            next_group += 1
    true_sizes = Counter(truth[i] for i in all_ids)
    to_keep = len(true_sizes)
    to_remove = len(all_ids) - to_keep
    true_pairs = sum(k * (k - 1) // 2 for k in true_sizes.values())

    removed_right = removed_wrong = false_merges = 0
    predicted_pairs = right_pairs = 0
    for cluster in clusters:
        members = list(cluster)
        if len(members) < 2:
            continue
        parts = Counter(truth[i] for i in members)
        removed_right += len(members) - len(parts)
        removed_wrong += len(parts) - 1
        if len(parts) > 1:
            false_merges += 1
        predicted_pairs += len(members) * (len(members) - 1) // 2
        right_pairs += sum(k * (k - 1) // 2 for k in parts.values())
    return Scores(
        records=len(all_ids),
        to_remove=to_remove,
        removed_right=removed_right,
        removed_wrong=removed_wrong,
        sensitivity=removed_right / to_remove if to_remove else 1.0,
        specificity=(to_keep - removed_wrong) / to_keep if to_keep else 1.0,
        pair_precision=right_pairs / predicted_pairs if predicted_pairs else 1.0,
        pair_recall=right_pairs / true_pairs if true_pairs else 1.0,
        false_merges=false_merges,
    )


def connected(pairs: Iterable[tuple[int, int]]) -> list[set[int]]:
    """Connected components of ``pairs`` (plain union-find, for scoring other tools)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    out: dict[int, set[int]] = {}
    for x in parent:
        out.setdefault(find(x), set()).add(x)
    return list(out.values())


@dataclass
class Evaluation:
    """Our engine on one labelled set: sure merges alone, and with the pending queue."""

    name: str
    auto: Scores
    with_pending: Scores
    pending: int
    seconds: float


def evaluate(labelled: LabelledSet) -> Evaluation:
    """Run :func:`find_matches` + :func:`build_clusters` on a set and score the result.

    ``auto`` scores the clusters a full pass would merge; ``with_pending`` counts every
    pending pair as if a person had confirmed it (the best the queue can reach).
    """
    started = time.perf_counter()
    matches = find_matches(labelled.records)
    clusters = build_clusters(matches)
    seconds = time.perf_counter() - started
    ids = [r.id for r in labelled.records]
    pending = [m for m in matches if m.outcome == "pending"]
    confirmed = [frozenset((m.a, m.b)) for m in pending]
    return Evaluation(
        name=labelled.name,
        auto=score(ids, clusters, labelled.groups),
        with_pending=score(ids, build_clusters(matches, confirmed=confirmed), labelled.groups),
        pending=len(pending),
        seconds=seconds,
    )


# -------------------------------------------------------------------------------- synthesis


def _swap_case(text: str, rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.4:
        return text.upper()
    if choice < 0.7:
        return text.lower()
    return text.title()


def _perturb_title(title: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        title = _swap_case(title, rng)
    elif roll < 0.25 and len(title) > 60:
        title = title[: rng.randint(50, len(title) - 5)].rsplit(" ", 1)[0]  # truncated
    elif roll < 0.35:
        title = re.sub(r"[:,;\-]", rng.choice(["", " ", " - "]), title)
    elif roll < 0.42:
        title = title.rstrip(".") + "."
    elif roll < 0.47 and len(title) > 20:
        i = rng.randrange(len(title) - 1)  # one typo
        title = title[:i] + title[i + 1] + title[i] + title[i + 2 :]
    elif roll < 0.50:
        title = f"[{title}]"
    return title


def _initials(author: str) -> str:
    family, _, given = author.partition(",")
    letters = [part[0] for part in re.split(r"[\s.\-]+", given) if part]
    return f"{family}, {' '.join(letters)}" if letters else family


def _perturb_pages(pages: str, rng: random.Random) -> str:
    match = re.fullmatch(r"(\d+)-(\d+)", pages)
    if match and rng.random() < 0.5:
        start, end = match.groups()
        if len(end) == len(start):  # 123-130 → 123-30
            common = 0
            while common < len(start) - 1 and start[common] == end[common]:
                common += 1
            return f"{start}-{end[common:]}"
    if match and rng.random() < 0.3:
        return match.group(1)
    return pages


def perturb(record: MatchRecord, new_id: int, rng: random.Random) -> MatchRecord:
    """A copy of ``record`` as another database might export it."""
    authors = record.authors
    roll = rng.random()
    if roll < 0.3:
        authors = tuple(_initials(a) for a in authors)
    elif roll < 0.4 and len(authors) > 3:
        authors = authors[:3]
    elif roll < 0.45:
        authors = tuple(a.upper() for a in authors)
    return replace(
        record,
        id=new_id,
        title=_perturb_title(record.title, rng),
        authors=authors,
        doi="" if rng.random() < 0.25 else record.doi.upper() if rng.random() < 0.1 else record.doi,
        pmid="" if rng.random() < 0.4 else record.pmid,
        year=record.year + 1 if record.year and rng.random() < 0.1 else record.year,
        journal=_swap_case(record.journal, rng) if rng.random() < 0.3 else record.journal,
        pages=_perturb_pages(record.pages, rng),
        issue="" if rng.random() < 0.2 else record.issue,
        abstract="" if rng.random() < 0.3 else record.abstract,
    )


def _vocabulary(seeds: Sequence[MatchRecord]) -> tuple[list[str], list[str], list[str]]:
    """Title words, family names and journals seen in the seed records."""
    words = [w for r in seeds for w in r.title.split() if len(w) > 3 and w.isalpha()]
    families = [a.partition(",")[0] for r in seeds for a in r.authors if "," in a]
    journals = [r.journal for r in seeds if r.journal]
    return words, families or ["Smith"], journals or ["Journal"]


def _fresh(
    seed: MatchRecord,
    new_id: int,
    serial: int,
    vocabulary: tuple[list[str], list[str], list[str]],
    rng: random.Random,
) -> MatchRecord:
    """A new study shaped like ``seed``: a title with some words swapped, other people, venue."""
    words, families, journals = vocabulary
    title = " ".join(
        rng.choice(words) if len(w) > 3 and rng.random() < 0.5 else w for w in seed.title.split()
    )
    authors = tuple(
        f"{rng.choice(families)}, {rng.choice('ABCDEFGHIJKLMNOPRSTW')}. {rng.choice('ABCDEJKLMS')}."
        for _ in range(rng.choice((1, 2, 3, 3, 4, 5, 6, 8, 12)))
    )
    start = rng.randint(1, 2500)
    year = rng.randint(1985, 2024)
    journal = rng.choice(journals)
    volume = str(rng.randint(1, 400))
    return replace(
        seed,
        id=new_id,
        title=title,
        authors=authors,
        year=year,
        journal=journal,
        volume=volume,
        issue=str(rng.randint(1, 12)),
        pages=f"{start}-{start + rng.randint(0, 15)}",
        doi=f"10.{rng.randint(1000, 9999)}/synth.{year}.{serial}" if rng.random() < 0.7 else "",
        pmid=str(20_000_000 + serial) if rng.random() < 0.5 else "",
    )


def synthesise(
    seeds: Sequence[MatchRecord], size: int, *, seed: int = 7
) -> tuple[list[MatchRecord], list[set[int]]]:
    """``size`` records made from ``seeds``, about a third of them duplicates.

    Each study is a fresh variant of a seed record (some title words swapped for words of
    other titles, other authors, venue, year and identifiers; the abstract kept), exported
    1-5 times (60 % once, 25 % twice, 10 % three times, 5 % four or five times) with the
    perturbations of :func:`perturb`, as searches in several databases would. Returns the
    records in random order and the true groups.
    """
    rng = random.Random(seed)
    vocabulary = _vocabulary(seeds)
    records: list[MatchRecord] = []
    groups: list[set[int]] = []
    serial = 0
    while len(records) < size:
        serial += 1
        base = _fresh(rng.choice(seeds), len(records) + 1, serial, vocabulary, rng)
        roll = rng.random()
        copies = 1 if roll < 0.6 else 2 if roll < 0.85 else 3 if roll < 0.95 else 4 + (roll > 0.99)
        group = {base.id}
        records.append(base)
        for _ in range(copies - 1):
            if len(records) >= size:
                break
            duplicate = perturb(base, len(records) + 1, rng)
            records.append(duplicate)
            group.add(duplicate.id)
        if len(group) > 1:
            groups.append(group)
    rng.shuffle(records)
    return records, groups
