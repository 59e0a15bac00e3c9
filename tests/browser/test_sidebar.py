"""The conversation list: grouped by day, same titles told apart by their time, search."""

import random
import re

from playwright.sync_api import Page, expect

from tests.browser.page import ask, open_new_chat


def test_same_titles_get_their_time_and_search_filters(page: Page, shot, llm) -> None:
    n = random.randrange(10**6, 10**7)  # titles no other test of the suite uses
    twin, other = f"What is {n} * 5?", f"What is {n} + 1?"
    open_new_chat(page)
    ask(page, twin)
    page.wait_for_timeout(1_100)  # the twins start in different seconds (the list's precision)
    page.get_by_role("button", name="New conversation").click()
    ask(page, twin)
    page.get_by_role("button", name="New conversation").click()
    ask(page, other)

    history = page.get_by_role("navigation", name="History")
    expect(history.get_by_role("heading", name="Today")).to_be_visible()
    twins = history.get_by_role("button", name=re.compile(rf"^What is {n} \* 5\? · \d"))
    expect(twins).to_have_count(2)
    # Started within the same minute, they are still told apart (to the second).
    first, second = (twin.text_content() for twin in twins.all())
    assert first != second
    expect(history.get_by_role("button", name=other, exact=True)).to_be_visible()
    shot("list")

    search = page.get_by_role("searchbox", name="Search conversations")
    search.fill(str(n))
    mine = history.get_by_role("button", name=re.compile(rf"^What is {n}"))
    expect(mine).to_have_count(3)
    search.fill(f"{n} +")
    expect(mine).to_have_count(1)
    search.fill("no such thing")
    expect(history.get_by_role("button")).to_have_count(0)
    expect(page.get_by_text("No conversation matches.")).to_be_visible()
    shot("no-match")


def test_rename_in_place(page: Page, shot, llm) -> None:
    n = random.randrange(10**6, 10**7)
    open_new_chat(page)
    ask(page, f"What is {n} * 2?")
    history = page.get_by_role("navigation", name="History")
    item = history.get_by_role("button", name=f"What is {n} * 2?", exact=True)
    item.hover()
    history.get_by_role("button", name=f"Rename “What is {n} * 2?”").click()
    title = history.get_by_role("textbox", name="New title")
    expect(title).to_be_focused()
    title.fill(f"Doubling {n}")
    shot("renaming")
    title.press("Enter")
    renamed = history.get_by_role("button", name=f"Doubling {n}", exact=True)
    expect(renamed).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Doubling {n}")

    page.reload()
    expect(renamed).to_be_visible()
    renamed.hover()
    history.get_by_role("button", name=f"Rename “Doubling {n}”").click()
    title.fill("not kept")
    title.press("Escape")  # cancels
    expect(renamed).to_be_visible()
    shot("renamed")
