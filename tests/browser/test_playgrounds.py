"""LangServe's own playgrounds for /chat and /agent load and run one invocation each."""

from playwright.sync_api import Page, expect


def test_chat_playground_runs_one_invocation(page: Page, shot, llm) -> None:
    page.goto("/chat/playground/")
    message = page.locator('[id="#/properties/message-input"]')
    expect(message).to_be_visible()
    shot("chat-playground")
    message.fill("What is 25 * 847?")
    page.get_by_role("button", name="Start").click()
    output = page.locator("body")
    # The playground shows the stream's chunks one after the other, not merged.
    expect(output).to_contain_text('"route": "python"')
    expect(output).to_contain_text('"result": 21175')
    expect(output).to_contain_text('"output": "21175."')
    shot("chat-playground-output", full_page=True)


def test_agent_playground_runs_one_invocation(page: Page, shot, llm) -> None:
    page.goto("/agent/playground/")
    expect(page.get_by_text("Messages", exact=True)).to_be_visible()
    # The chat-messages widget adds a human message with its unlabelled "+" button.
    page.locator("button.rounded-full:has(svg)").filter(has_not_text="Start").filter(
        has_not_text="Share"
    ).first.click()
    page.locator("select").first.select_option("human")
    page.locator("textarea").last.fill("What is 25 * 847?")
    shot("agent-playground")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("body")).to_contain_text("The result is 21175.")
    shot("agent-playground-output", full_page=True)
