"""The prioritisation dashboard in Chromium (#24): an owner reads the stopping rules, starts
the two-phase rule's random sample, stops screening early after confirming, and undoes it;
at full text too, where PRISMA lists the unread reports as not assessed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Outcome, OutcomeKind, RankingRun
from screening.prioritisation import stopping
from screening.services import prioritisation
from screening.services.screening.stage_settings import update_stage_settings
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote

TA, FT = "title-abstract", "full-text"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_owner_starts_the_sample_stops_early_and_undoes_it(
    live_server, new_page, make_user, monkeypatch
):
    monkeypatch.setattr(stopping, "SWITCH_RUN_MIN", 3)  # 20 records: flat after 3 excludes
    owner = make_user("olga")
    anna = make_user("anna")
    review = create_review(title="Ranked", slug="ranked", owner=owner)
    add_member(review=review, actor=owner, user=anna, role=Role.REVIEWER)
    records = import_records(review, owner, 20)
    update_stage_settings(
        review=review, stage=TA, actor=owner, order="relevance", reviewers_needed=1
    )
    for r in records[:2]:
        vote(review, r, anna, "include")
    for r in records[2:6]:
        vote(review, r, anna, "exclude")

    base = live_server.url
    page = new_page(1280, 1000)
    sign_in(page, base, owner.username, PASSWORD)
    page.goto(f"{base}/r/ranked/screen/{TA}/prioritisation/")
    expect(page.locator("h1")).to_have_text("Prioritisation and stopping — Title and abstract")
    row = page.locator("tr[data-rule='two_phase']")
    expect(row).to_have_attribute("data-kind", "guarantee")
    expect(page.locator("tr[data-rule='consecutive']")).to_have_attribute("data-kind", "heuristic")
    needs = page.locator("[data-two-phase='1']")
    expect(needs).to_contain_text("The ranking has flattened (4 records since the last include)")
    expect(needs).to_contain_text("Why: only records screened in a random order")

    page.locator("[data-start-sample]").click()
    expect(page.locator(".msg, [role=status]").first).to_contain_text(
        "Random sample started: the 14 unscreened records now come in a random order."
    )
    assert RankingRun.objects.get(review=review, stage=TA).model == prioritisation.RANDOM_MODEL
    expect(page.locator("[data-two-phase='2']")).to_contain_text("Screen a random sample of")
    expect(page.locator("[data-random-sample]")).to_contain_text(
        "Random order for the stopping rule: screen a random sample of"
    )
    expect(page.locator("[data-start-sample]")).to_have_count(0)
    screenshot(page, "prioritisation-sample")

    stop = page.locator("form[action$='/prioritisation/stop/']")
    stop.locator("select[name=method]").select_option("two_phase")
    stop.get_by_role("button", name="Stop screening and exclude the rest").click()
    expect(page.locator(".msg, [role=status]").first).to_contain_text(
        "Tick the box to confirm: the unscreened records will be excluded."
    )
    assert not Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).exists()
    stop = page.locator("form[action$='/prioritisation/stop/']")
    stop.locator("select[name=method]").select_option("two_phase")
    stop.locator("input[name=confirm]").check()
    stop.get_by_role("button", name="Stop screening and exclude the rest").click()
    expect(page.locator(".msg, [role=status]").first).to_contain_text(
        "Screening stopped: 14 unscreened records were excluded by automation tool"
    )
    expect(page.locator("[data-stopped]")).to_contain_text(
        "Method: Stopped early (guarantee): Two-phase random sample"
    )
    assert Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).count() == 14

    page.locator("[data-undo-stop]").click()
    expect(page.locator(".msg, [role=status]").first).to_contain_text(
        "Early stop undone: 14 records are unscreened again"
    )
    expect(page.locator("[data-stopped]")).to_have_count(0)
    assert not Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_owner_stops_full_text_early_prisma_says_not_assessed_and_undoes_it(
    live_server, new_page, make_user
):
    owner = make_user("olga")
    anna = make_user("anna")
    review = create_review(title="Ranked", slug="ranked", owner=owner)
    add_member(review=review, actor=owner, user=anna, role=Role.REVIEWER)
    records = import_records(review, owner, 6)
    for stage in (TA, FT):
        update_stage_settings(review=review, stage=stage, actor=owner, reviewers_needed=1)
    for r in records[:2]:
        vote(review, r, anna, "exclude")
    for r in records[2:]:
        vote(review, r, anna, "include")
    vote(review, records[2], anna, "exclude", FT, "Wrong population")
    reason = (
        "Not assessed: screening stopped early by Knee of the recall curve "
        "(a heuristic: no guaranteed recall)"
    )

    base = live_server.url
    page = new_page(1280, 1000)
    sign_in(page, base, owner.username, PASSWORD)
    page.goto(f"{base}/r/ranked/screen/{FT}/prioritisation/")
    expect(page.locator("h1")).to_have_text("Prioritisation and stopping — Full text")
    stop = page.locator("form[action$='/prioritisation/stop/']")
    expect(stop).to_contain_text(
        "The 3 records nobody has voted on yet are excluded as “excluded by automation tool”"
    )
    expect(stop).to_contain_text("PRISMA counts them among the reports excluded")
    stop.locator("select[name=method]").select_option("knee")
    stop.locator("input[name=confirm]").check()
    stop.get_by_role("button", name="Stop screening and exclude the rest").click()
    expect(page.locator(".msg, [role=status]").first).to_contain_text(
        "Screening stopped: 3 unscreened records were excluded by automation tool (PRISMA "
        "counts them among the reports excluded, as not assessed)."
    )
    expect(page.locator("[data-stopped]")).to_contain_text(f"Method: {reason}.")
    assert Outcome.objects.filter(stage=FT, kind=OutcomeKind.AUTOMATION).count() == 3
    expect(page.locator("form[action$='/prioritisation/stop/']")).to_have_count(0)

    page.goto(f"{base}/r/ranked/prisma/")
    expect(page.locator("#prisma")).to_contain_text("Not assessed: screening stopped early")
    expect(page.locator("#problems")).to_have_count(0)
    screenshot(page, "prioritisation-full-text-prisma")

    page.goto(f"{base}/r/ranked/screen/{FT}/prioritisation/")
    page.locator("[data-undo-stop]").click()
    expect(page.locator(".msg, [role=status]").first).to_contain_text(
        "Early stop undone: 3 records are unscreened again"
    )
    assert not Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).exists()
    expect(page.locator("form[action$='/prioritisation/stop/']")).to_be_visible()
