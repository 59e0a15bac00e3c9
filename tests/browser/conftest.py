"""Browser fixtures: Debian's Chromium driven by Playwright, against the real service.

The service runs as a child process with the scripted model (Azure OpenAI protocol) and the
real local session pool; every test opens a fresh browser context and saves a screenshot of
each step under test-artifacts/browser/.
"""

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.service.conftest import Service, azure_env, pool_env, run_service
from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain
from tests.support.servers import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "browser"
# The system browser: Playwright's own downloads are not available offline.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous waits: the whole suite runs on two busy cores in CI. Nothing asserts on time.
expect.set_options(timeout=30_000)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
UPLOAD_LIMIT = 256 * 1024


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is missing: `make install` installs Debian's `chromium` package")
    return path


# Package scope, not session: sync Playwright keeps an event loop running in the main thread,
# which would break asyncio.run() in the suites that run after this one.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def model() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(arithmetic_brain) as llm:
        yield llm


@pytest.fixture
def llm(model: ScriptedLLM) -> Iterator[ScriptedLLM]:
    """The scripted model with an empty queue; unscripted calls go to the arithmetic brain."""
    model.reset(arithmetic_brain)
    yield model
    model.reset(arithmetic_brain)


@pytest.fixture(scope="package")
def service(model, session_pool, tmp_path_factory) -> Iterator[Service]:
    env = {
        **azure_env(model),
        **pool_env(session_pool),
        "LLM_TIMEOUT_SECONDS": "20",
        "MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
    }
    with run_service(env, tmp_path_factory.mktemp("browser-data")) as running:
        yield running


class Shots:
    """Numbered screenshots of one test: test-artifacts/browser/<test>-<n>-<step>.png."""

    def __init__(self, page: Page, test_name: str) -> None:
        self.page = page
        self.prefix = re.sub(r"[^\w-]+", "_", test_name)
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob(f"{self.prefix}-*.png"):
            old.unlink()

    def __call__(self, step: str, full_page: bool = False) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{step}.png"
        # Transitions finished, so a shot right after a change (a theme) shows where it lands.
        self.page.screenshot(path=path, full_page=full_page, animations="disabled")
        return path


@pytest.fixture
def page(browser: Browser, service: Service) -> Iterator[Page]:
    """A fresh context (no stored key, no cookies) whose relative URLs go to the service."""
    context = browser.new_context(viewport=DESKTOP, base_url=service.url, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The service's Content-Security-Policy forbids inline code; a violation is a bug.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    # Everything the page needs comes from the service itself: it works offline.
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith((service.url, "data:", "blob:")) else elsewhere.append(r.url)
        ),
    )
    yield page
    context.close()
    assert not errors, f"JavaScript or CSP errors on the page: {errors}"
    assert not elsewhere, f"requests that left the service: {elsewhere}"


@pytest.fixture
def shot(page: Page, request: pytest.FixtureRequest) -> Shots:
    return Shots(page, request.node.name)
