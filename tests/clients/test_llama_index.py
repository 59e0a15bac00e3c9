"""LlamaIndex's AzureCodeInterpreterToolSpec against the local pool."""

import pytest
from llama_index.tools.azure_code_interpreter import AzureCodeInterpreterToolSpec

PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.show()"


@pytest.fixture
def spec(pool, tmp_path):
    spec = AzureCodeInterpreterToolSpec(
        pool_management_endpoint=pool.endpoint, local_save_path=str(tmp_path)
    )
    spec.access_token_provider = lambda: pool.key
    return spec


def test_code_runs_with_state(spec):
    spec.code_interpreter("x = 6")
    properties = spec.code_interpreter("print('hi')\nx * 7")["properties"]
    assert (properties["status"], properties["result"], properties["stdout"]) == (
        "Success",
        42,
        "hi\n",
    )


def test_a_figure_is_saved_locally_and_kept_out_of_the_answer(spec, tmp_path):
    result = spec.code_interpreter(PLOT)["properties"]["result"]
    assert (result["type"], result["saved_to_local_path"]) == ("image", True)
    [png] = tmp_path.glob("*.png")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_upload_list_and_download(spec, tmp_path):
    local = tmp_path / "data.csv"
    local.write_text("a\n1\n2\n")
    [uploaded] = spec.upload_file(local_file_path=str(local))
    assert (uploaded.filename, uploaded.size_in_bytes) == ("data.csv", 6)
    result = spec.code_interpreter(
        "import pandas as pd\npd.read_csv('/mnt/data/data.csv')['a'].sum()"
    )
    assert result["properties"]["result"] == 3
    assert [f.filename for f in spec.list_files()] == ["data.csv"]
    assert spec.download_file_to_local("/mnt/data/data.csv").read() == b"a\n1\n2\n"


def test_the_tools_an_agent_gets(spec):
    names = {tool.metadata.name for tool in spec.to_tool_list()}
    assert names == {"code_interpreter", "list_files"}
