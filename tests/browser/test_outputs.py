"""Every output of a cell on the page: two figures and a DataFrame show as two images and one
table; HTML from code is shown as a table only, none of its scripts or handlers run."""

from playwright.sync_api import Page, expect

from tests.browser.page import ask, open_new_chat, script_code_turn
from tests.service.test_outputs import TWO_FIGURES_AND_A_TABLE

HOSTILE_HTML = (
    "from IPython.display import HTML, display\n"
    "display(HTML('<table><tr><td>harmless cell</td></tr></table>"
    '<script>window.ran = 1</script><img src=x onerror="window.ran = 2">'
    '<a href="javascript:window.ran = 3">link</a><iframe src="https://example.com"></iframe>\'))'
)


def test_two_figures_and_a_table_show_as_two_images_and_a_table(page: Page, shot, llm) -> None:
    open_new_chat(page)
    script_code_turn(llm, TWO_FIGURES_AND_A_TABLE)
    answer = ask(page, "Plot two charts and show the table")
    images = answer.locator("img.plot-image")
    expect(images).to_have_count(2)
    for index in range(2):
        decoded = images.nth(index).evaluate("img => img.complete && img.naturalWidth > 100")
        assert decoded, f"plot {index + 1} did not decode"
    table = answer.locator(".html-result table")
    expect(table).to_have_count(1)
    expect(table).to_be_visible()  # under the steps, as the plots, without opening them
    expect(table).to_contain_text("Lyon")
    expect(table).to_contain_text("348085")
    shot("two-plots-and-a-table", full_page=True)

    page.reload()  # the same from the stored history
    answer = page.locator("article.msg.assistant").last
    expect(answer.locator("img.plot-image")).to_have_count(2)
    expect(answer.locator(".html-result table")).to_have_count(1)


def test_html_from_code_runs_no_script(page: Page, llm) -> None:
    open_new_chat(page)
    script_code_turn(llm, HOSTILE_HTML)
    answer = ask(page, "Show some HTML")
    expect(answer.locator(".html-result td")).to_have_text("harmless cell")
    result = answer.locator(".html-result")
    expect(result.locator("script, img, iframe, a[href^='javascript']")).to_have_count(0)
    assert page.evaluate("window.ran") is None
