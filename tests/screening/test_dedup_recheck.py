"""New rules and old merges: a merge that earlier rules made and the current rules would
not is listed for owners, never undone by a re-run, and undone (its pair queued, explained)
only when an owner applies the new rules."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import DuplicatePair, PairDecision, Record
from screening.services import dedup
from screening.services.screening.votes import cast_vote
from tests.screening.test_dedup_service import OTHER, SURE_A, SURE_B, import_ris, rec, ris

pytestmark = pytest.mark.django_db(transaction=True)  # imports and dedup run on commit

# The article's DOI on a record in another journal with other pages: the current rules
# leave it to a person ("possibly a conference abstract of the article"); the rules before
# #16 merged it automatically on the shared DOI and title.
ABSTRACT_WITH_ARTICLES_DOI = {
    **SURE_A,
    "JO": "Osteoarthritis and Cartilage",
    "VL": "27",
    "SP": "S301",
    "EP": "S302",
}
EXPLAINED = (
    "same DOI but different journal, volume and pages: possibly a conference abstract of the "
    "article, or a DOI on the wrong record"
)


@pytest.fixture
def merged_by_earlier_rules(review, owner):
    """The state a review upgraded from the earlier rules is in: the pair stored ``auto``
    and its records merged."""
    a = import_ris(review, owner, ris(SURE_A, OTHER), "pubmed.ris", "PubMed")
    b = import_ris(review, owner, ris(ABSTRACT_WITH_ARTICLES_DOI), "embase.ris", "Embase")
    article, abstract = rec(a, 1), rec(b, 1)
    pair = DuplicatePair.objects.get(review=review)
    assert pair.decision == PairDecision.PENDING  # what the current rules say
    assert pair.explanation == EXPLAINED
    DuplicatePair.objects.filter(pk=pair.pk).update(
        decision=PairDecision.AUTO, reasons=["same DOI", "titles 100 % alike"]
    )
    dedup.reapply_clusters(review)
    assert Record.objects.for_review(review).filter(duplicate_of__isnull=False).count() == 1
    return article, abstract, pair


def test_a_merge_the_rules_no_longer_make_is_listed_and_not_undone_by_a_rerun(
    merged_by_earlier_rules, review
):
    article, abstract, pair = merged_by_earlier_rules
    stale = dedup.stale_merges(review)
    assert [(s.pair.pk, s.outcome, s.explanation) for s in stale] == [
        (pair.pk, "pending", EXPLAINED)
    ]
    dedup.run_dedup(review_id=review.pk)  # a re-run with the new rules changes nothing
    pair.refresh_from_db()
    assert pair.decision == PairDecision.AUTO
    assert Record.objects.for_review(review).filter(duplicate_of__isnull=False).count() == 1


def test_applying_the_rules_unmerges_and_queues_the_pair_explained(
    merged_by_earlier_rules, review, owner
):
    article, abstract, pair = merged_by_earlier_rules
    result = dedup.apply_current_rules(review, actor=owner)
    assert (result.requeued, result.unmerged, result.pending_total) == (1, 1, 1)
    pair.refresh_from_db()
    assert pair.decision == PairDecision.PENDING
    assert pair.explanation == EXPLAINED
    assert not Record.objects.for_review(review).filter(duplicate_of__isnull=False).exists()
    # The primary gave back what it had taken from its duplicate.
    for record in (article, abstract):
        record.refresh_from_db()
        assert not set(record.filled_from.values()) & {article.pk, abstract.pk}
    assert AuditEvent.objects.filter(action="dedup.rules_applied").count() == 1
    assert dedup.stale_merges(review) == []
    # The queue shows the pair with its explanation; a person decides as for any pair.
    client = APIClient()
    client.force_login(owner)
    page = client.get(reverse("review-duplicates", args=[review.slug]))
    assert EXPLAINED in page.content.decode()
    listed = client.get(f"/api/v1/reviews/{review.slug}/duplicates/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["explanation"] for row in rows] == [EXPLAINED]
    dedup.decide_pair(pair=pair, actor=owner, duplicate=True)
    assert Record.objects.for_review(review).filter(duplicate_of__isnull=False).count() == 1


def test_decisions_people_made_are_kept_when_the_rules_are_applied(
    merged_by_earlier_rules, review, owner
):
    _, _, pair = merged_by_earlier_rules
    b = import_ris(review, owner, ris(SURE_B), "scopus.ris", "Scopus")
    dedup.run_dedup(review_id=review.pk)
    people = {
        p.pk: p.decision
        for p in DuplicatePair.objects.filter(review=review).exclude(pk=pair.pk)
        if p.decision in (PairDecision.CONFIRMED, PairDecision.SEPARATED)
    }
    sure = DuplicatePair.objects.filter(review=review, decision=PairDecision.AUTO).exclude(
        pk=pair.pk
    )
    assert sure.exists()  # the Scopus record joined the cluster on its own merits
    dedup.apply_current_rules(review, actor=owner)
    for pk, decision in people.items():
        assert DuplicatePair.objects.get(pk=pk).decision == decision
    # The Scopus record and the article still merge; the abstract stands alone and waits.
    article, abstract, scopus = rec_of(pair.record_a_id), rec_of(pair.record_b_id), rec(b, 1)
    if abstract.search.source == "PubMed":
        article, abstract = abstract, article

    def cluster(record: Record) -> int:
        record.refresh_from_db()
        return record.duplicate_of_id or record.pk

    assert cluster(article) == cluster(scopus)
    assert abstract.duplicate_of_id is None
    assert not Record.objects.filter(duplicate_of=abstract).exists()


def rec_of(pk: int) -> Record:
    return Record.objects.select_related("search").get(pk=pk)


def test_records_with_votes_are_not_touched_without_force(
    merged_by_earlier_rules, review, owner, reviewer
):
    article, abstract, _ = merged_by_earlier_rules
    primary = article if article.duplicate_of_id is None else abstract
    primary.refresh_from_db()
    cast_vote(
        review=review, record=primary, reviewer=reviewer, stage="title-abstract", decision="include"
    )
    with pytest.raises(ReviewflowError, match="carry screening votes"):
        dedup.apply_current_rules(review, actor=owner)
    assert Record.objects.for_review(review).filter(duplicate_of__isnull=False).count() == 1
    with pytest.raises(CommandError, match="carry screening votes"):
        call_command("dedupe", review.slug, "--apply-new-rules", stdout=io.StringIO())
    out = io.StringIO()
    call_command("dedupe", review.slug, "--apply-new-rules", "--force", stdout=out)
    assert "1 pairs back in the queue, 1 records unmerged" in out.getvalue()


def test_the_command_lists_before_it_applies(merged_by_earlier_rules, review):
    out = io.StringIO()
    call_command("dedupe", review.slug, "--recheck", stdout=out)
    text = out.getvalue()
    assert "1 automatic merge the current rules would not make" in text
    assert EXPLAINED in text and "Nothing changed" in text
    assert Record.objects.for_review(review).filter(duplicate_of__isnull=False).count() == 1
    out = io.StringIO()
    call_command("dedupe", review.slug, "--apply-new-rules", stdout=out)
    assert "1 pairs back in the queue, 1 records unmerged" in out.getvalue()
    out = io.StringIO()
    call_command("dedupe", review.slug, "--recheck", stdout=out)
    assert "current rules make too" in out.getvalue()
