"""`--user` / `--child-user` on a plain host (no container): the bridge leaves root for its own
identity keeping only CAP_SETUID, CAP_SETGID and CAP_KILL, and every MCP server child runs as
another uid with nothing. The real mcp-server-time serves through it; a process of the server's
uid can neither read, trace nor signal the bridge; the shutdown ladder still ends every child;
and the bridge refuses to start when it cannot switch."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import httpx
import pytest

from conftest import BRIDGE, children_of, open_session, process_exists, require, text_of, wait_until, runs_once
from docker_support import WHEELHOUSE

pytestmark = pytest.mark.anyio
FRONT, SERVER = 10001, 10002
TOKEN = "child-user-test-token-0123456789"


def require_root():
    require(os.geteuid() == 0 and shutil.which("setpriv") is not None and Path("/usr/bin/python3").exists(),
            "needs root (to switch users), setpriv and /usr/bin/python3")


@pytest.fixture(scope="module")
def public_dir():
    """A folder every uid can read: the server venv and a copy of the bridge live here
    (the test venvs sit under root-only folders)."""
    require_root()
    directory = Path(tempfile.mkdtemp(prefix="mcp-child-user-"))
    directory.chmod(0o755)
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(directory / "venv")], check=True, capture_output=True)
    subprocess.run([str(directory / "venv" / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "--no-index",
                    "--find-links", str(WHEELHOUSE), "mcp-server-time==2026.10.10"], check=True, capture_output=True, timeout=300)
    shutil.copy2(BRIDGE, directory / "mcp-bridge")
    subprocess.run(["chmod", "-R", "a+rX", str(directory)], check=True)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields




def as_server(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={SERVER}", f"--regid={SERVER}", "--clear-groups", *argv],
                          capture_output=True, text=True, timeout=30)


async def test_the_child_runs_as_another_user_with_nothing_and_cannot_touch_the_bridge(bridge_factory, public_dir):
    bridge = bridge_factory(child=[str(public_dir / "venv" / "bin" / "mcp-server-time"), "--local-timezone", "UTC"],
                            args=["--user", f"{FRONT}:{FRONT}", "--child-user", f"{SERVER}:{SERVER}"],
                            env={"MCP_BRIDGE_TOKEN": TOKEN, "NGROK_AUTHTOKEN": "front-only-secret"})
    front = status(bridge.proc.pid)
    assert front["Uid"].split() == [str(FRONT)] * 4 and front["Gid"].split() == [str(FRONT)] * 4
    assert front["Groups"] == "" and front["CapEff"] == front["CapPrm"] == "00000000000000e0"
    assert front["CapInh"] == front["CapAmb"] == "0000000000000000" and front["NoNewPrivs"] == "1"
    # Not dumpable: its /proc files belong to root, even its own uid cannot read its environment.
    assert Path(f"/proc/{bridge.proc.pid}/environ").stat().st_uid == 0

    async with open_session(bridge.mcp_url, headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        result = await session.call_tool("get_current_time", {"timezone": "UTC"})
        assert '"timezone": "UTC"' in text_of(result)
        [child] = children_of(bridge.proc.pid)
        server = status(child)
        assert server["Uid"].split() == [str(SERVER)] * 4 and server["Gid"].split() == [str(SERVER)] * 4
        assert server["Groups"] == ""
        assert server["CapEff"] == server["CapPrm"] == server["CapAmb"] == server["CapInh"] == "0000000000000000"
        assert server["NoNewPrivs"] == "1"
        environment = Path(f"/proc/{child}/environ").read_bytes()
        assert TOKEN.encode() not in environment and b"front-only-secret" not in environment

        # What the server's uid can do to the bridge: nothing.
        pid = str(bridge.proc.pid)
        probe = as_server("/usr/bin/python3", "-c", f"""
import os, signal, ctypes
results = []
for path in ("/proc/{pid}/environ", "/proc/{pid}/mem"):
    try:
        open(path, "rb").read(1); results.append("read " + path)
    except OSError as e:
        results.append(e.errno)
try:
    os.listdir("/proc/{pid}/fd"); results.append("fd")
except OSError as e:
    results.append(e.errno)
try:
    os.kill({pid}, signal.SIGSTOP); results.append("signalled")
except OSError as e:
    results.append(e.errno)
libc = ctypes.CDLL(None, use_errno=True)
results.append(ctypes.get_errno() if libc.ptrace(16, {pid}, None, None) != 0 else "attached")
print(results)
""")
        assert probe.stdout.strip() == "[13, 13, 13, 1, 1]", probe.stdout + probe.stderr  # EACCES ×3, EPERM ×2

    # The session ended: its child went through the ladder and is gone.
    assert wait_until(lambda: not process_exists(child), timeout=15)
    assert bridge.stop() == 0


@runs_once
async def test_signals_and_the_shutdown_ladder_still_reach_a_child_of_another_user(bridge_factory, public_dir, tmp_path):
    stubborn = public_dir / "stubborn.py"
    stubborn.write_text("import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                        "sys.stdin.read()\nwhile True:\n    time.sleep(1)\n")
    stubborn.chmod(0o644)
    bridge = bridge_factory(child=["/usr/bin/python3", str(stubborn)],
                            args=["--user", f"{FRONT}:{FRONT}", "--child-user", f"{SERVER}:{SERVER}", "--shutdown-grace", "300ms"])
    # The stub never answers, so the request stays open in the background while the child lives.
    def initialize():
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(bridge.mcp_url, headers={"Accept": "application/json, text/event-stream"}, timeout=30,
                       json={"jsonrpc": "2.0", "id": 1, "method": "initialize",
                             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})

    pending = threading.Thread(target=initialize, daemon=True)
    pending.start()
    assert wait_until(lambda: children_of(bridge.proc.pid) != [], timeout=10)
    [child] = children_of(bridge.proc.pid)
    assert status(child)["Uid"].split()[0] == str(SERVER)
    # SIGTERM to the bridge: stdin closes, SIGTERM is ignored, SIGKILL follows; nothing survives.
    assert bridge.stop(timeout=20) == 0
    assert wait_until(lambda: not process_exists(child), timeout=5)
    pending.join(10)


@pytest.mark.parametrize("argv, expected", [
    ([], "lacks CAP_SETUID, CAP_SETGID or CAP_KILL"),
    (["--user", "10003"], "setgroups failed (Operation not permitted)"),
])
@runs_once
def test_a_bridge_that_cannot_switch_refuses_to_start(public_dir, argv, expected):
    result = subprocess.run(["setpriv", f"--reuid={FRONT}", f"--regid={FRONT}", "--clear-groups",
                             str(public_dir / "mcp-bridge"), "--port", "0", "--child-user", f"{SERVER}", *argv, "--", "/bin/cat"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and expected in result.stderr, result.stderr


@pytest.mark.parametrize("child_user, expected", [
    ("0:0", "must not run as root"),
    (f"{FRONT}:{FRONT}", "that is the bridge's own uid"),
    ("nobody", "expected a numeric UID or UID:GID"),
])
@runs_once
def test_a_child_user_that_would_share_the_bridges_powers_is_refused(public_dir, child_user, expected):
    result = subprocess.run([str(public_dir / "mcp-bridge"), "--port", "0", "--user", f"{FRONT}", "--child-user", child_user,
                             "--", "/bin/cat"], capture_output=True, text=True, timeout=20)
    assert result.returncode != 0 and expected in result.stderr, result.stderr
