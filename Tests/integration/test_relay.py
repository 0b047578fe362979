"""The bridge's byte relay (`--relay LISTEN,TARGET`, and relay-only mode without a server command):
what MCP_NETWORK=none/internal deployments stand on. Bytes pass unchanged in both directions,
half-closes are forwarded, an unreachable target costs one connection only, and the SDK works
through a TCP -> Unix socket -> TCP chain in front of a real bridge."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import BRIDGE, FIXTURE, free_port, open_session, text_of, wait_until, runs_once

pytestmark = pytest.mark.anyio



class RelayProcess:
    """`mcp-bridge --relay ...` with no MCP server: relays only."""

    def __init__(self, *routes: str):
        self.routes = routes
        self.log = tempfile.NamedTemporaryFile(prefix="relay-", suffix=".log")
        self.proc = subprocess.Popen([str(BRIDGE), "--log-level", "debug", *[arg for route in routes for arg in ("--relay", route)]],
                                     stdout=subprocess.DEVNULL, stderr=self.log)

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_listening(self):
        # Read the log rather than probe the port: a probe would itself be relayed to the target.
        assert wait_until(lambda: self.log_text().count("relay listening") == len(self.routes), 10), self.log_text()

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(10)


@pytest.fixture
def relays():
    started: list[RelayProcess] = []

    def start(*routes: str) -> RelayProcess:
        relay = RelayProcess(*routes)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        if relay.proc.poll() is None:
            relay.stop()


def read_all(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


@runs_once
def test_bytes_and_half_closes_cross_a_tcp_unix_tcp_chain_unchanged(relays, tmp_path):
    upload, download = os.urandom(8 << 20), os.urandom(6 << 20)
    target = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, bytes] = {}

    def serve():
        connection, _ = target.accept()
        with connection:
            # Reading to EOF proves the client's half-close crossed both relays; the reply still
            # flows back on the half-open connection.
            seen["upload"] = read_all(connection)
            connection.sendall(hashlib.sha256(seen["upload"]).digest() + download)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    front, sock = free_port(), tmp_path / "front.sock"
    relay = relays(f"127.0.0.1:{front},unix:{sock}", f"unix:{sock},127.0.0.1:{target.getsockname()[1]}")
    relay.wait_listening()
    with socket.create_connection(("127.0.0.1", front), timeout=30) as client:
        client.sendall(upload)
        client.shutdown(socket.SHUT_WR)
        reply = read_all(client)
    server.join(30)
    target.close()
    assert seen["upload"] == upload
    assert reply == hashlib.sha256(upload).digest() + download
    assert relay.stop() == 0  # SIGTERM is an orderly stop


@runs_once
def test_an_unreachable_target_closes_that_connection_only(relays, tmp_path):
    front, sock = free_port(), tmp_path / "later.sock"
    relay = relays(f"127.0.0.1:{front},unix:{sock}")
    relay.wait_listening()
    with socket.create_connection(("127.0.0.1", front), timeout=10) as client:
        client.sendall(b"hello")
        assert read_all(client) == b""  # closed, not hung
    # Once the target exists, the same relay serves it.
    target = socket.socket(socket.AF_UNIX)
    target.bind(str(sock))
    target.listen()
    with socket.create_connection(("127.0.0.1", front), timeout=10) as client:
        connection, _ = target.accept()
        client.sendall(b"ping")
        assert connection.recv(4) == b"ping"
        connection.sendall(b"pong")
        assert client.recv(4) == b"pong"
        connection.close()
    target.close()
    assert relay.proc.poll() is None


@runs_once
def test_a_malformed_relay_is_a_clear_startup_error():
    for route, message in [("nonsense", "expected LISTEN,TARGET"), ("127.0.0.1:0,unix:/x", "expected unix:/PATH or HOST:PORT"),
                           ("unix:relative.sock,127.0.0.1:80", "absolute path")]:
        result = subprocess.run([str(BRIDGE), "--relay", route], capture_output=True, text=True, timeout=10)
        assert result.returncode != 0 and message in result.stderr, result.stderr


@runs_once
def test_a_busy_unix_listen_path_is_replaced_after_a_restart(relays, tmp_path):
    sock = tmp_path / "front.sock"
    first = relays(f"unix:{sock},127.0.0.1:9")
    assert wait_until(sock.exists, 10)
    first.proc.kill()  # no cleanup: the socket file stays behind, as after a container crash
    first.proc.wait(10)
    assert sock.exists()
    front = free_port()
    second = relays(f"unix:{sock},127.0.0.1:9", f"127.0.0.1:{front},unix:{sock}")
    second.wait_listening()
    with socket.create_connection(("127.0.0.1", front), timeout=10) as client:
        client.sendall(b"x")
        assert read_all(client) == b""  # reached the relay behind the socket (port 9 refuses)
    assert second.proc.poll() is None


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_the_sdk_works_through_relays_in_front_of_a_bridge(bridge_factory, relays, tmp_path, transport):
    bridge_port, front, sock = free_port(), free_port(), tmp_path / "front.sock"
    # The bridge relays a socket to its own port, as inside a container without a network; a
    # relay-only process publishes that socket on TCP, as the ingress container does.
    bridge_factory(FIXTURE, args=["--port", str(bridge_port), "--relay", f"unix:{sock},127.0.0.1:{bridge_port}"])
    relays(f"127.0.0.1:{front},unix:{sock}").wait_listening()
    url = f"http://127.0.0.1:{front}" + ("/mcp" if transport == "streamable" else "/sse")
    async with open_session(url, transport) as session:
        result = await session.call_tool("slow_echo", {"text": "through two relays", "delay": 0})
        # mcp 2.x caps one legacy SSE event (see test_sdk_roundtrips); streamable replies come as JSON.
        size = 3 << 20 if transport == "streamable" else 200 << 10
        big = await session.call_tool("big_result", {"size": size})
    assert text_of(result) == "through two relays"
    assert len(text_of(big)) == size
