"""The chat page under its CSP in Chromium: its own code runs, injected code does not."""

import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Page, expect, sync_playwright

from security.guards import install_security_middleware
from tests.security.conftest import make_settings, serve
from tests.support.servers import ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    app = FastAPI()
    install_security_middleware(app, make_settings(auth_mode="off"))
    app.mount("/ui", StaticFiles(directory=ROOT / "web", html=True), name="ui")
    with serve(app) as url:
        yield url


def in_browser(steps: Callable[[Page], object]) -> object:
    """Run `steps` on a fresh page, in a thread of its own: Playwright's sync API refuses a
    thread where another suite's browser keeps an event loop running."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.fail("Chromium is missing: `make install` installs Debian's `chromium` package")

    def run() -> object:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.add_init_script(WATCH_VIOLATIONS)
                return steps(page)
            finally:
                browser.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def test_the_page_loads_its_code_without_breaking_the_policy(page_url: str) -> None:
    def steps(page: Page) -> list:
        page.goto(f"{page_url}/ui/")
        # The page's module script names the new conversation in the URL: it ran.
        expect(page).to_have_url(re.compile(r"/ui/\?c=[\w-]+$"))
        page.wait_for_load_state("networkidle")
        return page.evaluate("window.__violations")

    assert in_browser(steps) == []


def test_injected_inline_script_is_blocked(page_url: str) -> None:
    def steps(page: Page) -> tuple:
        page.goto(f"{page_url}/ui/")
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
        )
        return page.evaluate("window.injected === undefined"), page.evaluate("window.__violations")

    not_run, violations = in_browser(steps)
    assert not_run
    assert any(v.startswith("script-src") for v in violations)
