"""The workload page in Chromium (#20): an owner assigns a stage's records evenly with a
due date, reads the figures, and moves a reviewer's open work to the others."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import ScreeningAssignment
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_owner_assigns_evenly_sees_the_figures_and_reassigns(live_server, new_page, make_user):
    owner = make_user("olga")
    review = create_review(title="Team split", slug="workload", owner=owner)
    people = [make_user(name) for name in ("anna", "bert", "carl")]
    for user in people:
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    records = import_records(review, owner, 6)
    base = live_server.url
    page = new_page(1280, 900)
    sign_in(page, base, owner.username, PASSWORD)
    page.goto(f"{base}/r/workload/records/")
    page.locator(".review-nav summary:text-is('Team')").click()
    page.locator(".review-nav a:text-is('Workload')").click()
    expect(page.locator("h1")).to_have_text("Workload · Title and abstract")

    split = page.locator("form[data-split]")
    for name in ("anna", "bert", "carl"):
        split.get_by_label(name, exact=True).check()
    due = timezone.localdate() + timedelta(days=14)
    split.get_by_label("Due date").fill(due.isoformat())
    split.get_by_role("button", name="Assign").click()
    expect(page.locator(".messages, [role=status], .msg").first).to_contain_text(
        "12 assignments made (6 records)."
    )
    for name in ("anna", "bert", "carl"):
        row = page.locator(f"tr[data-reviewer='{name}']")
        expect(row.locator("[data-assigned]")).to_have_text("4")
        expect(row.locator("[data-left]")).to_have_text("4")
        expect(row.locator("[data-due]")).to_have_text(due.isoformat())

    first = ScreeningAssignment.objects.filter(reviewer=people[0]).order_by("record_id").first()
    assert first is not None
    vote(review, first.record, people[0], "include")
    page.reload()
    anna = page.locator("tr[data-reviewer='anna']")
    expect(anna.locator("[data-done]")).to_have_text("1")
    expect(anna.locator("[data-left]")).to_have_text("3")
    expect(anna.locator("[data-pace]")).to_have_text("0.14")  # one vote over 7 days
    finish = (timezone.localdate() + timedelta(days=21)).isoformat()  # 3 left, 1 a week
    expect(anna.locator("[data-finish]")).to_have_text(finish)
    screenshot(page, "workload-assigned")

    move = page.locator("form[data-reassign]")
    move.get_by_label("Move the open work of").select_option("anna")
    move.get_by_label("bert", exact=True).check()
    move.get_by_label("carl", exact=True).check()
    move.get_by_role("button", name="Move open work").click()
    expect(anna.locator("[data-left]")).to_have_text("0")
    expect(anna.locator("[data-done]")).to_have_text("1")  # her vote stays
    totals = [
        int(page.locator(f"tr[data-reviewer='{n}'] [data-assigned]").inner_text())
        for n in ("bert", "carl")
    ]
    assert totals == [6, 5] or totals == [5, 6]  # anna's 3 open records, one more each
    assert ScreeningAssignment.objects.count() == 12
    assert len(records) == 6
    screenshot(page, "workload-reassigned")
