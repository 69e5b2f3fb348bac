"""Rules of the duplicate engine, one small handmade case each (no database, no Django)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from screening.dedup import (
    Match,
    MatchRecord,
    build_clusters,
    choose_primary,
    explain,
    fill_from_duplicates,
    find_matches,
)
from screening.dedup.blocking import BLOCK_LIMIT, NEIGHBOURS, candidate_pairs
from screening.dedup.normalise import (
    dois_compatible,
    first_page,
    journal_tokens,
    journals_compatible,
    match_doi,
    notice_kind,
    parse_pages,
    repair_mojibake,
    title_for_matching,
    title_numbers,
)
from screening.dedup.records import Prepared

ARTICLE = MatchRecord(
    id=1,
    title="Intestinal lipoprotein overproduction in insulin-resistant states",
    authors=("Adeli, Khosrow", "Lewis, Gary F."),
    year=2008,
    journal="Current Opinion in Lipidology",
    volume="19",
    issue="3",
    pages="221-228",
    doi="10.1097/MOL.0b013e3282ffaf82",
    pmid="18460911",
)


def twin(record_id: int = 2, **changes: object) -> MatchRecord:
    """The article as another database exported it, with ``changes``."""
    return replace(ARTICLE, id=record_id, **changes)  # type: ignore[arg-type]


def only(matches: list[Match]) -> Match:
    assert len(matches) == 1, matches
    return matches[0]


# ------------------------------------------------------------------------ sure matches


def test_same_doi_in_other_case_and_as_url_is_merged_automatically() -> None:
    other = twin(doi="https://doi.org/10.1097/mol.0B013E3282FFAF82", pmid="")
    match = only(find_matches([ARTICLE, other]))
    assert match.outcome == "auto"
    assert "same DOI" in match.reasons
    assert build_clusters([match]) == [{1, 2}]


def test_doi_of_a_supplementary_file_counts_as_the_same_doi() -> None:
    assert match_doi("10.1371/journal.pone.0123456.s001") == "10.1371/journal.pone.0123456"
    assert dois_compatible("10.1000/abc", "10.1000/abc.v2")
    assert not dois_compatible("10.1000/abc1", "10.1000/abc2")


def test_database_variants_without_identifiers_are_merged_automatically() -> None:
    other = twin(
        title="INTESTINAL LIPOPROTEIN OVERPRODUCTION IN INSULIN RESISTANT STATES.",
        authors=("Adeli, K.", "Lewis, G. F."),
        journal="Curr Opin Lipidol",
        pages="221-8",
        doi="",
        pmid="",
    )
    match = only(find_matches([ARTICLE, other]))
    assert match.outcome == "auto"
    assert match.reasons[:2] == ("titles 100 % alike", "first author matches")
    assert {"same journal", "same volume", "same first page", "same year"} <= set(match.reasons)


def test_title_with_a_subtitle_is_matched_against_the_shorter_title() -> None:
    long_title = ARTICLE.title + ": a review of animal models and human studies"
    other = twin(title=long_title, doi="", pmid="")
    match = only(find_matches([ARTICLE, other]))
    assert match.outcome == "auto"
    assert match.reasons[0] == "one title contains the other (100 % alike)"


def test_title_notes_added_by_databases_are_ignored() -> None:
    other = twin(title=ARTICLE.title + ". [Review] [33 refs]", doi="", pmid="")
    assert only(find_matches([ARTICLE, other])).outcome == "auto"
    assert title_for_matching("Foo bar baz qux.[Erratum appears in J X 2006;15(1):187]") == (
        "foo bar baz qux"
    )
    assert title_for_matching("[A study of pleural effusion in children]") == (
        "a study of pleural effusion in children"
    )


def test_double_encoded_accents_are_repaired_before_comparing() -> None:
    one = twin(1, authors=("König, R.",), doi="", pmid="")
    other = twin(2, authors=("KÃ¶nig, R.",), doi="", pmid="")
    assert repair_mojibake("KÃ¶nig") == "König"
    assert only(find_matches([one, other])).outcome == "auto"


def test_first_author_written_in_the_other_order_still_matches() -> None:
    other = twin(authors=("Khosrow, Adeli", "Gary F., Lewis"), doi="", pmid="")
    assert "first author matches" in explain(ARTICLE, other).reasons


# ------------------------------------------------------------------------------ vetoes


def test_erratum_is_never_merged_with_the_article_it_corrects() -> None:
    erratum = twin(title="Erratum: " + ARTICLE.title, doi="", pmid="", pages="1022")
    assert find_matches([ARTICLE, erratum]) == []
    assert "article vs erratum (veto)" in explain(ARTICLE, erratum).reasons


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Correction to: Intestinal lipoprotein overproduction", "erratum"),
        ("Notice of retraction: Intestinal lipoprotein overproduction", "retraction"),
        ("Comment on: Intestinal lipoprotein overproduction", "comment"),
        ("Reply to Smith: intestinal lipoprotein overproduction", "comment"),
        ("Re: Intestinal lipoprotein overproduction", "comment"),
        ("Intestinal lipoprotein overproduction", ""),
        # Ordinary articles that merely start with a notice word:
        ("Correction of hyponatraemia in elderly inpatients", ""),
        ("Retraction of the tongue during sleep", ""),
        ("Withdrawal of antiepileptic drugs in remission", ""),
        ("Response to treatment in early rheumatoid arthritis", ""),
        ("Results of a randomized trial of screening", ""),
    ],
)
def test_notices_are_recognised_by_their_opening_words(title: str, kind: str) -> None:
    assert notice_kind(title) == kind


def test_notice_recognised_from_the_publication_type() -> None:
    assert notice_kind(ARTICLE.title, "Published Erratum") == "erratum"


def test_two_copies_of_one_erratum_are_still_duplicates() -> None:
    erratum = twin(1, title="Erratum: " + ARTICLE.title, doi="", pmid="", pages="1022")
    copy = replace(erratum, id=2, title="ERRATUM - " + ARTICLE.title.upper())
    assert only(find_matches([erratum, copy])).outcome == "auto"


def test_different_dois_are_not_merged_on_bibliographic_agreement_alone() -> None:
    other = twin(doi="10.1097/MOL.0b013e3282ffaf99", pmid="")
    match = only(find_matches([ARTICLE, other]))
    # Everything else agrees, so one DOI is probably wrong: a person decides.
    assert match.outcome == "pending"
    assert "different DOIs (veto)" in match.reasons
    assert build_clusters([match]) == []


def test_different_dois_with_everything_else_identical_mean_one_doi_is_wrong() -> None:
    abstract = "Background: Excessive postprandial lipemia is highly prevalent in obese and "
    abstract += "insulin-resistant individuals and increases the risk of atherosclerosis. " * 3
    article = replace(ARTICLE, abstract=abstract)
    other = twin(doi="10.4161/onci.29029", pmid="", abstract=abstract)
    match = only(find_matches([article, other]))
    assert match.outcome == "auto"
    assert match.reasons[-2:] == ("different DOIs (veto)", "everything but the DOI is identical")


def test_anonymous_records_with_the_same_title_and_abstract_are_merged() -> None:
    abstract = "The proceedings contain 212 papers. The topics discussed include lipids. " * 3
    one = MatchRecord(
        id=1,
        title="Abstracts of the 79th EAS Congress",
        authors=("Anonymous",),
        year=2011,
        journal="Atherosclerosis Supplements. Conference: 79th EAS Congress",
        volume="12",
        abstract=abstract,
    )
    other = replace(one, id=2, journal="Atherosclerosis Supplements", authors=())
    match = only(find_matches([one, other]))
    assert match.outcome == "auto"
    assert "abstracts 100 % alike" in match.reasons


def test_different_dois_with_other_differences_are_distinct() -> None:
    other = twin(doi="10.1097/MOL.0b013e3282ffaf99", pmid="", pages="301-309")
    assert find_matches([ARTICLE, other]) == []
    assert explain(ARTICLE, other).outcome == "distinct"


def test_years_three_apart_are_not_merged() -> None:
    other = twin(year=2011, doi="", pmid="")
    assert find_matches([ARTICLE, other]) == []
    verdict = explain(ARTICLE, other)
    assert verdict.outcome == "distinct"
    assert "years 3 apart (veto)" in verdict.reasons


def test_years_three_apart_with_the_same_doi_go_to_a_person() -> None:
    other = twin(year=2011)
    match = only(find_matches([ARTICLE, other]))
    assert match.outcome == "pending"
    assert "years 3 apart (veto)" in match.reasons


def test_one_year_apart_is_online_first_versus_print() -> None:
    other = twin(year=2009, doi="", pmid="")
    match = only(find_matches([ARTICLE, other]))
    assert match.outcome == "auto"
    assert "years 1 apart" in match.reasons


def test_meeting_abstract_is_not_merged_with_the_journal_article() -> None:
    abstract = twin(
        journal="Atherosclerosis Supplements",
        volume="9 Suppl 1",
        pages="S112",
        doi="",
        pmid="",
    )
    verdict = explain(ARTICLE, abstract)
    assert verdict.outcome == "distinct"
    assert "meeting abstract vs journal article (veto)" in verdict.reasons


def test_titles_that_differ_only_in_their_numbers_are_not_merged() -> None:
    part_one = twin(1, title="Insulin resistance in the intestine, part I", doi="", pmid="")
    part_two = twin(
        2, title="Insulin resistance in the intestine, part II", doi="", pmid="", pages="229-236"
    )
    assert find_matches([part_one, part_two]) == []
    assert "titles differ in their numbers (veto)" in explain(part_one, part_two).reasons
    assert title_numbers("type 2 diabetes") != title_numbers("type 1 diabetes")
    assert title_numbers("among 10 000 women") == title_numbers("among 10000 women")


def test_conflicting_volume_and_pages_stop_an_automatic_merge() -> None:
    other = twin(volume="21", pages="101-109", doi="", pmid="")
    verdict = explain(ARTICLE, other)
    assert verdict.outcome == "distinct"
    assert {"volumes conflict", "pages conflict", "volume and pages conflict (veto)"} <= set(
        verdict.reasons
    )


def test_conflicting_pages_alone_leave_the_decision_to_a_person() -> None:
    other = twin(pages="301-309", issue="", doi="", pmid="")
    match = only(find_matches([ARTICLE, other]))
    assert match.outcome == "pending"
    assert "pages conflict" in match.reasons


def test_same_title_in_the_same_issue_is_one_article_whatever_the_pages() -> None:
    other = twin(pages="301-309", doi="", pmid="")
    match = only(find_matches([ARTICLE, other]))
    assert match.outcome == "auto"
    assert {"same issue", "pages conflict"} <= set(match.reasons)


def test_same_title_with_nothing_else_to_go_on_is_pending() -> None:
    bare = MatchRecord(id=2, title=ARTICLE.title)
    match = only(find_matches([ARTICLE, bare]))
    assert match.outcome == "pending"


def test_different_first_author_and_title_is_distinct() -> None:
    other = twin(
        title="Hepatic lipoprotein production in insulin-resistant states",
        authors=("Smith, John",),
        doi="",
        pmid="",
        pages="301-309",
    )
    assert find_matches([ARTICLE, other]) == []


# ----------------------------------------------------------------------------- pages etc.


@pytest.mark.parametrize(
    ("pages", "first", "last", "article"),
    [
        ("221-8", 221, 228, False),
        ("221-228", 221, 228, False),
        ("1001-13", 1001, 1013, False),
        ("S145-S146", 145, 146, False),
        ("e0192222", 192222, 192222, True),
        ("06-Oct", 6, 10, False),  # a spreadsheet's date for 6-10
        ("Nov-19", 11, 19, False),  # … and for 11-19
        ("59-62; discussion 62-3", 59, 62, False),
    ],
)
def test_page_formats(pages: str, first: int, last: int, article: bool) -> None:
    parsed = parse_pages(pages)
    assert parsed is not None
    assert (parsed.first, parsed.last, parsed.article) == (first, last, article)


@pytest.mark.parametrize("pages", ["", "Suppl-6", "t-8", "no pagination"])
def test_unreadable_pages_say_nothing(pages: str) -> None:
    assert parse_pages(pages) is None
    assert first_page(pages) == ""


def test_article_number_and_printed_pages_do_not_conflict() -> None:
    other = twin(pages="e1234", doi="", pmid="")
    assert "pages conflict" not in explain(ARTICLE, other).reasons


def test_journal_abbreviations_and_acronyms_match() -> None:
    assert journals_compatible(
        journal_tokens("Curr Opin Lipidol"), journal_tokens("Current Opinion in Lipidology")
    )
    assert journals_compatible(journal_tokens("BMJ"), journal_tokens("British Medical Journal"))
    assert not journals_compatible(journal_tokens("Diabetes"), journal_tokens("Diabetologia"))


# ------------------------------------------------------------------------- incremental


def test_incremental_pass_never_compares_existing_records_with_each_other() -> None:
    existing = [ARTICLE, twin(2, doi="", pmid="")]  # duplicates, but already judged
    unrelated = MatchRecord(id=3, title="Something else entirely about kidney function")
    assert find_matches([unrelated], existing) == []


def test_incremental_pass_finds_a_new_record_duplicating_an_existing_one() -> None:
    match = only(find_matches([twin(7, pmid="")], [ARTICLE]))
    assert (match.a, match.b, match.outcome) == (1, 7, "auto")


def test_pairs_a_person_decided_are_not_asked_again() -> None:
    other = twin(pages="301-309", doi="", pmid="")
    assert find_matches([ARTICLE, other], decided={frozenset({1, 2}): "separated"}) == []


def test_pending_queue_asks_once_per_pair_of_clusters() -> None:
    # 1 = 2 surely; 3 conflicts on pages with both: one question, not two.
    sure = twin(2, pmid="")
    doubtful = twin(3, pages="301-309", issue="", doi="", pmid="")
    matches = find_matches([ARTICLE, sure, doubtful])
    assert [m.outcome for m in matches].count("auto") == 1
    assert [m.outcome for m in matches].count("pending") == 1


def test_oversized_blocks_are_compared_with_neighbours_only() -> None:
    editorials = [
        MatchRecord(id=i, title="Editorial", authors=(f"Author{i}, A",), year=2000 + i % 20)
        for i in range(1, 401)
    ]
    prepared = [Prepared(r, True) for r in editorials]
    pairs = list(candidate_pairs(prepared))
    assert len(pairs) <= len(editorials) * (NEIGHBOURS + BLOCK_LIMIT)
    assert len(pairs) < len(editorials) * (len(editorials) - 1) // 2 // 10


# ----------------------------------------------------------------------------- clusters


def _auto(a: int, b: int, score: float) -> Match:
    return Match(a, b, "auto", score, ("test",))


def test_auto_links_are_joined_transitively() -> None:
    assert build_clusters([_auto(1, 2, 0.9), _auto(2, 3, 0.8)]) == [{1, 2, 3}]


def test_pending_links_join_nothing() -> None:
    assert build_clusters([Match(1, 2, "pending", 0.7, ("test",))]) == []


def test_separated_records_never_end_in_one_cluster_even_through_a_third() -> None:
    links = [_auto(1, 2, 0.95), _auto(2, 3, 0.9), _auto(1, 3, 0.5)]
    clusters = build_clusters(links, separated=[frozenset({1, 3})])
    assert all(not {1, 3} <= cluster for cluster in clusters)
    # The strongest link wins: 1-2 stays, 2-3 would bring 3 next to 1 and is skipped.
    assert clusters == [{1, 2}]


def test_confirmed_pairs_join_clusters_like_sure_links() -> None:
    clusters = build_clusters(
        [Match(1, 2, "pending", 0.7, ("test",))], confirmed=[frozenset({1, 2})]
    )
    assert clusters == [{1, 2}]


# ----------------------------------------------------------------------------- merging


def test_primary_is_the_most_complete_record_and_ties_go_to_the_lowest_id() -> None:
    bare = twin(5, doi="", pmid="", abstract="")
    full = twin(9, abstract="Background: …")
    records = {5: bare, 9: full, 1: ARTICLE}
    assert choose_primary({5, 9, 1}, records) == 9
    assert choose_primary({5, 1}, {5: twin(5), 1: ARTICLE}) == 1


def test_missing_fields_are_filled_from_duplicates_with_their_source() -> None:
    primary = twin(1, doi="", abstract="")
    filled = fill_from_duplicates(primary, [twin(2, abstract="Background: …"), twin(3)])
    assert filled["doi"] == (ARTICLE.doi, 2)
    assert filled["abstract"] == ("Background: …", 2)
    assert "title" not in filled
