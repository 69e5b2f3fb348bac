"""Generic titles ("Editorial", "Editor's Comments", "Letter to the editor", "Erratum"): every
issue of a journal has one, by the same editor, so any difference in volume, issue or pages
keeps two of them apart. Pure tests of the engine, on real records.

Origin: the ASySD neuroimaging set (Hair et al., BMC Biology 2023;21:189, via the BibDedupe
benchmark data, ``../shared/data/dedup/neuroimaging/``): ``id_0000144`` and ``id_0002225``,
the same "Editorial" by Kasper S. in the World Journal of Biological Psychiatry 2017;18(4):255,
labelled one publication. The other issues' editorials are that record with the issue and
page of the next one, as the journal prints an editorial in every issue.
"""

from __future__ import annotations

from dataclasses import replace

from screening.dedup import MatchRecord, explain, find_matches
from screening.dedup.normalise import generic_title, title_for_matching

KASPER_2017 = MatchRecord(
    id=144,
    title="Editorial",
    authors=("Kasper, S.",),
    year=2017,
    journal="World Journal of Biological Psychiatry",
    volume="18",
    issue="4",
    pages="255",
)
SAME_EXPORTED_AGAIN = replace(KASPER_2017, id=2225)
NEXT_ISSUE = replace(KASPER_2017, id=9001, issue="5", pages="331")
NEXT_ISSUE_NO_PAGES = replace(KASPER_2017, id=9002, issue="5", pages="")


def test_titles_that_only_name_a_kind_of_item_are_generic() -> None:
    generic = [
        "Editorial",
        "Editor's Comments",
        "Letter to the editor",
        "Introduction to this special issue",
        "Erratum",
        "Preface",
        "Issue Information",
        "Reply",
        "Guest editorial 2",
    ]
    specific = [
        "Editorial: mesenchymal stem cells in knee osteoarthritis",
        "Reply to Smith et al.",
        "Book review: The biology of cartilage",
        "Osteoarthritis",
        "",
    ]
    assert [generic_title(title_for_matching(t)) for t in generic] == [True] * len(generic)
    assert [generic_title(title_for_matching(t)) for t in specific] == [False] * len(specific)


def test_the_same_editorial_exported_twice_still_merges() -> None:
    assert explain(KASPER_2017, SAME_EXPORTED_AGAIN).outcome == "auto"


def test_editorials_of_two_issues_by_the_same_editor_are_kept_apart() -> None:
    # Without pages in one record, nothing else disagreed: this was an automatic merge.
    for other in (NEXT_ISSUE, NEXT_ISSUE_NO_PAGES):
        match = explain(KASPER_2017, other)
        assert match.outcome == "distinct", match.reasons
    assert (
        "generic title: issues differ (veto)" in explain(KASPER_2017, NEXT_ISSUE_NO_PAGES).reasons
    )
    assert "generic title: issues, pages differ (veto)" in explain(KASPER_2017, NEXT_ISSUE).reasons


def test_four_issues_of_editors_comments_stay_four_publications() -> None:
    issues = [
        MatchRecord(
            id=n,
            title="Editor's Comments",
            authors=("Rai, Arun",),
            year=2019,
            journal="MIS Quarterly",
            volume="43",
            issue=str(n),
            pages="",
        )
        for n in (1, 2, 3, 4)
    ]
    assert find_matches(issues) == []


def test_a_specific_title_is_judged_as_before() -> None:
    article = replace(
        KASPER_2017, title="Lithium in the long-term treatment of bipolar disorder", pages=""
    )
    assert explain(article, replace(article, id=2, issue="5")).outcome == "auto"
