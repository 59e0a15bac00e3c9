"""Rehearse the image without Docker: build context, locked install, CMD and HEALTHCHECK.

Nothing here can pull a base image, so the Dockerfile's own steps are replayed on this host:
the context .dockerignore lets through, `uv sync` as the Dockerfile runs it, then its CMD
(on a loopback port) until its HEALTHCHECK command passes.
"""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from tests.infra.dockerfile import env_of, ignored, instructions
from tests.infra.helpers import ROOT

STEPS = instructions(ROOT / "Dockerfile")
DOCKERIGNORE = (ROOT / ".dockerignore").read_text()


def _args(word: str) -> list[str]:
    return [args for w, args in STEPS if w == word]


def _context_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    return [f for f in listed if (ROOT / f).is_file() and not ignored(f, DOCKERIGNORE)]


@pytest.fixture(scope="module")
def context():
    """The build context, as `docker build .` would send it, beside the image's venv.

    Kept under .tools, not /tmp: the local pool's sandbox mounts its own /tmp over the
    interpreter's path otherwise. The venv is reused between runs, as Docker's layer cache is.
    """
    root = ROOT / ".tools" / "image-rehearsal"
    root.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name != ".venv":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for name in _context_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    return root


def test_context_has_the_service_and_no_secrets_or_local_state(context):
    for needed in ("server.py", "settings.py", "telemetry.py", "pyproject.toml", "uv.lock"):
        assert (context / needed).is_file(), needed
    for excluded in (".env", ".git", ".tools", "tests", "infra", "data"):
        assert not (context / excluded).exists(), excluded
    for local in (".env", ".venv/bin/python", ".git/HEAD", ".azure/dev/.env", "data/a.db"):
        assert ignored(local, DOCKERIGNORE), local


def test_image_installs_the_pinned_uv_and_runs_as_non_root():
    makefile = (ROOT / "Makefile").read_text()
    (uv_version,) = re.findall(r"^UV_VERSION := (\S+)", makefile, re.M)
    assert any(f"uv=={uv_version}" in run for run in _args("RUN"))
    (user,) = _args("USER")
    assert user.split(":")[0] not in ("0", "root")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _image_env(context) -> dict[str, str]:
    """The Dockerfile's ENV with /app mapped to the context; uv's cache kept, for speed."""
    env = {k: v.replace("/app", str(context)) for k, v in env_of(STEPS).items()}
    env["PATH"] = env["PATH"].replace("$PATH", os.environ["PATH"])
    env.pop("UV_NO_CACHE")  # the image's layer needs no cache; here the host's saves a download
    env.update(UV_LINK_MODE="hardlink", HOME=os.environ["HOME"])
    env.update({k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")})
    return env


@pytest.fixture(scope="module")
def installed(context):
    """The context after the Dockerfile's locked install."""
    (sync,) = [run for run in _args("RUN") if run.startswith("uv sync")]
    assert "--frozen" in sync and "--no-dev" in sync
    uv = str(ROOT / ".tools" / "bin" / "uv")
    done = subprocess.run(
        [uv, *shlex.split(sync)[1:]],
        cwd=context, env=_image_env(context), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return context


def test_locked_install_then_cmd_serves_and_healthcheck_passes(installed):
    context = installed
    env = _image_env(context)
    port = str(_free_port())
    cmd = json.loads(_args("CMD")[0])
    # As `make run`: the workers of the container's CPU quota, each serving server:app.
    assert cmd[:3] == ["python", "-m", "serve"] and cmd[cmd.index("--port") + 1] == "8000"
    # Loopback and a free port here; the image binds 0.0.0.0:8000.
    cmd[cmd.index("--host") + 1], cmd[cmd.index("--port") + 1] = "127.0.0.1", port
    health = json.loads(_args("HEALTHCHECK")[0].split("CMD", 1)[1])
    health = [part.replace(":8000/", f":{port}/") for part in health]

    # The container app always names its pool (Azure's); the image has no sessions' environment.
    pool_env = {"POOL_MANAGEMENT_ENDPOINT": f"http://127.0.0.1:{_free_port()}/"}
    # Its log goes to a file: a pipe nobody reads would stop the service once full.
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(cmd, cwd=context, env={**env, **pool_env}, stdout=log,
                                  stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while True:
                probe = subprocess.run(health, cwd=context, env=env, capture_output=True)
                if probe.returncode == 0:
                    break
                if server.poll() is not None:
                    log.seek(0)
                    raise AssertionError(f"service exited:\n{log.read()}")
                assert time.monotonic() < deadline, "HEALTHCHECK never passed"
                time.sleep(0.5)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def test_cmd_without_a_pool_endpoint_exits_and_says_why(installed):
    """The image carries no sessions' environment: without POOL_MANAGEMENT_ENDPOINT its CMD
    must stop with the reason, not hang half-started."""
    env = _image_env(installed)
    cmd = json.loads(_args("CMD")[0])
    cmd[cmd.index("--host") + 1], cmd[cmd.index("--port") + 1] = "127.0.0.1", str(_free_port())
    done = subprocess.run(cmd, cwd=installed, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "make session-env" in done.stdout + done.stderr
