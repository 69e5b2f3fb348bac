"""Agreement statistics on hand-computed cases (pure Python, no database)."""

from __future__ import annotations

import pytest

from screening.agreement import (
    PairAgreement,
    cohen_kappa,
    fleiss_kappa,
    pairwise_agreement,
    percent_agreement,
)

# The textbook two-rater table: 50 items, A's label first.
#             B yes  B no
#   A yes       20      5    (A: 25 yes)
#   A no        10     15    (A: 25 no)
#   B:          30     20
TEXTBOOK = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15


def test_cohen_kappa_of_the_textbook_table_is_0_4():
    # p_o = (20 + 15) / 50 = 0.70
    # p_e = (25/50)(30/50) + (25/50)(20/50) = 0.30 + 0.20 = 0.50
    # kappa = (0.70 - 0.50) / (1 - 0.50) = 0.40
    assert cohen_kappa(TEXTBOOK) == pytest.approx(0.40)


def test_percent_agreement_of_the_textbook_table_is_70():
    assert percent_agreement(TEXTBOOK) == pytest.approx(70.0)


def test_cohen_kappa_with_three_labels():
    # A's label is the row, B's the column; 50 items.
    #              include  exclude  maybe   (A total)
    #   include       10       2       3        15
    #   exclude        1      20       4        25
    #   maybe          2       3       5        10
    #   (B total)     13      25      12
    # p_o = (10 + 20 + 5) / 50 = 0.70
    # p_e = (15*13 + 25*25 + 10*12) / 50^2 = (195 + 625 + 120) / 2500 = 0.376
    # kappa = (0.70 - 0.376) / (1 - 0.376) = 0.324 / 0.624 = 27/52 = 0.51923...
    table = {
        ("include", "include"): 10,
        ("include", "exclude"): 2,
        ("include", "maybe"): 3,
        ("exclude", "include"): 1,
        ("exclude", "exclude"): 20,
        ("exclude", "maybe"): 4,
        ("maybe", "include"): 2,
        ("maybe", "exclude"): 3,
        ("maybe", "maybe"): 5,
    }
    pairs = [pair for pair, count in table.items() for _ in range(count)]
    assert len(pairs) == 50
    assert cohen_kappa(pairs) == pytest.approx(27 / 52)
    assert percent_agreement(pairs) == pytest.approx(70.0)


def test_perfect_agreement_gives_kappa_1():
    pairs = [("include", "include")] * 3 + [("exclude", "exclude")] * 7
    assert cohen_kappa(pairs) == 1.0
    assert percent_agreement(pairs) == 100.0


def test_one_label_for_everything_gives_kappa_1_not_a_division_by_zero():
    # p_o = p_e = 1: kappa is 0/0, defined as 1.0 when the raters agreed on every item.
    assert cohen_kappa([("exclude", "exclude")] * 5) == 1.0


def test_complete_disagreement_is_worse_than_chance():
    # p_o = 0, p_e = (1/2)(1/2) + (1/2)(1/2) = 0.5, kappa = (0 - 0.5) / 0.5 = -1
    assert cohen_kappa([("yes", "no"), ("no", "yes")]) == pytest.approx(-1.0)
    assert percent_agreement([("yes", "no"), ("no", "yes")]) == 0.0


def test_no_items_gives_none():
    assert cohen_kappa([]) is None
    assert percent_agreement([]) is None
    assert fleiss_kappa([]) is None


# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories; each row
# is how many raters put that subject in category 1..5.
WIKIPEDIA_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _labels_from_counts(rows: list[list[int]]) -> list[list[str]]:
    return [[f"category {k + 1}" for k, n in enumerate(row) for _ in range(n)] for row in rows]


def test_fleiss_kappa_of_the_wikipedia_example_is_0_210():
    ratings = _labels_from_counts(WIKIPEDIA_COUNTS)
    assert all(len(labels) == 14 for labels in ratings)
    # P-bar = 0.378, P_e = 0.213, kappa = (0.378 - 0.213) / (1 - 0.213) = 0.210
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=0.0005)


def test_fleiss_kappa_with_two_raters_is_scotts_pi():
    # The textbook table pooled: yes = (25 + 30) / 100 = 0.55, no = 0.45;
    # p_e = 0.55^2 + 0.45^2 = 0.505; pi = (0.70 - 0.505) / (1 - 0.505) = 13/33.
    assert fleiss_kappa([list(pair) for pair in TEXTBOOK]) == pytest.approx(13 / 33)


def test_fleiss_kappa_of_unanimous_items():
    assert fleiss_kappa([["include"] * 3, ["exclude"] * 3]) == 1.0
    assert fleiss_kappa([["exclude"] * 3] * 4) == 1.0


def test_fleiss_kappa_refuses_items_with_different_numbers_of_ratings():
    with pytest.raises(ValueError) as error:
        fleiss_kappa([["include", "include"], ["include", "exclude", "exclude"]])
    assert str(error.value) == (
        "item 2 has 3 ratings and item 1 has 2: "
        "Fleiss' kappa needs the same number of ratings for every item"
    )


def test_fleiss_kappa_refuses_a_single_rating_per_item():
    with pytest.raises(ValueError) as error:
        fleiss_kappa([["include"], ["exclude"]])
    assert str(error.value) == "Fleiss' kappa needs at least two ratings per item, got 1"


def test_pairwise_agreement_covers_every_pair_of_raters():
    votes = [
        (1, 3, "exclude"),
        (1, 1, "include"),
        (1, 2, "include"),
        (2, 2, "exclude"),
        (2, 1, "exclude"),
        (2, 3, "exclude"),
        (3, 1, "include"),
        (3, 2, "exclude"),
        (4, 2, "exclude"),
        (4, 1, "exclude"),
        (4, 1, "exclude"),  # the same vote twice is harmless
        (5, 3, "include"),  # nobody else rated item 5
        (6, 4, "include"),  # rater 4 shares no item with anybody
    ]
    assert pairwise_agreement(votes) == [
        # items 1-4: (inc, inc) (exc, exc) (inc, exc) (exc, exc); 3 of 4 agree.
        # p_e = (2/4)(1/4) + (2/4)(3/4) = 0.5, kappa = (0.75 - 0.5) / 0.5 = 0.5
        PairAgreement(rater_a=1, rater_b=2, items=4, agreement=75.0, kappa=0.5),
        # items 1-2: (inc, exc) (exc, exc); p_o = 0.5, p_e = (1/2)(0) + (1/2)(1) = 0.5
        PairAgreement(rater_a=1, rater_b=3, items=2, agreement=50.0, kappa=0.0),
        PairAgreement(rater_a=1, rater_b=4, items=0, agreement=None, kappa=None),
        PairAgreement(rater_a=2, rater_b=3, items=2, agreement=50.0, kappa=0.0),
        PairAgreement(rater_a=2, rater_b=4, items=0, agreement=None, kappa=None),
        PairAgreement(rater_a=3, rater_b=4, items=0, agreement=None, kappa=None),
    ]


def test_pairwise_agreement_of_no_votes_is_empty():
    assert pairwise_agreement([]) == []


def test_pairwise_agreement_refuses_two_labels_from_one_rater_on_one_item():
    with pytest.raises(ValueError) as error:
        pairwise_agreement([(7, 1, "include"), (7, 2, "include"), (7, 1, "exclude")])
    assert str(error.value) == (
        "item 7: rater 1 voted both 'include' and 'exclude'; pass one vote per rater and item"
    )
