"""The chat page under its CSP in Chromium: its own code runs, injected code does not."""

import re
import shutil
from collections.abc import Iterator

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


@pytest.fixture
def page() -> Iterator[Page]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.fail("Chromium is missing: `make install` installs Debian's `chromium` package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.add_init_script(WATCH_VIOLATIONS)
        yield page
        browser.close()


def test_the_page_loads_its_code_without_breaking_the_policy(page: Page, page_url: str) -> None:
    page.goto(f"{page_url}/ui/")
    # The page's module script names the new conversation in the URL: it ran.
    expect(page).to_have_url(re.compile(r"/ui/\?c=[\w-]+$"))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__violations") == []


def test_injected_inline_script_is_blocked(page: Page, page_url: str) -> None:
    page.goto(f"{page_url}/ui/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
    )
    assert page.evaluate("window.injected === undefined")
    assert any(v.startswith("script-src") for v in page.evaluate("window.__violations"))
