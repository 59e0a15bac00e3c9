"""Both API generations' shapes and every error case, over raw HTTP."""

import base64
import json
import time

import httpx
import pytest

from tests.sessionpool.conftest import GEN1, GEN2, new_id

GEN2_FIRST = "2024-10-02-preview"


def params(identifier: str, version: str = GEN2) -> dict:
    return {"identifier": identifier, "api-version": version}


def test_generation_1_execute_envelope(client):
    response = client.http.post(
        "/code/execute",
        params=params(new_id(), GEN1),
        json={
            "properties": {
                "codeInputType": "Inline",
                "executionType": "Synchronous",
                "code": "print('hi')\n6*7",
            }
        },
    )
    body = response.json()
    assert response.status_code == 200
    assert body["$id"] == "1" and body["properties"]["$id"] == "2"
    properties = body["properties"]
    assert (properties["status"], properties["stdout"], properties["stderr"]) == (
        "Success",
        "hi\n",
        "",
    )
    assert properties["result"] == 42
    assert isinstance(properties["executionTimeInMilliseconds"], int)


def test_any_prefix_before_the_route(client):
    url = "/subscriptions/s/resourceGroups/g/sessionPools/p/code/execute"
    response = client.http.post(
        url, params=params(new_id(), GEN1), json={"properties": {"code": "1"}}
    )
    assert response.json()["properties"]["result"] == 1


@pytest.mark.parametrize("version", [GEN2_FIRST, GEN2, "2025-10-02-preview"])
def test_generation_2_executions(client, version):
    identifier = new_id()
    response = client.http.post(
        "executions", params=params(identifier, version), json={"code": "print(7*9)\n2"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["identifier"] == identifier
    assert (body["executionType"], body["status"]) == ("Synchronous", "Succeeded")
    assert body["result"]["stdout"] == "63\n"
    assert body["result"]["executionResult"] == 2
    assert response.headers["operation-id"] == body["id"]
    location = response.headers["Operation-Location"]
    again = client.http.get(location)
    assert again.json()["status"] == "Succeeded"


def test_generation_2_failure(client):
    response = client.http.post("executions", params=params(new_id()), json={"code": "1/0"})
    body = response.json()
    assert body["status"] == "Failed"
    assert "ZeroDivisionError" in body["result"]["stderr"]
    assert body["result"]["executionResult"] is None


def test_asynchronous_execution_is_polled(client):
    identifier = new_id()
    response = client.http.post(
        "executions",
        params=params(identifier),
        json={"code": "import time\ntime.sleep(0.3)\n5", "executionType": "Asynchronous"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "Running"
    execution = response.json()["id"]
    for _ in range(200):
        body = client.http.get(f"executions/{execution}", params=params(identifier)).json()
        if body["status"] != "Running":
            break
        time.sleep(0.05)
    assert body["status"] == "Succeeded" and body["result"]["executionResult"] == 5


def test_unknown_execution_is_404(client):
    response = client.http.get("executions/nope", params=params(new_id()))
    assert response.status_code == 404


def test_output_is_cut_visibly_within_the_limit(client):
    properties = client.run("print('x' * 10000)", new_id())
    stdout = properties["stdout"]
    assert len(stdout) <= 4096 and stdout.startswith("x" * 4000)
    assert stdout.endswith(
        f"\n[... {10001 - stdout.count('x')} more characters of stdout were cut]\n"
    )
    assert properties["streamsCut"] == {"stdout": 10001 - stdout.count("x"), "stderr": 0}
    body = client.http.post(
        "executions",
        params=params(new_id(), "2025-10-02-preview"),
        json={"code": "import os\nos.system('yes | head -c 5000')", "outputStreamsMaxLength": 10},
    ).json()
    assert body["result"]["stdout"] == "y\ny\ny\ny\ny\n"
    assert body["result"]["streamsCut"]["stdout"] == 4990


def test_generation_2_files(client):
    identifier = new_id()
    upload = client.http.post(
        "files",
        params=params(identifier) | {"path": "/mnt/data"},
        files={"file": ("a.csv", b"x,y\n", "text/csv")},
    )
    assert upload.status_code == 200
    assert upload.json()["name"] == "a.csv" and upload.json()["sizeInBytes"] == 4
    assert upload.json()["type"] == "File" and upload.json()["contentType"] == "text/csv"
    listing = client.http.get("files", params=params(identifier)).json()
    assert [f["name"] for f in listing["value"]] == ["a.csv"] and listing["nextLink"] is None
    assert client.http.get("files/a.csv", params=params(identifier)).json()["sizeInBytes"] == 4
    content = client.http.get("files/a.csv/content", params=params(identifier))
    assert content.content == b"x,y\n"
    assert client.http.delete("files/a.csv", params=params(identifier)).status_code == 204
    assert client.http.get("files/a.csv", params=params(identifier)).status_code == 404


def test_generation_1_files(client):
    identifier = new_id()
    upload = client.http.post(
        "files/upload", params=params(identifier, GEN1), files={"file": ("/mnt/data/b.txt", b"hi")}
    )
    entry = upload.json()["value"][0]
    assert upload.json()["$id"] == "1"
    assert (entry["properties"]["filename"], entry["properties"]["size"]) == ("b.txt", 2)
    listing = client.http.get("files", params=params(identifier, GEN1)).json()
    assert listing["value"][0]["properties"]["filename"] == "b.txt"
    response = client.http.get("files/content/b.txt", params=params(identifier, GEN1))
    assert response.content == b"hi" and response.headers["content-type"].startswith("text/plain")
    assert client.value("open('/mnt/data/b.txt').read()", identifier) == "hi"


def test_an_image_in_generation_2(client):
    body = client.http.post(
        "executions",
        params=params(new_id()),
        json={"code": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"},
    ).json()
    image = body["result"]["executionResult"]
    assert image["type"] == "image"
    assert base64.b64decode(image["base64_data"])[:4] == b"\x89PNG"


def test_session_management(client):
    identifier = new_id()
    assert client.http.get("session", params=params(identifier)).status_code == 404
    client.run("1", identifier)
    session = client.http.get("session", params=params(identifier)).json()
    assert session["identifier"] == identifier
    assert {"createdAt", "lastAccessedAt", "expireAt", "etag"} <= session.keys()
    listed, page = [], client.http.get("listSessions", params={"api-version": GEN2}).json()
    while True:  # pages of 100, linked by nextLink
        listed += [s["identifier"] for s in page["sessions"]]
        if page["nextLink"] is None:
            break
        page = client.http.get(page["nextLink"]).json()
    assert identifier in listed
    assert client.http.delete("session", params=params(identifier)).status_code == 204
    assert client.http.get("session", params=params(identifier)).status_code == 404


def test_metadata_lists_runtime_and_packages(client):
    body = client.http.get("metadata", params={"api-version": GEN2}).json()
    assert body["runtimes"][0]["name"] == "python"
    names = {p["name"] for p in body["preInstalledPackages"]}
    assert {"numpy", "pandas", "matplotlib", "scikit-learn", "ipython", "setuptools"} <= names


def test_health_reports_isolation_and_counts(session_pool):
    body = httpx.get(f"{session_pool.endpoint}/healthz").json()
    assert body["isolation"] == "namespaces"
    assert body["sessions"].keys() == {"live", "busy", "ready", "starting", "waiting"}


def test_every_answer_names_the_pool_process(session_pool, client):
    """The instance extension: one name per pool process, on answers, errors and health alike
    (a client compares it between calls to tell a restarted pool)."""
    answers = [
        client.http.post("code/execute", params=params(new_id()), json={"properties": {}}),
        client.http.get("session", params=params(new_id())),
        httpx.get(f"{session_pool.endpoint}/healthz"),
        httpx.get(f"{session_pool.endpoint}/session"),  # no key: 401
    ]
    names = {answer.headers.get("x-session-pool-instance") for answer in answers}
    assert len(names) == 1 and None not in names and len(names.pop()) == 16


def test_interrupt_extension_keeps_state(client):
    identifier = new_id()
    client.run("kept = 11", identifier)
    import threading

    results = {}
    thread = threading.Thread(
        target=lambda: results.update(client.run("while True: pass", identifier, timeout=60))
    )
    thread.start()
    interrupted = False
    for _ in range(400):
        answer = client.http.post("session/interrupt", params=params(identifier, GEN1)).json()
        if answer["interrupted"]:
            interrupted = True
            break
        time.sleep(0.05)
    thread.join(60)
    assert interrupted
    assert results["status"] == "Failure" and "KeyboardInterrupt" in results["stderr"]
    assert results["stderr"].endswith(
        "[session pool] Interrupted on request; the session's variables are kept.\n"
    )
    assert client.value("kept", identifier) == 11
    idle = client.http.post("session/interrupt", params=params(identifier, GEN2)).json()
    assert idle == {"interrupted": False}


# --- errors -----------------------------------------------------------------------------


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    code = response.json()["error"]["code"]
    assert response.headers["x-ms-error-code"] == code
    assert response.json()["error"]["message"]
    return code


def test_missing_key_is_401_and_wrong_key_403(session_pool):
    url = f"{session_pool.endpoint}/code/execute"
    body = {"properties": {"code": "1"}}
    response = httpx.post(url, params=params(new_id(), GEN1), json=body)
    error_of(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    wrong = httpx.post(
        url, params=params(new_id(), GEN1), json=body, headers={"Authorization": "Bearer wrong"}
    )
    error_of(wrong, 403)
    basic = httpx.post(
        url,
        params=params(new_id(), GEN1),
        json=body,
        headers={"Authorization": f"Basic {session_pool.api_key}"},
    )
    error_of(basic, 401)


@pytest.mark.parametrize("version", [None, "2023-01-01", "latest"])
def test_unknown_api_version_names_the_supported_ones(client, version):
    query = {"identifier": new_id()} | ({"api-version": version} if version else {})
    response = client.http.post("/code/execute", params=query, json={"properties": {"code": "1"}})
    error_of(response, 400)
    assert GEN1 in response.json()["error"]["message"]


@pytest.mark.parametrize("identifier", [None, "abc", "x" * 129, "has space", "tab\tbed", "é" * 5])
def test_bad_identifier_is_400(client, identifier):
    query = {"api-version": GEN1} | ({"identifier": identifier} if identifier else {})
    response = client.http.post("/code/execute", params=query, json={"properties": {"code": "1"}})
    error_of(response, 400)


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1, 2]", b'{"properties": {}}', b'{"properties": {"code": 5}}']
)
def test_malformed_body_or_missing_code_is_400(client, content):
    response = client.http.post(
        "/code/execute",
        params=params(new_id(), GEN1),
        content=content,
        headers={"Content-Type": "application/json"},
    )
    error_of(response, 400)


def test_bad_enum_or_timeout_is_400(client):
    for body in ({"code": "1", "codeInputType": "url"}, {"code": "1", "timeoutInSeconds": -1}):
        response = client.http.post("executions", params=params(new_id()), json=body)
        error_of(response, 400)


def test_unknown_file_is_404(client):
    identifier = new_id()
    client.run("1", identifier)
    error_of(client.http.get("files/content/none.txt", params=params(identifier, GEN1)), 404)
    error_of(client.http.get("files/none.txt/content", params=params(identifier)), 404)
    error_of(client.http.delete("files/none.txt", params=params(identifier)), 404)


def test_route_of_the_other_generation_is_404(client):
    response = client.http.post("/code/execute", params=params(new_id(), GEN2), json={"code": "1"})
    assert GEN1 in response.json()["error"]["message"]
    error_of(response, 404)


def test_upload_without_a_file_is_400(client):
    response = client.http.post(
        "files", params=params(new_id()), data={"x": "1"}, files={"other": ("a", b"1")}
    )
    error_of(response, 400)
    subfolder = client.http.post(
        "files", params=params(new_id()) | {"path": "/etc"}, files={"file": ("a", b"1")}
    )
    error_of(subfolder, 400)


def test_odd_code_is_a_failure_not_a_server_error(client):
    for code in ('"\\ud800"', "\x00", "def f(:\n", "\ufeff1"):
        response = client.http.post(
            "/code/execute",
            params=params(new_id(), GEN1),
            content=('{"properties": {"code": ' + json.dumps(code) + "}}").encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
    lone = b'{"properties": {"code": "x = \\"\\ud800\\""}}'
    response = client.http.post(
        "/code/execute",
        params=params(new_id(), GEN1),
        content=lone,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
