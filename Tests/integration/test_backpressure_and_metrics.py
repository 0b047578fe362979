"""A slow reader slows the child instead of growing the bridge, and every byte still arrives."""

import json
import threading
import time

import httpx

from conftest import ACCEPT_BOTH, raw_initialize, rss_kib


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
