"""The pool works wherever Python lives, even under /tmp, which sessions get a tmpfs for."""

import os
import secrets
import site
import subprocess
import sys

import httpx

from tests.sessionpool.conftest import GEN1
from tests.support.servers import ROOT, free_port, stop, wait_until_up


def test_a_pool_run_from_a_venv_under_tmp(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    packages = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (packages / "site-packages" / "main.pth").write_text(site.getsitepackages()[0] + "\n")
    port, key = free_port(), secrets.token_urlsafe(16)
    env = {**os.environ, "SESSION_POOL_API_KEY": key, "SESSION_POOL_READY_SESSIONS": "0"}
    args = ["-m", "sessionpool", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [str(venv / "bin" / "python"), *args], cwd=ROOT, env=env, start_new_session=True
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{endpoint}/healthz", proc, timeout=120)
        code = "import sys, numpy, os\nopen('/tmp/scratch', 'w').write('ok')\n"
        code += "(sys.prefix, os.access(sys.prefix, os.W_OK), numpy.__name__)"
        response = httpx.post(
            f"{endpoint}/code/execute",
            params={"identifier": "under-tmp", "api-version": GEN1},
            headers={"Authorization": f"Bearer {key}"},
            json={"properties": {"code": code}},
            timeout=60,
        )
        properties = response.json()["properties"]
        assert properties["status"] == "Success", properties["stderr"]
        assert properties["result"] == repr(("/usr/local", False, "numpy"))
    finally:
        stop(proc)
