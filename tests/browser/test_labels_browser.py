"""In Chromium: an owner defines labels, a reviewer puts them on records from the keyboard
(``l`` then the label's key) while screening, filters the records by one, and a second
reviewer sees the first one's label only once the record is settled (blind screening)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Label, RecordLabel
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TA = "title-abstract"


def test_labels_from_the_keyboard_filtered_counted_and_blind(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    import_records(review, owner, 3)
    base = live_server.url

    # The owner defines two labels on the labels page.
    admin = new_page()
    sign_in(admin, base, owner.username, PASSWORD)
    admin.goto(f"{base}/r/msc-oa/labels/")
    form = admin.locator("form[data-new-label]")
    for name, colour, key in (("Check references", "blue", "r"), ("Non-English", "orange", "2")):
        form.locator("input[name=name]").fill(name)
        form.locator("select[name=colour]").select_option(colour)
        form.locator("select[name=key]").select_option(key)
        form.locator("button[value=create]").click()
        expect(admin.locator(".messages")).to_contain_text(f"Label “{name}” added.")
    # A second label with the same name, whatever its case, is refused, naming it.
    form.locator("input[name=name]").fill("check REFERENCES")
    form.locator("button[value=create]").click()
    expect(admin.locator("[data-error]")).to_have_text(
        "This review has a label named “Check references” already."
    )
    assert Label.objects.count() == 2
    refs = Label.objects.get(name="Check references")

    # The first reviewer labels while screening, from the keyboard only.
    first = new_page()
    sign_in(first, base, reviewer.username, PASSWORD)
    first.goto(f"{base}/r/msc-oa/screen/{TA}/")
    labelled = int(first.locator("[data-record]").get_attribute("data-record"))
    toggle = first.locator("[data-record-labels] button[data-label-key=r]")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    first.keyboard.press("l")
    expect(first.locator("[data-record-labels].picking")).to_have_count(1)
    first.keyboard.press("r")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    screenshot(first, "labels-screening")
    # Esc closes the picker: nothing changes, and the next key is a key again.
    first.keyboard.press("l")
    first.keyboard.press("Escape")
    expect(first.locator("[data-record-labels].picking")).to_have_count(0)
    # Two keys after l put the other label on and take it off again.
    other = first.locator("[data-record-labels] button[data-label-key='2']")
    first.keyboard.press("l")
    first.keyboard.press("2")
    expect(other).to_have_attribute("aria-pressed", "true")
    first.keyboard.press("l")
    first.keyboard.press("2")
    expect(other).to_have_attribute("aria-pressed", "false")
    assert list(RecordLabel.objects.values_list("record_id", "label_id", "applied_by_id")) == [
        (labelled, refs.pk, reviewer.pk)
    ]
    first.keyboard.press("i")  # the vote still works: the label keys did not eat it
    expect(first.locator(f"[data-record='{labelled}']")).to_have_count(0)

    # The records list filters by the label, and shows it.
    first.goto(f"{base}/r/msc-oa/records/")
    first.locator("select[name=label]").select_option(str(refs.pk))
    first.locator("form.filters button").click()
    rows = first.locator("table.table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("[data-record-list-labels]")).to_have_text("Check references")

    # The second reviewer does not see it before the record is settled...
    second = new_page()
    sign_in(second, base, reviewer2.username, PASSWORD)
    second.goto(f"{base}/r/msc-oa/records/{labelled}/")
    expect(second.locator("[data-record-labels]")).to_be_visible()
    expect(second.locator("[data-others-labels]")).to_have_count(0)
    second.goto(f"{base}/r/msc-oa/labels/")
    expect(second.locator(f"tr[data-label='{refs.pk}'] [data-count]")).to_have_text("0")
    # ...votes on it (agreement settles it), and then does.
    second.goto(f"{base}/r/msc-oa/screen/{TA}/")
    while int(second.locator("[data-record]").get_attribute("data-record")) != labelled:
        before = second.locator("[data-record]").get_attribute("data-record")
        second.keyboard.press("e")
        expect(second.locator(f"[data-record='{before}']")).to_have_count(0)
    expect(second.locator("[data-others-labels]")).to_have_count(0)
    second.keyboard.press("i")
    expect(second.locator(f"[data-record='{labelled}']")).to_have_count(0)
    second.goto(f"{base}/r/msc-oa/records/{labelled}/")
    expect(second.locator("[data-others-labels]")).to_contain_text("Check references")
    expect(second.locator("[data-others-labels]")).to_contain_text(reviewer.username)
    second.goto(f"{base}/r/msc-oa/labels/")
    expect(second.locator(f"tr[data-label='{refs.pk}'] [data-count]")).to_have_text("1")
    screenshot(second, "labels-page")
