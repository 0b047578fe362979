"""A slow reader slows the child instead of growing the bridge, and every byte still arrives."""

import json
import os
import socket
import sys
import tempfile
import threading
import time

import httpx

from conftest import ACCEPT_BOTH, raw_initialize, rss_kib, runs_once

pytestmark = runs_once


def test_slow_reader_gets_every_message_while_bridge_memory_stays_flat(bridge_factory):
    bridge = bridge_factory(args=["--stream-buffer-bytes", "1MiB"])
    session_id = raw_initialize(bridge.base)
    baseline = rss_kib(bridge.proc.pid)
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(bridge.proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    count, size = 512, 64 * 1024  # 32 MiB through a reader that naps between reads
    indices, result = [], None
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "flood", "arguments": {"count": count, "size": size}}}
    with httpx.stream("POST", bridge.mcp_url, json=body, timeout=120,
                      headers={"Accept": ACCEPT_BOTH, "Mcp-Session-Id": session_id}) as reply:
        assert reply.headers["content-type"] == "text/event-stream"
        for line in reply.iter_lines():
            if not line.startswith("data: "):
                continue
            message = json.loads(line[6:])
            if message.get("method") == "notifications/message":
                data = message["params"]["data"]
                assert len(data) == size
                indices.append(int(data[:8]))
                if len(indices) % 16 == 0:
                    time.sleep(0.05)
            elif message.get("id") == 1:
                result = message["result"]["content"][0]["text"]
    done.set()
    sampler.join()
    assert indices == list(range(count)), "every message, in order, exactly once"
    assert result == f"flooded {count}"
    growth_mib = (peak[0] - baseline) / 1024
    assert growth_mib < 12, f"bridge RSS grew by {growth_mib:.1f} MiB while 32 MiB passed through"


# A hostile child: once initialized, it writes 64 KiB notifications as fast as the pipe takes
# them, forever, and records how many bytes got through in a file.
FLOODER = r"""
import json, os, sys
counter = sys.argv[1]
request = json.loads(sys.stdin.readline())
print(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {"protocolVersion": "2025-06-18",
      "capabilities": {"logging": {}}, "serverInfo": {"name": "flooder", "version": "1"}}}), flush=True)
sys.stdin.readline()
line = (json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
        "params": {"level": "info", "data": "x" * 65536}}) + "\n").encode()
written = 0
while True:
    os.write(1, line)
    written += len(line)
    with open(counter + ".new", "w") as f:
        f.write(str(written))
    os.replace(counter + ".new", counter)  # atomic: a reader never sees a half-written count
"""


def flooded_bytes(path: str) -> int:
    try:
        return int(open(path).read() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def test_a_flooding_child_cannot_grow_the_bridge_with_or_without_a_reader(bridge_factory):
    """The stated bound (README): per session at most --stream-buffer-bytes queued for a stream,
    4 MiB of backlog when no stream is open, one line of --max-message-bytes being framed."""
    counter = tempfile.mktemp(prefix="flood-")
    bridge = bridge_factory(child=[sys.executable, "-c", FLOODER, counter], args=["--stream-buffer-bytes", "1MiB"])
    baseline = rss_kib(bridge.proc.pid)
    session_id = raw_initialize(bridge.base)
    # No stream open: the backlog keeps the newest 4 MiB and drops the rest.
    time.sleep(3)
    through_backlog = flooded_bytes(counter)
    assert through_backlog > 16 << 20, f"the child wrote only {through_backlog} bytes: the flood did not happen"
    assert (rss_kib(bridge.proc.pid) - baseline) / 1024 < 40
    # A GET stream whose client never reads: the child's stdout must stall.
    sock = socket.create_connection(("127.0.0.1", bridge.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall((f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                  f"Mcp-Session-Id: {session_id}\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n").encode())
    time.sleep(3)
    stalled_at = flooded_bytes(counter)
    time.sleep(2)
    assert flooded_bytes(counter) == stalled_at, "the child kept writing although nobody read its output"
    growth_mib = (rss_kib(bridge.proc.pid) - baseline) / 1024
    assert growth_mib < 40, f"bridge RSS grew by {growth_mib:.1f} MiB under a flooding child"
    sock.close()
    os.unlink(counter)


def test_metrics_count_sessions_requests_and_bytes(bridge):
    session_id = raw_initialize(bridge.base)
    text = httpx.get(bridge.base + "/metrics").text
    assert "mcp_bridge_sessions_active 1" in text
    assert "mcp_bridge_children_running 1" in text
    assert 'mcp_bridge_http_requests_total{path="mcp",method="POST",status="200"}' in text
    assert 'mcp_bridge_bytes_total{direction="from_child"}' in text
    httpx.delete(bridge.mcp_url, headers={"Mcp-Session-Id": session_id})
    deadline = time.monotonic() + 10
    while "mcp_bridge_sessions_active 0" not in httpx.get(bridge.base + "/metrics").text:
        assert time.monotonic() < deadline
        time.sleep(0.1)
