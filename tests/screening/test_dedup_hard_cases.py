"""Hard cases of deduplication, each of a kind every review meets, as pure tests of the
engine. Every record is a real one; where a case needs a second record that the labelled
sets don't hold, it is the real record changed only as the case describes.

Origins (the BibDedupe benchmark data, ``../shared/data/dedup/``):

- ``respiratory`` (SRA-DM set, Rathbone et al., Syst Rev 2015;4:6): ``id_0000229`` /
  ``id_0000230``, Regnard et al. 1989 in Pathol Biol 37:477-480, exported once with its
  English title and once with the French original's translation, labelled one
  publication; ``id_0001576`` / ``id_0001577``, two different meeting abstracts by Imazio
  et al. printed on page 597 of Eur Heart J 32 (2011), labelled distinct.
- ``neuroimaging`` (ASySD set, Hair et al., BMC Biology 2023;21:189): ``id_0000223`` /
  ``id_0001638``, Sun et al. 2017, J Alzheimers Dis 55(2):777-785, labelled one
  publication, the journal written with and without the apostrophe.
- ``diabetes`` (ASySD set): ``id_0000405`` / ``id_0001145``, Kwon et al. 2016, a meeting
  abstract in Nephrol Dial Transplant 31 Suppl 1, its page ``i428`` read as ``1428`` by one
  database, labelled one publication.
"""

from __future__ import annotations

from dataclasses import replace

from screening.dedup import MatchRecord, explain
from screening.dedup.normalise import journal_tokens, journals_compatible

SUN_2017 = MatchRecord(
    id=223,
    title="Rapidly Progressive Frontotemporal Dementia Associated with MAPT Mutation G389R",
    authors=("Sun, L.", "Chen, K.", "Li, X.", "Xiao, S."),
    year=2017,
    journal="Journal of Alzheimer's Disease",
    volume="55",
    issue="2",
    pages="777-785",
    doi="10.3233/jad-160802",
    abstract=(
        "Frontotemporal dementia includes a large spectrum of neurodegenerative disorders. "
        "Here we report the case of a young patient with MAPT mutation G389R who was 27 years "
        "old when he progressively developed severe behavioral disturbances."
    ),
)
SUN_2017_AGAIN = replace(
    SUN_2017,
    id=1638,
    authors=("Sun, L.", "Chen, K.", "Li, X.", "Xiao, S. F."),
    journal=("Journal of Alzheimers Disease"),
)

REGNARD_ENGLISH = MatchRecord(
    id=229,
    title=(
        "Antibiotic and antiseptic prophylaxis in thoracic surgery. A randomized study. "
        "<ORIGINAL> PROPHYLAXIE ANTIBIOTIQUE ET ANTISEPTIQUE EN CHIRURGIE THORACIQUE. "
        "ETUDE CONTROLEE"
    ),
    authors=("Regnard, J. F.", "Libert, J. M.", "Rojas-Miranda, A.", "Marzelle, J."),
    year=1989,
    journal="Pathol Biol",
    volume="37",
    pages="477-480",
)
REGNARD_TRANSLATED = replace(
    REGNARD_ENGLISH,
    id=230,
    title="[Antibiotic and antiseptic prophylaxis in thoracic surgery. Controlled study]",
    journal="Pathologie Biologie",
)

IMAZIO_ABSTRACT = MatchRecord(
    id=1576,
    title="Contemporary features, risk factors, and prognosis of the post-pericardiotomy syndrome",
    authors=("Imazio, M.", "Brucato, A.", "Rovere, M. E.", "Gandino, A.", "Cemin, R."),
    year=2011,
    journal="European Heart Journal",
    volume="32",
    pages="597",
)
IMAZIO_OTHER_ABSTRACT = replace(
    IMAZIO_ABSTRACT,
    id=1577,
    title="Colchicine prevents early post-operative pericardial and pleural effusions",
    authors=("Imazio, M.", "Brucato, A.", "Gandino, A.", "Rovere, M. E.", "Cemin, R."),
)

KWON_2016 = MatchRecord(
    id=405,
    title="Proximal tubular GLP-1 receptor activity is increased in CKD rat with myocardial "
    "infarction",
    authors=("Kwon, S. K.", "Kim, S. J.", "Kim, K. M.", "Kim, H. Y."),
    year=2016,
    journal="Nephrology Dialysis Transplantation",
    volume="31",
    issue="SUPPL. 1",
    pages="i428",
    doi="10.1093/ndt/gfw188.21",
    abstract=(
        "Introduction and Aims: Chronic kidney disease (CKD) is an important risk factor of "
        "ischemic heart disease and chronic inflammation makes atherosclerosis in the "
        "patients with CKD. Glucagon like peptidase-1 (GLP-1) is an incretin hormone."
    ),
)
KWON_2016_MISREAD = replace(KWON_2016, id=1145, pages="1428-1428")


# ------------------------------------------------------------------ one DOI, two records


def test_a_conference_abstract_carrying_the_articles_doi_waits_for_a_person() -> None:
    # The article's DOI on its meeting abstract, in another journal's supplement.
    abstract = replace(
        SUN_2017,
        id=9001,
        journal="Alzheimer's & Dementia",
        volume="12",
        issue="7 Suppl",
        pages="P512",
        year=2016,
        abstract="",
    )
    match = explain(SUN_2017, abstract)
    assert match.outcome == "pending"
    assert (
        "same DOI but different journal and volume: possibly a conference abstract "
        "of the article, or a DOI on the wrong record"
    ) in match.reasons


def test_a_shared_doi_on_a_record_whose_journal_and_pages_disagree_waits() -> None:
    wrong = replace(SUN_2017, id=9002, journal="Neurobiology of Aging", pages="112-119")
    match = explain(SUN_2017, wrong)
    assert match.outcome == "pending"
    assert any(r.startswith("same DOI but different journal and pages") for r in match.reasons)


def test_a_journal_spelt_two_ways_is_no_disagreement() -> None:
    assert journals_compatible(
        journal_tokens("Journal of Alzheimer's Disease"),
        journal_tokens("Journal of Alzheimers Disease"),
    )
    assert journals_compatible(
        journal_tokens("Nutr Metab (Lond)"), journal_tokens("Nutrition and Metabolism")
    )
    assert journals_compatible(
        journal_tokens("Folia Phoniatrica et Logopaedica"),
        journal_tokens("Folia Phoniatrica et Logopedica"),
    )
    assert not journals_compatible(journal_tokens("Diabetes"), journal_tokens("Diabetologia"))
    assert explain(SUN_2017, SUN_2017_AGAIN).outcome == "auto"


def test_a_misprinted_page_in_the_same_journal_with_the_same_abstract_still_merges() -> None:
    match = explain(KWON_2016, KWON_2016_MISREAD)
    assert match.outcome == "auto"
    assert "pages conflict" in match.reasons


def test_pages_that_differ_in_another_issue_wait() -> None:
    # Without abstracts to compare, and in another issue: one DOI on two records of one
    # journal whose issue and pages disagree is for a person.
    other_issue = replace(KWON_2016_MISREAD, abstract="", issue="2")
    match = explain(replace(KWON_2016, abstract=""), other_issue)
    assert match.outcome == "pending"
    assert "same DOI but different pages" in match.reasons[-1]


# ------------------------------------------------------- the same paper, exported otherwise


def test_a_title_and_its_translation_in_the_same_citation_merge() -> None:
    match = explain(REGNARD_ENGLISH, REGNARD_TRANSLATED)
    assert match.outcome == "auto"
    assert "the same citation: first author, journal, year, volume and pages" in match.reasons


def test_two_abstracts_on_one_page_by_one_group_are_not_one_citation() -> None:
    assert explain(IMAZIO_ABSTRACT, IMAZIO_OTHER_ABSTRACT).outcome != "auto"


def test_the_same_conference_paper_with_capitals_full_names_and_no_venue_merges() -> None:
    # Exported once in capitals with initials, pages and venue; once with the authors'
    # given names and without venue or pages.
    with_venue = replace(
        SUN_2017,
        id=9003,
        title=SUN_2017.title.upper(),
        doi="",
        abstract="",
        journal="Proceedings of the Alzheimer's Association International Conference",
        volume="",
        issue="",
    )
    bare = replace(
        SUN_2017,
        id=9004,
        authors=("Sun, Lin", "Chen, Keliang", "Li, Xia", "Xiao, Shifu"),
        doi="",
        abstract="",
        journal="",
        volume="",
        issue="",
        pages="",
    )
    match = explain(with_venue, bare)
    assert match.outcome == "auto"
    assert "everything both records give agrees" in match.reasons


def test_a_short_title_with_nothing_else_to_go_on_waits() -> None:
    # "Stem cells in stroke" names many papers: a specific title is needed to merge on
    # title, first author and year alone.
    short = MatchRecord(id=1, title="Stem cells in stroke", authors=("Savitz, S. I.",), year=2015)
    assert explain(short, replace(short, id=2, journal="Stroke")).outcome == "pending"


# ---------------------------------------------------------------- in a reviewer's words


def test_the_queue_says_what_makes_each_hard_case_hard() -> None:
    from screening.dedup.wording import explanation

    wrong = replace(SUN_2017, id=9002, journal="Neurobiology of Aging", pages="112-119")
    assert explanation(explain(SUN_2017, wrong).reasons) == (
        "same DOI but different journal and pages: possibly a conference abstract of the "
        "article, or a DOI on the wrong record"
    )
    editorial = MatchRecord(
        id=1,
        title="Editor's Comments",
        authors=("Straub, D.",),
        year=2009,
        journal="MIS Q",
        volume="33",
        issue="1",
        pages="iii-iv",
    )
    next_issue = replace(editorial, id=2, issue="2", pages="")
    assert explanation(explain(editorial, next_issue).reasons).startswith(
        'generic title ("Editorial", "Reply"…): issues differ'
    )
    assert explanation(explain(IMAZIO_ABSTRACT, IMAZIO_OTHER_ABSTRACT).reasons) == (
        "titles only 44 % alike, the rest of the citation the same: a title translated or "
        "abridged, or two abstracts printed on one page"
    )
    numbered = replace(
        REGNARD_ENGLISH, id=3, title="Antibiotic prophylaxis in thoracic surgery, part 2"
    )
    first = replace(numbered, id=4, title="Antibiotic prophylaxis in thoracic surgery, part 1")
    assert "a typo, or parts of a series" in explanation(explain(first, numbered).reasons)


def test_a_name_written_without_a_comma_is_read_either_way_round() -> None:
    from screening.dedup.normalise import author_parts

    same = [
        "Zheng, Alvin Zuyin",
        "Zheng, A.Z.",
        "A.Z. Zheng",
        "Alvin Zuyin Zheng",
        "Zheng AZ",
        "ZHENG AZ",
        "Zheng A.",
    ]
    assert {author_parts(name) for name in same} == {("zheng", "a")}
    assert author_parts("van den Bent MJ") == ("vandenbent", "m")
    # An organisation stays whole: two study groups are not one "Group".
    assert author_parts("FUTURE II Study Group") == ("futureiistudygroup", "")
    in_medline = replace(SUN_2017, id=9005, authors=("Sun L", "Chen K", "Li X", "Xiao S"))
    in_given_order = replace(
        SUN_2017, id=9006, authors=("Lin Sun", "Keliang Chen", "Xia Li", "Shifu Xiao")
    )
    assert "first author matches" in explain(in_medline, in_given_order).reasons
