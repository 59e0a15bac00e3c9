"""What the page says when the model or the service fails, and that output is never HTML."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import Shots
from tests.browser.page import (
    ask,
    open_new_chat,
    open_steps,
    script_chat_turn,
    script_code_turn,
    start_asking,
)
from tests.service.conftest import azure_env, pool_env, run_service
from tests.support.scripted_llm import Failure


def test_model_failure_is_shown_and_the_next_turn_works(page: Page, shot, llm) -> None:
    open_new_chat(page)
    llm.script(*[Failure(503, "deployment overloaded")] * 4)
    failed = ask(page, "What is 2 + 2?")
    expect(failed.locator(".note.error")).to_contain_text("The model did not answer (HTTP 503)")
    shot("model-unavailable")

    llm.reset(llm.brain)
    after = ask(page, "What is 2 + 3?")
    expect(after.locator(".text")).to_contain_text("The result is 5.")
    shot("next-turn")


def test_code_error_is_shown_as_an_error(page: Page, shot, llm) -> None:
    open_new_chat(page)
    script_code_turn(llm, "total = 1 / 0")
    answer = ask(page, "Divide one by zero")
    step = answer.locator("details.step")
    expect(step).to_have_attribute("open", "")  # errors unfold by themselves
    expect(step.locator("summary")).to_contain_text("error")
    expect(step.locator(".stderr h4")).to_have_text("Error")
    expect(step.locator(".stderr pre")).to_contain_text("ZeroDivisionError")
    shot("code-error")


def test_service_down_is_reported(browser, model, session_pool, tmp_path) -> None:
    env = {**azure_env(model), **pool_env(session_pool)}
    with run_service(env, tmp_path) as service:
        context = browser.new_context(base_url=service.url)
        page = context.new_page()
        shot = Shots(page, "test_service_down_is_reported")
        open_new_chat(page)
        service.proc.terminate()
        service.proc.wait(30)
        answer = page.locator("article.msg.assistant")
        page.get_by_role("textbox", name="Message").fill("Are you there?")
        page.keyboard.press("Enter")
        expect(answer.locator(".note.error")).to_contain_text("The service did not answer")
        shot("service-down")
        context.close()


def test_a_service_stopped_mid_answer_says_the_turn_was_kept(
    browser, model, session_pool, tmp_path
) -> None:
    env = {**azure_env(model), **pool_env(session_pool)}
    model.reset(model.brain)
    with run_service(env, tmp_path) as service:
        context = browser.new_context(base_url=service.url)
        page = context.new_page()
        shot = Shots(page, "test_a_service_stopped_mid_answer_says_the_turn_was_kept")
        conversation = open_new_chat(page)
        script_code_turn(model, "import time\nprint('begun', flush=True)\ntime.sleep(600)")
        answer = start_asking(page, "Work for a long time")
        expect(answer.locator("details.step summary")).to_contain_text("running")
        service.proc.terminate()
        note = answer.locator(".note.error")
        expect(note).to_contain_text("The service stopped (or the connection was lost)")
        expect(note).to_contain_text("the turn is kept with what was done so far")
        expect(note).not_to_contain_text("Internal Server Error")
        expect(answer.locator("details.step summary")).to_contain_text("stopped")
        expect(answer.get_by_role("button", name="Retry this message")).to_be_visible()
        shot("service-stopped-mid-answer")
        context.close()
        service.proc.wait(120)  # its own shutdown, which saves the turn (not a kill)
    with run_service(env, tmp_path) as service, service.http() as http:
        kept = http.get(f"/conversations/{conversation}").json()["messages"]
    assert [m["role"] for m in kept] == ["user", "assistant"]
    assert kept[1]["steps"][0]["status"] == "stopped"


def test_model_and_code_output_are_shown_as_text_never_html(page: Page, shot, llm) -> None:
    open_new_chat(page)
    script_chat_turn(llm, 'Look: <img src=x onerror="window.injected = 1"> <b>not bold</b>')
    answer = ask(page, "Say something tricky")
    expect(answer.locator(".text")).to_contain_text('<img src=x onerror="window.injected = 1">')
    expect(answer.locator(".text img, .text b")).to_have_count(0)

    markup = "<script>window.injected = 2</script><i>x</i>"
    script_code_turn(llm, f"print('{markup}')\n'<b>y</b>'")
    ran = ask(page, "Print some markup")
    steps = open_steps(ran)
    expect(steps.locator(".stdout pre")).to_have_text(markup)
    expect(steps.locator("script, i, b")).to_have_count(0)
    assert page.evaluate("window.injected") is None
    shot("markup-as-text")
