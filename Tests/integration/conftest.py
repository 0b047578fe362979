"""Shared fixtures: start the real mcp-bridge binary, talk to it with the official SDK.

The same tests run twice, under mcp 1.30.0 and mcp 2.3.0 (one venv each, see
scripts/test). `open_session` hides the few API differences between the two.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = Path(os.environ.get("MCP_BRIDGE_BIN", ROOT / ".build" / "debug" / "mcp-bridge"))
# Children run from the server venv (mcp 1.x, mcp-server-time, mcp-server-git).
SERVER_PYTHON = Path(os.environ.get("MCP_SERVER_PYTHON", sys.executable))
SERVER_BIN = SERVER_PYTHON.parent
FIXTURE = [str(SERVER_PYTHON), str(ROOT / "Tests" / "integration" / "fixtures" / "fixture_server.py")]
MCP_MAJOR = int(importlib.metadata.version("mcp").split(".")[0])
# For tests whose outcome does not depend on the client SDK (raw HTTP, Docker plumbing, process
# checks): they run once, in the mcp 1.x pass, instead of twice.
runs_once = pytest.mark.skipif(MCP_MAJOR >= 2, reason="no SDK involved: runs once, in the mcp 1.x pass")

ACCEPT_BOTH = "application/json, text/event-stream"

# scripts/test runs the suite as two pytest processes side by side (MCP_TEST_PART): the modules
# that drive the Docker engine (they import one of these helpers) in one, one after another, since
# they share the base image, image tags and container names; every other module in the other (a
# bridge, an nginx or an sshd on free loopback ports, nothing shared), which mostly waits on
# deadlines and children meanwhile.
DOCKER_HELPERS = re.compile(r"^(?:from|import) (?:docker_support|service_support|kube_support)\b", re.M)
TEST_PARTS = ("docker", "other")


def drives_docker(module) -> bool:
    return DOCKER_HELPERS.search(Path(module.__file__).read_text()) is not None


def pytest_collection_modifyitems(config, items):
    part = os.environ.get("MCP_TEST_PART", "")
    if not part:
        return
    if part not in TEST_PARTS:
        raise pytest.UsageError(f"MCP_TEST_PART={part!r}: use one of {', '.join(TEST_PARTS)}, or leave it unset for every module")
    verdicts: dict[str, bool] = {}
    keep, drop = [], []
    for item in items:
        module = item.module
        if module.__name__ not in verdicts:
            verdicts[module.__name__] = drives_docker(module)
        (keep if verdicts[module.__name__] == (part == "docker") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def require(condition: bool, reason: str):
    """Skips a test whose part is missing on a developer's machine, but fails it in CI
    (MCP_REQUIRE_DOCKER=1, set by .ci/run), where every part must be present."""
    if condition:
        return
    if os.environ.get("MCP_REQUIRE_DOCKER") == "1":
        pytest.fail(f"required in CI (MCP_REQUIRE_DOCKER=1): {reason}")
    pytest.skip(reason)


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Bridge:
    """One mcp-bridge process on a free loopback port; its stderr is kept for assertions."""

    def __init__(self, child: list[str] | None = None, args: list[str] | None = None, env: dict | None = None,
                 stdio: str | None = None, wrapper: list[str] | None = None):
        # `wrapper` runs the bridge through another command (e.g. prlimit); it must exec it.
        self.argv = [*(wrapper or []), str(BRIDGE), "--port", "0", *(args or [])]
        if stdio is not None:
            self.argv += ["--stdio", stdio]
        else:
            self.argv += ["--", *(child or FIXTURE)]
        self.env = {**os.environ, **(env or {})}
        self.log_lines: list[str] = []
        self.port: int | None = None
        self._ready = threading.Event()

    def start(self, expect_ready: bool = True) -> "Bridge":
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if expect_ready:
            if not self._ready.wait(20):
                self.stop()
                raise RuntimeError("bridge did not start:\n" + self.log)
        return self

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.log_lines.append(line)
            match = re.search(r"address=\S+:(\d+)", line) or re.search(r'"address":"[^"]*:(\d+)"', line)
            if match and "listening" in line:
                self.port = int(match.group(1))
                self._ready.set()

    @property
    def log(self) -> str:
        return "".join(self.log_lines)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return self.base + "/mcp"

    @property
    def sse_url(self) -> str:
        return self.base + "/sse"

    def wait_for_log(self, needle: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log:
                return True
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


@pytest.fixture
def bridge_factory():
    started: list[Bridge] = []

    def make(*args, **kwargs) -> Bridge:
        expect_ready = kwargs.pop("expect_ready", True)
        bridge = Bridge(*args, **kwargs)
        started.append(bridge)
        return bridge.start(expect_ready=expect_ready)

    yield make
    for bridge in started:
        bridge.stop()


@pytest.fixture
def bridge(bridge_factory) -> Bridge:
    return bridge_factory()


# ---------------------------------------------------------------- SDK compatibility

@contextlib.asynccontextmanager
async def open_session(url: str, transport: str = "streamable", headers: dict | None = None, ca_file: str | None = None,
                       **callbacks):
    """An initialized ClientSession over /mcp ("streamable") or /sse ("sse"), for mcp 1.x and 2.x.
    `ca_file` makes the client verify HTTPS against that certificate (our nginx front)."""
    from mcp import ClientSession

    httpx_module = __import__("httpx2" if MCP_MAJOR >= 2 else "httpx")
    verify = ssl.create_default_context(cafile=ca_file) if ca_file else True

    def client_factory(headers=None, timeout=None, auth=None):
        return httpx_module.AsyncClient(headers=headers, timeout=timeout or httpx_module.Timeout(30, read=300),
                                        auth=auth, verify=verify, follow_redirects=True)

    if transport == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(url, headers=headers, httpx_client_factory=client_factory) as (read, write):
            async with ClientSession(read, write, **callbacks) as session:
                await session.initialize()
                yield session
        return
    if MCP_MAJOR >= 2:
        from mcp.client.streamable_http import streamable_http_client

        async with client_factory(headers=headers) as http:
            # 2.x caps one SSE event at 1 MiB by default; large results need the cap lifted.
            async with streamable_http_client(url, http_client=http, max_sse_event_size=None) as streams:
                async with ClientSession(streams[0], streams[1], **callbacks) as session:
                    await session.initialize()
                    yield session
    else:
        from mcp.client.streamable_http import streamablehttp_client

        async with streamablehttp_client(url, headers=headers, httpx_client_factory=client_factory) as (read, write, _):
            async with ClientSession(read, write, **callbacks) as session:
                await session.initialize()
                yield session


def text_of(result) -> str:
    return result.content[0].text


# ---------------------------------------------------------------- raw HTTP helpers

def initialize_body(request_id=1, version="2025-06-18") -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


def raw_initialize(base: str, version="2025-06-18", headers: dict | None = None) -> str:
    """Initializes a session by hand; returns its id (JSON reply mode keeps this simple)."""
    response = httpx.post(base + "/mcp", json=initialize_body(version=version), timeout=20,
                          headers={"Accept": "application/json", **(headers or {})})
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    done = httpx.post(base + "/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                      headers={"Accept": ACCEPT_BOTH, "Mcp-Session-Id": session_id, **(headers or {})})
    assert done.status_code == 202
    return session_id


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port now."""
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def process_exists(pid: int) -> bool:
    """Alive and not a zombie. A process may vanish between the two reads (ESRCH from /proc)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
        return state != "Z"
    return False


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (vanishing ones are skipped)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().split(") ")[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def descendants_of(pid: int) -> list[int]:
    """Every live process below `pid`: children, their children, and so on."""
    found, frontier = [], [pid]
    while frontier:
        children = children_of(frontier.pop())
        found += children
        frontier += children
    return found


def command_lines() -> list[str]:
    """The argv of every live process on the host, arguments joined by spaces."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes().decode(errors="replace").replace("\0", " "))
            except OSError:
                continue
    return found


def wait_until(predicate, timeout: float = 10, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def tmp_token_file():
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".token") as handle:
        handle.write("first-token-abc\nsecond-token-def\n")
    os.chmod(handle.name, 0o600)
    yield handle.name
    os.unlink(handle.name)


def field(model, camel_name: str):
    """A model attribute under its 1.x (camelCase) or 2.x (snake_case) name."""
    if hasattr(model, camel_name):
        return getattr(model, camel_name)
    return getattr(model, re.sub(r"(?<!^)(?=[A-Z])", "_", camel_name).lower())
