"""The chat page: arithmetic through Python with its code shown, history, keyboard, phone width."""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.page import ask, conversation_id, message_box, open_new_chat, open_steps


def test_arithmetic_then_follow_up_shows_answers_and_code(page: Page, shot, llm) -> None:
    open_new_chat(page)
    shot("empty")

    first = ask(page, "What is 25 * 847?")
    expect(first.locator(".text")).to_contain_text("21175")
    steps = open_steps(first)
    expect(steps).to_have_count(1)
    expect(steps.first.locator(".code pre")).to_contain_text("25 * 847")
    expect(steps.first.locator(".result pre")).to_have_text("21175")
    expect(steps.first.locator("summary")).to_contain_text("Ran Python")
    expect(steps.first.locator("summary")).to_contain_text("ok")
    shot("first-answer-with-code")

    second = ask(page, "What's the square root of that?")
    expect(second.locator(".text")).to_contain_text(re.compile(r"145\.5\d*"))
    code = open_steps(second).first.locator(".code pre")
    expect(code).to_contain_text(re.compile(r"sqrt\(\(?21175\)?\)"))
    shot("follow-up")


def test_plain_question_streams_an_answer_without_code(page: Page, shot, llm) -> None:
    open_new_chat(page)
    answer = ask(page, "Tell me about yourself")
    expect(answer.locator(".text")).to_contain_text("a plain answer without code")
    expect(answer.locator("details.step")).to_have_count(0)
    shot("chat-route")


def test_enter_sends_and_shift_enter_adds_a_line(page: Page, shot, llm) -> None:
    open_new_chat(page)
    box = message_box(page)
    box.click()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    expect(page.locator("article.msg")).to_have_count(0)
    shot("two-lines-typed")

    page.keyboard.press("Enter")
    expect(page.locator("article.msg.user")).to_have_text("first line\nsecond line")
    expect(box).to_have_value("")
    expect(page.locator("article.msg.assistant")).to_have_attribute("aria-busy", "false")
    shot("sent")


def test_reload_finds_the_conversation_and_its_history(page: Page, shot, llm) -> None:
    conversation = open_new_chat(page)
    ask(page, "What is 12 * 12?")
    page.reload()
    expect(page).to_have_url(re.compile(rf"\?c={conversation}$"))
    expect(page.locator("article.msg.user")).to_have_text(["What is 12 * 12?"])
    restored = page.locator("article.msg.assistant")
    expect(restored.locator(".text")).to_contain_text("144")
    expect(open_steps(restored).first.locator(".code pre")).to_contain_text("12 * 12")
    listed = page.get_by_role("button", name="What is 12 * 12?", exact=True)
    expect(listed).to_have_attribute("aria-current", "page")
    shot("after-reload")

    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("article.msg")).to_have_count(0)
    assert conversation_id(page) != conversation
    shot("new-conversation")

    page.get_by_role("button", name="What is 12 * 12?", exact=True).click()
    expect(page).to_have_url(re.compile(rf"\?c={conversation}$"))
    expect(page.locator("article.msg.user")).to_have_text(["What is 12 * 12?"])
    shot("back-from-the-list")


def test_phone_width_keeps_the_chat_usable(page: Page, shot, llm) -> None:
    page.set_viewport_size(PHONE)
    open_new_chat(page)
    answer = ask(page, "What is 3 * 7?")
    expect(answer.locator(".text")).to_contain_text("21")
    expect(page.get_by_label("Upload a file")).to_be_attached()
    expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
    expect(message_box(page)).to_be_in_viewport()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at phone width"
    shot("phone-answer")

    menu = page.get_by_role("button", name="Conversations")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    sidebar = page.get_by_role("complementary", name="Conversations")
    expect(sidebar).to_have_css("transform", "none")  # the slide-in has finished
    expect(sidebar.get_by_role("button", name="What is 3 * 7?", exact=True)).to_be_in_viewport()
    expect(sidebar.get_by_role("button", name="New conversation")).to_be_in_viewport()
    shot("phone-menu")
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sidebar).to_be_hidden()


def test_delete_removes_a_conversation(page: Page, shot, llm) -> None:
    open_new_chat(page)
    ask(page, "What is 9 * 9?")
    page.get_by_role("button", name="What is 9 * 9?", exact=True).hover()
    delete = page.get_by_role("button", name="Delete “What is 9 * 9?”")
    expect(delete).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(page.get_by_role("button", name="What is 9 * 9?", exact=True)).to_have_count(0)
    expect(page.locator("article.msg")).to_have_count(0)
    shot("deleted")
