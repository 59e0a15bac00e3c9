"""The pool against Azure's REST specification, route by route and api-version by api-version.

Every table row names the file it comes from in Azure/azure-rest-api-specs, under
specification/app/data-plane/DynamicSessions/ (SPEC below).
"""

import base64
import importlib.metadata
import time

import pytest

from sessionpool import runtime
from tests.sessionpool.conftest import GEN1, new_id

SPEC = "specification/app/data-plane/DynamicSessions/"
GEN1_VERSIONS = ["2024-02-02-preview", "2024-08-02-preview"]
GEN2_VERSIONS = ["2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview"]
LATEST = "2025-10-02-preview"
EXAMPLES = SPEC + "examples/2025-10-02-preview/"
CODE_MODEL = SPEC + "models/code-execution.tsp"

# (code, executionResult by default, with returnJupyterFormatExecutionResult, source)
RESULTS = [
    ("a = float('nan');a", None, "nan", EXAMPLES + "CodeExecution_Execute_Result_NaN*.json"),
    ('a = "nan";a', "nan", "'nan'", EXAMPLES + "CodeExecution_Execute_Result_StringNaN*.json"),
    ("a = None;a", "", None, EXAMPLES + "CodeExecution_Execute_Result_None*.json"),
    # "the type of actual result ... after being Json serialized"; Jupyter format: "primitive
    # Python results (bool, int, float, string, None) as JSON strings or null"
    ("True", True, "True", CODE_MODEL),
    ("6 * 7", 42, "42", CODE_MODEL),
    ("1.5 * 2", 3.0, "3.0", CODE_MODEL),
    ("x = 1", "", None, CODE_MODEL),
    ("1 + 1;", "", None, CODE_MODEL),
    # Anything else is not JSON-serialisable as such: IPython's text/plain, in both formats.
    ("{'a': [1, 2]}", "{'a': [1, 2]}", "{'a': [1, 2]}", CODE_MODEL),
    ("import numpy as np\nnp.int64(5)", 5, "np.int64(5)", CODE_MODEL),
    ("import pandas as pd\npd.DataFrame({'a': [1]})", "   a\n0  1", "   a\n0  1", CODE_MODEL),
    ("import asyncio\nawait asyncio.sleep(0)\n3", 3, "3", CODE_MODEL),
]


def params(identifier: str, version: str) -> dict:
    return {"identifier": identifier, "api-version": version}


def execute(client, version: str, code: str, **fields) -> tuple[int, dict, dict]:
    """POST the code in the shape of `version`; (status, headers, body)."""
    body = {"code": code, **fields}
    if version in GEN1_VERSIONS:
        response = client.http.post(
            "code/execute", params=params(new_id(), version), json={"properties": body}
        )
    else:
        response = client.http.post("executions", params=params(new_id(), version), json=body)
    return response.status_code, response.headers, response.json()


def result_of(version: str, body: dict) -> object:
    return (
        body["properties"]["result"]
        if version in GEN1_VERSIONS
        else body["result"]["executionResult"]
    )


@pytest.mark.parametrize("version", GEN1_VERSIONS + GEN2_VERSIONS)
@pytest.mark.parametrize(("code", "default", "jupyter", "source"), RESULTS)
def test_results_by_default(client, version, code, default, jupyter, source):
    status, _, body = execute(client, version, code)
    assert status == 200, body
    assert result_of(version, body) == default, source


@pytest.mark.parametrize(("code", "default", "jupyter", "source"), RESULTS)
def test_results_in_jupyter_format(client, code, default, jupyter, source):
    _, _, body = execute(client, LATEST, code, returnJupyterFormatExecutionResult=True)
    assert body["result"]["executionResult"] == jupyter, source
    # Added in 2025-10-02-preview: earlier versions keep the default.
    _, _, older = execute(
        client, "2025-02-02-preview", code, returnJupyterFormatExecutionResult=True
    )
    assert older["result"]["executionResult"] == default, source


# SPEC + "preview/<version>/DynamicSessions.json": CodeExecution_Execute answers "200" (every
# revision of 2025-10-02-preview; the latest of the two before it), also while it runs.
@pytest.mark.parametrize("version", GEN2_VERSIONS)
@pytest.mark.parametrize("execution_type", ["Synchronous", "Asynchronous"])
def test_executions_answer_200(client, version, execution_type):
    status, _, body = execute(client, version, "6 * 7", executionType=execution_type)
    assert status == 200
    assert body["executionType"] == execution_type
    assert body["status"] == ("Succeeded" if execution_type == "Synchronous" else "Running")


# SPEC + "models/common.tsp" (ExecutionOperationIdHeader, "The id of this execution operation")
# and EXAMPLES + "CodeExecution_Execute_Async_Running.json" (operation-id in, id out).
@pytest.mark.parametrize("version", GEN2_VERSIONS)
def test_operation_id_names_the_execution(client, version):
    identifier, operation = new_id(), f"op-{new_id()}"
    response = client.http.post(
        "executions",
        params=params(identifier, version),
        json={"code": "import time\ntime.sleep(0.2)\n7", "executionType": "Asynchronous"},
        headers={"operation-id": operation},
    )
    assert response.json()["id"] == operation
    assert response.headers["operation-id"] == operation
    assert f"/executions/{operation}?" in response.headers["Operation-Location"]
    for _ in range(100):
        polled = client.http.get(f"executions/{operation}", params=params(identifier, version))
        if polled.json()["status"] != "Running":
            break
        time.sleep(0.05)
    assert (polled.json()["status"], polled.json()["result"]["executionResult"]) == ("Succeeded", 7)


# SPEC + "preview/2025-10-02-preview/DynamicSessions.json": CodeInputType Inline, InlineBase64,
# InlineText ("The string of the code to execute, based on CodeInputType").
@pytest.mark.parametrize(
    ("input_type", "code"),
    [
        ("Inline", "6 * 7"),
        ("inline", "6 * 7"),
        ("InlineText", "6 * 7"),
        ("InlineBase64", base64.b64encode(b"6 * 7").decode()),
    ],
)
@pytest.mark.parametrize("version", GEN1_VERSIONS[:1] + GEN2_VERSIONS)
def test_code_input_types(client, version, input_type, code):
    status, _, body = execute(client, version, code, codeInputType=input_type)
    assert status == 200 and result_of(version, body) == 42


def test_base64_that_is_not_is_a_400(client):
    status, _, body = execute(client, LATEST, "6 * 7 !", codeInputType="InlineBase64")
    assert status == 400 and body["error"]["code"] == "InvalidCode"


# CODE_MODEL: outputStreamsMaxLength "The maximum length of the output streams. Default value
# is 4096." (added in 2025-10-02-preview): the length of each stream as returned.
@pytest.mark.parametrize("limit", [0, 10, 60, 200, 4096])
def test_output_streams_max_length_bounds_what_is_returned(client, limit):
    code = "import sys\nprint('o' * 9000)\nsys.stderr.write('e' * 9000)"
    _, _, body = execute(client, LATEST, code, outputStreamsMaxLength=limit)
    result = body["result"]
    assert len(result["stdout"]) <= limit and len(result["stderr"]) <= limit
    shown_out, shown_err = (result[name].split("[... ")[0] for name in ("stdout", "stderr"))
    assert result["streamsCut"]["stdout"] == 9001 - shown_out.count("o")
    assert result["streamsCut"]["stderr"] == 9000 - shown_err.count("e")
    if limit >= 60:
        assert result["stdout"].endswith(" more characters of stdout were cut]\n")


def test_streams_within_their_limit_are_whole(client):
    _, _, body = execute(client, LATEST, "print('hi')", outputStreamsMaxLength=3)
    assert body["result"]["stdout"] == "hi\n" and "streamsCut" not in body["result"]


# CODE_MODEL: useEmptyKernel "Whether to use empty kernel for this execution" (2025-10-02).
def test_an_empty_kernel_has_nothing_preloaded(client):
    identifier = new_id()
    query = params(identifier, LATEST)
    client.http.post("executions", params=query, json={"code": "x = 1\nopen('kept', 'w')"})
    probe = "import sys\nstr(('numpy' in sys.modules, 'x' in globals(), open('kept').name))"
    body = client.http.post("executions", params=query, json={"code": probe}).json()
    assert body["result"]["executionResult"] == "(True, True, 'kept')"
    empty = {"code": "y = 2\n" + probe, "useEmptyKernel": True}
    body = client.http.post("executions", params=query, json=empty).json()
    assert body["result"]["executionResult"] == "(False, False, 'kept')"
    # The session keeps that kernel; numpy still imports there.
    after = {"code": "import numpy\n'y' in globals()"}
    assert (
        client.http.post("executions", params=query, json=after).json()["result"]["executionResult"]
        is True
    )


# SPEC + "models/common.tsp" (SessionResourceFilePathQueryParameter, recursive: 2025-10-02),
# EXAMPLES + "SessionResourceFiles_Upload.json" (path "test-directory"),
# SPEC + "preview/2025-10-02-preview/examples/SessionResourceFiles_List_Recursive.json" and
# SPEC + "models/code-execution-file.tsp" (`directory`, added in 2025-10-02-preview).
def test_files_in_folders(client):
    identifier = new_id()
    query = params(identifier, LATEST)
    upload = client.http.post(
        "files",
        params=query | {"path": "/mnt/data/reports/2024"},
        files={"file": ("q1.csv", b"a,b\n", "text/csv")},
    )
    assert upload.status_code == 200 and upload.json()["name"] == "q1.csv"
    client.http.post("files", params=query | {"path": "reports"}, files={"file": ("top.txt", b"t")})
    read = "open('/mnt/data/reports/2024/q1.csv').read()"
    assert client.value(read, identifier) == "a,b\n"

    flat = client.http.get("files", params=query | {"path": "reports"}).json()["value"]
    assert [(f["name"], f["type"], f["directory"]) for f in flat] == [
        ("2024", "directory", ""),
        ("top.txt", "File", ""),
    ]
    deep = client.http.get("files", params=query | {"recursive": "true"}).json()["value"]
    assert [(f["directory"], f["name"], f["type"]) for f in deep] == [
        ("", "reports", "directory"),
        ("reports", "2024", "directory"),
        ("reports", "top.txt", "File"),
        ("reports/2024", "q1.csv", "File"),
    ]
    older = client.http.get("files", params=params(identifier, "2025-02-02-preview")).json()
    assert older["value"] == []  # folders and `directory` only from 2025-10-02-preview

    in_folder = query | {"path": "reports/2024"}
    assert client.http.get("files/q1.csv", params=in_folder).json()["sizeInBytes"] == 4
    assert client.http.get("files/q1.csv/content", params=in_folder).content == b"a,b\n"
    nested = client.http.get("files/reports/2024/q1.csv/content", params=query)
    assert nested.content == b"a,b\n"
    gen1 = client.http.get("files/content/reports/2024/q1.csv", params=params(identifier, GEN1))
    assert gen1.content == b"a,b\n"
    assert client.http.delete("files/q1.csv", params=in_folder).status_code == 204
    assert client.http.get("files/q1.csv", params=in_folder).status_code == 404


@pytest.mark.parametrize("path", ["../etc", "/mnt/data/../..", "a/../../b", "x\\y"])
def test_folders_stay_below_mnt_data(client, path):
    response = client.http.post(
        "files", params=params(new_id(), LATEST) | {"path": path}, files={"file": ("a", b"1")}
    )
    assert response.status_code == 400


def test_a_symlinked_folder_is_not_followed(client):
    identifier = new_id()
    client.run("import os\nos.symlink('/etc', '/mnt/data/etc')", identifier)
    query = params(identifier, LATEST) | {"path": "etc"}
    assert client.http.get("files/passwd/content", params=query).status_code == 404
    assert client.http.get("files", params=query).status_code == 404


# SPEC + "preview/2025-10-02-preview/DynamicSessions.json": SessionPoolMetadataResponse requires
# runtimes, preInstalledPackages, createdAt, lastUpdatedAt and jupyterKernel (name, version,
# projectUrl, description); EXAMPLES + "SessionPoolMetadata_Get.json".
@pytest.mark.parametrize("version", ["2025-02-02-preview", LATEST])
def test_metadata_describes_the_sessions_environment(client, version):
    body = client.http.get("metadata", params={"api-version": version}).json()
    assert {"runtimes", "preInstalledPackages", "createdAt", "lastUpdatedAt", "jupyterKernel"} <= (
        body.keys()
    )
    assert body["runtimes"] == [{"name": "python", "version": body["runtimes"][0]["version"]}]
    assert body["runtimes"][0]["version"].startswith("3.11.")
    kernel = body["jupyterKernel"]
    assert {"name", "version", "projectUrl", "description"} <= kernel.keys()
    site = runtime.site_packages(runtime.environment())
    expected = {
        d.metadata["Name"].lower() for d in importlib.metadata.distributions(path=[str(site)])
    }
    listed = {p["name"] for p in body["preInstalledPackages"]}
    assert listed == expected
    assert {"numpy", "pandas", "scipy", "ipython", "setuptools"} <= listed
    assert not listed & {"langchain", "langchain-core", "openai", "pytest", "fastapi", "uvicorn"}


# SPEC + "preview/2025-10-02-preview/examples/SessionPoolManagement_StopSession.json".
def test_stop_session(client):
    identifier = new_id()
    client.run("1", identifier)
    query = params(identifier, LATEST)
    response = client.http.post(".management/stopSession", params=query)
    assert response.status_code == 200
    assert response.json() == f"Session {identifier} in session pool local stopped."
    assert client.http.get("session", params=query).status_code == 404
    assert client.http.post(".management/stopSession", params=query).status_code == 404
    older = client.http.post(".management/stopSession", params=params(identifier, GEN2_VERSIONS[1]))
    assert older.status_code == 404 and LATEST in older.json()["error"]["message"]


# SPEC + "routes.tsp": ListSessions takes `skip`, "The offset for pagination purpose".
def test_list_sessions_skips(client):
    for _ in range(3):
        client.run("1", new_id())
    first = client.http.get("listSessions", params={"api-version": LATEST}).json()["sessions"]
    skipped = client.http.get("listSessions", params={"api-version": LATEST, "skip": 2}).json()
    assert first[2:] == skipped["sessions"][: len(first) - 2]
    assert len(first) >= 3
    bad = client.http.get("listSessions", params={"api-version": LATEST, "skip": "-1"})
    assert bad.status_code == 400


# SPEC + "models/common.tsp": SessionIdentifier pattern, 4 to 128 of letters, digits and
# _|}{[]:";'<>?/.,@#$%^&*()-+=!~` (no space, no backslash).
@pytest.mark.parametrize(
    ("identifier", "status"),
    [
        ("a|b{c}[d]:\"e\";'f'<g>?h/i.j,k@l#m$n%o^p&q*r(s)t_u-v+w=x!y~z`", 200),
        ("back\\slash", 400),
        ("with space", 400),
        ("abc", 400),
        ("x" * 129, 400),
    ],
)
def test_identifiers_follow_the_spec_pattern(client, identifier, status):
    response = client.http.post(
        "code/execute", params=params(identifier, GEN1), json={"properties": {"code": "1"}}
    )
    assert response.status_code == status


# SPEC + "preview/2025-10-02-preview/DynamicSessions.json": shellCommand and
# execCommandAndArgs are "Only available for a `Shell` typed session pool".
@pytest.mark.parametrize("field", [{"shellCommand": "ls"}, {"execCommandAndArgs": ["ls"]}])
def test_shell_commands_are_refused(client, field):
    response = client.http.post("executions", params=params(new_id(), LATEST), json=field)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ShellNotSupported"


# No spec, no Azure documentation and no maintained client of Azure's own answers the legacy
# `python/execute` (only @llamaindex/azure posts there): a 404 that names the routes.
def test_legacy_python_execute_is_a_404_naming_the_routes(client):
    response = client.http.post(
        "python/execute",
        params=params(new_id(), GEN1),
        json={"properties": {"pythonCode": "1"}},
    )
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "POST code/execute" in message and "GET files/content/{name}" in message
