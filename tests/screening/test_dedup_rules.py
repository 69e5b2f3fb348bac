"""The rules of comparison are written once: the fast screen and the full comparison agree.

``screen`` is the path every candidate pair takes; ``compare`` (behind ``explain``) works
out every reason. ``screen`` may settle a pair early only where the rule table says
nothing but *distinct* can follow, so on any pair it either gives ``None`` and the full
comparison says distinct, or it gives exactly the full comparison's verdict.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bench.dedup_data import ALL_SETS, load_labelled_set
from screening.dedup import MatchRecord
from screening.dedup.blocking import candidate_pairs
from screening.dedup.records import Prepared
from screening.dedup.rules import (
    CLOSE_YEARS,
    EARLY,
    ONLY_DOI_VETO,
    RULES,
    SAME_ID,
    SAME_PAGE,
    SAME_VOLUME,
    SAME_YEAR,
    UNTITLED,
    VETO,
    VOLUMES_AGREE,
    compare,
    decide,
    lowest_title,
    screen,
)
from tests.screening import test_dedup_engine as engine_tests
from tests.shared_data import shared_path

# The engine tests' article, with an abstract (the rules compare its opening).
ARTICLE = replace(
    engine_tests.ARTICLE,
    abstract="Background: Excessive postprandial lipemia is highly prevalent in obese and "
    + "insulin-resistant individuals and increases the risk of atherosclerosis. " * 3,
)

# How other databases export the same article, or a different one that looks like it.
VARIANTS: dict[str, tuple[object, ...]] = {
    "title": (
        ARTICLE.title,
        ARTICLE.title.upper() + ".",
        ARTICLE.title[:40],
        ARTICLE.title + ": a review of animal models",
        ARTICLE.title + ", part II",
        "Erratum: " + ARTICLE.title,
        "Hepatic lipoprotein production in insulin-resistant states",
        "Insulin resistance and the intestine",
        "",
    ),
    "doi": (ARTICLE.doi, "10.1097/MOL.0b013e3282ffaf99", ""),
    "pmid": (ARTICLE.pmid, "18460912", ""),
    "year": (2008, 2009, 2011, None),
    "volume": ("19", "21", "9 Suppl 1", ""),
    "pages": ("221-228", "221-8", "301-309", "e1234", "S112", ""),
    "authors": (
        ARTICLE.authors,
        ("Adeli, K.", "Lewis, G. F."),
        ("Khosrow, Adeli", "Gary F., Lewis"),
        ("Smith, John", "Lewis, Gary F."),
        ("Smith, John",),
        (),
    ),
    "journal": (ARTICLE.journal, "Curr Opin Lipidol", "Atherosclerosis Supplements", ""),
    "issue": ("3", "4", ""),
    "abstract": (ARTICLE.abstract, "Too short to compare.", ""),
}


def _variants(count: int, seed: int) -> list[MatchRecord]:
    rng = random.Random(seed)
    return [
        replace(ARTICLE, id=number, **{f: rng.choice(v) for f, v in VARIANTS.items()})  # type: ignore[arg-type]
        for number in range(2, count + 2)
    ]


def _assert_screen_agrees(a: Prepared, b: Prepared) -> str:
    """Check one pair; the outcome, or ``"screened out"``."""
    fast, full = screen(a, b), compare(a, b)
    if fast is None:
        assert full[0] == "distinct", (a.record, b.record, full)
        return "screened out"
    assert fast == full, (a.record, b.record)
    return fast[0]


def test_screen_agrees_with_the_full_comparison_on_generated_pairs() -> None:
    records = [Prepared(r, True) for r in [ARTICLE, *_variants(3000, seed=15)]]
    pairs = [(records[0], other) for other in records[1:]]
    pairs += list(zip(records[1::2], records[2::2], strict=False))
    seen = {_assert_screen_agrees(a, b) for a, b in pairs}
    # Not vacuous: every kind of verdict, and pairs the screen settles early, are there.
    assert seen == {"auto", "pending", "distinct", "screened out"}


@pytest.mark.parametrize("name", ALL_SETS)
def test_screen_agrees_with_the_full_comparison_on_every_candidate_pair(name: str) -> None:
    records = load_labelled_set(shared_path("dedup", name)).records
    prepared = [Prepared(r, True) for r in records]
    outcomes = [
        _assert_screen_agrees(prepared[i], prepared[j]) for i, j in candidate_pairs(prepared)
    ]
    assert "screened out" in outcomes and "auto" in outcomes


def test_no_rule_fits_below_the_title_the_screen_asks_for() -> None:
    # Any pair that fits a line of the table: that line's facts and some others, and
    # titles at least as alike as it needs. If the verdict isn't distinct, the screen
    # must have let the pair through (the titles reach the lowest title it derived).
    rng = random.Random(15)
    extra_facts = [1 << bit for bit in range(max(r.needs for r in RULES).bit_length())]
    checked = 0
    for _ in range(20_000):
        rule = rng.choice(RULES)
        facts = rule.needs
        for fact in extra_facts:
            if rng.random() < 0.3:
                facts |= fact
        title = rng.choice([rule.title, rule.title + 0.5, rng.uniform(0, 100), 100.0])
        if decide(facts, title).verdict != "distinct":
            lowest = lowest_title(facts & EARLY)
            assert lowest is not None and title >= lowest, (rule, facts, title)
            checked += 1
    assert checked > 5_000


@pytest.mark.parametrize(
    ("early", "lowest"),
    [
        # Nothing shared: titles 80 % alike, as the old hand-written screen said …
        (VOLUMES_AGREE | CLOSE_YEARS | SAME_YEAR, 80),
        # … unless volume, first page and year agree (a title translated differently).
        (VOLUMES_AGREE | CLOSE_YEARS | SAME_YEAR | SAME_VOLUME | SAME_PAGE, 0),
        # A shared identifier: 70 %; without a title on one side, nothing.
        (SAME_ID | VOLUMES_AGREE, 70),
        (SAME_ID | UNTITLED | VOLUMES_AGREE, 0),
        # Vetoes: the same identifier and 90 %; DOIs that differ with all else the same, 95 %.
        (SAME_ID | VETO | VOLUMES_AGREE, 90),
        (VETO | ONLY_DOI_VETO | VOLUMES_AGREE | CLOSE_YEARS | SAME_YEAR | SAME_PAGE, 95),
        # Any other veto (years apart, a notice, …) settles the pair.
        (VETO | VOLUMES_AGREE | SAME_VOLUME | SAME_PAGE, None),
        (VETO | ONLY_DOI_VETO | VOLUMES_AGREE | CLOSE_YEARS, None),
    ],
)
def test_lowest_title_is_read_from_the_rules(early: int, lowest: float | None) -> None:
    assert lowest_title(early) == lowest
