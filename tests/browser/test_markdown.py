"""Answers drawn as Markdown (tables, formulas, highlighted code with copy buttons), safely,
in light and dark; HTML tables that code prints; tracebacks trimmed to the user's frames."""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.page import (
    MARKDOWN_ANSWER,
    ask,
    background,
    open_new_chat,
    open_steps,
    script_chat_turn,
    script_code_turn,
)


def test_a_markdown_answer_renders_as_elements(page: Page, shot, llm) -> None:
    open_new_chat(page)
    script_chat_turn(llm, MARKDOWN_ANSWER)
    text = ask(page, "Compare Lyon and Nice").locator(".text")

    expect(text.get_by_role("heading", name="Populations")).to_be_visible()
    table = text.locator("table")
    expect(table.locator("th")).to_have_text(["city", "population"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first.locator("td").last).to_have_css("text-align", "right")
    expect(text.locator("ul > li")).to_have_text(["Lyon is larger", "Nice is sunnier"])
    link = text.get_by_role("link", name="source")
    expect(link).to_have_attribute("href", "https://example.com/cities")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    # Formulas are KaTeX's markup (with MathML for screen readers), not dollar signs.
    expect(text.locator(".katex")).to_have_count(2)
    expect(text.locator("eqn .katex-display, .katex-display")).to_have_count(1)
    expect(text.locator("math").first).to_be_attached()
    expect(text).not_to_contain_text("$")
    # Code is highlighted: keywords in their own colour.
    keyword = text.locator(".code-block .hljs-keyword").first
    expect(keyword).to_have_text("def")
    plain = text.locator(".code-block code")
    assert keyword.evaluate("n => getComputedStyle(n).color") != plain.evaluate(
        "n => getComputedStyle(n).color"
    )
    expect(text.locator(".code-lang")).to_have_text("python")
    shot("markdown", full_page=True)


def test_code_and_answers_copy_to_the_clipboard(page: Page, shot, llm) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_new_chat(page)
    script_chat_turn(llm, MARKDOWN_ANSWER)
    answer = ask(page, "Compare Lyon and Nice")

    answer.get_by_role("button", name="Copy code").click()
    expect(answer.get_by_role("button", name="Copy code")).to_contain_text("Copied")
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert clipboard == "def total(values):\n    return sum(values)  # both cities\n"
    answer.get_by_role("button", name="Copy answer").click()
    assert page.evaluate("navigator.clipboard.readText()") == MARKDOWN_ANSWER
    shot("copied")


def test_raw_html_and_unsafe_links_stay_text(page: Page, shot, llm) -> None:
    open_new_chat(page)
    script_chat_turn(
        llm,
        '<script>window.injected = 1</script> <img src=x onerror="window.injected = 2">\n\n'
        "[click](javascript:window.injected=3) ![pixel](https://tracker.example/p.png)",
    )
    text = ask(page, "Say something tricky").locator(".text")
    expect(text).to_contain_text("<script>window.injected = 1</script>")
    expect(text.locator("script, img")).to_have_count(0)
    # markdown-it refuses javascript: links; a picture from elsewhere becomes a plain link.
    expect(text.locator("a[href^='javascript']")).to_have_count(0)
    expect(text.get_by_role("link", name="pixel")).to_have_attribute(
        "href", "https://tracker.example/p.png"
    )
    assert page.evaluate("window.injected") is None
    shot("unsafe-as-text")


def test_a_traceback_shows_the_users_frames_and_folds_the_rest(page: Page, shot, llm) -> None:
    open_new_chat(page)
    script_code_turn(llm, "import pandas as pd\npd.read_csv('/mnt/data/missing.csv')")
    step = open_steps(ask(page, "Read the missing file")).first
    error = step.locator(".stderr pre")

    expect(error).to_contain_text("pd.read_csv('/mnt/data/missing.csv')")
    expect(error).to_contain_text("FileNotFoundError")
    # The sessions' IPython kernel writes each frame as a block ended by a blank line, with
    # arrows on the failing lines: pandas' consecutive frames fold behind one button, while the
    # user's cell and the error line itself stay in view.
    fold = error.get_by_role("button", name=re.compile(r"⋯ \d+ frames in pandas"))
    expect(fold).to_have_attribute("aria-expanded", "false")
    expect(error.get_by_role("button")).to_have_count(1)
    expect(error.locator(".folded")).to_be_hidden()
    expect(error.locator(".folded")).not_to_contain_text("pd.read_csv('/mnt/data/missing.csv')")
    expect(error.locator(".folded")).not_to_contain_text("FileNotFoundError:")
    shot("traceback-folded")
    fold.click()
    expect(error.locator(".folded")).to_be_visible()
    expect(error.locator(".folded")).to_contain_text("site-packages/pandas")
    shot("traceback-unfolded")


# A traceback in plain Python's layout (frames indented under "Traceback", no blank lines), as
# a session whose kernel is not IPython writes it, with a chained exception.
PLAIN_TRACEBACK = """Traceback (most recent call last):
  File "<string>", line 3, in <module>
  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/json/decoder.py", line 337, in decode
    obj, end = self.raw_decode(s, idx=_w(s, 0).end())
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "<string>", line 5, in <module>
ValueError: not JSON"""


def test_a_plain_python_traceback_folds_its_library_frames(page: Page, shot) -> None:
    open_new_chat(page)
    page.evaluate(
        """async (stderr) => {
        const { stepBlock } = await import("./render.js");
        const step = {index: 0, code: "parse()", status: "Failure", stderr};
        document.getElementById("messages").append(stepBlock(step, true));
    }""",
        PLAIN_TRACEBACK,
    )
    error = page.locator("details.step .stderr pre")
    fold = error.get_by_role("button")
    expect(fold).to_have_text("⋯ 2 frames in json")
    folded = error.locator(".folded")
    expect(folded).to_be_hidden()
    expect(folded).to_contain_text("return _default_decoder.decode(s)")
    for shown in ('File "<string>", line 3', "JSONDecodeError: Expecting value", "ValueError"):
        expect(folded).not_to_contain_text(shown)
        expect(error).to_contain_text(shown)
    shot("plain-traceback")


def test_an_html_table_from_code_is_a_table_without_its_scripts(page: Page, shot) -> None:
    """A step's HTML outputs (a DataFrame's table) are drawn under the steps by the page's
    own answer renderer, run here in the browser on a step as the service sends it."""
    open_new_chat(page)
    page.evaluate(
        """async () => {
        const { AssistantView } = await import("./render.js");
        const table = '<div><style>td {color: red}</style><table class="dataframe">' +
          '<thead><tr style="text-align: right;"><th>city</th><th>population</th></tr></thead>' +
          '<tbody><tr><td>Lyon</td><td>522969</td></tr><tr><td>Nice</td>' +
          '<td onclick="window.injected = 1">348085<script>window.injected = 2</script></td></tr>' +
          '</tbody></table></div>';
        const step = {index: 0, code: "df", status: "Success", result: "city ...", html: [table]};
        const answer = new AssistantView();
        answer.show({output: "The two cities.", steps: [step]});
        document.getElementById("messages").append(answer.node);
    }"""
    )
    result = page.locator("article.msg.assistant .tables")
    expect(result.locator("table th")).to_have_text(["city", "population"])
    expect(result.locator("table tbody tr")).to_have_count(2)
    expect(result.locator("script, style, [onclick], [style]")).to_have_count(0)
    result.get_by_text("348085").click()
    assert page.evaluate("window.injected") is None
    shot("html-table")


def test_dark_mode_follows_the_system_and_the_toggle_is_kept(page: Page, shot, llm) -> None:
    open_new_chat(page)
    script_chat_turn(llm, MARKDOWN_ANSWER)
    ask(page, "Compare Lyon and Nice")
    body = page.locator("body")
    light = background(body)
    shot("light")

    page.emulate_media(color_scheme="dark")
    expect(body).not_to_have_css("background-color", light)
    dark = background(body)
    shot("dark-from-the-system")

    # The reader's choice beats the system's, and survives a reload.
    page.emulate_media(color_scheme="light")
    expect(body).to_have_css("background-color", light)
    toggle = page.get_by_role("button", name=re.compile(r"^Theme: "))
    while "dark" not in (toggle.text_content() or ""):
        toggle.click()
    expect(body).to_have_css("background-color", dark)
    page.reload()
    expect(page.get_by_role("button", name=re.compile(r"^Theme: dark"))).to_be_visible()
    expect(body).to_have_css("background-color", dark)
    expect(page.locator("article.msg.assistant .katex").first).to_be_visible()
    shot("dark-chosen-after-reload", full_page=True)

    page.set_viewport_size(PHONE)
    expect(page.get_by_role("complementary", name="Conversations")).to_be_hidden()
    shot("dark-phone")
