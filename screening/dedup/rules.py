"""The rules of comparison: is a candidate pair one publication, and why.

The rules, in the words a librarian would use. Titles are compared after
folding (case, accents, punctuation, HTML, bracketed notes such as "[Review]" or
"[Chinese]"); "alike" is the share of characters two titles have in common, and a title cut
short is compared with the same length of the other.

*Vetoes* — any one and the pair is **distinct**, however alike the titles:

- both records have a DOI and the DOIs differ (case, a ``https://doi.org/`` prefix or a
  supplementary-file suffix such as ``.s001`` are not differences);
- both have a PMID and they differ;
- the years are more than one year apart (online-first vs print explains one year);
- one record is a notice about a publication (erratum, correction, retraction, expression
  of concern, comment, reply) and the other isn't: "Erratum: <same title>" is not the
  article;
- one record says it is a meeting abstract (publication type, a journal such as
  "… Abstracts" or "Conference …", an issue "Meeting Abstracts", or a single supplement
  page) and the other is a paper in a regular issue (a page range, no supplement).

Two exceptions send a vetoed pair to a person (**pending**) instead: the same DOI or PMID
with titles at least 90 % alike (a database with a wrong year, say), and DOIs that differ
while title (95 %), year, first page, volume and first author or journal all agree (one of
the DOIs is probably wrong: databases attach another article's DOI now and then). When
first author, journal and the opening of the abstract agree as well, nothing but the DOI
differs and the pair is **auto**, with the reason "everything but the DOI is identical".

*Shared identifier* — the same DOI or PMID with titles at least 95 % alike (or one record
without a title) is **auto**, whatever author spellings say, unless journal, volume or
pages disagree. A shared identifier is strong evidence, not proof: a conference abstract
may carry its article's DOI, and databases attach a DOI to the wrong record. So when the
journals, volumes or pages differ the pair goes to a person, explained as "same DOI but
different journal and pages: possibly a conference abstract of the article" — except
where the disagreement is only spelling: the journal's or the volume's, with the same
first page and year; or a page misprinted in one journal and year, with abstracts alike.
Pages alone differing inside one issue of one journal are left to the other rules.

*Softer vetoes* — distinct unless the same DOI/PMID and titles 80 % alike, which go to a
person (so do titles differing only in a number when everything else agrees: often a typo
such as "p6INK4a" for "p16INK4a"):

- the titles are alike but their numbers differ ("Part I" / "Part II", "type 1" /
  "type 2 diabetes", "10 000" = "10000" is no difference);
- volumes and first pages both differ;
- journals and volumes both differ;
- a title that only names a kind of item ("Editorial", "Editor's Comments", "Letter to the
  editor", "Erratum": every issue of a journal has one, often by the same editor), and the
  volumes, issues or pages differ.

*Conflicts* — stop an automatic merge: volumes differ; page ranges that cannot belong to
one article (they don't overlap; an article number such as ``e0123`` and printed pages are
not compared); first authors differ and most co-authors differ too; a number in one title
only.

*Automatic merge* (**auto**) — no veto, no conflict, and one of:

- the same DOI or PMID, and titles at least 85 % alike;
- titles at least 95 % alike, years at most one apart, the same first author (for records
  without authors: abstracts that open alike), and the same journal, volume, first page or
  abstract opening (journals named differently need volume and first page);
- titles at least 90 % alike, the same first author, volume and first page;
- titles at least 95 % alike, the same year, volume and first page, the journal not
  different, and most co-authors shared (the first author spelt differently);
- titles at least 98 % alike, the same first author, journal, year, volume and issue, the
  pages alone conflicting (two articles of one issue don't share a title; databases do
  disagree on pages);
- the same citation — first author and most co-authors, journal, year, volume and a range
  of several pages — whatever the titles say (a title translated or abridged by one
  database; a single page is not enough: one page of a supplement holds several abstracts
  by one group);
- everything both records give agrees (the same first author and most co-authors, the
  same year, no conflict, journals not different: one record may lack venue and pages)
  and the titles, at least 98 % alike after folding case and punctuation, are *specific*:
  not a generic title, and at least six words of four letters or more.

*A person decides* (**pending**) — not automatic, and one of:

- the same DOI or PMID and titles at least 70 % alike;
- titles at least 95 % alike with at most one conflict;
- no conflict, the same first author, and titles at least 80 % alike or the same year (±1),
  volume and first page (a title translated differently);
- no conflict, titles at least 80 % alike, and the same journal or volume and first page.

Everything else is **distinct** and is not returned. Each :class:`Match` carries its
reasons ("same DOI", "titles 97 % alike", "first author matches", "pages conflict",
"years 3 apart (veto)", …) so every merge can be explained; :func:`explain` gives them for
any pair. First authors match when the family names agree (with the same first initial
when both give one), allowing particles, typos and names written in the other order.

These rules are written once, as the table :data:`RULES`: each line names the facts it
needs (bits such as ``SAME_ID | NO_CONFLICT``) and how alike the titles must be; the
first line that fits decides (:func:`decide`). :func:`compare` works out a pair's facts
and asks the table. :func:`screen`, the fast path for every candidate pair, is the same
comparison stopped early: once the facts known before titles are compared (identifiers,
vetoes, years, volume, first page) are in, :func:`lowest_title` reads from the table how
alike the titles must at least be for any line but a ``distinct`` one to fit, and a pair
whose titles fall short is settled without the rest of the work. So the fast path can
never reject a pair the full comparison would merge or queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from screening.dedup.normalise import compare_pages, dois_compatible, fold, journals_compatible
from screening.dedup.records import Match, MatchRecord, Outcome, Prepared

__all__ = [
    "RULES",
    "TABLE",
    "Levels",
    "Rule",
    "RuleTable",
    "Verdict",
    "compare",
    "decide",
    "explain",
    "lowest_title",
    "rules_for",
    "screen",
]

#: A pair's outcome, its 0-1 score and its reasons.
Verdict = tuple[Outcome, float, tuple[str, ...]]

#: Shortest title (characters, folded) compared with a stretch of a longer title.
MIN_CONTAINED = 24


def _title_similarity(a: Prepared, b: Prepared, floor: float = 0.0) -> tuple[float, bool]:
    """Percentage alike, and whether it came from one title containing the other.

    A title cut short, or lengthened by a series name ("Annual research review: …") or a
    subtitle, is compared with the best-matching stretch of the other, of its own length.
    A pair below ``floor`` is only known to be below it: the work that could not lift it
    to ``floor`` is skipped (the containment score is the costly part).
    """
    if a.title == b.title:
        return 100.0, False
    if not a.title or not b.title:
        return 0.0, False
    whole = Indel.normalized_similarity(a.title, b.title, score_cutoff=floor / 100) * 100
    if _may_contain(a, b):
        short, long_ = (a.title, b.title) if a.title_len <= b.title_len else (b.title, a.title)
        part = fuzz.partial_ratio(short, long_, score_cutoff=max(whole, floor))
        if part > whole:
            return part, True
    return whole, False


def _may_contain(a: Prepared, b: Prepared) -> bool:
    """Whether one title may be a stretch of the other: clearly shorter, long enough to be
    specific, and sharing its first or last words with the other (a cheap hint)."""
    short, long_ = (a.title, b.title) if a.title_len <= b.title_len else (b.title, a.title)
    return MIN_CONTAINED <= len(short) < 0.9 * len(long_) and (
        short[:12] in long_ or short[-12:] in long_
    )


#: Words of four letters or more a title needs to be specific (see ``SPECIFIC_TITLE``).
SPECIFIC_WORDS = 6


def _specific(record: Prepared) -> bool:
    """Whether a title is specific enough to name one publication (``SPECIFIC_TITLE``)."""
    if record.generic:
        return False
    return sum(len(word) >= 4 for word in record.title.split()) >= SPECIFIC_WORDS


def _same_range(a: Prepared, b: Prepared) -> bool:
    """The same printed range of several pages (``SAME_PAGE_RANGE``)."""
    pa, pb = a.pages, b.pages
    return bool(
        pa
        and pb
        and not pa.article
        and pa.last > pa.first
        and (pa.first, pa.last) == (pb.first, pb.last)
    )


def _authors_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Share of the shorter author list (first 12 family names) found in the other."""
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    return len(sa & sb) / min(len(sa), len(sb))


def _same_family(a: str, b: str) -> bool:
    """Same first-author family name, allowing the ways databases mangle names.

    Particles and compound names (``benzeev`` / ``zeev``, ``laan`` / ``laanvanhaeringen``),
    a given name glued on (``windymcnerney``), transliterations and broken accents
    (``konig`` / ``koenig``).
    """
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 4 and (long_.startswith(short) or long_.endswith(short)):
        return True
    return len(short) >= 4 and fuzz.ratio(a, b) >= 80


def _same_first_author(a: Prepared, b: Prepared) -> bool | None:
    """``None`` when a record has no author; else whether the first authors agree.

    Equal family names must also share the first initial (``Wang, X`` is not ``Wang, Y``);
    names that match only loosely (particles, typos) or that a database wrote in the other
    order (``Ching-yi, Wu`` / ``Wu, Ching-yi``) are accepted without the initial.
    """
    if not a.first_family or not b.first_family:
        return None
    if a.first_family == b.first_family:
        return not (a.first_initial and b.first_initial) or a.first_initial == b.first_initial
    if _same_family(a.first_family, b.first_family):
        return True
    return (
        a.first_family in fold(b.first_author).split()
        or b.first_family in fold(a.first_author).split()
    )


# ---------------------------------------------------------------------------------- facts
# What the rules know about a pair, one bit each; a rule names the facts it needs. The
# first group (``EARLY``) is known before the titles are compared.

SAME_ID = 1 << 0  #: the same DOI or PMID
VETO = 1 << 1  #: a veto that even a shared identifier cannot lift (DOIs, PMIDs, years, …)
ONLY_DOI_VETO = 1 << 2  #: the only such veto: the DOIs differ
UNTITLED = 1 << 3  #: a record without a title
SAME_YEAR = 1 << 4
CLOSE_YEARS = 1 << 5  #: both years known, at most one apart
SAME_VOLUME = 1 << 6
VOLUMES_AGREE = 1 << 7  #: no volume conflict (the same volume, or one unknown)
SAME_PAGE = 1 << 8  #: the same first page
EARLY = (1 << 9) - 1

SOFT_VETO = 1 << 9  #: a softer veto (numbers in the titles, volume and pages, …)
NO_SOFT_VETO = 1 << 10
ONLY_NUMBERS_VETO = 1 << 11  #: the only softer veto: the titles differ in their numbers
NO_CONFLICT = 1 << 12
ONE_CONFLICT_AT_MOST = 1 << 13
ONLY_PAGES_CONFLICT = 1 << 14
FIRST_AUTHOR = 1 << 15  #: the same first author
NO_AUTHORS = 1 << 16  #: a record without authors
SAME_JOURNAL = 1 << 17
JOURNALS_AGREE = 1 << 18  #: journals not different (the same, or one unknown)
SAME_ISSUE = 1 << 19
ABSTRACTS_ALIKE = 1 << 20  #: abstracts that open alike
COAUTHORS = 1 << 21  #: most co-authors shared
#: The same journal, volume, first page or abstract opening (journals named differently
#: need volume and first page).
CORROBORATED = 1 << 22
#: The same DOI or PMID, and nothing says it names another publication: journals,
#: volumes and pages don't disagree (or only the journal's or volume's spelling does, the
#: first page and year being the same; or only the pages do, in one journal and year, the
#: abstracts alike). Pages alone differing inside one issue of one journal are neither.
ID_AGREES = 1 << 23
#: Titles specific enough to name one publication: not a generic title, and at least
#: ``SPECIFIC_WORDS`` words of four letters or more.
SPECIFIC_TITLE = 1 << 25
#: The authors both records give agree: the first, and most of the others.
AUTHORS_AGREE = 1 << 26
#: The same printed page range, first and last page (not a single page).
SAME_PAGE_RANGE = 1 << 27
#: The only conflict is the volume or the pages (one field misprinted by a database).
ONLY_LOCATOR_CONFLICT = 1 << 28
#: The same DOI or PMID on records whose journal, volume or pages disagree: a conference
#: abstract carrying the article's DOI, or a DOI attached to the wrong record.
ID_DISAGREES = 1 << 24


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of the rules: ``verdict`` for a pair whose titles are at least ``title`` %
    alike and that has every fact in ``needs``; ``reason`` is added to the pair's reasons."""

    verdict: Outcome
    title: float
    needs: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Levels:
    """How alike titles must be (%) for the rules that read a level rather than a fixed
    figure: the only figures of the rules that a benchmark could tune. ``bench/dedup.py``
    chooses them leave one set out, to show that the shipped ones are not fitted to a set.
    """

    identical: float = 98  #: the same title but for case, punctuation, a typo
    same: float = 95  #: the same title, a few characters aside
    close: float = 90  #: with the same first author, volume and first page
    shared_id: float = 85  #: with the same DOI or PMID and nothing conflicting
    similar: float = 80  #: alike enough for a person to look


def rules_for(levels: Levels) -> tuple[Rule, ...]:
    """The rules of the module docstring, in order (the first line that fits decides),
    with the title levels ``levels``."""
    return (
        # Vetoes: distinct, unless the same DOI or PMID with titles 90 % alike …
        Rule("pending", 90, VETO | SAME_ID),
        # … or DOIs that differ while everything else agrees: one of them is probably wrong (a
        # database attached another article's DOI). Identical abstracts settle it.
        Rule(
            "auto",
            levels.same,
            ONLY_DOI_VETO
            | NO_SOFT_VETO
            | SAME_YEAR
            | FIRST_AUTHOR
            | SAME_JOURNAL
            | SAME_PAGE
            | NO_CONFLICT
            | ABSTRACTS_ALIKE,
            "everything but the DOI is identical",
        ),
        Rule(
            "pending",
            levels.same,
            ONLY_DOI_VETO | NO_SOFT_VETO | SAME_YEAR | FIRST_AUTHOR | SAME_PAGE | VOLUMES_AGREE,
        ),
        Rule(
            "pending",
            levels.same,
            ONLY_DOI_VETO
            | NO_SOFT_VETO
            | SAME_YEAR
            | NO_AUTHORS
            | SAME_JOURNAL
            | SAME_PAGE
            | VOLUMES_AGREE,
        ),
        Rule("distinct", 0, VETO),
        # A shared DOI/PMID with the same title outweighs noisy author spellings, and the
        # spelling of a journal or volume when the first page and year agree …
        Rule("auto", levels.same, SAME_ID | ID_AGREES),
        Rule("auto", 0, SAME_ID | UNTITLED | ID_AGREES),
        # Softer vetoes: distinct unless the same DOI/PMID, or everything agrees but a number
        # (often a typo: "p6INK4a" / "p16INK4a").
        Rule("pending", levels.similar, SOFT_VETO | SAME_ID),
        Rule(
            "pending",
            levels.same,
            ONLY_NUMBERS_VETO | NO_CONFLICT | FIRST_AUTHOR | CLOSE_YEARS | SAME_JOURNAL,
        ),
        Rule("distinct", 0, SOFT_VETO),
        # Automatic merges. One title, one first author, one issue of one journal: a single
        # article whose pages the databases disagree on (abstract vs supplement page, say).
        Rule(
            "auto",
            levels.identical,
            ONLY_PAGES_CONFLICT | FIRST_AUTHOR | SAME_JOURNAL | SAME_ISSUE | SAME_YEAR,
        ),
        # One title, one first author, one journal and year, one abstract: the same
        # publication, whose volume or pages one database misprinted.
        Rule(
            "auto",
            levels.identical,
            ONLY_LOCATOR_CONFLICT | FIRST_AUTHOR | SAME_JOURNAL | SAME_YEAR | ABSTRACTS_ALIKE,
            "title, authors, journal, year and abstract agree: a misprinted volume or page",
        ),
        # … but a shared DOI/PMID is evidence, not proof: when journal, volume or pages
        # disagree, a person decides.
        Rule("pending", 70, SAME_ID | ID_DISAGREES),
        Rule("pending", 0, SAME_ID | UNTITLED | ID_DISAGREES),
        Rule("auto", levels.shared_id, NO_CONFLICT | SAME_ID),
        Rule("auto", levels.same, NO_CONFLICT | CLOSE_YEARS | FIRST_AUTHOR | CORROBORATED),
        Rule(
            "auto",
            levels.same,
            NO_CONFLICT | CLOSE_YEARS | NO_AUTHORS | ABSTRACTS_ALIKE | CORROBORATED,
        ),
        Rule("auto", levels.close, NO_CONFLICT | FIRST_AUTHOR | SAME_VOLUME | SAME_PAGE),
        # The same citation — first author, journal, year, volume and page range — with
        # titles that differ: a title translated (or abridged) by one database. A single page
        # is not enough: a page of abstracts holds several by one group.
        Rule(
            "auto",
            0,
            NO_CONFLICT
            | FIRST_AUTHOR
            | AUTHORS_AGREE
            | SAME_YEAR
            | SAME_JOURNAL
            | SAME_VOLUME
            | SAME_PAGE_RANGE,
            "the same citation: first author, journal, year, volume and pages",
        ),
        # Everything present agrees (one record without venue or pages, say) and the title,
        # the same but for case and punctuation, is specific.
        Rule(
            "auto",
            levels.identical,
            NO_CONFLICT
            | SAME_YEAR
            | FIRST_AUTHOR
            | AUTHORS_AGREE
            | JOURNALS_AGREE
            | SPECIFIC_TITLE,
            "everything both records give agrees",
        ),
        Rule(
            "auto",
            levels.same,
            NO_CONFLICT | SAME_YEAR | SAME_VOLUME | SAME_PAGE | COAUTHORS | JOURNALS_AGREE,
        ),
        # A person decides.
        Rule("pending", 70, SAME_ID),
        Rule("pending", levels.same, ONE_CONFLICT_AT_MOST),
        Rule("pending", levels.similar, NO_CONFLICT | FIRST_AUTHOR),
        # … a title translated differently:
        Rule("pending", 0, NO_CONFLICT | FIRST_AUTHOR | CLOSE_YEARS | SAME_VOLUME | SAME_PAGE),
        Rule("pending", levels.similar, NO_CONFLICT | SAME_JOURNAL),
        Rule("pending", levels.similar, NO_CONFLICT | SAME_VOLUME | SAME_PAGE),
        # Everything else.
        Rule("distinct", 0, 0),
    )


def _lowest_title(early: int, rules: tuple[Rule, ...]) -> float | None:
    """:func:`lowest_title`, read from ``rules``: a line that needs an early fact the pair
    lacks can't fit; a ``distinct`` line that needs only early facts the pair has (and no
    title) ends the reading, since it settles every pair that gets that far.
    """
    lowest: float | None = None
    for rule in rules:
        if rule.needs & EARLY & ~early:
            continue
        if rule.verdict != "distinct":
            lowest = rule.title if lowest is None else min(lowest, rule.title)
        elif not rule.needs & ~EARLY and not rule.title:
            break
    return lowest


class RuleTable:
    """A table of rules, with what :func:`screen` reads from it worked out once: for each
    combination of ``EARLY`` facts, how alike titles must at least be (see
    :func:`lowest_title`)."""

    __slots__ = ("lowest", "rules")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.lowest = [_lowest_title(early, rules) for early in range(EARLY + 1)]

    def decide(self, facts: int, title: float) -> Rule:
        """The first line that a pair with ``facts`` and ``title`` % fits."""
        for rule in self.rules:
            if facts & rule.needs == rule.needs and title >= rule.title:
                return rule
        raise AssertionError("the last rule fits every pair")


#: The rules the engine applies, with the shipped levels.
RULES: tuple[Rule, ...] = rules_for(Levels())
TABLE = RuleTable(RULES)


def decide(facts: int, title: float) -> Rule:
    """The first line of :data:`RULES` that a pair with ``facts`` and ``title`` % fits."""
    return TABLE.decide(facts, title)


def lowest_title(early: int) -> float | None:
    """How alike the titles must at least be for a pair whose ``EARLY`` facts are
    ``early`` to be anything but distinct; ``None`` when nothing but distinct can follow."""
    return TABLE.lowest[early]


# ------------------------------------------------------------------------------ comparing


def compare(a: Prepared, b: Prepared, table: RuleTable = TABLE) -> Verdict:
    """Apply the rules to one pair: outcome, score and every reason, whatever the outcome."""
    verdict = _compare(a, b, table, stop_early=False)
    assert verdict is not None  # only a screen stops early
    return verdict


def screen(a: Prepared, b: Prepared, table: RuleTable = TABLE) -> Verdict | None:
    """:func:`compare` for a candidate pair, or ``None`` as soon as the rules can only say
    distinct (most pairs, settled without comparing more than identifiers and titles)."""
    return _compare(a, b, table, stop_early=True)


def _compare(a: Prepared, b: Prepared, table: RuleTable, *, stop_early: bool) -> Verdict | None:
    reasons: list[str] = []
    hard: list[str] = []  # vetoes that even a shared identifier cannot override
    soft: list[str] = []  # vetoes that a shared DOI/PMID with the same title overrides
    conflicts: list[str] = []  # disagreements that stop an automatic merge

    # What is known before the titles are compared.
    same_id = dois_differ = False
    if a.doi and b.doi:
        if dois_compatible(a.doi, b.doi):
            same_id = True
            reasons.append("same DOI")
        else:
            dois_differ = True
            hard.append("different DOIs (veto)")
    if a.pmid and b.pmid:
        if a.pmid == b.pmid:
            same_id = True
            reasons.append("same PMID")
        else:
            hard.append("different PMIDs (veto)")
    year_gap: int | None = None
    if a.year and b.year:
        year_gap = abs(a.year - b.year)
        if year_gap > 1:
            hard.append(f"years {year_gap} apart (veto)")
    if a.kind != b.kind:
        kinds = sorted(k or "article" for k in (a.kind, b.kind))
        hard.append(f"{kinds[0]} vs {kinds[1]} (veto)")
    if (a.meeting and b.regular_issue and not b.meeting) or (
        b.meeting and a.regular_issue and not a.meeting
    ):
        hard.append("meeting abstract vs journal article (veto)")
    volume: bool | None = None
    if a.volume and b.volume:
        volume = a.volume == b.volume
    page = compare_pages(a.pages, b.pages)
    facts = (
        (SAME_ID if same_id else 0)
        | (VETO if hard else 0)
        | (ONLY_DOI_VETO if dois_differ and len(hard) == 1 else 0)
        | (0 if a.title and b.title else UNTITLED)
        | (SAME_YEAR if year_gap == 0 else 0)
        | (CLOSE_YEARS if year_gap is not None and year_gap <= 1 else 0)
        | (SAME_VOLUME if volume else 0)
        | (0 if volume is False else VOLUMES_AGREE)
        | (SAME_PAGE if page else 0)
    )

    if stop_early:
        lowest = table.lowest[facts]
        if lowest is None:
            return None
        title = _title_similarity(a, b, floor=lowest)
        if title[0] < lowest:
            return None
    else:
        title = _title_similarity(a, b)
    title_sim, truncated = title

    if a.title and b.title:
        if truncated:
            reasons.append(f"one title contains the other ({title_sim:.0f} % alike)")
        else:
            reasons.append(f"titles {title_sim:.0f} % alike")
    numbers_differ = False
    if title_sim >= 80 and not truncated and a.numbers != b.numbers:
        if a.numbers and b.numbers:
            numbers_differ = True
            soft.append("titles differ in their numbers (veto)")
        else:
            conflicts.append("number in one title only")

    first_author = _same_first_author(a, b)
    overlap = _authors_overlap(a.families, b.families)
    coauthors = overlap >= 0.5 and min(a.author_count, b.author_count) >= 2
    if first_author:
        reasons.append("first author matches")
    elif first_author is False:
        if coauthors:
            reasons.append("first authors differ, most co-authors match")
        else:
            conflicts.append("first authors differ")

    journal = journals_compatible(a.journal, b.journal)
    other_journal = bool(a.journal and b.journal and not journal)
    if journal:
        reasons.append("same journal")
    if volume:
        reasons.append("same volume")
    elif volume is False:
        conflicts.append("volumes conflict")
    same_issue = bool(volume and a.issue and a.issue == b.issue)
    if same_issue:
        reasons.append("same issue")
    if page:
        reasons.append("same first page")
    elif page is False:
        conflicts.append("pages conflict")
    if a.generic or b.generic:
        differ = [
            name
            for name, differs in (
                ("volumes", volume is False),
                ("issues", bool(a.issue and b.issue and a.issue != b.issue)),
                ("pages", page is False),
            )
            if differs
        ]
        if differ:
            soft.append(f"generic title: {', '.join(differ)} differ (veto)")
    if volume is False and page is False:
        soft.append("volume and pages conflict (veto)")
    elif volume is False and other_journal:
        soft.append("journal and volume differ (veto)")
    if year_gap == 0:
        reasons.append("same year")
    elif year_gap == 1:
        reasons.append("years 1 apart")
    abstract = False
    if a.record.abstract and b.record.abstract and a.abstract and b.abstract:
        abstract_sim = Indel.normalized_similarity(a.abstract, b.abstract) * 100
        abstract = abstract_sim >= 90
        if abstract:
            reasons.append(f"abstracts {abstract_sim:.0f} % alike")

    id_agrees = id_disagrees = False
    if same_id:
        differ = [
            name
            for name, differs in (
                ("journal", other_journal),
                ("volume", volume is False),
                ("pages", page is False),
            )
            if differs
        ]
        id_agrees = (
            not differ
            # the spelling of a journal or volume, or a misprinted page in one journal:
            or (page and year_gap == 0 and "pages" not in differ)
            or (differ == ["pages"] and journal and year_gap == 0 and abstract)
        )
        # Pages alone differing inside one issue of one journal: the rules for any pair
        # decide (databases disagree on pages; two articles of one issue don't share a title).
        in_one_issue = differ == ["pages"] and journal and same_issue and year_gap == 0
        if not id_agrees and not in_one_issue:
            id_disagrees = True
            which = (
                " and ".join((", ".join(differ[:-1]), differ[-1])) if len(differ) > 1 else differ[0]
            )
            identifier = "DOI" if "same DOI" in reasons else "PMID"
            conflicts.append(
                f"same {identifier} but different {which}: possibly a conference abstract "
                f"of the article, or a {identifier} on the wrong record"
            )
    facts |= (
        (SOFT_VETO if soft else NO_SOFT_VETO)
        | (ONLY_NUMBERS_VETO if numbers_differ and len(soft) == 1 else 0)
        | (0 if conflicts else NO_CONFLICT)
        | (ONE_CONFLICT_AT_MOST if len(conflicts) <= 1 else 0)
        | (ONLY_PAGES_CONFLICT if page is False and len(conflicts) == 1 else 0)
        | (FIRST_AUTHOR if first_author else 0)
        | (NO_AUTHORS if first_author is None else 0)
        | (SAME_JOURNAL if journal else 0)
        | (0 if other_journal else JOURNALS_AGREE)
        | (SAME_ISSUE if same_issue else 0)
        | (ABSTRACTS_ALIKE if abstract else 0)
        | (COAUTHORS if coauthors else 0)
        | (SPECIFIC_TITLE if _specific(a) and _specific(b) else 0)
        | (AUTHORS_AGREE if first_author and overlap >= 0.5 else 0)
        | (SAME_PAGE_RANGE if page and _same_range(a, b) else 0)
        | (
            ONLY_LOCATOR_CONFLICT
            if len(conflicts) == 1 and (volume is False or page is False)
            else 0
        )
        | (ID_AGREES if id_agrees else 0)
        | (ID_DISAGREES if id_disagrees else 0)
        | (
            CORROBORATED
            if (journal or volume or page or abstract)
            and not (other_journal and not (volume and page))
            else 0
        )
    )
    explained = (*reasons, *hard, *soft, *conflicts)
    rule = table.decide(facts, title_sim)
    if rule.verdict == "distinct":
        return "distinct", 0.0, explained
    score = round(
        0.55 * title_sim / 100
        + (0.2 if same_id else 0.0)
        + (0.1 if first_author else 0.0)
        + 0.05 * overlap
        + (0.04 if journal else 0.0)
        + (0.03 if volume else 0.0)
        + (0.03 if page else 0.0),
        4,
    )
    return rule.verdict, score, (*explained, rule.reason) if rule.reason else explained


def explain(a: MatchRecord, b: MatchRecord) -> Match:
    """The verdict on one pair with all its reasons, whatever the outcome.

    For a person asking "why were these not merged?" (and for tests): unlike
    :func:`~screening.dedup.engine.find_matches` it also returns ``distinct`` verdicts,
    vetoes included.
    """
    outcome, score, reasons = compare(Prepared(a, True), Prepared(b, True))
    low, high = sorted((a.id, b.id))
    return Match(low, high, outcome, score, reasons)
