"""In Chromium: an owner defines a stage's screening questions from its settings page; a
reviewer answers them from the keyboard (``a``, then ``y`` / ``n`` / ``u``), sees the
exclusion reason a "no" proposes, votes ``e``, and the answers are stored with the vote."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import QuestionAnswer, ScreeningQuestion, Vote
from screening.services.screening.stage_settings import update_stage_settings
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TA = "title-abstract"
REASONS = ["Wrong population", "Wrong study design"]


def test_questions_answered_from_the_keyboard_propose_the_reason_and_go_with_the_vote(
    live_server, new_page, owner, reviewer
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    update_stage_settings(review=review, stage=TA, actor=owner, exclusion_reasons=REASONS)
    import_records(review, owner, 3)
    base = live_server.url

    # The owner finds the questions from the stage's settings and defines two.
    admin = new_page()
    sign_in(admin, base, owner.username, PASSWORD)
    admin.goto(f"{base}/r/msc-oa/screen/{TA}/settings/")
    admin.locator("[data-questions-link]").click()
    form = admin.locator("form[data-new-question]")
    for text, reason in (("Adults with knee OA?", ""), ("Randomised trial?", "Wrong study design")):
        form.locator("input[name=text]").fill(text)
        form.locator("select[name=exclusion_reason]").select_option(reason)
        form.locator("button[value=create]").click()
        expect(admin.locator(".messages")).to_contain_text(f"Question “{text}” added.")
    expect(admin.locator("tr[data-question]")).to_have_count(2)
    screenshot(admin, "questions-page")
    adults, randomised = ScreeningQuestion.objects.order_by("order")

    # The reviewer answers from the keyboard.
    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/screen/{TA}/")
    record = int(page.locator("[data-record]").get_attribute("data-record"))
    panel = page.locator("[data-screen-questions]")
    expect(panel.locator("[data-question]")).to_have_count(2)
    # Esc leaves answer mode; nothing was answered.
    page.keyboard.press("a")
    expect(panel).to_have_class("screen-questions answering")
    expect(panel.locator(f"[data-question='{adults.pk}']")).to_have_class("screen-question marked")
    page.keyboard.press("Escape")
    expect(page.locator("[data-screen-questions].answering")).to_have_count(0)
    page.keyboard.press("a")
    page.keyboard.press("y")
    expect(panel.locator(f"input[name=answer-{adults.pk}][value=yes]")).to_be_checked()
    expect(panel.locator(f"[data-question='{randomised.pk}']")).to_have_class(
        "screen-question marked"
    )
    page.keyboard.press("n")  # the last question: answer mode ends
    expect(panel.locator(f"input[name=answer-{randomised.pk}][value=no]")).to_be_checked()
    expect(page.locator("[data-screen-questions].answering")).to_have_count(0)
    # The "no" proposes its reason, and says which question did.
    expect(page.locator("input[name=reason][value='Wrong study design']")).to_be_checked()
    expect(panel.locator("[data-proposed]")).to_be_visible()
    expect(panel.locator("[data-proposed-by]")).to_have_text("Q2. Randomised trial?")
    screenshot(page, "questions-answered")
    assert QuestionAnswer.objects.count() == 0  # kept in the form until the vote
    page.keyboard.press("e")
    expect(page.locator(f"[data-record='{record}']")).to_have_count(0)
    vote = Vote.objects.get(record_id=record, reviewer=reviewer)
    assert (vote.decision, vote.reason) == ("exclude", "Wrong study design")
    assert dict(
        QuestionAnswer.objects.filter(record_id=record, reviewer=reviewer).values_list(
            "question__text", "answer"
        )
    ) == {"Adults with knee OA?": "yes", "Randomised trial?": "no"}

    # By mouse on the next record: "unclear" answers; changing the "no" back takes the
    # proposed reason away; a reason picked by the reviewer is never replaced.
    nxt = int(page.locator("[data-record]").get_attribute("data-record"))
    panel = page.locator("[data-screen-questions]")
    expect(panel.locator("input[type=radio]:checked[value='']")).to_have_count(2)
    panel.locator(f"[data-question='{randomised.pk}'] label.answer-no").click()
    expect(page.locator("input[name=reason][value='Wrong study design']")).to_be_checked()
    panel.locator(f"[data-question='{randomised.pk}'] label.answer-unclear").click()
    expect(page.locator("input[name=reason]:checked")).to_have_count(0)
    expect(panel.locator("[data-proposed]")).to_be_hidden()
    page.keyboard.press("1")  # the reviewer's own reason
    panel.locator(f"[data-question='{randomised.pk}'] label.answer-no").click()
    expect(page.locator("input[name=reason][value='Wrong population']")).to_be_checked()
    page.keyboard.press("e")
    expect(page.locator(f"[data-record='{nxt}']")).to_have_count(0)
    vote = Vote.objects.get(record_id=nxt, reviewer=reviewer)
    assert (vote.decision, vote.reason) == ("exclude", "Wrong population")
    assert dict(
        QuestionAnswer.objects.filter(record_id=nxt, reviewer=reviewer).values_list(
            "question__text", "answer"
        )
    ) == {"Randomised trial?": "no"}
