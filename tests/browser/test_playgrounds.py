"""LangServe's playgrounds for /chat and /agent: the merged answer with its route and steps,
images as images, and the agent's chat widget carrying the conversation on."""

from playwright.sync_api import Page, expect

from tests.browser.page import background
from tests.support.scripted_llm import Text, ToolCall

PLOT_CODE = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()"


def test_chat_playground_shows_the_merged_answer(page: Page, shot, llm) -> None:
    page.goto("/chat/playground/")
    message = page.locator('[id="#/properties/message-input"]')
    expect(message).to_be_visible()
    shot("chat-playground")
    message.fill("What is 25 * 847?")
    page.get_by_role("button", name="Start").click()

    answer = page.get_by_role("region", name="Answer")
    expect(answer.locator(".text")).to_have_text("The result is 21175.")
    expect(answer.locator(".note")).to_have_text("Route: python (the answer ran code).")
    step = answer.locator("details.step")
    expect(step.locator("summary")).to_contain_text("ok")
    step.locator("summary").click()
    expect(step.locator(".code pre")).to_contain_text("25 * 847")
    expect(step.locator(".result pre")).to_have_text("21175")
    # LangServe's own view, the chunks one after the other, is folded away.
    body = page.locator("body")
    expect(body).not_to_contain_text("}{", use_inner_text=True)
    shot("chat-playground-answer", full_page=True)

    page.get_by_role("button", name="Show the raw stream").click()
    expect(body).to_contain_text('"output": "21175."', use_inner_text=True)

    # Dark, as the system says: the answer follows, and LangServe's own form looks exactly as
    # it does without the add-on's styles.
    panel_light = background(answer)
    page.emulate_media(color_scheme="dark")
    expect(answer).not_to_have_css("background-color", panel_light)
    shot("chat-playground-answer-dark", full_page=True)
    form = page.locator(".control").filter(has=message).first
    with_add_on = form.screenshot(animations="disabled")
    page.evaluate(
        """document.querySelectorAll("link[href$='answer.css'], link[href$='playground.css']")
        .forEach((link) => link.remove())"""
    )
    expect(answer).to_have_css("background-color", "rgba(0, 0, 0, 0)")  # the styles are gone
    assert form.screenshot(animations="disabled") == with_add_on


def test_agent_playground_is_a_chat_and_shows_images(page: Page, shot, llm) -> None:
    page.goto("/agent/playground/")
    # LangServe's chat widget opens with a message to type.
    widget = page.locator(".control").filter(has_text="Messages")
    messages = widget.locator("textarea")
    first = messages.first
    expect(first).to_be_visible()
    expect(widget.locator("select")).to_have_count(1)
    expect(widget.locator("select").first).to_have_value("human")
    shot("agent-playground")
    llm.script(ToolCall("Python_REPL", {"python_code": PLOT_CODE}), Text("Here is the plot."))
    first.fill("Plot the squares")
    page.get_by_role("button", name="Start").click()

    answer = page.get_by_role("region", name="Answer")
    plot = answer.get_by_role("img", name="Plot 1 made by the code")
    expect(plot).to_be_visible()
    assert plot.evaluate("img => img.naturalWidth") > 100
    expect(answer.locator(".text")).to_have_text("Here is the plot.")
    expect(page.locator("body")).not_to_contain_text("base64", use_inner_text=True)
    # The widget now holds the answer, and a new message to type.
    expect(widget.locator("select")).to_have_count(3)
    expect(messages.nth(1)).to_have_value("Here is the plot.")
    expect(messages.nth(2)).to_have_value("")
    shot("agent-playground-answer", full_page=True)

    messages.nth(2).fill("What is 6 * 7?")
    page.get_by_role("button", name="Start").click()
    expect(answer.locator(".text")).to_have_text("The result is 42.")
    expect(widget.locator("select")).to_have_count(5)
