"""The message box: the character counter, refused messages kept with the reason in plain
words, and the keyboard shortcuts."""

from playwright.sync_api import Page, Route, expect

from tests.browser.page import ask, message_box, open_new_chat

LIMIT = 8000  # the service's default MAX_MESSAGE_CHARS


def test_a_too_long_message_keeps_its_text_and_shows_the_counter(page: Page, shot, llm) -> None:
    open_new_chat(page)
    box = message_box(page)
    counter = page.locator("#counter")
    box.fill("x" * 6000)
    expect(counter).to_be_empty()  # quiet until the limit is near
    box.fill("x" * 7000)
    expect(counter).to_have_text("7,000 / 8,000")
    text = "y" * 9000
    box.fill(text)
    expect(counter).to_have_text("9,000 / 8,000")
    problem = page.locator("#composer-problem")
    expect(problem).to_have_text(
        "This message is 1,000 characters over the limit of 8,000 (MAX_MESSAGE_CHARS). "
        "Shorten it, or upload the text as a file and ask about the file."
    )
    box.press("Enter")
    expect(page.locator("article.msg")).to_have_count(0)
    expect(box).to_have_value(text)
    shot("too-long")

    box.fill("What is 6 * 7?")
    expect(problem).to_be_hidden()
    expect(counter).to_be_empty()
    expect(ask(page, "What is 6 * 7?").locator(".text")).to_contain_text("42")


def test_a_message_the_service_refuses_goes_back_in_the_box(page: Page, shot, llm) -> None:
    """The service's own check, as a page with an older, larger limit would meet it."""

    def larger_limit(route: Route) -> None:
        info = route.fetch().json()
        route.fulfill(json={**info, "max_message_chars": 20_000})

    page.route("**/info", larger_limit)
    open_new_chat(page)
    text = "z" * (LIMIT + 1)
    message_box(page).fill(text)
    message_box(page).press("Enter")
    problem = page.locator("#composer-problem")
    expect(problem).to_contain_text(
        "The service did not accept this: the message is longer than the limit of 8,000 characters"
    )
    expect(problem).not_to_contain_text("String should have")
    expect(message_box(page)).to_have_value(text)
    expect(page.locator("article.msg")).to_have_count(0)
    shot("refused-by-the-service")


def test_keyboard_shortcuts(page: Page, shot, llm) -> None:
    first = open_new_chat(page)
    ask(page, "What is 2 * 2?")
    page.keyboard.press("Control+Shift+O")
    expect(page.locator("article.msg")).to_have_count(0)
    assert first not in page.url  # a new conversation
    expect(message_box(page)).to_be_focused()

    page.keyboard.press("Control+k")
    expect(page.get_by_role("searchbox", name="Search conversations")).to_be_focused()
    page.keyboard.press("Shift+Escape")
    expect(message_box(page)).to_be_focused()

    page.keyboard.press("Control+/")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("New conversation")
    shot("shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
