"""The stop button: it cancels the answer, interrupts the code, and the conversation goes on."""

from playwright.sync_api import Page, expect

from tests.browser.page import ask, open_new_chat, open_steps, script_code_turn, start_asking


def test_stop_interrupts_a_long_run_and_the_conversation_stays_usable(
    page: Page, shot, llm
) -> None:
    open_new_chat(page)
    ask(page, "What is 25 * 847?")

    script_code_turn(llm, "import time\ntime.sleep(600)\n'slept'")
    answer = start_asking(page, "Sleep for ten minutes")
    expect(answer.locator("details.step summary")).to_contain_text("running")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_hidden()
    shot("running")

    stop.click()
    expect(answer.locator(".note")).to_contain_text("Stopped")
    expect(answer.locator("details.step summary")).to_contain_text("stopped")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    shot("stopped")

    # The session was interrupted, not lost: the next code runs at once, and the
    # variables of earlier turns are still there.
    script_code_turn(llm, "result + 1")
    after = ask(page, "Add one to the earlier result")
    expect(after.locator(".text")).to_contain_text("The result is 21176.")
    expect(open_steps(after).first.locator("summary")).to_contain_text("ok")
    shot("usable-after-stop")

    # The stopped turn is kept: a reload shows it, its code marked as stopped.
    page.reload()
    answers = page.locator("article.msg.assistant")
    expect(answers).to_have_count(3)
    expect(answers.nth(1).locator("details.step summary")).to_contain_text("stopped")
    expect(answers.nth(2).locator(".text")).to_contain_text("The result is 21176.")
    shot("stopped-turn-after-reload")
