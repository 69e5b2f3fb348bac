"""Real headless Chromium (Debian's package) driven by Playwright against a live server."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# between page actions are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()


# Every page reports each Content-Security-Policy violation it sees (a blocked inline script,
# handler or style, a script from elsewhere) to the test through this binding.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reviewflowCspViolation({
    page: document.location.href,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber,
    sample: event.sample,
  });
});
"""


class BrowserLog:
    """The console messages and CSP violations of every page of one browser test."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.violations: list[dict[str, Any]] = []

    def watch(self, context: Any) -> None:
        context.expose_binding(
            "__reviewflowCspViolation", lambda _source, info: self.violations.append(info)
        )
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("page", self._watch_page)

    def _watch_page(self, page: Any) -> None:
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))

    def csp_problems(self) -> list[str]:
        """Each violation event, and each console line about the policy (Chromium logs a
        refusal there too, also one that fires no event, e.g. in a frame)."""
        found = [
            f"{v['page']}: {v['directive']} blocked {v['blocked'] or 'inline'}"
            f" ({v['source']}) {v['sample'] or ''}".rstrip()
            for v in self.violations
        ]
        found += [line for line in self.console if "Content Security Policy" in line]
        return found

    def clear(self) -> None:
        self.console.clear()
        self.violations.clear()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def new_page(chromium: Any, browser_log: BrowserLog) -> Iterator[Any]:
    """A new page in its own browser context; the test fails if any page it opened broke
    the Content-Security-Policy (the server sends it on every page). Wait with locators
    (``expect``), not ``page.wait_for_function``: Playwright runs that with ``eval``, which
    the policy refuses."""
    contexts = []

    def make(width: int = 1280, height: int = 900) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(20_000)
        browser_log.watch(context)
        contexts.append(context)
        return context.new_page()

    from playwright.sync_api import Error as PlaywrightError

    yield make
    for context in contexts:
        for page in context.pages:
            # Lets a violation reported by the page's last moments reach the binding (a
            # page closed or gone mid-navigation has nothing more to report).
            with contextlib.suppress(PlaywrightError):
                page.evaluate("0")
        context.close()
    problems = browser_log.csp_problems()
    if problems:
        pytest.fail(
            "Content-Security-Policy violations:\n"
            + "\n".join(problems)
            + "\nConsole:\n"
            + "\n".join(browser_log.console)
        )


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/")
