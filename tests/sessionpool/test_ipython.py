"""Sessions are IPython kernels, as Azure's are: rich outputs in order, magics, shell escapes,
pretty-printed results, plain tracebacks, and an environment of their own."""

import base64
import json

import pytest

from tests.sessionpool.conftest import GEN1, new_id
from tests.support.servers import ROOT

LATEST = "2025-10-02-preview"
SHOW_THREE = """
import matplotlib.pyplot as plt
import pandas as pd
plt.plot([1, 2, 3])
plt.show()
fig, ax = plt.subplots()
ax.bar(["a", "b"], [3, 1])
display(fig)
plt.close(fig)
display(pd.DataFrame({"city": ["Oslo", "Lima"], "rain": [763, 6]}))
"""


def outputs(client, identifier: str) -> list[dict]:
    query = {"identifier": identifier, "api-version": GEN1}
    body = client.http.get("session/outputs", params=query).json()
    return body["outputs"]


def test_two_figures_and_a_table_are_three_outputs_in_order(client):
    identifier = new_id()
    properties = client.run(SHOW_THREE, identifier)
    assert properties["status"] == "Success", properties["stderr"]
    shown = outputs(client, identifier)
    assert [o["output_type"] for o in shown] == ["display_data"] * 3
    first, second, table = (o["data"] for o in shown)
    for figure in (first, second):
        assert base64.b64decode(figure["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
        assert figure["text/plain"].startswith("<Figure size")
    assert first["image/png"] != second["image/png"]
    assert "<table" in table["text/html"] and "Oslo" in table["text/plain"]
    # Generation 1 keeps Azure's shape: the first image is the result.
    assert properties["result"]["base64_data"] == first["image/png"]


def test_the_execute_result_comes_last_with_its_mime_bundle(client):
    identifier = new_id()
    code = "from IPython.display import HTML, display\ndisplay(HTML('<b>one</b>'))\n{'x': 1}"
    client.run(code, identifier)
    shown = outputs(client, identifier)
    assert [o["output_type"] for o in shown] == ["display_data", "execute_result"]
    assert shown[0]["data"]["text/html"] == "<b>one</b>"
    assert shown[1]["data"] == {"text/plain": "{'x': 1}"} and shown[1]["execution_count"] == 1


def test_svg_and_json_bundles_are_kept(client):
    identifier = new_id()
    code = (
        "from IPython.display import SVG, JSON, display\n"
        'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>\'))\n'
        "display(JSON({'a': [1, 2]}))"
    )
    client.run(code, identifier)
    svg, data = (o["data"] for o in outputs(client, identifier))
    assert "<circle" in svg["image/svg+xml"]
    assert data["application/json"] == {"a": [1, 2]}


def test_an_error_is_an_output_and_a_plain_traceback(client):
    identifier = new_id()
    properties = client.run("x = 1\n\ndef f():\n    return 1 / 0\nf()", identifier)
    assert properties["status"] == "Failure"
    stderr = properties["stderr"]
    assert "\x1b[" not in stderr
    assert "ZeroDivisionError" in stderr and "Cell In[1], line 5" in stderr
    (error,) = outputs(client, identifier)
    assert (error["output_type"], error["ename"], error["evalue"]) == (
        "error",
        "ZeroDivisionError",
        "division by zero",
    )
    assert not any("\x1b[" in line for line in error["traceback"])


def test_magics_shell_escapes_and_get_ipython(client):
    identifier = new_id()
    timed = client.run("%timeit -n 3 -r 2 sum(range(10))", identifier)
    assert "per loop (mean ± std. dev. of 2 runs, 3 loops each)" in timed["stdout"]
    echoed = client.run("!echo from the shell\nfiles = !ls /mnt\nfiles", identifier)
    assert echoed["stdout"] == "from the shell\n"
    assert echoed["result"] == "['data']"
    shell = "from IPython.core.interactiveshell import InteractiveShell as S\n"
    assert client.value(shell + "isinstance(get_ipython(), S)", identifier) is True
    listed = client.run("%pip list", identifier)
    assert "numpy" in listed["stdout"] and "langchain" not in listed["stdout"]


def test_long_results_are_pretty_printed_as_ipython_prints_them(client):
    result = client.value("list(range(30))", new_id())
    assert result == "[" + ",\n ".join(str(i) for i in range(30)) + "]"
    short = client.value("[1, 2, 3]", new_id())
    assert short == "[1, 2, 3]"


def test_autogen_lists_packages_with_pkg_resources(client):
    """AutoGen's own call, split as AutoGen splits it: one package per line, no warning."""
    code = "import pkg_resources\n[d.project_name for d in pkg_resources.working_set]"
    properties = client.run(code, new_id())
    assert properties["status"] == "Success" and properties["stderr"] == ""
    packages = {p.strip(" '") for p in properties["result"].strip("[]").split(",\n")}
    assert {"numpy", "pandas", "matplotlib", "scikit-learn", "setuptools"} <= packages


def test_no_host_path_and_nothing_of_the_service_inside(client):
    code = f"""
import os, sys
seen = [sys.executable, sys.prefix, sys.base_prefix, *sys.path, os.getcwd(), *os.environ.values()]
seen += [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
seen += open("/proc/self/maps").read().split()
seen.append(open("/proc/self/cmdline").read())
found = [s for s in seen if {str(ROOT)!r} in s or "/root/" in s or ".pyenv" in s]
try:
    import langchain
    service = "importable"
except ImportError:
    service = "absent"
str((found, service, sys.executable, sys.prefix, os.path.exists({str(ROOT)!r})))
"""
    assert client.value(code, new_id()) == str(
        ([], "absent", "/usr/local/bin/python3", "/usr/local", False)
    )


def test_an_uploaded_module_imports(client):
    identifier = new_id()
    client.http.post(
        "files/upload",
        params={"identifier": identifier, "api-version": GEN1},
        files={"file": ("helper.py", b"def double(x):\n    return 2 * x\n")},
    )
    assert client.value("from helper import double\ndouble(21)", identifier) == 42


@pytest.mark.parametrize("cell", ["x = 5\nx", "  x = 5\n  x", ">>> x = 5\n>>> x", "\n\n\nx = 5\nx"])
def test_cells_ipython_accepts(client, cell):
    assert client.value(cell, new_id()) == 5


def test_results_in_gen2_jupyter_format_keep_the_first_image(client):
    body = client.http.post(
        "executions",
        params={"identifier": new_id(), "api-version": LATEST},
        json={"code": SHOW_THREE + "\n'done'", "returnJupyterFormatExecutionResult": True},
    ).json()
    assert body["result"]["executionResult"]["type"] == "image"
    assert json.dumps(body)  # all of it is JSON


def test_a_formatter_registered_for_a_builtin_type_is_used(client):
    identifier = new_id()
    register = "html = get_ipython().display_formatter.formatters['text/html']\n"
    client.run(register + "html.for_type(int, lambda n, *_: f'<b>{n}</b>');", identifier)
    client.run("7", identifier)
    (result,) = outputs(client, identifier)
    assert result["data"] == {"text/plain": "7", "text/html": "<b>7</b>"}
