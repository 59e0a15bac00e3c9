"""Azurite, the Azure Storage emulator (npm package `azurite`, installed by `make test` into
.tools/azurite from tests/support/azurite's lock), as Blob Storage on a free loopback port.

Two ways in, as the service has: a connection string with Azurite's well-known account key,
or over HTTPS with OAuth, where Azurite checks the shape of each Entra ID token (audience,
issuer, lifetime), as Blob Storage does for a managed identity's tokens.
"""

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.certificates import self_signed
from tests.support.servers import ROOT, free_port, stop, wait_until_up

AZURITE = ROOT / ".tools/azurite/node_modules/.bin/azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's documented development key: public, good for nothing but the emulator.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass
class Azurite:
    blob_endpoint: str  # http(s)://127.0.0.1:<port>/devstoreaccount1
    ca_file: Path | None = None  # the certificate to trust, for HTTPS

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )


@contextmanager
def running_azurite(workspace: Path, oauth: bool = False) -> Iterator[Azurite]:
    """Azurite's blob service keeping its data in `workspace`; with `oauth`, over HTTPS with
    a self-signed certificate for 127.0.0.1 and bearer tokens checked."""
    if not AZURITE.exists():
        pytest.fail("Azurite is missing: `make test` installs it (npm ci in .tools/azurite)")
    port = free_port()
    args = [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    args += ["--location", str(workspace), "--silent", "--skipApiVersionCheck"]
    args += ["--disableProductStyleUrl", "--disableTelemetry"]
    scheme, ca_file = "http", None
    if oauth:
        ca_file, key_file = self_signed(workspace, "azurite")
        args += ["--oauth", "basic", "--cert", str(ca_file), "--key", str(key_file)]
        scheme = "https"
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        if oauth:
            _wait_listening(port, proc)
        else:
            wait_until_up(f"http://127.0.0.1:{port}/", proc)  # any answer: it listens
        yield Azurite(f"{scheme}://127.0.0.1:{port}/{ACCOUNT}", ca_file)
    finally:
        stop(proc)


def _wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Azurite exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("Azurite did not listen within 60 s")
