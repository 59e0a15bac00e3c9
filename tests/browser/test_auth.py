"""A service that wants credentials: the page sends the browser to the sign-in form first."""

import re

from playwright.sync_api import Browser, expect

from security.keys import hash_api_key, new_api_key
from tests.browser.conftest import DESKTOP, Shots
from tests.browser.page import ask, script_code_turn
from tests.service.conftest import azure_env, pool_env, run_service


def test_sign_in_then_chat_and_reload(browser: Browser, model, session_pool, tmp_path):
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
        shot = Shots(page, "test_sign_in_then_chat_and_reload")
        page.goto("/ui/")
        expect(page).to_have_url(re.compile(r"/signin/\?next=/ui/$"))
        page.get_by_label("API key or access token").fill("not-the-key")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("not accepted")
        shot("sign-in-refused")

        page.get_by_label("API key or access token").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/ui/\?c=[\w-]+$"))
        answer = ask(page, "What is 25 * 847?")
        expect(answer.locator(".text")).to_contain_text("21175")
        page.reload()
        expect(page.locator("article.msg.assistant .text")).to_contain_text("21175")
        shot("signed-in-after-reload")

        # With sign-in on, the page offers a key of one's own; downloads then carry it.
        page.get_by_text("Sign-in", exact=True).click()
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Save key").click()
        script_code_turn(model, "open('/mnt/data/bytes.bin', 'wb').write(bytes(range(256)) * 4)")
        ask(page, "Write some bytes")
        sent = []
        page.on("request", lambda r: sent.append(r.headers.get("authorization")))
        with page.expect_download() as download:
            page.get_by_role("link", name="Download bytes.bin").click()
        saved = tmp_path / "bytes.bin"
        download.value.save_as(saved)
        assert saved.read_bytes() == bytes(range(256)) * 4
        assert f"Bearer {key}" in sent
        shot("downloaded-with-key")
        context.close()
