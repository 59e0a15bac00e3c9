"""The page with no model configured (`make run` on a fresh machine): it says the offline model
answers, offers prompts that work in that mode, and they do; no sign-in panel is needed."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Shots
from tests.browser.page import ask, message_box, open_new_chat
from tests.service.conftest import Service, pool_env, run_service


@pytest.fixture(scope="module")
def offline_service(session_pool, tmp_path_factory) -> Iterator[Service]:
    with run_service(pool_env(session_pool), tmp_path_factory.mktemp("offline-page")) as service:
        yield service


@pytest.fixture
def offline_page(browser: Browser, offline_service: Service) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=offline_service.url)
    page = context.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.on("console", lambda m: missing.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert not missing, f"a new chat asked for what does not exist: {missing}"


def test_the_offline_page_says_so_and_its_examples_work(offline_page: Page) -> None:
    page = offline_page
    shot = Shots(page, "test_the_offline_page_says_so_and_its_examples_work")
    open_new_chat(page)
    expect(page.locator("#model")).to_have_text("Offline model")
    expect(page.get_by_text("No language model is configured")).to_be_visible()
    examples = page.get_by_role("button", name="What time is it right now?")
    expect(examples).to_be_visible()
    # The sign-in panel is for services that ask for credentials; this one does not.
    expect(page.get_by_text("Sign-in", exact=True)).to_be_hidden()
    shot("empty-offline")

    examples.click()
    answer = page.locator("article.msg.assistant")
    expect(answer).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(answer.locator(".text")).to_contain_text("The current time is")
    expect(answer.locator("details.step summary")).to_contain_text("ok")
    root = ask(page, "What is 25 * 847? Also, what's the square root of 4?")
    expect(root.locator(".text")).to_contain_text("25 * 847 = 21175")
    expect(root.locator(".text")).to_contain_text("math.sqrt(4) = 2.0")
    shot("offline-answers")

    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="New conversation").evaluate("b => b.click()")
    expect(message_box(page)).to_be_visible()
    expect(page.get_by_role("button", name="What is 25 * 847?")).to_be_in_viewport()
    shot("empty-offline-phone")
