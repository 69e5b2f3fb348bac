"""Pilot rounds and the agreement report."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviewflow.errors import ReviewflowError
from screening.models import Outcome, PilotVote, Vote
from screening.selectors.screening import agreement_report
from screening.services.screening import pilot
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA = "title-abstract"


def test_pilot_round_comes_first_and_does_not_count(client_for, review, owner, reviewer, reviewer2):
    records = import_records(review, owner, 8)
    round_ = pilot.start_pilot(review=review, stage=TA, actor=owner, size=4)
    client = client_for(reviewer)
    url = reverse("screen", args=[review.slug, TA])
    seen = []
    for _ in range(4):
        page = client.get(url)
        assert page.context["pilot"] == round_
        record = page.context["record"]
        seen.append(record.pk)
        client.post(
            reverse("screen-vote", args=[review.slug, TA]),
            {"record": record.pk, "decision": "include", "pilot": round_.pk},
        )
    assert sorted(seen) == sorted(round_.records.values_list("pk", flat=True))
    assert PilotVote.objects.filter(reviewer=reviewer).count() == 4
    assert not Vote.objects.exists() and not Outcome.objects.exists()
    # Done with the pilot: the main round waits for the owner.
    assert client.get(url).context["record"] is None
    # The second reviewer gets the same four records.
    for record_id in seen:
        pilot.cast_pilot_vote(
            pilot=round_,
            record=next(r for r in records if r.pk == record_id),
            reviewer=reviewer2,
            decision="include" if record_id != seen[0] else "exclude",
        )
    first = next(r for r in records if r.pk == seen[0])
    with pytest.raises(ReviewflowError, match="already screened this pilot record"):
        pilot.cast_pilot_vote(pilot=round_, record=first, reviewer=reviewer2, decision="include")
    (pair,) = pilot.pilot_agreement(round_)
    assert (pair.items, pair.agreement) == (4, 75.0)
    page = client_for(owner).get(reverse("pilot", args=[review.slug, TA])).content.decode()
    assert "75.0 %" in page
    pilot.close_pilot(pilot=round_, actor=owner)
    assert client.get(url).context.get("pilot") is None
    assert client.get(url).context["record"] is not None


def test_pilot_page_is_for_owners(client_for, review, reviewer):
    assert client_for(reviewer).get(reverse("pilot", args=[review.slug, TA])).status_code == 403


def test_pilot_size_must_fit(review, owner):
    import_records(review, owner, 3)
    with pytest.raises(ReviewflowError, match="Only 3 records are left unscreened"):
        pilot.start_pilot(review=review, stage=TA, actor=owner, size=5)


def test_agreement_report_matches_hand_computed_kappa(review, owner, reviewer, reviewer2):
    # 10 records: both include 4, both exclude 3, A include/B exclude 2, A exclude/B include 1.
    records = import_records(review, owner, 10)
    plan = ["ii"] * 4 + ["ee"] * 3 + ["ie"] * 2 + ["ei"]
    decisions = {"i": "include", "e": "exclude"}
    for record, (a, b) in zip(records, plan):
        vote(review, record, reviewer, decisions[a])
        vote(review, record, reviewer2, decisions[b])
    (stage_ta, _) = agreement_report(review)
    ((name_a, name_b, pair),) = stage_ta.pairs
    # p_o = 7/10; A includes 6/10, B includes 5/10: p_e = .6*.5 + .4*.5 = .5; kappa = .2/.5 = .4
    assert {name_a, name_b} == {"rachel", "roberto"}
    assert pair.items == 10
    assert pair.agreement == pytest.approx(70.0)
    assert pair.kappa == pytest.approx(0.4)


def test_agreement_counts_only_records_with_all_their_votes(review, owner, reviewer, reviewer2):
    # Three reviewers per record: two votes on a record still open must not tell the
    # owner (who screens too) whether the two agreed.
    from screening.services.screening.stage_settings import update_stage_settings

    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=3)
    records = import_records(review, owner, 2)
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "exclude")
    (stage_ta, _) = agreement_report(review)
    assert (stage_ta.records, stage_ta.pairs) == (0, [])
    vote(review, records[0], owner, "include")  # the third vote settles it
    (stage_ta, _) = agreement_report(review)
    assert stage_ta.records == 1 and len(stage_ta.pairs) == 3


def test_agreement_page_and_csv(client_for, review, owner, reviewer, reviewer2):
    records = import_records(review, owner, 2)
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "include")
    client = client_for(owner)
    assert "Cohen" in client.get(reverse("agreement", args=[review.slug])).content.decode()
    csv_text = client.get(
        reverse("agreement", args=[review.slug]), {"format": "csv"}
    ).content.decode()
    assert csv_text.splitlines()[0] == (
        "stage,reviewer_a,reviewer_b,records_both,agreement_percent,cohen_kappa"
    )
    assert "title-abstract,rachel,roberto,1,100.0" in csv_text
