"""The official LangChain tool against the local pool, unchanged."""

import base64
import io
import json
import time

import pytest
from langchain_azure_dynamic_sessions import SessionsPythonREPLTool


@pytest.fixture
def tool(session_pool):
    return SessionsPythonREPLTool(
        pool_management_endpoint=session_pool.endpoint,
        access_token_provider=lambda: session_pool.api_key,
    )


def test_state_persists_between_calls(tool):
    assert tool.execute("x = 20\ndef double(v):\n    return 2 * v")["result"] == ""
    response = tool.execute("print('hi')\ndouble(x) + 2")
    assert response["status"] == "Success"
    assert response["result"] == 42
    assert response["stdout"] == "hi\n"
    assert response["stderr"] == ""


def test_run_reports_result_stdout_and_stderr(tool):
    content, artifact = tool._run(
        "import sys\nprint('out'); print('err', file=sys.stderr)\n{'a': 1}"
    )
    assert json.loads(content) == {"result": "{'a': 1}", "stdout": "out\n", "stderr": "err\n"}
    assert artifact["status"] == "Success"


def test_an_exception_is_a_failure_with_a_traceback(tool):
    response = tool.execute("def f():\n    raise ValueError('boom')\nf()")
    assert response["status"] == "Failure"
    assert "ValueError: boom" in response["stderr"]
    assert "Cell In[1], line 3" in response["stderr"]
    assert "\x1b[" not in response["stderr"]
    assert response["result"] == ""


def test_upload_list_and_download_a_file(tool):
    metadata = tool.upload_file(data=io.BytesIO(b"a,b\n1,2\n"), remote_file_path="data.csv")
    assert (metadata.filename, metadata.size_in_bytes) == ("data.csv", 8)
    assert [(f.filename, f.size_in_bytes) for f in tool.list_files()] == [("data.csv", 8)]
    response = tool.execute("import pandas as pd\npd.read_csv('/mnt/data/data.csv')['b'].sum()")
    assert response["result"] == 2
    tool.execute("open('out.txt', 'w').write('made in the session')")
    assert tool.download_file(remote_file_path="out.txt").read() == b"made in the session"
    assert tool.download_file(remote_file_path="/mnt/data/out.txt").read() == b"made in the session"


def test_a_matplotlib_figure_is_an_image_result(tool):
    content, artifact = tool._run(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()"
    )
    image = artifact["result"]
    assert image["type"] == "image" and image["format"] == "png"
    assert base64.b64decode(image["base64_data"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "base64_data" not in json.loads(content)["result"]


def test_a_figure_left_open_is_an_image_result(tool):
    response = tool.execute(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar([1], [2]);"
    )
    assert response["result"]["type"] == "image"


def test_delete_session_gives_a_fresh_state(tool):
    tool.execute("secret = 7")
    old = tool.session_id
    tool.delete_session()
    assert tool.session_id != old
    response = tool.execute("'secret' in globals()")
    assert response["result"] is False


def test_delete_session_frees_the_old_session(tool, session_pool):
    import httpx

    tool.execute("1")
    old = tool.session_id
    tool.delete_session()
    headers = {"Authorization": f"Bearer {session_pool.api_key}"}
    url = f"{session_pool.endpoint}/session"
    params = {"identifier": old, "api-version": "2025-02-02-preview"}
    for _ in range(100):
        if httpx.get(url, params=params, headers=headers).status_code == 404:
            return
        time.sleep(0.05)
    pytest.fail("the deleted session still exists")
