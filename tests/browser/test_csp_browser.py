"""In Chromium: the Content-Security-Policy is in force (an injected inline script or style is
refused, and the browser tests' watch catches it), and the behaviour moved out of the
templates into static scripts still works."""

from __future__ import annotations

import pytest

from screening.models import Search
from screening.services import identification
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.screening.factories import ris_records, upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_injected_inline_script_or_style_is_refused_and_reported(
    live_server, new_page, browser_log, review, owner
):
    page = new_page()
    sign_in(page, live_server.url, owner.username, PASSWORD)
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            document.body.setAttribute("style", "color: red");
        }"""
    )
    page.wait_for_timeout(200)
    page.evaluate("0")  # lets the violation reports reach the test
    assert page.evaluate("window.injected === undefined")
    problems = "\n".join(browser_log.csp_problems())
    assert "script-src-elem blocked inline" in problems
    assert "style-src-attr blocked inline" in problems
    browser_log.clear()  # caught on purpose: the watch must not fail this test


def test_progress_width_and_delete_confirmation_work_from_static_scripts(
    live_server, new_page, review, owner
):
    search = identification.create_search(
        review=review, actor=owner, file=upload(ris_records(2)), filename="a.ris", source="PubMed"
    )
    page = new_page()
    sign_in(page, live_server.url, owner.username, PASSWORD)
    page.goto(f"{live_server.url}/r/{review.slug}/searches/{search.pk}/")
    assert page.eval_on_selector(".progress > span", "el => el.style.width") == "100%"

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:has-text('Delete search')")
    page.wait_for_timeout(300)
    assert Search.objects.filter(pk=search.pk).exists()  # dismissed: nothing deleted

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete search')")
    page.wait_for_url(f"{live_server.url}/r/{review.slug}/searches/")
    assert not Search.objects.filter(pk=search.pk).exists()

    # The search form's source field offers the review's sources (its datalist).
    assert page.get_attribute("#id_source", "list") == "sources"


def test_api_docs_and_admin_run_under_the_policy(live_server, new_page, make_user):
    make_user("ada", is_staff=True, is_superuser=True)
    page = new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/reviews/review/add/")
    page.wait_for_selector("input[name=title]")
    # Swagger UI starts from its own script URL and draws the schema's operations.
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-tag", timeout=30_000)
