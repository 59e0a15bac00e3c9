"""Nothing a session's code or a client does makes the pool answer 500: odd file names, folders
where files were, full folders, deep JSON, unprintable text; and listings stay right when many
are asked at once."""

import concurrent.futures
import textwrap
from urllib.parse import quote

from tests.sessionpool.conftest import (
    FILL_WITH_FILES,
    GEN1,
    GEN2,
    assert_neighbour_answers,
    new_id,
)


def query(identifier: str, version: str = GEN2) -> dict:
    return {"identifier": identifier, "api-version": version}


def test_a_name_that_is_not_utf8_is_listed_downloaded_and_deleted(client, neighbour):
    identifier = new_id()
    client.run("open(b'/mnt/data/caf\\xe9 \\xff.txt', 'wb').write(b'latin-1 name')", identifier)
    gen1 = client.http.get("files", params=query(identifier, GEN1))
    gen2 = client.http.get("files", params=query(identifier))
    assert gen1.status_code == gen2.status_code == 200
    shown = "caf%E9 %FF.txt"
    assert [f["properties"]["filename"] for f in gen1.json()["value"]] == [shown]
    assert [f["name"] for f in gen2.json()["value"]] == [shown]
    path = quote(shown, safe="")
    assert client.http.get(f"files/content/{path}", params=query(identifier, GEN1)).content == (
        b"latin-1 name"
    )
    raw = "caf%E9%20%FF.txt"  # the bytes themselves, percent-encoded in the URL, work too
    assert client.http.get(f"files/{raw}/content", params=query(identifier)).status_code == 200
    assert client.http.get(f"files/{path}", params=query(identifier)).json()["name"] == shown
    assert client.http.delete(f"files/{path}", params=query(identifier)).status_code == 204
    assert client.http.get("files", params=query(identifier)).json()["value"] == []
    assert_neighbour_answers(client, neighbour)


def test_names_no_file_can_have_are_refused_or_missing(client):
    identifier = new_id()
    client.run("1", identifier)
    for path in ("%ED%A0%80", "%F0%28%8C%BC", "a%FFb"):
        response = client.http.get(f"files/{path}/content", params=query(identifier))
        assert response.status_code in (400, 404), response.text
        assert response.json()["error"]["code"] in ("InvalidFileName", "FileNotFound")


def test_upload_onto_a_folder_the_code_made_is_a_conflict(client, neighbour):
    identifier = new_id()
    client.run("import os\nos.mkdir('/mnt/data/taken')\nos.mkdir('/mnt/data/taken/x')", identifier)
    response = client.http.post(
        "files", params=query(identifier), files={"file": ("taken", b"data")}
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "FileNameInUse"
    assert response.headers["x-ms-error-code"] == "FileNameInUse"
    assert client.http.delete("files/taken", params=query(identifier)).status_code == 404
    assert client.value("import os\nos.path.isdir('/mnt/data/taken/x')", identifier) is True
    assert_neighbour_answers(client, neighbour)


def test_upload_when_the_folder_has_no_inodes_left(small_pool):
    identifier = new_id()
    _, error = eval(small_pool.value(FILL_WITH_FILES + "fill('/mnt/data')", identifier))
    assert error == "ENOSPC"
    response = small_pool.http.post(
        "files", params=query(identifier), files={"file": ("one-more", b"x")}
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "SessionDiskFull"
    assert small_pool.value("1 + 1", identifier) == 2
    small_pool.http.delete("session", params=query(identifier))


def test_a_deeply_nested_body_is_a_400(client):
    body = b'{"properties": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.http.post(
        "code/execute",
        params=query(new_id(), GEN1),
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequestBody"


def test_text_utf8_cannot_carry_is_replaced_not_a_500(client, neighbour):
    code = textwrap.dedent(
        """
        import sys
        print("lone \\ud800 surrogate")
        sys.stderr.write("and \\udfff here\\n")
        class Odd:
            def __repr__(self):
                return "odd \\udc80 value"
        Odd()
        """
    )
    for version, path in ((GEN1, "code/execute"), (GEN2, "executions")):
        body = {"code": code} if version == GEN2 else {"properties": {"code": code}}
        response = client.http.post(path, params=query(new_id(), version), json=body)
        assert response.status_code in (200, 202), response.text
        assert "lone ? surrogate" in response.text and "odd ? value" in response.text
    assert_neighbour_answers(client, neighbour)


def test_concurrent_listings_are_each_complete(client, neighbour):
    identifier = new_id()
    client.run("for n in range(2000):\n    open(f'/mnt/data/f{n:04}', 'w').close()", identifier)
    expected = [f"f{n:04}" for n in range(2000)]

    def listing(_) -> list[str]:
        response = client.http.get("files", params=query(identifier))
        return [f["name"] for f in response.json()["value"]]

    with concurrent.futures.ThreadPoolExecutor(24) as executor:
        listings = list(executor.map(listing, range(24)))
    assert all(names == expected for names in listings)
    assert_neighbour_answers(client, neighbour)
