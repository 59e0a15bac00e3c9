"""GET /conversations/{id}/notebook: the conversation as a Jupyter notebook that nbformat
validates, with a markdown cell per message and answer and a code cell per step with its
outputs; with ?include_files=true, a zip of the notebook and the conversation's files."""

import io
import zipfile

import nbformat

from tests.service.helpers import ask_chat, new_id, script_code_turn
from tests.support.scripted_llm import Text, ToolCall

PLOT_CODE = (
    "import matplotlib.pyplot as plt\nprint('plotting')\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()"
)


def test_a_conversation_exports_as_a_valid_notebook(azure_service, llm):
    conversation = new_id()
    script_code_turn(llm, PLOT_CODE, answer="Here is the plot.")
    ask_chat(azure_service, conversation, "Plot squares")
    script_code_turn(llm, "1 / 0", answer="That divides by zero.")
    ask_chat(azure_service, conversation, "Divide one by zero")
    llm.script(ToolCall("RouteDecision", {"route": "chat"}), Text("Hello!"))
    ask_chat(azure_service, conversation, "Say hello")

    with azure_service.http() as http:
        response = http.get(f"/conversations/{conversation}/notebook")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ipynb+json")
    assert f"conversation-{conversation}.ipynb" in response.headers["content-disposition"]
    notebook = nbformat.reads(response.text, as_version=4)
    nbformat.validate(notebook)

    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds == ["markdown", "code", "markdown"] * 2 + ["markdown", "markdown"]
    texts = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert texts == [
        "**User:** Plot squares",
        "**Assistant:** Here is the plot.",
        "**User:** Divide one by zero",
        "**Assistant:** That divides by zero.",
        "**User:** Say hello",
        "**Assistant:** Hello!",
    ]
    plot, division = (cell for cell in notebook.cells if cell.cell_type == "code")
    assert plot.source == PLOT_CODE and plot.execution_count == 1
    assert plot.outputs[0] == {"output_type": "stream", "name": "stdout", "text": "plotting\n"}
    images = [o for o in plot.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1 and images[0].output_type == "display_data"
    assert images[0].data["image/png"].startswith("iVBORw0KGgo")  # base64 of a PNG
    error = division.outputs[-1]
    assert (error.output_type, error.ename) == ("error", "ZeroDivisionError")
    assert "division by zero" in error.evalue


def test_the_notebook_comes_with_the_files_when_asked(azure_service, llm):
    conversation = new_id()
    script_code_turn(llm, "open('/mnt/data/table.csv', 'w').write('a,b\\n1,2\\n')")
    ask_chat(azure_service, conversation, "Write a table")

    with azure_service.http() as http:
        response = http.get(f"/conversations/{conversation}/notebook?include_files=true")
        missing = http.get(f"/conversations/{new_id()}/notebook")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == [
            f"conversation-{conversation}.ipynb",
            "mnt/data/table.csv",
        ]
        assert archive.read("mnt/data/table.csv") == b"a,b\n1,2\n"
        nbformat.validate(nbformat.reads(archive.read(f"conversation-{conversation}.ipynb"), 4))
    assert missing.status_code == 404
