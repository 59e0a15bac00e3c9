"""File names that try to leave /mnt/data are refused; the /mnt/data/ prefix is accepted."""

import concurrent.futures
import threading
import time

import pytest

from tests.sessionpool.conftest import GEN1, GEN2, assert_neighbour_answers, new_id

TRAVERSALS = [
    "../escape.txt",
    "../../etc/passwd",
    "/etc/passwd",
    "a/../../b",
    "..",
    ".",
    "sub/dir.txt",
    "/mnt/data/../x",
    "\\..\\x",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_traversal_in_upload_names_is_rejected(client, name):
    identifier = new_id()
    response = client.http.post(
        "files",
        params={"identifier": identifier, "api-version": GEN2},
        files={"file": (name, b"evil")},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("InvalidFileName", "InvalidRequestBody")


@pytest.mark.parametrize(
    "path", ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "nul%00byte", "%2E%2E", "a%2F..%2F..%2Fb"]
)
def test_traversal_in_download_names_is_rejected(client, path):
    identifier = new_id()
    client.run("1", identifier)
    query = {"identifier": identifier}
    gen1 = client.http.get(f"files/content/{path}", params=query | {"api-version": GEN1})
    gen2 = client.http.get(f"files/{path}/content", params=query | {"api-version": GEN2})
    assert gen1.status_code in (400, 404) and gen2.status_code in (400, 404)
    assert b"root:" not in gen1.content + gen2.content


def test_the_mount_prefix_is_accepted_and_nothing_lands_outside(client):
    identifier = new_id()
    response = client.http.post(
        "files/upload",
        params={"identifier": identifier, "api-version": GEN1},
        files={"file": ("/mnt/data/in.txt", b"inside")},
    )
    assert response.json()["value"][0]["properties"]["filename"] == "in.txt"
    for path in ("files/content//mnt/data/in.txt", "files/content/%2Fmnt%2Fdata%2Fin.txt"):
        download = client.http.get(path, params={"identifier": identifier, "api-version": GEN1})
        assert download.content == b"inside"
    listing = client.value("import os\nsorted(os.listdir('/mnt/data'))", identifier)
    assert listing == "['in.txt']"


def test_a_planted_symlink_is_never_followed(client):
    identifier = new_id()
    client.run(
        "import os\nos.symlink('/etc/hostname', '/mnt/data/link')\n"
        "os.symlink('/proc/self/environ', '/mnt/data/env')\nos.mkfifo('/mnt/data/fifo')",
        identifier,
    )
    query = {"identifier": identifier, "api-version": GEN2}
    for name in ("link", "env", "fifo"):
        assert client.http.get(f"files/{name}/content", params=query).status_code == 404
    listing = client.http.get("files", params=query).json()["value"]
    assert listing == []
    upload = client.http.post("files", params=query, files={"file": ("link", b"replaced")})
    assert upload.status_code == 200
    assert client.value("import os\nos.path.islink('/mnt/data/link')", identifier) is False


def test_a_nul_byte_in_an_upload_name_is_rejected(client):
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a\x00b"\r\n'
        b"Content-Type: text/plain\r\n\r\nevil\r\n--b--\r\n"
    )
    response = client.http.post(
        "files",
        params={"identifier": new_id(), "api-version": GEN2},
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400


def test_downloads_stream_with_the_pools_memory_bounded(client, neighbour, session_pool):
    """A 64 MiB sparse file (no memory of its own) downloaded four times at once: the pool
    would hold 256 MiB if it read files whole."""
    identifier = new_id()
    client.run("open('/mnt/data/sparse.bin', 'wb').truncate(64 << 20)", identifier)
    query = {"identifier": identifier, "api-version": GEN2}
    before = _resident(session_pool.process.pid)
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(_resident(session_pool.process.pid))
            time.sleep(0.01)

    def download(_) -> int:
        with client.http.stream("GET", "files/sparse.bin/content", params=query) as response:
            assert response.headers["content-length"] == str(64 << 20)
            return sum(len(chunk) for chunk in response.iter_bytes())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as executor:
            sizes = list(executor.map(download, range(4)))
    finally:
        done.set()
        sampler.join()
    assert sizes == [64 << 20] * 4
    assert max(peak) - before < 48 << 20, (before, max(peak))
    assert_neighbour_answers(client, neighbour)


def _resident(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
