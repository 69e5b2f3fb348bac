"""The audit trail page: sentences with links, a deduplication run as one line, filters by
person, kind and date, pagination that keeps them, and blinded votes still masked."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewflow.reviews import services
from reviewflow.reviews.models import AuditEvent, Membership, Role
from reviewflow.reviews.services import record_audit
from screening.models import Record
from screening.services import identification
from screening.services.screening.votes import cast_vote
from tests.screening.factories import ris_records, upload

TITLE = "Mesenchymal stem cells for knee osteoarthritis: a randomised trial"


def ris(*records: dict[str, str]) -> str:
    out = []
    for r in records:
        out.append("TY  - JOUR")
        out += [f"{tag}  - {value}" for tag, value in r.items()]
        out.append("ER  - \n")
    return "\n".join(out)


SURE_A = {"TI": TITLE, "AU": "Smith, John", "PY": "2019", "JO": "Stem Cells Transl Med",
          "VL": "8", "SP": "100", "EP": "110", "DO": "10.1002/sctm.19-0001"}  # fmt: skip
SURE_B = {**SURE_A, "TI": TITLE.upper(), "DO": "https://doi.org/10.1002/SCTM.19-0001"}
UNSURE = {**SURE_A, "VL": "9", "DO": ""}
OTHER = {"TI": "Adipose-derived stromal cells in rheumatoid arthritis", "AU": "Lee, K",
         "PY": "2021", "JO": "Arthritis Res Ther", "DO": "10.1186/s13075-021-0001"}  # fmt: skip


def url(review, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("review-audit", args=[review.slug]) + (f"?{query}" if query else "")


def words(response) -> str:
    """The page as a reader sees it: tags gone, entities read, spaces collapsed."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", body)))


def sentences(response) -> list[str]:
    """Each line's sentence, without the records' titles shown beside their links."""
    body = re.sub(r'<span class="record-title[^"]*">.*?</span>', "", response.content.decode())
    cells = re.findall(r'<td class="audit-sentence">(.*?)</td>', body, re.S)
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", c))).strip() for c in cells]


def import_ris(review, owner, text, name, source):
    search = identification.create_search(
        review=review, actor=owner, file=upload(text, name), filename=name, source=source
    )
    search.refresh_from_db()
    assert search.status == "done", search.failure
    return search


# ------------------------------------------------------------------------------ access


@pytest.mark.django_db
def test_outsider_gets_404_and_a_reviewer_is_refused(client_for, review, outsider, reviewer):
    assert client_for(outsider).get(url(review)).status_code == 404
    assert client_for(reviewer).get(url(review)).status_code == 403


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client, review):
    response = client.get(url(review))
    assert response.status_code == 302 and "login" in response["Location"]


# ------------------------------------------------------------------------------ sentences


@pytest.mark.django_db
def test_role_change_reads_as_a_sentence(client_for, review, owner, reviewer):
    membership = Membership.objects.get(review=review, user=reviewer)
    services.change_role(membership=membership, actor=owner, role=Role.OWNER)
    lines = sentences(client_for(owner).get(url(review)))
    assert lines[0] == "olivia changed rachel's role from reviewer to owner"
    assert "olivia added rachel as reviewer" in lines
    assert "olivia created the review 'MSC therapy in type 2 diabetes'" in lines


@pytest.mark.django_db(transaction=True)
def test_import_and_its_deduplication_read_as_one_line_each(client_for, review, owner):
    import_ris(review, owner, ris(SURE_A, OTHER), "pubmed.ris", "PubMed")
    embase = import_ris(review, owner, ris(SURE_B, UNSURE), "embase.ris", "Embase")
    response = client_for(owner).get(url(review))
    lines = sentences(response)
    assert "olivia imported 'embase.ris' from Embase: 2 records" in lines
    run = (
        "Deduplication of search 'embase.ris' from Embase: "
        "1 merged automatically, 1 waits for a person (see the duplicates)"
    )
    assert run in lines
    # The run's merges are not a line of their own, nor a list of id pairs.
    assert AuditEvent.objects.filter(action="records.merged_automatically").exists()
    assert 'data-action="records.merged_automatically"' not in response.content.decode()
    assert not any("merged automatically into" in line for line in lines)
    page = response.content.decode()
    assert f'href="{reverse("review-duplicates", args=[review.slug])}"' in page
    assert f'href="{reverse("search-detail", args=[review.slug, embase.pk])}"' in page


@pytest.mark.django_db
def test_automatic_merges_outside_a_run_keep_their_own_line(client_for, review, owner):
    merges = [[i, i + 1000] for i in range(300)]
    record_audit(review=review, actor=None, action="records.merged_automatically",
                 target="300 records", after={"merges": merges})  # fmt: skip
    # A person acts next, then a run much later: the merges were not that run's.
    record_audit(review=review, actor=owner, action="search.deleted", target="PubMed: a.ris",
                 before={"imported": 3})  # fmt: skip
    later = AuditEvent.objects.create(review=review, action="dedup.run", target="all records",
                                      after={"merged": 0, "new_pending": 0})  # fmt: skip
    AuditEvent.objects.filter(pk=later.pk).update(
        created_at=timezone.now() + datetime.timedelta(hours=1)
    )
    lines = sentences(client_for(owner).get(url(review)))
    assert "300 records merged automatically into their duplicates (see the duplicates)" in lines
    assert "Deduplication of all records: 0 merged automatically, 0 wait for a person" in " ".join(
        lines
    )
    assert "1000" not in " ".join(lines)


@pytest.mark.django_db
def test_a_run_stays_one_line_when_votes_settle_records_meanwhile(client_for, review, owner):
    record_audit(review=review, actor=None, action="records.merged_automatically",
                 target="2 records", after={"merges": [[1, 2], [3, 4]]})  # fmt: skip
    record_audit(review=review, actor=None, action="outcome.agreed", target="record 7",
                 after={"stage": "title-abstract", "decision": "exclude"})  # fmt: skip
    record_audit(review=review, actor=None, action="dedup.run", target="all records",
                 after={"merged": 2, "new_pending": 0})  # fmt: skip
    lines = sentences(client_for(owner).get(url(review)))
    assert lines[0] == (
        "Deduplication of all records: 2 merged automatically, 0 wait for a person "
        "(see the duplicates)"
    )
    assert not any("into their duplicates" in line for line in lines)


@pytest.mark.django_db(transaction=True)
def test_a_record_in_a_sentence_links_to_its_page_with_its_title(
    client_for, review, owner, reviewer
):
    import_ris(review, owner, ris_records(2), "a.ris", "PubMed")
    record = Record.objects.filter(review=review).order_by("pk").first()
    cast_vote(review=review, record=record, reviewer=owner, stage="title-abstract",
              decision="include")  # fmt: skip
    response = client_for(owner).get(url(review))
    href = reverse("record-detail", args=[review.slug, record.pk])
    assert f'<a href="{href}">record {record.pk}</a>' in response.content.decode()
    assert f"olivia voted include on record {record.pk} (title-abstract)" in sentences(response)[0]
    assert "Mesenchymal stromal cells trial number 1" in words(response)


# ------------------------------------------------------------------------------ blinding


@pytest.mark.django_db(transaction=True)
def test_a_colleagues_blind_vote_is_masked_until_the_record_is_settled(
    client_for, review, owner, reviewer, reviewer2
):
    import_ris(review, owner, ris_records(1), "a.ris", "PubMed")
    record = Record.objects.get(review=review)
    cast_vote(review=review, record=record, reviewer=reviewer, stage="title-abstract",
              decision="exclude", note="SECRET-NOTE")  # fmt: skip
    client = client_for(owner)
    response = client.get(url(review))
    line = sentences(response)[0]
    assert line.startswith(f"rachel voted on record {record.pk} (hidden")
    assert "exclude" not in words(response) and "SECRET-NOTE" not in response.content.decode()
    # Every filter keeps the mask.
    person = client.get(url(review, person=reviewer.pk, kind="screening"))
    assert "SECRET-NOTE" not in person.content.decode()
    cast_vote(review=review, record=record, reviewer=reviewer2, stage="title-abstract",
              decision="exclude")  # fmt: skip
    shown = sentences(client.get(url(review)))
    assert any(s.startswith(f"rachel voted exclude on record {record.pk}") for s in shown)
    assert any("SECRET-NOTE" in s for s in shown)


# ------------------------------------------------------------------------------ filters


def _mixed_events(review, owner, reviewer, n):
    for i in range(n):
        record_audit(review=review, actor=reviewer, action="vote.undone", target=f"record {i}",
                     before={"stage": "title-abstract", "decision": "include"},
                     object_type="record", object_id=900000 + i)  # fmt: skip
        record_audit(review=review, actor=owner, action="search.imported",
                     target=f"PubMed: file{i}.ris", after={"imported": i})  # fmt: skip
        record_audit(review=review, actor=None, action="dedup.run", target=f"search {i}",
                     after={"merged": i, "new_pending": 0})  # fmt: skip


@pytest.mark.django_db
def test_filter_by_person_kind_and_date(client_for, review, owner, reviewer):
    _mixed_events(review, owner, reviewer, 2)
    client = client_for(owner)
    mine = sentences(client.get(url(review, person=reviewer.pk)))
    assert mine and all(s.startswith("rachel ") for s in mine)
    members = sentences(client.get(url(review, kind="members")))
    assert len(members) == 4 and all(" added " in s for s in members)
    dedup = sentences(client.get(url(review, kind="deduplication")))
    assert len(dedup) == 2 and all(s.startswith("Deduplication") for s in dedup)
    system = sentences(client.get(url(review, person="system")))
    assert len(system) == 2
    today = timezone.localdate()
    assert len(sentences(client.get(url(review, date_from=today, date_to=today)))) == 11
    tomorrow = today + datetime.timedelta(days=1)
    response = client.get(url(review, date_from=tomorrow))
    assert sentences(response) == [] and "No event matches these filters." in words(response)
    assert sentences(client.get(url(review, date_to=today - datetime.timedelta(days=1)))) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"person": "abc"},
        {"person": "99999999999999999999"},
        {"kind": "nonsense"},
        {"date_from": "2024-13-45"},
        {"date_to": "yesterday"},
        {"page": "x"},
        {"page": "-3"},
        {"person": "%00", "kind": "%FF", "date_from": "0000-00-00"},
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
    ],
)
def test_malformed_filters_fall_back_to_everything(client_for, review, owner, reviewer, params):
    _mixed_events(review, owner, reviewer, 1)
    response = client_for(owner).get(url(review, **params))
    assert response.status_code == 200
    assert len(sentences(response)) == 8  # the review's 5 events and these 3


@pytest.mark.django_db
def test_pagination_keeps_the_filters(client_for, review, owner, reviewer):
    for i in range(55):
        record_audit(review=review, actor=owner, action="member.added", target=f"user{i}",
                     after={"role": "viewer"})  # fmt: skip
    _mixed_events(review, owner, reviewer, 3)
    client = client_for(owner)
    first = client.get(url(review, kind="members", person=owner.pk))
    assert len(sentences(first)) == 50
    page = first.content.decode()
    # The next page is read by key (#25): its link carries a cursor after the filters.
    link = re.search(
        rf'href="\?(person={owner.pk}&amp;kind=members&amp;after=[^"]+)" rel="next"', page
    )
    assert link, page
    second = sentences(client.get(f"{url(review)}?{html.unescape(link.group(1))}"))
    assert sentences(client.get(url(review, kind="members", person=owner.pk, page=2))) == second
    # 55 added here, the review's owner and its 3 other members.
    assert len(second) == 9 and all(" added " in s for s in second)
    # A filter that did not parse is not carried on.
    odd = client.get(url(review, kind="members", person="abc")).content.decode()
    assert 'href="?kind=members&amp;after=' in odd


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_page(
    client_for, review, owner, reviewer, django_assert_num_queries
):
    _mixed_events(review, owner, reviewer, 3)
    client = client_for(owner)
    # Session, user, membership; members; count; events; the vote masking (4); the records
    # and the searches the sentences name.
    with django_assert_num_queries(12):
        client.get(url(review))
    _mixed_events(review, owner, reviewer, 20)
    with django_assert_num_queries(12):
        response = client.get(url(review))
    assert len(sentences(response)) == 50
