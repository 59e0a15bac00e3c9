"""Escape attempts and bombs: each is contained, and a neighbouring session still answers."""

import os
import textwrap

from sessionpool.rootfs import Layout
from tests.sessionpool.conftest import assert_neighbour_answers, new_id
from tests.support.servers import ROOT


def probe(client, code: str, **kwargs) -> object:
    return client.value(textwrap.dedent(code), new_id(), **kwargs)


def test_no_network_at_all(client, neighbour, session_pool):
    port = session_pool.endpoint.rsplit(":", 1)[1]
    result = probe(
        client,
        f"""
        import socket
        outcomes = []
        for family, address in ((socket.AF_INET, ("127.0.0.1", {port})),
                                (socket.AF_INET6, ("::1", {port}))):
            try:
                socket.create_connection(address, timeout=1)
                outcomes.append("connected")
            except OSError as error:
                outcomes.append(type(error).__name__)
        try:
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        except OSError:
            outcomes.append("no raw")
        import os
        outcomes.append("sys" if os.path.exists("/sys") else "no sys")
        outcomes
        """,
    )
    assert "connected" not in result
    assert "no raw" in result and "no sys" in result
    assert_neighbour_answers(client, neighbour)


def test_read_only_system_and_no_host_files(client, neighbour):
    result = probe(
        client,
        f"""
        import os
        writable = []
        for path in ("/usr/evil", "/etc/evil", "/evil", "{os.path.realpath(ROOT)}/evil",
                     "/root/evil", "/proc/sys/kernel/hostname"):
            try:
                with open(path, "w") as file:
                    file.write("x")
                writable.append(path)
            except OSError:
                pass
        visible = [p for p in ("{ROOT}/pyproject.toml", "/etc/shadow", "/home", "/var", "/run",
                               "/sys", "/boot") if os.path.exists(p)]
        open("/mnt/data/ok", "w").write("x")
        open("/tmp/ok", "w").write("x")
        (writable, visible, sorted(os.listdir("/")))
        """,
    )
    writable, visible, top = eval(result)
    assert writable == [] and visible == []
    # The root holds the system and Python's own folders, wherever this checkout lives.
    layout = Layout.of_this_host(excluded=str(ROOT))
    python_and_system = {path.split("/")[1] for path in [*layout.binds, *layout.links]}
    assert set(top) <= python_and_system | {"dev", "etc", "mnt", "proc", "tmp"}
    assert_neighbour_answers(client, neighbour)


def test_other_sessions_files_are_invisible(client, neighbour):
    marker = f"marker-{new_id()}"
    owner = new_id()
    client.run(
        f"open('/mnt/data/{marker}', 'w').write('secret'); open('/tmp/{marker}', 'w')", owner
    )
    found = probe(
        client,
        f"""
        import os
        hits = []
        for top in ("/mnt", "/tmp", "/proc", "/dev"):
            for directory, _, names in os.walk(top):
                hits += [directory for name in names if "{marker}" in name]
        hits
        """,
    )
    assert found == "[]"
    assert_neighbour_answers(client, neighbour)


def test_no_host_processes_no_secrets_no_privileges(client, neighbour, session_pool):
    result = probe(
        client,
        f"""
        import os
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
        environ = b""
        for pid in pids:
            try:
                environ += open(f"/proc/{{pid}}/environ", "rb").read()
            except PermissionError:
                pass  # the session's init belongs to a more privileged user namespace
        try:
            os.kill({session_pool.process.pid}, 0)
            pool_visible = True
        except (ProcessLookupError, PermissionError):
            pool_visible = False
        (pids, os.getuid(), os.getgid(), status["CapEff"].strip(), status["CapBnd"].strip(),
         status["NoNewPrivs"].strip(), status["Seccomp"].strip(),
         {session_pool.api_key!r}.encode() in environ, b"SESSION_POOL" in environ,
         dict(os.environ).get("HOME"), pool_visible)
        """,
    )
    pids, uid, gid, cap_eff, cap_bnd, no_new_privs, seccomp, key, names, home, pool = eval(result)
    assert pids == [1, 2] and (uid, gid) == (1000, 1000)
    assert int(cap_eff, 16) == 0 and int(cap_bnd, 16) == 0
    assert (no_new_privs, seccomp) == ("1", "2")
    assert not key and not names and home == "/mnt/data" and not pool
    assert_neighbour_answers(client, neighbour)


def test_no_namespaces_mounts_or_ptrace(client, neighbour):
    result = probe(
        client,
        """
        import ctypes, os, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        attempts = {
            "unshare user": libc.unshare(0x10000000),
            "unshare mount": libc.unshare(0x00020000),
            "mount": libc.mount(b"tmpfs", b"/mnt", b"tmpfs", 0, None),
            "ptrace": libc.ptrace(16, 1, 0, 0),
            "chroot": libc.chroot(b"/tmp"),
        }
        shell = subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode
        (attempts, shell)
        """,
    )
    attempts, shell = eval(result)
    assert all(code == -1 for code in attempts.values()), attempts
    assert shell != 0
    assert_neighbour_answers(client, neighbour)


def test_kill_init_and_signals_to_others_are_contained(client, neighbour):
    identifier = new_id()
    client.run("state = 1", identifier)
    properties = client.run(
        "import os, signal, time\nfor s in (9, 15, 2, 1):\n    os.kill(1, s)\ntime.sleep(0.3)",
        identifier,
    )
    assert properties["status"] == "Success"
    assert client.value("state", identifier) == 1
    client.run("import os\nos.system('kill -9 -1')", identifier)
    assert client.value("2 + 2", identifier) == 4
    assert_neighbour_answers(client, neighbour)


def test_fork_bomb_is_contained(client, neighbour):
    identifier = new_id()
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    properties = client.run(bomb, identifier, timeout=2)
    assert properties["status"] == "Failure"
    assert "timeout" in properties["stderr"]
    assert_neighbour_answers(client, neighbour)
    count = "import os\nlen([p for p in os.listdir('/proc') if p.isdigit()])"
    assert client.value(count, identifier) == 2


def test_memory_bomb_is_a_clear_failure(client, neighbour):
    identifier = new_id()
    client.run("kept = 5", identifier)
    properties = client.run(
        "hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))", identifier
    )
    assert properties["status"] == "Failure" and "MemoryError" in properties["stderr"]
    assert client.value("del hog\nkept", identifier) == 5
    child = client.run(
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', "
        "'b = bytearray(4 * 1024**3)']).returncode",
        identifier,
    )
    assert child["result"] != 0
    assert_neighbour_answers(client, neighbour)


def test_oom_score_cannot_be_lowered(client, neighbour):
    """The kernel's OOM killer must pick a session before anything else on the host."""
    result = probe(
        client,
        """
        outcomes = []
        for path in ("/proc/self/oom_score_adj", "/proc/1/oom_score_adj"):
            try:
                with open(path, "w") as file:
                    file.write("0")
                outcomes.append("lowered")
            except OSError as error:
                outcomes.append(type(error).__name__)
        (outcomes, open("/proc/self/oom_score_adj").read().strip(),
         open("/proc/1/oom_score_adj").read().strip())
        """,
    )
    assert result == "(['PermissionError', 'PermissionError'], '1000', '1000')"
    assert_neighbour_answers(client, neighbour)


def test_infinite_loop_is_interrupted_and_state_kept(client, neighbour):
    identifier = new_id()
    client.run("kept = 'still here'", identifier)
    properties = client.run("while True:\n    pass", identifier, timeout=1)
    assert properties["status"] == "Failure"
    assert "KeyboardInterrupt" in properties["stderr"]
    assert "timeout and was interrupted; the session's variables are kept" in properties["stderr"]
    assert client.value("kept", identifier) == "still here"
    assert_neighbour_answers(client, neighbour)


def test_code_that_ignores_the_interrupt_is_killed_and_replaced(client, neighbour):
    identifier = new_id()
    client.run("lost = 1\nopen('/mnt/data/kept.txt', 'w').write('kept')", identifier)
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    properties = client.run(stubborn, identifier, timeout=1)
    assert properties["status"] == "Failure"
    assert "The session was restarted" in properties["stderr"]
    assert "did not stop" in properties["stderr"]
    assert client.value("'lost' in globals()", identifier) is False
    assert client.value("open('/mnt/data/kept.txt').read()", identifier) == "kept"
    assert_neighbour_answers(client, neighbour)


def test_a_crashing_interpreter_is_replaced(client, neighbour):
    identifier = new_id()
    properties = client.run("import os\nos._exit(3)", identifier)
    assert properties["status"] == "Failure"
    assert "exited with status 3" in properties["stderr"]
    assert client.value("1 + 1", identifier) == 2
    assert_neighbour_answers(client, neighbour)


def test_output_flood_is_cut(client, neighbour):
    properties = client.run(
        "import os, sys\nfor i in range(200_000):\n    print(i)\n"
        "sys.stderr.write('e' * 100_000)\nos.system('head -c 3000000 /dev/zero')",
        new_id(),
    )
    assert len(properties["stdout"]) < 4300 and "were cut" in properties["stdout"]
    assert len(properties["stderr"]) < 4300 and "were cut" in properties["stderr"]
    assert_neighbour_answers(client, neighbour)


def test_each_session_draws_its_own_random_numbers(client):
    for code in (
        "import random\nrandom.random()",
        "import numpy as np\nfloat(np.random.rand())",
        "import numpy as np\nfloat(np.random.randn())",
        "import numpy as np\nint(np.random.randint(1 << 62))",
    ):
        assert client.value(code, new_id()) != client.value(code, new_id()), code
