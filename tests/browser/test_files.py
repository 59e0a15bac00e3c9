"""Files and plots on the chat page: upload a CSV, see a plot inline, download what code wrote."""

import nbformat
from playwright.sync_api import Page, expect

from tests.browser.conftest import UPLOAD_LIMIT
from tests.browser.page import ask, open_new_chat, open_steps, script_code_turn, script_plot_turn

CSV = "city,population\nLyon,522969\nNice,348085\nNantes,323204\nLille,236710\nBrest,139926\n"


def test_uploaded_csv_is_listed_and_its_rows_counted(page: Page, shot, llm, tmp_path) -> None:
    open_new_chat(page)
    csv = tmp_path / "cities.csv"
    csv.write_text(CSV)
    page.get_by_label("Upload a file").set_input_files(csv)
    expect(page.get_by_role("status")).to_contain_text("Uploaded cities.csv")
    expect(page.get_by_role("link", name="Download cities.csv")).to_be_visible()
    shot("uploaded")
    expect(page.locator("#upload-status")).to_be_empty(timeout=15_000)  # the notice goes away

    script_code_turn(llm, "import pandas as pd\nlen(pd.read_csv('/mnt/data/cities.csv'))")
    answer = ask(page, "How many rows does cities.csv have?")
    expect(answer.locator(".text")).to_contain_text("The result is 5.")
    expect(open_steps(answer).first.locator(".result pre")).to_have_text("5")
    # The agent was told which files the session holds.
    prompts = [str(r["body"]["messages"]) for r in llm.requests if r["body"].get("tools")]
    assert any("cities.csv" in prompt for prompt in prompts)
    shot("row-count")


def test_too_large_upload_is_refused_clearly(page: Page, shot, tmp_path) -> None:
    open_new_chat(page)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (UPLOAD_LIMIT + 1))
    page.get_by_label("Upload a file").set_input_files(big)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Upload of big.bin failed")
    expect(alert).to_contain_text(
        f"Too large (413): the file is larger than the limit of {UPLOAD_LIMIT}"
    )
    expect(page.get_by_role("link", name="Download big.bin")).to_have_count(0)
    shot("refused")


def test_plot_appears_inline_and_downloads_and_opens_large(page: Page, shot, llm, tmp_path):
    open_new_chat(page)
    script_plot_turn(llm)
    answer = ask(page, "Plot the squares of 1 to 4")
    image = answer.get_by_role("img", name="Plot 1 made by the code")
    expect(image).to_be_visible()
    size = image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert size[0] and size[1] > 100 and size[2] > 100, f"the plot did not decode: {size}"
    expect(answer.locator(".text")).to_have_text("Here is the plot of the squares.")
    shot("plot")

    with page.expect_download() as download:
        answer.get_by_role("link", name="Download plot 1").click()
    saved = tmp_path / "plot.png"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "plot-1.png"
    assert saved.read_bytes().startswith(b"\x89PNG\r\n")

    answer.get_by_role("button", name="Open plot 1 large").click()
    large = page.get_by_role("dialog", name="Plot").get_by_role(
        "img", name="Plot 1 made by the code"
    )
    expect(large).to_be_visible()
    width = large.evaluate("img => img.getBoundingClientRect().width")
    assert width > image.evaluate("img => img.getBoundingClientRect().width")
    shot("plot-large")
    page.keyboard.press("Escape")
    expect(large).to_be_hidden()


def test_file_written_by_code_downloads(page: Page, shot, llm, tmp_path) -> None:
    open_new_chat(page)
    script_code_turn(
        llm,
        "with open('/mnt/data/squares.csv', 'w') as f:\n"
        "    f.write('n,square\\n' + ''.join(f'{n},{n * n}\\n' for n in range(1, 6)))\n"
        "'written'",
    )
    ask(page, "Write the squares of 1 to 5 to squares.csv")
    link = page.get_by_role("link", name="Download squares.csv")
    expect(link).to_be_visible()
    shot("file-listed")

    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "squares.csv"
    assert saved.read_text() == "n,square\n1,1\n2,4\n3,9\n4,16\n5,25\n"
    shot("downloaded")


def test_a_file_chip_removes_the_file_from_the_session(page: Page, shot, llm, tmp_path):
    conversation = open_new_chat(page)
    notes = tmp_path / "notes.txt"
    notes.write_text("remember the milk\n")
    page.get_by_label("Upload a file").set_input_files(notes)
    chip = page.get_by_role("listitem").filter(has_text="notes.txt")
    expect(chip).to_be_visible()
    expect(chip).to_contain_text("18 B")
    shot("chip")

    chip.get_by_role("button", name="Remove notes.txt").click()
    expect(page.get_by_role("link", name="Download notes.txt")).to_have_count(0)
    listed = page.request.get(f"/conversations/{conversation}/files").json()
    assert listed == {"files": []}
    shot("removed")


def test_a_conversation_downloads_as_a_notebook(page: Page, shot, llm, tmp_path) -> None:
    conversation = open_new_chat(page)
    script_code_turn(llm, "print('hello from the session')\n6 * 7")
    ask(page, "What is six times seven?")
    item = page.locator("#conversation-list li").filter(has_text="What is six times seven?")
    item.hover()
    link = item.get_by_role("link", name="Download “What is six times seven?” as a notebook")
    expect(link).to_be_visible()
    shot("notebook-link")

    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"conversation-{conversation}.ipynb"
    saved = tmp_path / "conversation.ipynb"
    download.value.save_as(saved)
    notebook = nbformat.read(saved, as_version=4)
    nbformat.validate(notebook)
    (code,) = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code.source == "print('hello from the session')\n6 * 7"
    assert [o.output_type for o in code.outputs] == ["stream", "execute_result"]
    assert code.outputs[1].data["text/plain"] == "42"
