"""In Chromium: keys pressed faster than the next record arrives never lose or double a
vote (a key pressed while a vote is on its way is ignored, so every stored vote is on a
record that was on the screen), and the vote buttons stay in view, on a phone too, where
they work by tap; a full text's PDF sits beside the vote panel."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Record, Vote
from screening.services.fulltext import attach_full_text
from tests.browser.conftest import BrowserLog, screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TA = "title-abstract"
LONG_ABSTRACT = " ".join(
    ["Background: mesenchymal stromal cells were injected into knees with osteoarthritis."] * 25
)

# Each record id in the order the page showed them (an init script: the page's own policy
# does not apply to it, and it survives no reload, which the tests also rule out).
WATCH_RECORDS = """
window.__shown = [];
new MutationObserver(() => {
  const el = document.querySelector("[data-record]");
  const id = el ? Number(el.dataset.record) : null;
  if (id !== null && window.__shown[window.__shown.length - 1] !== id) window.__shown.push(id);
}).observe(document, { childList: true, subtree: true });
"""


def my_votes(user: Any) -> list[tuple[int, str]]:
    return list(
        Vote.objects.filter(reviewer=user, stage=TA)
        .order_by("created_at", "id")
        .values_list("record_id", "decision")
    )


# Ten presses of a key, one every ``gap`` ms, typed by the page itself: Playwright's own key
# presses each wait for the browser's round trip, tens of milliseconds on a busy machine.
# Each press is timed from the start (a late one does not push the rest back). Resolves to
# the milliseconds from the first press to the last.
BURST = """([key, gap]) => new Promise((done) => {
  const start = performance.now();
  let n = 0;
  const press = () => {
    const target = document.activeElement || document.body;
    for (const type of ["keydown", "keyup"]) {
      target.dispatchEvent(new KeyboardEvent(type, { key, bubbles: true, cancelable: true }));
    }
    if (++n === 10) done(performance.now() - start);
  };
  for (let i = 0; i < 10; i++) setTimeout(press, i * gap);
})"""


def burst(page: Any, key: str, gap: int) -> float:
    """Ten presses of ``key``, ``gap`` ms apart; returns the milliseconds they took."""
    return float(page.evaluate(BURST, [key, gap]))


def test_ten_fast_keys_vote_once_per_record_shown_and_never_post_the_page(
    live_server, new_page, owner, reviewer
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    import_records(review, owner, 30)
    base = live_server.url

    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.add_init_script(WATCH_RECORDS)
    page.goto(f"{base}/r/msc-oa/screen/{TA}/")
    expect(page.locator("[data-record]")).to_have_count(1)
    navigations: list[str] = []
    page.on(
        "request",
        lambda r: navigations.append(f"{r.method} {r.url}") if r.is_navigation_request() else None,
    )

    expected: list[tuple[int, str]] = []
    # Ten keys within 100 ms, for include and for exclude; then ten at a typing pace
    # (35 ms apart), so some land just as the next record is painted.
    for key, decision, gap, within in (
        ("i", "include", 6, 100),
        ("e", "exclude", 6, 100),
        ("i", "include", 35, 1000),
    ):
        seen_before = len(page.evaluate("window.__shown"))
        took = burst(page, key, gap)
        assert took < within, f"ten key presses took {took:.0f} ms"
        # Let the last request finish and the page settle.
        page.wait_for_load_state("networkidle")
        expect(page.locator("#screen[aria-busy=true]")).to_have_count(0)
        assert navigations == []  # no full-page form post, no reload
        shown = page.evaluate("window.__shown")
        # Exactly one vote on each record shown before the one on screen now, in order, with
        # the key's decision; none on the record on screen, none on a record never shown.
        expected += [(record, decision) for record in shown[seen_before - 1 : -1]]
        assert len(shown) > seen_before, "the first key of the burst voted"
        assert my_votes(reviewer) == expected
        assert int(page.locator("[data-record]").get_attribute("data-record")) == shown[-1]
        assert page.locator("[data-count=mine]").inner_text() == str(len(expected))
        expect(page.locator("[data-error]")).to_have_count(0)
    assert navigations == []  # no full-page form post, no reload
    assert len(expected) < 30  # some keys came while a record was on its way: ignored


def test_a_key_during_a_slow_vote_is_ignored_and_says_wait(live_server, new_page, owner, reviewer):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    import_records(review, owner, 5)
    base = live_server.url

    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/screen/{TA}/")
    first = int(page.locator("[data-record]").get_attribute("data-record"))
    # Hold the vote's answer back until the second key is in.
    held: list[Any] = []
    page.route("**/screen/title-abstract/vote/", lambda route: held.append(route))
    page.keyboard.press("i")
    expect(page.locator("#screen[aria-busy=true]")).to_have_count(1)
    page.keyboard.press("e")
    expect(page.locator("[data-vote-wait]")).to_be_visible()
    expect(page.locator("[data-vote-wait]")).to_contain_text("Wait for the next record")
    screenshot(page, "screening-key-wait")
    # A click on a button while the vote is on its way is dropped as well.
    page.locator("button[value=exclude]").click()
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/screen/title-abstract/vote/")
    expect(page.locator(f"[data-record='{first}']")).to_have_count(0)
    expect(page.locator("[data-vote-wait]")).to_be_hidden()
    page.wait_for_load_state("networkidle")
    assert my_votes(reviewer) == [(first, "include")]


@pytest.fixture
def phone(chromium: Any, browser_log: BrowserLog, new_page: Any) -> Iterator[Any]:
    """A touch phone's page (390×844, its viewport meta honoured); ``new_page`` checks the
    policy violations this context reports, after it is closed."""
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    context.set_default_timeout(20_000)
    browser_log.watch(context)
    yield context.new_page()
    context.close()


def in_view(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    view = page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= view["width"]
        and box["y"] + box["height"] <= view["height"]
    )


def test_a_phone_screens_by_tap_with_the_buttons_always_in_view(
    live_server, phone, owner, reviewer
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    records = import_records(review, owner, 3)
    # A real abstract's length: the buttons used to come 1,300 px down the page.
    Record.objects.filter(pk__in=[r.pk for r in records]).update(abstract=LONG_ABSTRACT)
    base = live_server.url

    sign_in(phone, base, reviewer.username, PASSWORD)
    phone.goto(f"{base}/r/msc-oa/screen/{TA}/")
    for button in ("include", "maybe", "exclude"):
        assert in_view(phone, f"button[value={button}]"), button
    assert phone.evaluate("window.scrollY") == 0
    screenshot(phone, "screening-phone")
    # At the end of the page the bar hides nothing: the last content ends above it.
    phone.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    assert in_view(phone, "button[value=include]")
    bar_top = phone.locator("[data-vote-bar]").bounding_box()["y"]
    note = phone.locator("textarea[name=note]").bounding_box()
    assert note["y"] + note["height"] <= bar_top

    first = int(phone.locator("[data-record]").get_attribute("data-record"))
    phone.locator("button[value=include]").tap()
    expect(phone.locator(f"[data-record='{first}']")).to_have_count(0)
    second = int(phone.locator("[data-record]").get_attribute("data-record"))
    assert in_view(phone, "button[value=exclude]")
    phone.locator("button[value=exclude]").tap()
    expect(phone.locator(f"[data-record='{second}']")).to_have_count(0)
    assert my_votes(reviewer) == [(first, "include"), (second, "exclude")]


def test_the_vote_panel_stays_in_view_and_a_full_text_sits_beside_it(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    records = import_records(review, owner, 2)
    for user in (reviewer, reviewer2):
        vote(review, records[0], user, "include")
    attach_full_text(
        review=review,
        record=records[0],
        actor=reviewer,
        file=io.BytesIO(b"%PDF-1.4\n%%EOF"),
        filename="paper.pdf",
    )
    base = live_server.url

    page = new_page(1280, 700)
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/screen/full-text/")
    pdf = page.locator("[data-pdf-viewer]").bounding_box()
    panel = page.locator(".vote-panel").bounding_box()
    record = page.locator("[data-record]").bounding_box()
    # Side by side: record, PDF, vote panel, at the same height.
    assert record["x"] + record["width"] <= pdf["x"]
    assert pdf["x"] + pdf["width"] <= panel["x"]
    assert abs(pdf["y"] - panel["y"]) < 2
    screenshot(page, "screening-full-text-pdf")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    assert in_view(page, "button[value=include]")
    assert in_view(page, "button[value=exclude]")

    # On a narrow window the PDF comes below the record, and the buttons are in the bar.
    narrow = new_page(700, 900)
    sign_in(narrow, base, reviewer.username, PASSWORD)
    narrow.goto(f"{base}/r/msc-oa/screen/full-text/")
    below = narrow.locator("[data-pdf-viewer]").bounding_box()
    above = narrow.locator("[data-record]").bounding_box()
    assert below["y"] >= above["y"] + above["height"]
    assert in_view(narrow, "button[value=exclude]")


def test_a_vote_sent_twice_answers_with_the_next_record_and_stores_one(client_for, owner, reviewer):
    """The server's half: a second copy of a vote (a double click where scripts are off,
    a retried request) shows the next record with a message, not an error page, and
    stores nothing more."""
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    records = import_records(review, owner, 3)
    client = client_for(reviewer)
    first = records[0].pk
    answers = [
        client.post(
            f"/r/msc-oa/screen/{TA}/vote/",
            {"record": first, "decision": "include"},
            HTTP_HX_REQUEST="true",
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    again = answers[1]
    assert again.context["record"].pk != first
    assert again.context["error"] == (
        "You have already voted on this record (press u to undo your last vote)."
    )
    assert my_votes(reviewer) == [(first, "include")]
