"""Bad children and bad clients: every failure gets a clear answer, nothing hangs, nothing leaks."""

import json
import sys
import threading
import time

import httpx
import pytest

from conftest import (ACCEPT_BOTH, SERVER_PYTHON, initialize_body, open_session, process_exists,
                      raw_initialize, rss_kib, wait_until, runs_once)

pytestmark = pytest.mark.anyio


def call(bridge, session_id, name, arguments, request_id=10, accept="application/json", timeout=30):
    return httpx.post(bridge.mcp_url, timeout=timeout, headers={"Accept": accept, "Mcp-Session-Id": session_id},
                      json={"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, "arguments": arguments}})


@pytest.mark.parametrize("accept", ["application/json", ACCEPT_BOTH])
@runs_once
def test_child_crash_mid_call_answers_the_pending_request_at_once_and_ends_the_session(bridge, accept):
    session_id = raw_initialize(bridge.base)
    started = time.monotonic()
    reply = call(bridge, session_id, "crash_now", {"code": 3}, accept=accept)
    assert time.monotonic() - started < 5
    assert reply.status_code == 200
    text = reply.text if reply.headers["content-type"] == "application/json" else reply.text.split("data: ", 1)[1]
    error = json.loads(text)["error"]
    assert error["code"] == -32603 and "exited (status 3)" in error["message"]
    assert call(bridge, session_id, "whoami", {}).status_code == 404


async def test_sdk_client_sees_an_error_not_a_hang_when_the_child_crashes(bridge):
    messages = []
    started = time.monotonic()
    try:
        async with open_session(bridge.sse_url, "sse") as session:
            await session.call_tool("crash_now", {})
    except BaseException as error:  # the SDK wraps it in an exception group
        messages = flatten(error)
    assert time.monotonic() - started < 10
    assert any("exited (status 3)" in message for message in messages), messages


def flatten(error: BaseException) -> list[str]:
    if isinstance(error, BaseExceptionGroup):
        return [message for inner in error.exceptions for message in flatten(inner)]
    return [str(error)]


@runs_once
def test_child_that_cannot_start_gives_502_and_readyz_503(bridge_factory):
    bridge = bridge_factory(child=["/nonexistent/mcp-server", "--flag"])
    assert httpx.get(bridge.base + "/healthz").status_code == 200
    ready = httpx.get(bridge.base + "/readyz")
    assert ready.status_code == 503 and "not an executable" in ready.json()["reason"]
    reply = httpx.post(bridge.mcp_url, json=initialize_body(request_id=5), headers={"Accept": ACCEPT_BOTH})
    assert reply.status_code == 502
    body = reply.json()
    assert body["id"] == 5 and body["error"]["code"] == -32603 and "could not be started" in body["error"]["message"]
    assert httpx.get(bridge.sse_url).status_code == 502


@runs_once
def test_the_healthcheck_probe_tells_liveness_from_readiness(bridge_factory):
    """`--healthcheck` (readiness, the images' HEALTHCHECK) fails for a command that cannot start,
    while `--healthcheck-path /healthz` (a Kubernetes livenessProbe) passes: the bridge is alive."""
    import subprocess
    from conftest import BRIDGE
    bridge = bridge_factory(child=["/nonexistent/mcp-server"])
    port = bridge.base.rsplit(":", 1)[1]
    probe = [str(BRIDGE), "--healthcheck", "--port", port]
    assert subprocess.run(probe, timeout=10).returncode == 1
    assert subprocess.run([*probe, "--healthcheck-path", "/readyz"], timeout=10).returncode == 1
    assert subprocess.run([*probe, "--healthcheck-path", "/healthz"], timeout=10).returncode == 0
    refused = subprocess.run([*probe, "--healthcheck-path", "/metrics"], capture_output=True, text=True, timeout=10)
    assert refused.returncode != 0 and "/healthz" in refused.stderr
    bridge.stop()
    assert subprocess.run([*probe, "--healthcheck-path", "/healthz"], timeout=10).returncode == 1


@runs_once
def test_child_that_exits_at_once_fails_initialize_with_an_error(bridge_factory):
    bridge = bridge_factory(child=[str(SERVER_PYTHON), "-c", "import sys; sys.exit(7)"])
    reply = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": "application/json"}, timeout=20)
    assert reply.status_code in (200, 404, 502)
    if reply.status_code == 200:
        assert reply.json()["error"]["code"] == -32603


@runs_once
def test_garbage_on_stdout_is_logged_and_skipped_and_the_session_goes_on(bridge):
    session_id = raw_initialize(bridge.base)
    reply = call(bridge, session_id, "print_garbage", {})
    assert reply.json()["result"]["content"][0]["text"] == "garbage printed"
    assert call(bridge, session_id, "test_simple_text", {}, request_id=11).status_code == 200
    assert bridge.wait_for_log("not JSON-RPC; skipped")


@runs_once
def test_a_50_megabyte_line_is_dropped_without_memory_blowup_and_the_session_goes_on(bridge):
    session_id = raw_initialize(bridge.base)
    before = rss_kib(bridge.proc.pid)
    reply = call(bridge, session_id, "print_huge_line", {"megabytes": 50}, timeout=60)
    assert reply.json()["result"]["content"][0]["text"] == "huge line printed"
    assert bridge.wait_for_log("over the size limit dropped")
    assert rss_kib(bridge.proc.pid) - before < 64 * 1024, "the oversized line must not be buffered whole"
    assert call(bridge, session_id, "test_simple_text", {}, request_id=12).status_code == 200


@runs_once
def test_an_oversized_answer_becomes_a_json_rpc_error_for_its_request(bridge_factory):
    bridge = bridge_factory(args=["--max-message-bytes", "1MiB"])
    session_id = raw_initialize(bridge.base)
    reply = call(bridge, session_id, "big_result", {"size": 3 << 20}, request_id="big")
    error = reply.json()["error"]
    assert reply.json()["id"] == "big" and error["code"] == -32603 and "exceeds the bridge limit" in error["message"]
    assert call(bridge, session_id, "test_simple_text", {}, request_id=13).status_code == 200


@runs_once
def test_client_that_disconnects_mid_stream_leaves_the_session_usable(bridge):
    session_id = raw_initialize(bridge.base)
    headers = {"Accept": ACCEPT_BOTH, "Mcp-Session-Id": session_id}
    body = {"jsonrpc": "2.0", "id": 20, "method": "tools/call", "params": {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": 1}}}
    with httpx.Client(timeout=10) as client:
        with client.stream("POST", bridge.mcp_url, json=body, headers=headers) as stream:
            assert stream.status_code == 200
            next(stream.iter_lines())  # read one line, then hang up
    reply = call(bridge, session_id, "test_simple_text", {}, request_id=21)
    assert reply.status_code == 200
    assert httpx.get(bridge.base + "/healthz").status_code == 200


@runs_once
def test_closing_the_legacy_stream_ends_the_session_and_its_child(bridge):
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", bridge.sse_url) as stream:
            lines = stream.iter_lines()
            next(lines)
            endpoint = next(lines)[len("data: "):]
            assert bridge.wait_for_log("child started")
    pid = int(bridge.log.split("pid=")[1].split()[0])
    assert wait_until(lambda: not process_exists(pid), timeout=10)
    assert httpx.post(bridge.base + endpoint, json=initialize_body(), headers={"Content-Type": "application/json"}).status_code == 404


@runs_once
def test_idle_sessions_are_reaped(bridge_factory):
    bridge = bridge_factory(args=["--session-idle-timeout", "1s"])
    session_id = raw_initialize(bridge.base)
    assert wait_until(lambda: "idle timeout" in bridge.log, timeout=10)
    assert call(bridge, session_id, "whoami", {}).status_code == 404


def test_stderr_of_the_child_reaches_the_bridge_log_with_the_session(bridge):
    session_id = raw_initialize(bridge.base)
    call(bridge, session_id, "write_stderr", {"text": "hello from the child's stderr"})
    assert bridge.wait_for_log("hello from the child's stderr")
    line = next(l for l in bridge.log_lines if "hello from the child's stderr" in l)
    assert f"mcp.session={session_id[:8]}" in line


# A child that answers initialize, then closes its stdin and lives on for a while: a POST in that
# window cannot reach it, and is refused (404) while the session still stands.
DEAF_CHILD = r"""
import json, os, sys, time
line = sys.stdin.readline()
request = json.loads(line)
print(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {"protocolVersion": "2024-11-05",
      "capabilities": {}, "serverInfo": {"name": "deaf", "version": "1"}}}), flush=True)
sys.stdin.readline()  # notifications/initialized
os.close(0)
time.sleep(2)
"""


@runs_once
def test_a_legacy_post_refused_with_404_gets_no_second_answer_on_the_stream(bridge_factory):
    import httpx
    bridge = bridge_factory(child=[sys.executable, "-c", DEAF_CHILD])
    events: list[dict] = []
    endpoint = threading.Event()
    message_url: list[str] = []

    def listen():
        with httpx.stream("GET", bridge.sse_url, timeout=20) as reply:
            for line in reply.iter_lines():
                if line.startswith("data: /"):
                    message_url.append(bridge.base + line[6:])
                    endpoint.set()
                elif line.startswith("data: {"):
                    events.append(json.loads(line[6:]))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert endpoint.wait(10)
    post = lambda body: httpx.post(message_url[0], json=body, timeout=10)
    assert post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}).status_code == 202
    assert post({"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202
    assert wait_until(lambda: any(e.get("id") == 1 for e in events))
    refused_id = None
    deadline = time.monotonic() + 5
    request_id = 2
    while time.monotonic() < deadline:  # until the child has closed its stdin
        if post({"jsonrpc": "2.0", "id": request_id, "method": "tools/list"}).status_code == 404:
            refused_id = request_id
            break
        request_id += 1
        time.sleep(0.05)
    assert refused_id is not None, "no POST was refused after the child closed its stdin"
    listener.join(15)  # the child exits after 2 s; the session ends and the stream with it
    assert not listener.is_alive()
    assert [e for e in events if e.get("id") == refused_id] == [], "a request refused with 404 was also answered on the stream"
    # Those accepted before it were answered on the stream when the child exited.
    assert {e["id"] for e in events if "error" in e} == set(range(2, refused_id))
