"""Every output of a cell, end to end: code that shows two figures and a DataFrame gives a step
with two images and one HTML table, in /chat/invoke, /chat/stream, the conversation's history
and the notebook, and the model reads a short text form of each, never the image data."""

import json

import httpx
import nbformat

from tests.service.helpers import agent_requests, ask_chat, config, new_id, script_code_turn

TWO_FIGURES_AND_A_TABLE = (
    "import matplotlib.pyplot as plt\n"
    "import pandas as pd\n"
    "plt.plot([1, 2, 3], [1, 4, 9])\n"
    "plt.show()\n"
    "plt.bar(['a', 'b'], [3, 5])\n"
    "plt.show()\n"
    "pd.DataFrame({'city': ['Lyon', 'Nice'], 'population': [522969, 348085]})"
)
PNG_BASE64 = "iVBORw0KGgo"


def assert_two_images_and_a_table(step: dict) -> None:
    assert step["status"] == "Success", step
    assert len(step["images"]) == 2 and all(i.startswith(PNG_BASE64) for i in step["images"])
    assert step["images"][0] != step["images"][1]
    (table,) = step["html"]
    assert "<table" in table and "Lyon" in table and "348085" in table
    assert len(step["text"]) == 3
    assert step["text"][0].startswith("<Figure") and "Lyon" in step["text"][2]
    assert "outputs" not in step  # turned into the three lists above


def stream_steps(service, conversation: str, message: str) -> list[dict]:
    """The steps of a /chat/stream turn, its chunks merged by index."""
    body = {"input": {"message": message}, "config": config(conversation)}
    steps: dict[int, dict] = {}
    with httpx.stream("POST", f"{service.url}/chat/stream", json=body, timeout=90) as response:
        for line in response.iter_lines():
            if line.startswith("data:") and line != "data: ":
                chunk = json.loads(line.removeprefix("data:"))
                for step in (chunk.get("steps") or []) if isinstance(chunk, dict) else []:
                    steps.setdefault(step["index"], {}).update(step)
    return [steps[index] for index in sorted(steps)]


def test_two_figures_and_a_table_reach_every_door(azure_service, llm):
    conversation = new_id()
    script_code_turn(llm, TWO_FIGURES_AND_A_TABLE, answer="Two plots and a table.")
    (invoked,) = ask_chat(azure_service, conversation, "plot and tabulate")["steps"]
    assert_two_images_and_a_table(invoked)

    told = agent_requests(llm)[-1]["body"]["messages"][-1]
    assert told["role"] == "tool" and PNG_BASE64 not in told["content"]
    outputs = json.loads(told["content"])["outputs"]
    assert [line.split(" shown")[0] for line in outputs] == ["image 1", "image 2", "table (HTML) 1"]
    assert "Lyon" in outputs[2]

    script_code_turn(llm, TWO_FIGURES_AND_A_TABLE, answer="Again.")
    (streamed,) = stream_steps(azure_service, conversation, "once more")
    assert_two_images_and_a_table(streamed)

    with azure_service.http() as http:
        history = http.get(f"/conversations/{conversation}").json()["messages"]
        notebook = nbformat.reads(http.get(f"/conversations/{conversation}/notebook").text, 4)
    answers = [m for m in history if m["role"] == "assistant"]
    for answer in answers:
        assert_two_images_and_a_table(answer["steps"][0])

    nbformat.validate(notebook)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    kinds = [(o.output_type, sorted(o.get("data", {}))) for o in cell.outputs]
    assert kinds[:2] == [("display_data", ["image/png", "text/plain"])] * 2
    assert kinds[2][0] == "execute_result" and "text/html" in kinds[2][1]


def test_a_failed_cell_keeps_what_it_showed_before_the_error(azure_service, llm):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n1 / 0"
    script_code_turn(llm, code, answer="It failed after the plot.")
    (step,) = ask_chat(azure_service, new_id(), "plot then fail")["steps"]
    assert step["status"] == "Failure" and "ZeroDivisionError" in step["stderr"]
    assert len(step["images"]) == 1 and step["html"] == []
