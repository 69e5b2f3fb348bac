"""In Chromium: an adjudicator works through two conflicts at the desk from the keyboard
only: moves between them, reads the help, excludes the first with a reason picked by number
and a typed note, and includes the second; the desk swaps in the next conflict each time
without loading a page, and the outcomes keep the reason and the note."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Conflict, Outcome
from screening.services.screening.stage_settings import update_stage_settings
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TA = "title-abstract"


def test_the_adjudication_desk_by_keyboard(live_server, new_page, owner, reviewer, reviewer2):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    update_stage_settings(
        review=review,
        stage=TA,
        actor=owner,
        exclusion_reasons=["Animal study", "Not an RCT", "Wrong population"],
    )
    records = import_records(review, owner, 2)
    for r in records:
        vote(review, r, reviewer, "include", note=f"looks randomised {r.pk}")
        vote(review, r, reviewer2, "exclude", reason="Not an RCT", note=f"no control {r.pk}")
    first, second = Conflict.objects.order_by("created_at", "id")
    base = live_server.url

    page = new_page()
    sign_in(page, base, owner.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/conflicts/?stage={TA}")
    desk = page.locator("#desk")
    expect(desk.locator(f"[data-conflict='{first.pk}']")).to_be_visible()
    expect(desk.locator("[data-progress]")).to_contain_text(
        "0 of 2 conflicts resolved at this stage · 0 today · 2 open"
    )
    expect(desk).to_contain_text(f"no control {first.record_id}")
    # A marker on the window: it survives htmx swaps, not a page load.
    page.evaluate("window.deskMarker = 'same page'")

    # j and k (or the arrows) move between the open conflicts; ? shows the keys.
    page.keyboard.press("j")
    expect(desk.locator(f"[data-conflict='{second.pk}']")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(desk.locator(f"[data-conflict='{first.pk}']")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#desk-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#desk-help")).to_be_hidden()

    # The first: e chooses exclude, 2 the second reason, n the note; Enter resolves.
    page.keyboard.press("e")
    expect(desk.locator("input[name=decision][value=exclude]")).to_be_checked()
    page.keyboard.press("2")
    expect(desk.locator("input[name=reason][data-key='2']")).to_be_checked()
    page.keyboard.press("n")
    expect(desk.locator("textarea[name=note]")).to_be_focused()
    page.keyboard.type("No control group in the abstract")
    screenshot(page, "adjudication-desk")
    page.keyboard.press("Enter")
    expect(desk.locator(f"[data-conflict='{second.pk}']")).to_be_visible()
    expect(desk.locator("[data-info]")).to_have_text(
        f"Conflict on record {first.record_id} resolved: excluded (Not an RCT)"
    )
    expect(desk.locator("[data-progress]")).to_contain_text("1 of 2 conflicts resolved")
    expect(desk.locator("textarea[name=note]")).to_have_value("")

    # The second: i chooses include, Enter resolves; nothing is left.
    page.keyboard.press("i")
    expect(desk.locator("input[name=decision][value=include]")).to_be_checked()
    page.keyboard.press("Enter")
    expect(desk.locator("[data-desk-done]")).to_have_text("No open conflicts at this stage.")
    expect(desk.locator("[data-progress]")).to_contain_text("2 of 2 conflicts resolved")
    assert page.evaluate("window.deskMarker") == "same page"  # no page was loaded
    # A key now does nothing: no form is left to send.
    page.keyboard.press("Enter")

    outcomes = {
        o.record_id: (o.decision, o.reason, o.note, o.kind, o.decided_by_id)
        for o in Outcome.objects.all()
    }
    assert outcomes == {
        first.record_id: (
            "exclude",
            "Not an RCT",
            "No control group in the abstract",
            "adjudication",
            owner.pk,
        ),
        second.record_id: ("include", "", "", "adjudication", owner.pk),
    }
    assert not Conflict.objects.filter(resolved_at=None).exists()


def test_a_reviewer_who_voted_reads_the_desk_without_the_decide_buttons(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    update_stage_settings(review=review, stage=TA, actor=owner, adjudicators="reviewers")
    (record,) = import_records(review, owner, 1)
    vote(review, record, reviewer, "include")
    vote(review, record, reviewer2, "exclude", note="animal model")
    page = new_page()
    sign_in(page, base := live_server.url, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/conflicts/?stage={TA}")
    expect(page.locator("[data-no-resolve]")).to_have_text("An adjudicator resolves this conflict.")
    expect(page.locator("#desk")).to_contain_text("animal model")
    page.keyboard.press("i")
    page.keyboard.press("Enter")
    expect(page.locator("form[data-resolve]")).to_have_count(0)
    # The compact table, one link away, offers no decision either.
    page.locator("[data-table-link]").click()
    row = page.locator(f"tr[data-record='{record.pk}']")
    expect(row).to_contain_text("roberto: exclude")
    expect(row).to_contain_text("An adjudicator resolves this conflict.")
    screenshot(page, "adjudication-table-read-only")
    assert not Outcome.objects.exists()


def test_a_double_enter_resolves_one_conflict_once(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    for r in import_records(review, owner, 2):
        vote(review, r, reviewer, "include")
        vote(review, r, reviewer2, "exclude")
    first, second = Conflict.objects.order_by("created_at", "id")
    page = new_page()
    sign_in(page, base := live_server.url, owner.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/conflicts/?stage={TA}")
    page.keyboard.press("i")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # while the first is in flight, or on the next conflict
    expect(page.locator(f"#desk [data-conflict='{second.pk}']")).to_be_visible()
    expect(page.locator("#desk[aria-busy=false]")).to_have_count(1)
    # The second Enter resolved nothing: the next conflict has no decision chosen yet.
    assert list(Outcome.objects.values_list("record_id", "decision")) == [
        (first.record_id, "include")
    ]
    assert Conflict.objects.get(pk=second.pk).resolved_at is None
