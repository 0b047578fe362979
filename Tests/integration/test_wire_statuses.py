"""Every status code of the transport reference's matrix (§11), checked on the wire with raw HTTP."""

import json
import time

import httpx
import pytest

from conftest import ACCEPT_BOTH, initialize_body, raw_initialize, runs_once

pytestmark = runs_once


def post(bridge, body, session_id=None, accept=ACCEPT_BOTH, content_type="application/json", extra=None, path="/mcp"):
    headers = {"Accept": accept, "Content-Type": content_type, **(extra or {})}
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(bridge.base + path, content=data, headers=headers, timeout=20)


def error_code(response):
    return response.json()["error"]["code"]


def test_initialize_mints_a_visible_ascii_session_id_and_streams_sse_for_streaming_calls(bridge):
    session_id = raw_initialize(bridge.base)
    assert len(session_id) >= 32 and all(0x21 <= ord(c) <= 0x7E for c in session_id)
    with httpx.stream("POST", bridge.mcp_url, headers={"Accept": ACCEPT_BOTH, "Mcp-Session-Id": session_id},
                      json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                          "name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "p1"}}}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "text/event-stream"
        assert reply.headers["x-accel-buffering"] == "no"
        events = [json.loads(line[6:]) for line in reply.iter_lines() if line.startswith("data: ")]
    assert [e["params"]["progress"] for e in events if e.get("method") == "notifications/progress"] == [0, 50, 100]
    assert all(e["params"]["progressToken"] == "p1" for e in events if e.get("method"))
    assert events[-1]["id"] == 2 and "result" in events[-1]


def test_json_only_accept_gets_a_json_reply(bridge):
    session_id = raw_initialize(bridge.base)
    reply = post(bridge, {"jsonrpc": "2.0", "id": "abc", "method": "tools/list"}, session_id, accept="application/json")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    assert reply.json()["id"] == "abc"


def test_notifications_and_responses_get_202_with_no_body(bridge):
    session_id = raw_initialize(bridge.base)
    note = post(bridge, {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}, session_id)
    assert note.status_code == 202 and note.content == b""
    answer = post(bridge, {"jsonrpc": "2.0", "id": "srv-1", "result": {}}, session_id)
    assert answer.status_code == 202 and answer.content == b""


@pytest.mark.parametrize("accept", ["text/html", "image/png, text/plain"])
def test_post_whose_accept_admits_neither_json_nor_sse_is_406(bridge, accept):
    reply = post(bridge, initialize_body(), accept=accept)
    assert reply.status_code == 406


@pytest.mark.parametrize("accept", ["*/*", "application/*, text/*", "text/event-stream"])
def test_wildcard_and_single_type_accept_headers_are_honoured(bridge, accept):
    reply = post(bridge, initialize_body(), accept=accept)
    assert reply.status_code == 200


def test_a_client_that_accepts_only_sse_gets_sse_even_for_a_quick_answer(bridge):
    reply = post(bridge, initialize_body(), accept="text/event-stream")
    assert reply.status_code == 200 and reply.headers["content-type"] == "text/event-stream"
    assert '"serverInfo"' in reply.text


def test_get_stream_requires_event_stream_in_accept(bridge):
    session_id = raw_initialize(bridge.base)
    reply = httpx.get(bridge.mcp_url, headers={"Accept": "application/json", "Mcp-Session-Id": session_id})
    assert reply.status_code == 406


def test_content_type_other_than_json_is_415(bridge):
    assert post(bridge, initialize_body(), content_type="text/plain").status_code == 415


def test_unparsable_json_is_400_with_parse_error(bridge):
    reply = post(bridge, b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert reply.status_code == 400 and error_code(reply) == -32700


@pytest.mark.parametrize("body", [
    {"jsonrpc": "1.0", "id": 1, "method": "initialize"},
    {"jsonrpc": "2.0", "id": {"nested": 1}, "method": "initialize"},
    [1, 2, 3],
    b'"just a string"',
    [],
])
def test_json_that_is_not_json_rpc_is_400_with_invalid_request(bridge, body):
    reply = post(bridge, body)
    assert reply.status_code == 400 and error_code(reply) == -32600


def test_invalid_utf8_is_rejected_as_a_parse_error(bridge):
    reply = post(bridge, b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"\xff\xfe"}}')
    assert reply.status_code == 400 and error_code(reply) == -32700


def test_batches_are_refused_outside_2025_03_26_sessions(bridge):
    session_id = raw_initialize(bridge.base, version="2025-06-18")
    reply = post(bridge, [{"jsonrpc": "2.0", "id": 5, "method": "tools/list"}], session_id)
    assert reply.status_code == 400 and error_code(reply) == -32600


def test_batches_work_in_2025_03_26_sessions(bridge):
    session_id = raw_initialize(bridge.base, version="2025-03-26")
    batch = [{"jsonrpc": "2.0", "id": 5, "method": "tools/list"},
             {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
             {"jsonrpc": "2.0", "id": 6, "method": "prompts/list"}]
    reply = post(bridge, batch, session_id, accept="application/json")
    assert reply.status_code == 200
    answers = {item["id"]: item for item in reply.json()}
    assert set(answers) == {5, 6} and "tools" in answers[5]["result"] and "prompts" in answers[6]["result"]


def test_initialize_inside_a_batch_is_refused(bridge):
    reply = post(bridge, [initialize_body()])
    assert reply.status_code == 400


def test_unsupported_protocol_version_header_is_400(bridge):
    session_id = raw_initialize(bridge.base)
    reply = post(bridge, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, session_id,
                 extra={"MCP-Protocol-Version": "1999-01-01"})
    assert reply.status_code == 400 and error_code(reply) == -32000
    ok = post(bridge, {"jsonrpc": "2.0", "id": 4, "method": "tools/list"}, session_id,
              extra={"MCP-Protocol-Version": "2025-06-18"})
    assert ok.status_code == 200


def test_requests_without_session_id_are_400_and_unknown_ids_404(bridge):
    missing = post(bridge, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
    assert missing.status_code == 400
    unknown = post(bridge, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, "0" * 32)
    assert unknown.status_code == 404
    assert httpx.get(bridge.mcp_url, headers={"Accept": "text/event-stream"}).status_code == 400
    assert httpx.delete(bridge.mcp_url).status_code == 400
    assert httpx.delete(bridge.mcp_url, headers={"Mcp-Session-Id": "nope"}).status_code == 404


def test_reinitializing_an_existing_session_is_refused(bridge):
    session_id = raw_initialize(bridge.base)
    assert post(bridge, initialize_body(request_id=9), session_id).status_code == 400


def test_delete_ends_the_session_and_its_child_then_the_id_is_404(bridge):
    session_id = raw_initialize(bridge.base)
    assert httpx.delete(bridge.mcp_url, headers={"Mcp-Session-Id": session_id}).status_code == 200
    reply = post(bridge, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, session_id)
    assert reply.status_code == 404
    assert bridge.wait_for_log("child exited")


def test_second_standalone_get_stream_is_409_and_first_stays_open(bridge):
    session_id = raw_initialize(bridge.base)
    headers = {"Accept": "text/event-stream", "Mcp-Session-Id": session_id}
    with httpx.Client(timeout=10) as client, client.stream("GET", bridge.mcp_url, headers=headers) as first:
        assert first.status_code == 200 and first.headers["content-type"] == "text/event-stream"
        second = httpx.get(bridge.mcp_url, headers=headers)
        assert second.status_code == 409
    # Once the first stream is gone a new one may open.
    assert wait_for_status(lambda: get_status(bridge, headers), 200)


def get_status(bridge, headers):
    with httpx.stream("GET", bridge.mcp_url, headers=headers, timeout=5) as reply:
        return reply.status_code


def wait_for_status(call, expected, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if call() == expected:
            return True
        time.sleep(0.1)
    return False


def test_other_methods_are_405_with_allow(bridge):
    reply = httpx.put(bridge.mcp_url, content=b"{}")
    assert reply.status_code == 405 and reply.headers["allow"] == "GET, POST, DELETE"
    message = httpx.get(bridge.base + "/message")
    assert message.status_code == 405 and message.headers["allow"] == "POST"
    sse = httpx.post(bridge.sse_url, content=b"{}")
    assert sse.status_code == 405 and sse.headers["allow"] == "GET"


def test_unknown_paths_are_404_and_health_is_200(bridge):
    assert httpx.get(bridge.base + "/nothing-here").status_code == 404
    health = httpx.get(bridge.base + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = httpx.get(bridge.base + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_body_over_the_limit_is_413(bridge_factory):
    bridge = bridge_factory(args=["--max-message-bytes", "2KiB"])
    big = initialize_body()
    big["params"]["padding"] = "p" * 4096
    assert post(bridge, big).status_code == 413
    # The legacy endpoint, on a real legacy session (a Streamable session id would only get 404).
    with httpx.Client(timeout=10) as client, client.stream("GET", bridge.sse_url) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: endpoint"
        url = bridge.base + next(lines)[len("data: "):]
        legacy = client.post(url, content=json.dumps(big), headers={"Content-Type": "application/json"})
        assert legacy.status_code == 413 and error_code(legacy) == -32000


def test_a_chunked_body_over_the_limit_is_413_too(bridge_factory):
    """No Content-Length: the limit must still be a 413, not a parse error."""
    bridge = bridge_factory(args=["--max-message-bytes", "2KiB"])
    big = initialize_body()
    big["params"]["padding"] = "p" * 4096
    body = json.dumps(big).encode()
    reply = httpx.post(bridge.mcp_url, content=(body[i:i + 512] for i in range(0, len(body), 512)),
                       headers={"Accept": ACCEPT_BOTH, "Content-Type": "application/json"})
    assert reply.status_code == 413 and error_code(reply) == -32000


def test_session_cap_answers_503_with_a_json_rpc_error(bridge_factory):
    bridge = bridge_factory(args=["--max-sessions", "1"])
    first = raw_initialize(bridge.base)
    refused = post(bridge, initialize_body(request_id=77))
    assert refused.status_code == 503
    assert refused.json()["id"] == 77 and error_code(refused) == -32000
    httpx.delete(bridge.mcp_url, headers={"Mcp-Session-Id": first})
    assert wait_for_status(lambda: post(bridge, initialize_body()).status_code, 200)


def test_duplicate_in_flight_request_id_is_refused(bridge_factory):
    # With no JSON reply window the SSE head is sent once the request is registered: when the
    # first request's head has arrived, it is in flight (no sleep decides the order).
    bridge = bridge_factory(args=["--json-reply-window", "0"])
    session_id = raw_initialize(bridge.base)
    call = {"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {"name": "slow_echo", "arguments": {"text": "a", "delay": 1.5}}}
    with httpx.stream("POST", bridge.mcp_url, json=call, timeout=20,
                      headers={"Accept": ACCEPT_BOTH, "Mcp-Session-Id": session_id}) as first:
        assert first.status_code == 200 and first.headers["content-type"] == "text/event-stream"
        duplicate = post(bridge, call, session_id)
        assert duplicate.status_code == 400 and error_code(duplicate) == -32600
        answers = [json.loads(line[6:]) for line in first.iter_lines() if line.startswith("data: ")]
    assert answers[-1]["id"] == 42 and answers[-1]["result"]["content"][0]["text"] == "a"


def test_legacy_sse_first_event_is_the_endpoint_and_messages_are_202(bridge):
    with httpx.Client(timeout=10) as client, client.stream("GET", bridge.sse_url) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"] == "text/event-stream"
        lines = stream.iter_lines()
        assert next(lines) == "event: endpoint"
        endpoint = next(lines)[len("data: "):]
        assert endpoint.startswith("/message?sessionId=")
        url = bridge.base + endpoint
        accepted = client.post(url, json=initialize_body(), headers={"Content-Type": "application/json"})
        assert accepted.status_code == 202
        events = []
        for line in lines:
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                break
        assert events[0]["id"] == 1 and "serverInfo" in events[0]["result"]
        assert client.post(url, content=b"{broken", headers={"Content-Type": "application/json"}).status_code == 400
        assert client.post(url, content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 400
    assert httpx.post(bridge.base + "/message", json={}).status_code == 400
    assert httpx.post(bridge.base + "/message?sessionId=" + "f" * 32, json={}).status_code == 404


def test_base_path_moves_every_route_and_the_advertised_endpoint(bridge_factory):
    bridge = bridge_factory(args=["--base-path", "/tools/fixture"])
    assert httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH}).status_code == 404
    prefixed = bridge.base + "/tools/fixture"
    assert httpx.post(prefixed + "/mcp", json=initialize_body(), headers={"Accept": "application/json"}).status_code == 200
    with httpx.stream("GET", prefixed + "/sse", timeout=10) as stream:
        lines = stream.iter_lines()
        next(lines)
        assert next(lines).startswith("data: /tools/fixture/message?sessionId=")


@pytest.mark.parametrize("accept", ["application/json", ACCEPT_BOTH, "text/event-stream"])
def test_a_connection_stays_open_for_the_next_request_whatever_the_reply_kind(bridge, accept):
    """JSON replies and POST SSE replies alike leave the keep-alive connection usable."""
    import socket
    session_id = raw_initialize(bridge.base)
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=5) as sock:
        for request_id in (1, 2, 3):
            body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/list"}).encode()
            sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: " + accept.encode() +
                         b"\r\nMcp-Session-Id: " + session_id.encode() + b"\r\nContent-Length: " + str(len(body)).encode() +
                         b"\r\n\r\n" + body)
            head, body = read_http_response(sock)
            assert head.startswith(b"HTTP/1.1 200") and b"connection: close" not in head.lower(), head
            assert f'"id":{request_id}'.encode() in body


def read_http_response(sock) -> tuple[bytes, bytes]:
    """One whole response (Content-Length or chunked) from a keep-alive socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the bridge closed the connection"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), None)
    while (len(rest) < length) if length is not None else not rest.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        assert chunk, "the bridge closed the connection mid-response"
        rest += chunk
    return head, rest


@pytest.mark.parametrize("raw_id", ["1.5", "1e2", "-0", "9007199254740992", "9" * 10_000])
def test_ids_a_server_could_not_echo_exactly_are_refused(bridge, raw_id):
    session_id = raw_initialize(bridge.base)
    body = '{"jsonrpc":"2.0","id":' + raw_id + ',"method":"tools/list"}'
    reply = post(bridge, body, session_id=session_id)
    assert reply.status_code == 400 and error_code(reply) == -32600 and "use a string id" in reply.text


def test_the_largest_portable_integer_id_is_fine(bridge):
    session_id = raw_initialize(bridge.base)
    reply = post(bridge, '{"jsonrpc":"2.0","id":9007199254740991,"method":"tools/list"}', session_id=session_id, accept="application/json")
    assert reply.status_code == 200 and reply.json()["id"] == 9007199254740991


def test_a_request_the_server_never_answers_gets_an_error_after_the_request_timeout(bridge_factory):
    bridge = bridge_factory(args=["--request-timeout", "1s"])
    session_id = raw_initialize(bridge.base)
    started = time.monotonic()
    reply = post(bridge, {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                          "params": {"name": "slow_echo", "arguments": {"text": "never in time", "delay": 30}}},
                 session_id=session_id, accept="application/json")
    assert time.monotonic() - started < 10
    assert reply.status_code == 200 and reply.json()["id"] == 9
    assert error_code(reply) == -32603 and "did not answer within 1 s" in reply.json()["error"]["message"]
    # The session still works afterwards.
    quick = post(bridge, {"jsonrpc": "2.0", "id": 10, "method": "tools/list"}, session_id=session_id, accept="application/json")
    assert quick.status_code == 200 and quick.json()["id"] == 10


def test_at_the_session_cap_the_longest_idle_session_is_evicted_but_busy_ones_are_not(bridge_factory):
    # Times are measured, not assumed: starting a Python server for a session took from 0.2 s
    # to over 0.7 s on the machines this ran on.
    evict_after = 3
    bridge = bridge_factory(args=["--max-sessions", "2", "--evict-idle-after", f"{evict_after}s"])
    first = raw_initialize(bridge.base)
    first_idle_since = time.monotonic()
    time.sleep(0.3)
    second = raw_initialize(bridge.base)
    # Too early: nobody has been idle for `evict_after` yet.
    assert time.monotonic() - first_idle_since < evict_after - 0.5, "starting the second session took too long to check this"
    assert post(bridge, initialize_body()).status_code == 503
    time.sleep(max(0.0, first_idle_since + evict_after + 0.3 - time.monotonic()))
    third = raw_initialize(bridge.base)  # evicts `first`, idle longest
    ping = {"jsonrpc": "2.0", "id": 5, "method": "ping"}
    assert post(bridge, ping, session_id=first).status_code == 404
    assert post(bridge, ping, session_id=second).status_code == 200
    assert post(bridge, ping, session_id=third).status_code == 200
    # Sessions with an open stream are never idle: with both streams open, the cap holds.
    with httpx.stream("GET", bridge.mcp_url, headers={"Accept": "text/event-stream", "Mcp-Session-Id": second},
                      timeout=10) as a, \
         httpx.stream("GET", bridge.mcp_url, headers={"Accept": "text/event-stream", "Mcp-Session-Id": third},
                      timeout=10) as b:
        assert a.status_code == 200 and b.status_code == 200
        time.sleep(evict_after + 0.3)
        assert post(bridge, initialize_body()).status_code == 503
    assert "evicted" in bridge.log
