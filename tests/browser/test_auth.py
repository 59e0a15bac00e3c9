"""A service that wants an API key: the page asks for it, keeps it, and sends it as a bearer."""

from playwright.sync_api import Browser, expect

from security.keys import hash_api_key, new_api_key
from tests.browser.conftest import DESKTOP, Shots
from tests.browser.page import ask, open_new_chat
from tests.service.conftest import azure_env, pool_env, run_service


def test_page_asks_for_the_key_then_works_with_it(browser: Browser, model, session_pool, tmp_path):
    key = new_api_key()
    env = {
        **azure_env(model),
        **pool_env(session_pool),
        "AUTH_MODE": "api_key",
        "API_KEYS": f"browser:{hash_api_key(key)}",
    }
    model.reset(model.brain)
    with run_service(env, tmp_path) as service:
        context = browser.new_context(viewport=DESKTOP, base_url=service.url)
        page = context.new_page()
        shot = Shots(page, "test_page_asks_for_the_key_then_works_with_it")
        open_new_chat(page)
        expect(page.get_by_role("alert")).to_contain_text("Not authorised (401)")
        key_box = page.get_by_label("API key")
        expect(key_box).to_be_visible()  # Settings unfolded by itself
        shot("asks-for-key")

        key_box.fill(key)
        page.get_by_role("button", name="Save key").click()
        expect(page.get_by_role("alert")).to_be_hidden()
        answer = ask(page, "What is 25 * 847?")
        expect(answer.locator(".text")).to_contain_text("21175")
        page.reload()
        expect(page.locator("article.msg.assistant .text")).to_contain_text("21175")
        shot("works-with-key")
        context.close()
