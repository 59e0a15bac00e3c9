"""The keys that sign download links and browsers' sign-ins when LINK_SIGNING_KEY and
SESSION_SECRET are not set: made by the first worker or replica to start and kept in the
conversation files' storage (DATA_DIR/files, or the Blob container on a real Azurite), so that
all of them sign alike, across restarts."""

import asyncio
import multiprocessing
import stat

from azure.storage.blob.aio import ContainerClient

from conversations.file_storage import BlobStorage, DirectoryStorage
from security.links import KEPT_KEY, Links
from security.sessions import SessionSigner, SignedIn
from tests.support.azurite import running_azurite

LINK = ("alice", "c1", "files/report.csv")


def _signature_of_a_worker(root) -> str:
    async def start() -> str:
        links = Links(None)
        await links.keep_key(DirectoryStorage(root))
        return links.sign(*LINK)

    return asyncio.run(start())


def test_workers_starting_together_all_sign_with_the_one_kept_key(tmp_path):
    """Several processes making the key at once: one key wins, each reads it whole."""
    with multiprocessing.get_context("fork").Pool(8) as workers:
        signatures = workers.map(_signature_of_a_worker, [tmp_path] * 32)

    assert len(set(signatures)) == 1
    kept = tmp_path / KEPT_KEY
    assert len(kept.read_bytes()) == 32 and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [p.name for p in kept.parent.iterdir()] == [kept.name]  # no draft left behind
    assert _signature_of_a_worker(tmp_path) == signatures[0]  # after a restart too


def test_replicas_sharing_a_blob_container_sign_alike(tmp_path):
    async def replicas(connection_string: str) -> list[str]:
        storages = [
            BlobStorage(ContainerClient.from_connection_string(connection_string, "files"))
            for _ in range(6)
        ]
        await storages[0].start()
        links = [Links(None) for _ in storages]
        await asyncio.gather(*(link.keep_key(s) for link, s in zip(links, storages, strict=True)))
        for storage in storages:
            await storage.close()
        return [link.sign(*LINK) for link in links]

    with running_azurite(tmp_path) as azurite:
        first = asyncio.run(replicas(azurite.connection_string))
        restarted = asyncio.run(replicas(azurite.connection_string))

    assert len(set(first)) == 1
    assert restarted == first


def test_a_given_key_is_used_and_not_kept(tmp_path):
    links = Links(b"k" * 32)
    asyncio.run(links.keep_key(DirectoryStorage(tmp_path)))
    assert links.sign(*LINK) == Links(b"k" * 32).sign(*LINK)
    assert not (tmp_path / KEPT_KEY).exists()


def test_a_sign_in_made_on_one_worker_holds_on_another_and_after_a_restart(tmp_path):
    async def signers(root) -> list[SessionSigner]:
        made = [SessionSigner(None, 3600) for _ in range(3)]
        await asyncio.gather(*(signer.keep_key(DirectoryStorage(root)) for signer in made))
        return made

    first, second, _ = asyncio.run(signers(tmp_path / "shared"))
    cookie, _ = first.issue(SignedIn("alice", "api_key", 2**40))
    (restarted, *_) = asyncio.run(signers(tmp_path / "shared"))
    (elsewhere, *_) = asyncio.run(signers(tmp_path / "other"))

    signed_in = first.read(cookie)
    assert signed_in is not None and signed_in.user == "alice"
    assert second.read(cookie) == restarted.read(cookie) == signed_in
    assert elsewhere.read(cookie) is None  # another storage, another key
    given = SessionSigner("a-given-secret", 3600)
    asyncio.run(given.keep_key(DirectoryStorage(tmp_path / "shared")))
    assert given.read(cookie) is None  # SESSION_SECRET, when set, is what signs
