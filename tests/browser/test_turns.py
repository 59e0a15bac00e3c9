"""Turns are never lost: Retry after a failure, Stop keeps what the code printed, and a run goes
on while the user reads another conversation."""

from playwright.sync_api import Page, expect

from tests.browser.page import ask, open_new_chat, open_steps, script_code_turn, start_asking
from tests.support.scripted_llm import Failure


def test_retry_answers_a_failed_turn(page: Page, shot, llm) -> None:
    open_new_chat(page)
    llm.script(*[Failure(503, "deployment overloaded")] * 4)
    failed = ask(page, "What is 7 * 6?")
    expect(failed.locator(".note.error")).to_contain_text("The model did not answer (HTTP 503)")
    retry = failed.get_by_role("button", name="Retry this message")
    expect(retry).to_be_visible()
    shot("failed")

    llm.reset(llm.brain)  # the model is back
    retry.click()
    answers = page.locator("article.msg.assistant")
    expect(answers).to_have_count(1)
    expect(page.locator("article.msg.user")).to_have_text(["What is 7 * 6?"])
    expect(answers.first).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(answers.first.locator(".text")).to_contain_text("The result is 42.")
    expect(answers.first.locator(".note.error")).to_have_count(0)
    shot("retried")


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
