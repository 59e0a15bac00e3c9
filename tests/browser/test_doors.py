"""A conversation held through the OpenAI-compatible API is on the chat page like any other."""

import openai
from playwright.sync_api import Page, expect

from tests.browser.page import open_steps
from tests.service.helpers import new_id


def test_a_turn_made_through_v1_shows_on_the_page(page: Page, shot, llm, service) -> None:
    conversation = new_id()
    client = openai.OpenAI(base_url=f"{service.url}/v1", api_key="unused", max_retries=0)
    client.chat.completions.create(
        model="code-interpreter",
        messages=[{"role": "user", "content": "What is 17 * 3?"}],
        metadata={"conversation_id": conversation},
    )

    page.goto(f"/ui/?c={conversation}")
    expect(page.locator("article.msg.user")).to_have_text(["What is 17 * 3?"])
    answer = page.locator("article.msg.assistant")
    expect(answer.locator(".text")).to_contain_text("51")
    expect(open_steps(answer).first.locator(".code pre")).to_contain_text("17 * 3")
    listed = page.get_by_role("button", name="What is 17 * 3?", exact=True)
    expect(listed).to_have_attribute("aria-current", "page")
    shot("v1-turn-on-the-page")
