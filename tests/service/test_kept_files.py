"""A conversation's files outlive its code session: uploads and files the code wrote are kept
by the service (DATA_DIR or Blob Storage on a real Azurite), listed and downloadable byte for
byte after the session expired or the pool restarted, restored before the next turn's code
runs, bounded by the quota, and removed with the conversation."""

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import ContainerClient

from conversations.ids import session_identifier
from security.auth import ANONYMOUS
from tests.service.conftest import Service, azure_env, run_service
from tests.service.helpers import agent_requests, ask_chat, new_id, pool_pid, script_code_turn
from tests.support.azurite import running_azurite
from tests.support.managed_identity import ManagedIdentityEndpoint

COOLDOWN_SECONDS = 3
QUOTA_BYTES = 1_000_000
CONTAINER = "conversation-files"
UPLOADED = bytes(range(256)) * 40  # 10 KiB, every byte value
WRITTEN = b"\x00written by code\xff" * 500
WRITE_CODE = (
    "open('/mnt/data/out.bin', 'wb').write(b'\\x00written by code\\xff' * 500)\n"
    "sorted(__import__('os').listdir('/mnt/data'))"
)
READ_CODE = (
    "import hashlib\n"
    "' '.join(hashlib.sha256(open(f'/mnt/data/{n}', 'rb').read()).hexdigest() "
    "for n in ('data.bin', 'out.bin'))"
)


class Kept:
    """The service, and where it keeps files: a folder or a Blob Storage container."""

    def __init__(self, service: Service, folder: Path | None, container: ContainerClient | None):
        self.service, self.folder, self.container = service, folder, container

    def stored(self, conversation: str) -> list[str]:
        """The keys the storage holds for the conversation (anonymous caller)."""
        prefix = session_identifier(ANONYMOUS, conversation)
        if self.container is not None:
            return [b.name for b in self.container.list_blobs(name_starts_with=f"{prefix}/")]
        folder = self.folder / prefix
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module", params=["data_dir", "blob_storage"])
def kept(request, scripted_llm, tmp_path_factory) -> Iterator[Kept]:
    """The service with its own local pool (short cooldown, so sessions expire), keeping
    files in DATA_DIR or in Azurite's Blob Storage."""
    data = tmp_path_factory.mktemp("kept-data")
    env = {
        **azure_env(scripted_llm),
        "SESSION_POOL_COOLDOWN_SECONDS": str(COOLDOWN_SECONDS),
        "CONVERSATION_FILES_MAX_BYTES": str(QUOTA_BYTES),
    }
    if request.param == "data_dir":
        with run_service(env, data) as service:
            yield Kept(service, data / "files", None)
        return
    with running_azurite(tmp_path_factory.mktemp("azurite")) as azurite:
        env["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        with run_service(env, data) as service:
            container = ContainerClient.from_connection_string(azurite.connection_string, CONTAINER)
            yield Kept(service, None, container)


def upload(service: Service, conversation: str, name: str, data: bytes):
    with service.http() as http:
        return http.post(f"/conversations/{conversation}/files", files={"file": (name, data)})


def listed(service: Service, conversation: str) -> dict[str, dict]:
    with service.http() as http:
        response = http.get(f"/conversations/{conversation}/files")
    assert response.status_code == 200, response.text
    return {f["name"]: f for f in response.json()["files"]}


def download(service: Service, conversation: str, name: str):
    with service.http() as http:
        return http.get(f"/conversations/{conversation}/files/{name}")


def start_with_two_files(kept: Kept, llm) -> str:
    """A conversation with an uploaded file and a file its code wrote."""
    conversation = new_id()
    assert upload(kept.service, conversation, "data.bin", UPLOADED).status_code == 200
    script_code_turn(llm, WRITE_CODE)
    step = ask_chat(kept.service, conversation, "write a file")["steps"][0]
    assert step["result"] == "['data.bin', 'out.bin']", step
    return conversation


def assert_files_kept_and_read_again(kept: Kept, llm, conversation: str) -> None:
    files = listed(kept.service, conversation)
    assert {name: (f["size"], f["kept"]) for name, f in files.items()} == {
        "data.bin": (len(UPLOADED), True),
        "out.bin": (len(WRITTEN), True),
    }
    assert download(kept.service, conversation, "data.bin").content == UPLOADED
    assert download(kept.service, conversation, "out.bin").content == WRITTEN

    script_code_turn(llm, READ_CODE)
    step = ask_chat(kept.service, conversation, "read them")["steps"][0]
    assert step["status"] == "Success", step
    expected = [hashlib.sha256(data).hexdigest() for data in (UPLOADED, WRITTEN)]
    assert step["result"] == " ".join(expected)
    system = agent_requests(llm)[-1]["body"]["messages"][0]["content"]
    assert "variables, imports and functions from earlier turns are gone" in system
    assert "restored into /mnt/data: data.bin, out.bin" in system


def test_files_outlive_an_expired_session(kept, llm):
    conversation = start_with_two_files(kept, llm)
    time.sleep(COOLDOWN_SECONDS * 2.5)  # idle past the pool's cooldown: the session is gone

    assert_files_kept_and_read_again(kept, llm, conversation)


def test_files_outlive_a_restart_of_the_pool(kept, llm):
    conversation = start_with_two_files(kept, llm)
    os.killpg(pool_pid(kept.service.proc.pid), signal.SIGKILL)

    assert_files_kept_and_read_again(kept, llm, conversation)


def test_the_quota_bounds_what_is_kept(kept, llm):
    conversation = new_id()
    too_big = upload(kept.service, conversation, "big.bin", b"x" * (QUOTA_BYTES + 1))
    assert too_big.status_code == 413
    assert "CONVERSATION_FILES_MAX_BYTES" in too_big.json()["detail"]
    assert "big.bin" in too_big.json()["detail"]

    # Code may write more than the quota: the file stays in the session, not kept.
    script_code_turn(llm, f"open('/mnt/data/huge.bin', 'wb').write(b'y' * {QUOTA_BYTES + 1})")
    ask_chat(kept.service, conversation, "write a big file")
    assert listed(kept.service, conversation)["huge.bin"]["kept"] is False
    assert len(download(kept.service, conversation, "huge.bin").content) == QUOTA_BYTES + 1

    script_code_turn(llm, "1")
    ask_chat(kept.service, conversation, "next")
    system = agent_requests(llm)[-1]["body"]["messages"][0]["content"]
    assert "huge.bin" in system and "not kept" in system


def test_removing_a_file_or_the_conversation_removes_what_is_kept(kept, llm):
    conversation = start_with_two_files(kept, llm)
    assert len(kept.stored(conversation)) == 2
    with kept.service.http() as http:
        assert http.delete(f"/conversations/{conversation}/files/data.bin").status_code == 204
        assert len(kept.stored(conversation)) == 1
        assert download(kept.service, conversation, "data.bin").status_code == 404

        assert http.delete(f"/conversations/{conversation}").status_code == 204
    assert kept.stored(conversation) == []
    assert listed(kept.service, conversation) == {}
    assert download(kept.service, conversation, "out.bin").status_code == 404


def test_blob_storage_signs_in_with_the_managed_identity(scripted_llm, llm, tmp_path):
    """As in Azure: AZURE_STORAGE_BLOB_ENDPOINT and the app's user-assigned identity
    (AZURE_CLIENT_ID), tokens from the Container Apps identity endpoint, HTTPS to storage."""
    client_id = "0b5c1f9e-7d3a-4c2e-9f1a-6e8d2b4a7c30"
    with (
        running_azurite(tmp_path, oauth=True) as azurite,
        ManagedIdentityEndpoint() as identity,
    ):
        env = {
            **azure_env(scripted_llm),
            **identity.env,
            "AZURE_STORAGE_BLOB_ENDPOINT": azurite.blob_endpoint,
            "AZURE_CLIENT_ID": client_id,
            "SSL_CERT_FILE": str(azurite.ca_file),  # trust the emulator's certificate
        }
        (tmp_path / "data").mkdir()
        with run_service(env, tmp_path / "data") as service:
            conversation = new_id()
            assert upload(service, conversation, "data.bin", UPLOADED).status_code == 200
            assert download(service, conversation, "data.bin").content == UPLOADED

    assert identity.requests, "no token was asked for"
    assert {(r.get("resource"), r.get("client_id")) for r in identity.requests} == {
        ("https://storage.azure.com", client_id)
    }
