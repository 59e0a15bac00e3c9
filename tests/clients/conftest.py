"""The real local pool for the official clients, over http (AutoGen, LlamaIndex) and https
(Semantic Kernel refuses plain http); it runs from the service's environment, the clients
from this one."""

import datetime
import ipaddress
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
POOL_PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass
class Pool:
    endpoint: str
    key: str
    certificate: str


def _self_signed(folder: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as PEM files in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local session pool")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "pool.pem", folder / "pool.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def pool() -> Iterator[Pool]:
    with _running_pool() as running:
        yield running


@pytest.fixture(scope="session")
def https_pool(tmp_path_factory) -> Iterator[Pool]:
    with _running_pool(_self_signed(tmp_path_factory.mktemp("tls"))) as running:
        yield running


@contextmanager
def _running_pool(tls: tuple[str, str] | None = None) -> Iterator[Pool]:
    port, key = _free_port(), secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSION_POOL_")}
    env |= {"SESSION_POOL_API_KEY": key, "SESSION_POOL_READY_SESSIONS": "2"}
    command = [str(POOL_PYTHON), "-m", "sessionpool", "--host", "127.0.0.1", "--port", str(port)]
    if tls is not None:
        command += ["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1]]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    certificate = tls[0] if tls else ""
    try:
        _wait_until_up(f"{endpoint}/healthz", certificate or True, process)
        yield Pool(endpoint, key, certificate)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, certificate: str | bool, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the pool exited with {process.returncode}")
        try:
            httpx.get(url, verify=certificate, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"no answer from {url}")
