"""Deduplication in the database: merges after imports, people's decisions, undo."""

from __future__ import annotations

import csv

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import DuplicatePair, MergeKind, PairDecision, Record
from screening.services import dedup, identification
from screening.services.screening.votes import cast_vote
from tests.screening.factories import upload

pytestmark = pytest.mark.django_db(transaction=True)  # imports and dedup run on commit

TITLE = "Mesenchymal stem cells for knee osteoarthritis: a randomised trial"


def ris(*records: dict[str, str]) -> str:
    out = []
    for r in records:
        out.append("TY  - JOUR")
        for tag, value in r.items():
            for v in value.split("|"):
                out.append(f"{tag}  - {v}")
        out.append("ER  - \n")
    return "\n".join(out)


def import_ris(review, owner, text, name, source):
    search = identification.create_search(
        review=review, actor=owner, file=upload(text, name), filename=name, source=source
    )
    search.refresh_from_db()
    assert search.status == "done", search.failure
    return search


SURE_A = {
    "TI": TITLE,
    "AU": "Smith, John|Doe, Ann",
    "PY": "2019",
    "JO": "Stem Cells Transl Med",
    "VL": "8",
    "IS": "2",
    "SP": "100",
    "EP": "110",
    "DO": "10.1002/sctm.19-0001",
}
SURE_B = {
    "TI": TITLE.upper(),
    "AU": "Smith, J.|Doe, A.",
    "PY": "2019",
    "JO": "Stem Cells Transl Med",
    "VL": "8",
    "IS": "2",
    "SP": "100",
    "EP": "10",
    "DO": "https://doi.org/10.1002/SCTM.19-0001",
    "AB": "An abstract only this database has.",
}
# Same title, author, journal, year and page, but another volume: a person must decide.
UNSURE = {
    "TI": TITLE,
    "AU": "Smith, John",
    "PY": "2019",
    "JO": "Stem Cells Transl Med",
    "VL": "9",
    "IS": "2",
    "SP": "100",
    "EP": "110",
}
OTHER = {
    "TI": "Adipose-derived stromal cells in rheumatoid arthritis",
    "AU": "Lee, K",
    "PY": "2021",
    "JO": "Arthritis Res Ther",
    "DO": "10.1186/s13075-021-0001",
}


@pytest.fixture
def two_searches(review, owner):
    a = import_ris(review, owner, ris(SURE_A, OTHER), "pubmed.ris", "PubMed")
    b = import_ris(review, owner, ris(SURE_B, UNSURE), "embase.ris", "Embase")
    return a, b


def rec(search, position):
    return Record.objects.get(search=search, position=position)


def test_import_merges_sure_duplicates_and_queues_unsure_ones(two_searches, review):
    a, b = two_searches
    primary, dup = rec(a, 1), rec(b, 1)
    dup.refresh_from_db()
    # The Embase record has the abstract, so it is the more complete one and stays.
    assert (primary.duplicate_of_id, primary.merge_kind) == (dup.pk, MergeKind.AUTO)
    assert dup.duplicate_of_id is None
    pair = DuplicatePair.objects.get(decision=PairDecision.PENDING)
    # One question per pair of clusters: the unsure record against the merged cluster.
    assert rec(b, 2).pk in {pair.record_a_id, pair.record_b_id}
    assert {pair.record_a_id, pair.record_b_id} - {rec(b, 2).pk} <= {dup.pk, primary.pk}
    assert "volumes conflict" in pair.reasons
    assert Record.objects.for_review(review).unique().count() == 3
    event = AuditEvent.objects.get(action="records.merged_automatically")
    assert event.after == {"merges": [[primary.pk, dup.pk]]}


def test_primary_is_filled_in_from_its_duplicate_with_provenance(review, owner):
    with_doi = dict(SURE_A)
    no_doi = {k: v for k, v in SURE_B.items() if k != "DO"}
    no_doi["AB"] = "A long abstract. " * 5
    a = import_ris(review, owner, ris(with_doi), "a.ris", "PubMed")
    b = import_ris(review, owner, ris(no_doi), "b.ris", "Embase")
    kept = Record.objects.get(duplicate_of__isnull=True)
    other = Record.objects.get(duplicate_of__isnull=False)
    assert {kept.search_id, other.search_id} == {a.pk, b.pk}
    assert kept.doi == "10.1002/sctm.19-0001" and kept.abstract
    filled = kept.filled_from
    assert filled and set(filled.values()) == {other.pk}


def test_person_confirms_a_pair_and_chooses_the_primary(two_searches, owner):
    _, b = two_searches
    pair = DuplicatePair.objects.get(decision=PairDecision.PENDING)
    keep = rec(b, 2)
    dedup.decide_pair(pair=pair, actor=owner, duplicate=True, primary_id=keep.pk)
    cluster = Record.objects.filter(duplicate_of=keep)
    assert cluster.count() == 2  # the earlier cluster joined it
    assert set(cluster.values_list("merge_kind", flat=True)) <= {"auto", "confirmed"}
    in_pair = ({pair.record_a_id, pair.record_b_id} - {keep.pk}).pop()
    assert Record.objects.get(pk=in_pair).merge_kind == MergeKind.CONFIRMED
    with pytest.raises(ReviewflowError, match="already decided"):
        dedup.decide_pair(pair=pair, actor=owner, duplicate=False)


def test_separated_pair_is_never_merged_again(two_searches, review, owner):
    pair = DuplicatePair.objects.get(decision=PairDecision.PENDING)
    dedup.decide_pair(pair=pair, actor=owner, duplicate=False)
    dedup.run_dedup(review_id=review.pk)  # a full pass
    pair.refresh_from_db()
    assert pair.decision == PairDecision.SEPARATED
    assert Record.objects.for_review(review).unique().count() == 3
    assert not DuplicatePair.objects.filter(decision=PairDecision.PENDING).exists()


def test_confirmed_merge_survives_a_new_run(two_searches, review, owner):
    pair = DuplicatePair.objects.get(decision=PairDecision.PENDING)
    dedup.decide_pair(pair=pair, actor=owner, duplicate=True)
    before = sorted(Record.objects.values_list("id", "duplicate_of_id"))
    dedup.run_dedup(review_id=review.pk)
    assert sorted(Record.objects.values_list("id", "duplicate_of_id")) == before


def test_undo_automatic_merge(two_searches, review, owner):
    a, b = two_searches
    dup = rec(a, 1)
    primary = dup.duplicate_of
    dedup.undo_merge(record=dup, actor=owner)
    dup.refresh_from_db()
    assert dup.duplicate_of_id is None and dup.merge_kind == ""
    pair = DuplicatePair.objects.get(
        record_a_id=min(dup.pk, primary.pk), record_b_id=max(dup.pk, primary.pk)
    )
    assert pair.decision == PairDecision.SEPARATED
    dedup.run_dedup(review_id=review.pk)
    dup.refresh_from_db()
    assert dup.duplicate_of_id is None  # a new run does not merge it again
    event = AuditEvent.objects.get(action="record.unmerged")
    assert event.object_id == dup.pk and event.actor == owner
    with pytest.raises(ReviewflowError, match="not merged into another"):
        dedup.undo_merge(record=dup, actor=owner)


def test_undo_returns_the_fields_the_primary_took(review, owner):
    with_doi = dict(SURE_A)
    no_doi = {k: v for k, v in SURE_B.items() if k != "DO"}
    no_doi["AB"] = "A long abstract. " * 5
    import_ris(review, owner, ris(with_doi), "a.ris", "PubMed")
    import_ris(review, owner, ris(no_doi), "b.ris", "Embase")
    kept = Record.objects.get(duplicate_of__isnull=True)
    other = Record.objects.get(duplicate_of__isnull=False)
    taken = set(kept.filled_from)
    dedup.undo_merge(record=other, actor=owner)
    kept.refresh_from_db()
    assert kept.filled_from == {}
    for name in taken:
        assert not getattr(kept, name)


def test_dedupe_command_exports_clusters(two_searches, review, tmp_path, capsys):
    out = tmp_path / "clusters.csv"
    call_command("dedupe", review.slug, "--export-clusters", str(out))
    assert "1 pairs wait in the queue" in capsys.readouterr().out
    rows = list(csv.DictReader(out.open()))
    assert [list(r) for r in rows[:1]] == [["record_id", "search", "cluster_id", "status"]]
    statuses = sorted(r["status"] for r in rows)
    assert statuses == ["auto", "pending", "primary", "unique"]
    by_status = {r["status"]: r for r in rows}
    assert by_status["auto"]["cluster_id"] == by_status["primary"]["cluster_id"]
    assert by_status["pending"]["cluster_id"] == by_status["primary"]["cluster_id"]


def test_duplicates_api(two_searches, owner, reviewer, outsider, review):
    client = APIClient()
    client.force_authenticate(reviewer)
    url = f"/api/v1/reviews/{review.slug}/duplicates/"
    body = client.get(url).json()
    assert body["count"] == 1
    pair = body["results"][0]
    assert "volumes conflict" in pair["reasons"]
    resolve = f"{url}{pair['id']}/resolve/"
    assert client.post(resolve, {"decision": "duplicate"}, format="json").status_code == 403
    other = APIClient()
    other.force_authenticate(outsider)
    assert other.get(url).status_code == 404
    client.force_authenticate(owner)
    response = client.post(resolve, {"decision": "not_duplicate"}, format="json")
    assert response.json()["decision"] == "separated"
    assert client.post(resolve, {"decision": "duplicate"}, format="json").status_code == 409
    unknown = client.get(url, {"decision": "\x00"})  # was a 500 on PostgreSQL (a NUL byte)
    assert unknown.status_code == 400
    assert unknown.json() == {
        "detail": "decision must be one of: pending, auto, confirmed, separated, all.",
        "field": "decision",
    }
    records = client.get(f"/api/v1/reviews/{review.slug}/records/?duplicates=exclude").json()
    assert records["count"] == 3
    merged = Record.objects.filter(duplicate_of__isnull=False).get()
    response = client.post(f"/api/v1/reviews/{review.slug}/records/{merged.pk}/unmerge/")
    assert response.status_code == 200 and response.json()["duplicate_of"] is None


def test_queue_page_and_decision(two_searches, client_for, owner, reviewer, viewer, review):
    url = reverse("review-duplicates", args=[review.slug])
    # Every member reads the queue (as in the API); only owners are offered the decision.
    waiting = DuplicatePair.objects.get(decision=PairDecision.PENDING)
    decide = reverse("duplicate-decide", args=[review.slug, waiting.pk])
    for member in (reviewer, viewer):
        read_only = client_for(member).get(url).content.decode()
        assert "Pair 1 of 1" in read_only and "data-read-only" in read_only
        assert decide not in read_only and 'name="decision"' not in read_only
        assert client_for(member).post(decide, {"decision": "duplicate"}).status_code == 403
    client = client_for(owner)
    page = client.get(url).content.decode()
    assert "Pair 1 of 1" in page and "volumes conflict" in page and "cmp-differs" in page
    pair = DuplicatePair.objects.get(decision=PairDecision.PENDING)
    response = client.post(
        reverse("duplicate-decide", args=[review.slug, pair.pk]),
        {"decision": "duplicate", "i": "0"},
    )
    assert response.status_code == 302
    assert "No pairs wait for a decision." in client.get(url).content.decode()


def test_deciding_one_pair_settles_the_questions_it_answers(two_searches, review, owner):
    a, b = two_searches
    cluster = {rec(a, 1).pk, rec(b, 1).pk}
    unsure = rec(b, 2).pk
    asked = DuplicatePair.objects.get(decision=PairDecision.PENDING)
    # An earlier run asked about the cluster's other record too (as an incremental run can).
    other = (cluster - {asked.record_a_id, asked.record_b_id}).pop()
    low, high = sorted((other, unsure))
    DuplicatePair.objects.create(
        review=review, record_a_id=low, record_b_id=high, score=0.5, reasons=["titles alike"]
    )
    dedup.decide_pair(pair=asked, actor=owner, duplicate=False)
    assert not DuplicatePair.objects.filter(decision=PairDecision.PENDING).exists()
    assert DuplicatePair.objects.filter(decision=PairDecision.SEPARATED).count() == 2


def test_search_with_votes_cannot_be_deleted(two_searches, review, owner, reviewer):
    a, _ = two_searches

    other = rec(a, 2)  # the unique record of search a
    cast_vote(
        review=review, record=other, reviewer=reviewer, stage="title-abstract", decision="include"
    )
    with pytest.raises(ReviewflowError, match="have been screened: it can no longer be deleted"):
        identification.delete_search(search=a, actor=owner)


def test_deleting_a_search_unmerges_what_pointed_into_it(review, owner):
    b = import_ris(review, owner, ris(SURE_B), "embase.ris", "Embase")
    a = import_ris(review, owner, ris(SURE_A), "pubmed.ris", "PubMed")
    primary = Record.objects.get(duplicate_of__isnull=True)
    assert primary.search_id == b.pk  # the record with the abstract stays
    identification.delete_search(search=b, actor=owner)
    left = Record.objects.get()
    assert (left.search_id, left.duplicate_of_id, left.merge_kind) == (a.pk, None, "")


def test_duplicate_found_after_screening_keeps_its_votes_and_is_flagged(
    two_searches, review, owner, reviewer, client_for
):
    pair = DuplicatePair.objects.get(decision=PairDecision.PENDING)
    voted = Record.objects.get(pk=pair.record_b_id)
    cast_vote(
        review=review, record=voted, reviewer=reviewer, stage="title-abstract", decision="include"
    )
    other = Record.objects.get(pk=pair.record_a_id)
    keep = other.duplicate_of_id or other.pk
    dedup.decide_pair(pair=pair, actor=owner, duplicate=True, primary_id=pair.record_a_id)
    voted.refresh_from_db()
    assert voted.duplicate_of_id is not None  # merged, as the owner chose
    assert voted.votes.count() == 1  # the vote is kept
    assert AuditEvent.objects.filter(
        action="record.merged_after_screening", object_id=voted.pk
    ).exists()
    page = client_for(owner).get(reverse("review-duplicates", args=[review.slug])).content.decode()
    assert "Merged after screening began" in page
    assert keep


def test_primary_takes_the_whole_abstract_of_its_duplicate(review, owner):
    long_abstract = "Mesenchymal stromal cells were injected into the knee. " * 30
    richer = dict(SURE_A, PMID="31234567")  # DOI and PMID: the record that stays
    with_abstract = {k: v for k, v in SURE_B.items() if k != "DO"}
    with_abstract["AB"] = long_abstract.strip()
    a = import_ris(review, owner, ris(richer), "a.ris", "PubMed")
    import_ris(review, owner, ris(with_abstract), "b.ris", "Embase")
    kept = Record.objects.get(duplicate_of__isnull=True)
    assert kept.search_id == a.pk
    assert kept.abstract == long_abstract.strip()  # whole, not the 400 characters matched
    assert "abstract" in kept.filled_from
