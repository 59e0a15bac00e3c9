"""A step's Jupyter outputs as clients, the model and the notebook see them."""

import json

import nbformat

from conversations.notebook import build_notebook
from conversations.outputs import client_step, model_outputs
from conversations.transcript import tool_content
from tools.pool_client import _agrees

FIGURE = {"image/png": "iVBORfigure1", "text/plain": "<Figure size 640x480 with 1 Axes>"}
TABLE = {"text/html": "<table><tr><td>Lyon</td></tr></table>", "text/plain": "  city\n0 Lyon"}
STEP = {
    "status": "Success",
    "result": "  city\n0 Lyon",
    "stdout": "hi\n",
    "stderr": "",
    "outputs": [
        {"output_type": "display_data", "data": FIGURE, "metadata": {}},
        {"output_type": "display_data", "data": {**FIGURE, "image/png": "iVBORfigure2"}},
        {"output_type": "execute_result", "data": TABLE, "metadata": {}, "execution_count": 3},
    ],
}


def test_clients_get_every_image_and_table_in_order_with_their_text():
    step = client_step(STEP)
    assert step["images"] == ["iVBORfigure1", "iVBORfigure2"]
    assert step["html"] == [TABLE["text/html"]]
    assert step["text"] == [FIGURE["text/plain"], FIGURE["text/plain"], TABLE["text/plain"]]
    assert "outputs" not in step and step["stdout"] == "hi\n"


def test_a_step_kept_before_outputs_is_shown_as_it_was():
    old = {"status": "Success", "result": 4, "images": ["iVBORold"]}
    assert client_step(old) == old
    assert model_outputs(old) == ["image 1 shown to the user"]


def test_the_model_reads_a_short_text_of_each_never_the_data():
    long_table = {"output_type": "display_data", "data": {**TABLE, "text/plain": "x" * 1000}}
    content = json.loads(tool_content({**STEP, "outputs": [*STEP["outputs"], long_table]}, 8000))
    assert content["outputs"][:3] == [
        "image 1 shown to the user; as text: <Figure size 640x480 with 1 Axes>",
        "image 2 shown to the user; as text: <Figure size 640x480 with 1 Axes>",
        "table (HTML) 1 shown to the user; as text:   city\n0 Lyon",
    ]
    assert content["outputs"][3].endswith("x [...]") and len(content["outputs"][3]) < 500
    assert "iVBOR" not in json.dumps(content) and "<table>" not in json.dumps(content)


def test_the_notebook_holds_the_outputs_in_order_and_validates():
    failed = {"status": "Failure", "result": "", "stderr": "Traceback...\nKeyError: 'x'"}
    page = [
        {"role": "user", "content": "plot", "steps": []},
        {"role": "assistant", "content": "done", "steps": [{"code": "plot()", **STEP}]},
        {"role": "user", "content": "and x?", "steps": []},
        {"role": "assistant", "content": "", "steps": [{"code": "x", **failed}]},
    ]
    notebook = build_notebook("plots", page)
    nbformat.validate(notebook)
    kinds = [c.cell_type for c in notebook.cells]
    assert kinds == ["markdown", "code", "markdown", "markdown", "code"]
    plot, failure = (c for c in notebook.cells if c.cell_type == "code")
    assert [o.output_type for o in plot.outputs] == [
        "stream",
        "display_data",
        "display_data",
        "execute_result",
    ]
    assert plot.outputs[3].execution_count == plot.execution_count == 1
    (error,) = failure.outputs
    assert (error.output_type, error.ename, error.evalue) == ("error", "KeyError", "'x'")


def test_outputs_of_another_call_are_not_taken_for_this_one():
    answer = {"status": "Success", "result": {"type": "image", "base64_data": "iVBORfigure1"}}
    assert _agrees(STEP["outputs"], answer)
    assert not _agrees(STEP["outputs"], {"status": "Success", "result": 42})
    error = [{"output_type": "error", "ename": "E", "evalue": "", "traceback": []}]
    assert not _agrees(error, {"status": "Success", "result": ""})
    assert _agrees(error, {"status": "Failure", "result": ""})
