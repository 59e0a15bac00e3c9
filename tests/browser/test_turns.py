"""Turns are never lost: a failed turn is kept and Retry answers it, Regenerate and Edit
replace the last turn (also after a message sent while the page was still opening), Stop
keeps what the code printed, and a run goes on while the user reads another conversation."""

from playwright.sync_api import Page, Route, expect

from tests.browser.page import (
    CONVERSATION_URL,
    ask,
    message_box,
    open_new_chat,
    open_steps,
    script_chat_turn,
    script_code_turn,
    start_asking,
)
from tests.support.scripted_llm import Failure


def test_a_failed_turn_survives_a_reload_and_retry_answers_it(page: Page, shot, llm) -> None:
    open_new_chat(page)
    ask(page, "What is 2 * 3?")
    llm.script(*[Failure(503, "deployment overloaded")] * 2)
    failed = ask(page, "What is 7 * 6?")
    expect(failed.locator(".note.error")).to_contain_text("The model did not answer (HTTP 503)")
    shot("failed")

    page.reload()
    answers = page.locator("article.msg.assistant")
    expect(answers).to_have_count(2)
    expect(page.locator("article.msg.user .bubble")).to_have_text(
        ["What is 2 * 3?", "What is 7 * 6?"]
    )
    kept = answers.nth(1)
    expect(kept.locator(".note.error")).to_contain_text("The model did not answer (HTTP 503)")
    # Only the last answer offers to answer again; the first one offers Copy alone.
    expect(answers.first.get_by_role("button", name="Retry this message")).to_have_count(0)
    shot("failed-after-reload")

    llm.reset(llm.brain)  # the model is back
    kept.get_by_role("button", name="Retry this message").click()
    expect(answers).to_have_count(2)
    retried = answers.nth(1)
    expect(retried).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(retried.locator(".text")).to_contain_text("The result is 42.")
    expect(retried.locator(".note.error")).to_have_count(0)
    shot("retried")

    page.reload()  # the retried turn replaced the failed one
    expect(page.locator("article.msg.user .bubble")).to_have_text(
        ["What is 2 * 3?", "What is 7 * 6?"]
    )
    expect(answers.nth(1).locator(".text")).to_contain_text("The result is 42.")
    expect(page.locator(".note.error")).to_have_count(0)


def test_regenerate_and_edit_replace_the_last_turn(page: Page, shot, llm) -> None:
    open_new_chat(page)
    ask(page, "What is 2 * 3?")
    script_chat_turn(llm, "A first answer.")
    last = ask(page, "Say something")
    expect(last.locator(".text")).to_have_text("A first answer.")

    script_chat_turn(llm, "A second answer.")
    last.get_by_role("button", name="Regenerate answer").click()
    answers = page.locator("article.msg.assistant")
    expect(answers).to_have_count(2)
    expect(answers.nth(1)).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(answers.nth(1).locator(".text")).to_have_text("A second answer.")
    shot("regenerated")

    # Edit: on the last message only, from its button or with ↑ in the empty message box.
    users = page.locator("article.msg.user")
    expect(users.first.get_by_role("button", name="Edit message")).to_have_count(0)
    message_box(page).press("ArrowUp")
    editor = page.get_by_role("textbox", name="Edit message")
    expect(editor).to_have_value("Say something")
    editor.press("Escape")
    expect(users.nth(1).locator(".bubble")).to_have_text("Say something")
    users.nth(1).hover()
    users.nth(1).get_by_role("button", name="Edit message").click()
    editor.fill("What is 9 * 9?")
    shot("editing")
    editor.press("Enter")
    expect(answers.nth(1)).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(answers.nth(1).locator(".text")).to_contain_text("The result is 81.")
    shot("edited")

    page.reload()
    expect(users.locator(".bubble")).to_have_text(["What is 2 * 3?", "What is 9 * 9?"])
    expect(answers).to_have_count(2)


def test_a_message_sent_while_the_page_opens_keeps_the_turns_numbered(
    page: Page, shot, llm
) -> None:
    # A busy service answers the page's first conversation list late; the message goes first.
    late: list[Route] = []

    def hold(route: Route) -> None:
        late.append(route)

    page.route("**/conversations", hold)
    page.goto("/ui")
    expect(page).to_have_url(CONVERSATION_URL)
    for _ in range(1500):  # the page asks for the list once it has a conversation id
        if late:
            break
        page.wait_for_timeout(20)
    script_code_turn(llm, "import time\ntime.sleep(3)\n6")  # still running when the list comes
    message_box(page).fill("What is 2 * 3?")
    message_box(page).press("Enter")
    assert late, "the page never asked for its conversation list"
    for route in late:
        route.continue_()
    page.unroute("**/conversations", hold)  # and lets through any asked for meanwhile
    answers = page.locator("article.msg.assistant")
    expect(answers).to_have_count(1)
    expect(answers.first).to_have_attribute("aria-busy", "false", timeout=60_000)
    script_chat_turn(llm, "A first answer.")
    last = ask(page, "Say something")

    script_chat_turn(llm, "A second answer.")
    last.get_by_role("button", name="Regenerate answer").click()
    expect(answers.nth(1).locator(".text")).to_have_text("A second answer.", timeout=60_000)
    expect(answers.nth(1)).to_have_attribute("aria-busy", "false")
    shot("regenerated")

    page.reload()  # the second turn was replaced, not answered a second time
    expect(page.locator("article.msg.user .bubble")).to_have_text(
        ["What is 2 * 3?", "Say something"]
    )
    expect(answers.nth(1).locator(".text")).to_have_text("A second answer.")


def test_stop_keeps_what_the_code_printed(page: Page, shot, llm) -> None:
    open_new_chat(page)
    script_code_turn(
        llm,
        "import time\nfor i in range(3):\n    print('step', i, flush=True)\ntime.sleep(600)",
    )
    answer = start_asking(page, "Count, then wait")
    expect(answer.locator("details.step summary")).to_contain_text("running")
    page.wait_for_timeout(1000)  # the prints happen first
    page.get_by_role("button", name="Stop").click()
    expect(answer.locator(".note")).to_contain_text("Stopped")
    step = open_steps(answer).first
    expect(step.locator("summary")).to_contain_text("stopped")
    expect(step.locator(".stdout pre")).to_have_text("step 0\nstep 1\nstep 2\n")
    shot("stopped-with-output")

    page.reload()
    kept = open_steps(page.locator("article.msg.assistant").first).first
    expect(kept.locator(".stdout pre")).to_have_text("step 0\nstep 1\nstep 2\n")
    shot("stopped-output-after-reload")


def test_a_run_goes_on_while_another_conversation_is_open(page: Page, shot, llm) -> None:
    first = open_new_chat(page)
    script_code_turn(llm, "import time\ntime.sleep(4)\nprint('finished')\n6 * 7")
    running = start_asking(page, "Take your time")
    expect(running.locator("details.step summary")).to_contain_text("running")
    shot("running")

    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("article.msg")).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    shot("elsewhere")

    page.get_by_role("button", name="Take your time", exact=True).click()
    assert first in page.url
    answer = page.locator("article.msg.assistant")
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(answer.locator(".text")).to_contain_text("The result is 42.")
    step = open_steps(answer).first
    expect(step.locator("summary")).to_contain_text("ok")
    expect(step.locator(".stdout pre")).to_have_text("finished\n")
    shot("finished-on-return")

    page.reload()
    expect(page.locator("article.msg.assistant .text")).to_contain_text("The result is 42.")
