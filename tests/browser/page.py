"""What a user does on the chat page, as Playwright steps the browser tests share."""

import re

from playwright.sync_api import Locator, Page, expect

from tests.support.scripted_llm import ScriptedLLM, Text, ToolCall

CONVERSATION_URL = re.compile(r"/ui/\?c=([A-Za-z0-9_-]{1,64})$")
# An answer a real model could write: every Markdown feature the page renders.
MARKDOWN_ANSWER = r"""## Populations

The two largest cities, with a [source](https://example.com/cities) and $e^{i\pi} + 1 = 0$.

| city | population |
|------|-----------:|
| Lyon | 522,969 |
| Nice | 348,085 |

- Lyon is larger
- Nice is *sunnier*

$$\int_0^1 x^2\,dx = \frac{1}{3}$$

```python
def total(values):
    return sum(values)  # both cities
```
"""


def open_new_chat(page: Page) -> str:
    """Open /ui; the page starts a conversation and puts its id in the URL."""
    page.goto("/ui")
    expect(page).to_have_url(CONVERSATION_URL)
    expect(message_box(page)).to_be_editable()
    return conversation_id(page)


def conversation_id(page: Page) -> str:
    return CONVERSATION_URL.search(page.url).group(1)


def message_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message")


def ask(page: Page, text: str) -> Locator:
    """Type a message, press Enter, and return the answer's element once it has finished."""
    answers = page.locator("article.msg.assistant")
    before = answers.count()
    message_box(page).fill(text)
    message_box(page).press("Enter")
    expect(answers).to_have_count(before + 1)
    answer = answers.nth(before)
    expect(answer).to_have_attribute("aria-busy", "false", timeout=60_000)
    return answer


def start_asking(page: Page, text: str) -> Locator:
    """Send a message and return the answer's element while it is still being written."""
    message_box(page).fill(text)
    message_box(page).press("Enter")
    return page.locator("article.msg.assistant").last


def open_steps(answer: Locator) -> Locator:
    """Unfold the answer's code blocks and return them."""
    steps = answer.locator("details.step")
    for index in range(steps.count()):
        step = steps.nth(index)
        if step.get_attribute("open") is None:
            step.locator("summary").click()
    return steps


def script_code_turn(llm: ScriptedLLM, code: str) -> None:
    """The model routes to Python and runs exactly `code`; the brain then reports its result."""
    llm.script(
        ToolCall("RouteDecision", {"route": "python"}),
        ToolCall("Python_REPL", {"python_code": code}),
    )


def script_chat_turn(llm: ScriptedLLM, answer: str) -> None:
    llm.script(ToolCall("RouteDecision", {"route": "chat"}), Text(answer))


def script_plot_turn(llm: ScriptedLLM) -> None:
    """The model runs code that draws a plot, then says so."""
    llm.script(
        ToolCall("RouteDecision", {"route": "python"}),
        ToolCall(
            "Python_REPL",
            {
                "python_code": "import matplotlib.pyplot as plt\n"
                "plt.plot([1, 2, 3, 4], [1, 4, 9, 16])\nplt.title('squares')\nplt.show()"
            },
        ),
        Text("Here is the plot of the squares."),
    )


def background(locator: Locator) -> str:
    return locator.evaluate("node => getComputedStyle(node).backgroundColor")
