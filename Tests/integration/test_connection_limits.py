"""Per-connection limits on the wire (raw sockets): header, body and keep-alive deadlines, the
connection cap, close semantics (HTTP/1.0, Connection: close, 413 with the body still coming),
and a shutdown that completes whatever the clients do."""

import json
import os
import re
import signal
import socket
import threading
import time


from conftest import initialize_body, runs_once

pytestmark = runs_once

PING = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()


def connect(bridge) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", bridge.port), timeout=10)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the peer closes `sock` within `seconds` (everything it sends first is discarded)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if sock.recv(65536) == b"":
                return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True
    return False


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Reads one HTTP response with a Content-Length body."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response head: {data!r}"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        rest += chunk
    return status, headers, rest[:length]


def request_bytes(body: bytes = PING, version: str = "HTTP/1.1", extra: str = "", path: str = "/mcp") -> bytes:
    return (f"POST {path} {version}\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def test_silent_and_slow_loris_connections_are_closed_after_the_header_timeout(bridge_factory):
    bridge = bridge_factory(args=["--header-timeout", "1s"])
    silent = [connect(bridge) for _ in range(40)]
    loris = connect(bridge)
    loris.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes its head
    started = time.monotonic()
    assert all(closed_within(sock, 5) for sock in silent + [loris])
    assert time.monotonic() - started < 6
    assert bridge.wait_for_log("no complete request head within")
    assert "--header-timeout" in bridge.log
    # The limit is logged once per window, not once per connection.
    assert bridge.log.count("no complete request head within") < 5
    # And the bridge still serves.
    sock = connect(bridge)
    sock.sendall(request_bytes(json.dumps(initialize_body()).encode()))
    status, _, _ = read_response(sock)
    assert status == 200


def test_a_body_that_stalls_gets_408_and_a_close(bridge_factory):
    bridge = bridge_factory(args=["--body-timeout", "1s"])
    sock = connect(bridge)
    body = json.dumps(initialize_body()).encode()
    sock.sendall(request_bytes(body)[:-10])  # head plus all but ten bytes of the body
    status, headers, payload = read_response(sock, timeout=8)
    assert status == 408
    assert headers["connection"] == "close"
    assert json.loads(payload)["error"]["code"] == -32000
    assert closed_within(sock, 5)
    assert bridge.wait_for_log("did not arrive within")


def test_a_body_that_stalls_on_a_kept_alive_connection_gets_408_on_time(bridge_factory):
    # One timer serves a connection's deadlines: after a request the idle deadline (30 s) is
    # in force; the next request's body deadline (1 s) comes earlier and must move the timer.
    bridge = bridge_factory(args=["--body-timeout", "1s", "--connection-idle-timeout", "30s"])
    sock = connect(bridge)
    body = json.dumps(initialize_body()).encode()
    sock.sendall(request_bytes(body))
    status, _, _ = read_response(sock)
    assert status == 200
    time.sleep(1.5)  # past the first request's body deadline: the timer has slept again
    started = time.monotonic()
    sock.sendall(request_bytes(body)[:-10])
    status, headers, _ = read_response(sock, timeout=8)
    assert status == 408 and headers["connection"] == "close"
    assert time.monotonic() - started < 4


def test_a_kept_alive_connection_outlives_earlier_deadlines_then_closes_when_idle(bridge_factory):
    # The first-head deadline (1 s) fires while the idle deadline (3 s) is in force: the
    # connection stays open until the idle deadline, then closes.
    bridge = bridge_factory(args=["--header-timeout", "1s", "--connection-idle-timeout", "3s"])
    sock = connect(bridge)
    sock.sendall(request_bytes(json.dumps(initialize_body()).encode()))
    status, headers, _ = read_response(sock)
    assert status == 200
    time.sleep(2)
    sock.sendall(request_bytes(extra=f"Mcp-Session-Id: {headers['mcp-session-id']}\r\n"))
    status, _, _ = read_response(sock)
    assert status == 200
    answered = time.monotonic()
    assert closed_within(sock, 6)
    assert 2.5 < time.monotonic() - answered < 5


def test_keep_alive_connection_carries_several_requests_then_closes_when_idle(bridge_factory):
    bridge = bridge_factory(args=["--connection-idle-timeout", "1s"])
    sock = connect(bridge)
    sock.sendall(request_bytes(json.dumps(initialize_body()).encode()))
    status, headers, _ = read_response(sock)
    assert status == 200
    session = headers["mcp-session-id"]
    sock.sendall(request_bytes(extra=f"Mcp-Session-Id: {session}\r\n"))
    status, _, payload = read_response(sock)
    assert status == 200 and json.loads(payload)["id"] == 1
    assert closed_within(sock, 5)


def test_http_1_0_without_keep_alive_is_closed_after_its_response(bridge):
    sock = connect(bridge)
    sock.sendall(request_bytes(json.dumps(initialize_body()).encode(), version="HTTP/1.0"))
    status, _, _ = read_response(sock)
    assert status == 200
    assert closed_within(sock, 3)


def test_connection_close_is_honoured_and_said(bridge):
    sock = connect(bridge)
    sock.sendall(request_bytes(json.dumps(initialize_body()).encode(), extra="Connection: close\r\n"))
    status, headers, _ = read_response(sock)
    assert status == 200
    assert headers["connection"] == "close"
    assert closed_within(sock, 3)


def test_413_with_the_body_still_coming_drains_it_so_the_client_reads_the_answer(bridge_factory):
    bridge = bridge_factory(args=["--max-message-bytes", "64KiB"])
    sock = connect(bridge)
    body = b"x" * (8 << 20)
    failure: list[BaseException] = []

    def send():
        try:
            sock.sendall(request_bytes(body, extra="Connection: close\r\n"))
        except OSError as error:  # the failure this test is about: a stalled or reset upload
            failure.append(error)

    writer = threading.Thread(target=send, daemon=True)
    writer.start()
    writer.join(20)
    assert not writer.is_alive(), "the client could not finish writing its body: the bridge stopped reading"
    assert not failure, failure
    status, _, payload = read_response(sock)
    assert status == 413
    assert "exceeds the limit" in json.loads(payload)["error"]["message"]
    assert closed_within(sock, 5)


def test_a_connection_beyond_the_cap_gets_503_and_is_logged_and_a_freed_slot_serves_again(bridge_factory):
    bridge = bridge_factory(args=["--max-connections", "4", "--header-timeout", "60s"])
    holders = [connect(bridge) for _ in range(4)]
    time.sleep(0.3)  # let the bridge accept all four
    refused = connect(bridge)
    status, headers, payload = read_response(refused)
    assert status == 503 and headers["connection"] == "close"
    assert "too many open connections" in json.loads(payload)["error"]["message"]
    assert closed_within(refused, 3)
    assert bridge.wait_for_log("--max-connections")
    holders[0].close()
    time.sleep(0.3)
    served = connect(bridge)
    served.sendall(request_bytes(json.dumps(initialize_body()).encode()))
    assert read_response(served)[0] == 200
    for sock in holders[1:]:
        sock.close()


def test_sigterm_completes_with_a_half_received_authenticated_body(bridge_factory, tmp_token_file):
    token = "first-token-abc"  # the fixture file's first line
    bridge = bridge_factory(args=["--token-file", tmp_token_file, "--shutdown-grace", "1s"])
    sock = connect(bridge)
    body = json.dumps(initialize_body()).encode()
    sock.sendall(request_bytes(body, extra=f"Authorization: Bearer {token}\r\n")[:-5])
    time.sleep(0.3)  # the head is read and the request is waiting for its body
    started = time.monotonic()
    bridge.proc.send_signal(signal.SIGTERM)
    status, _, payload = read_response(sock)
    assert status == 503 and "shutting down" in json.loads(payload)["error"]["message"]
    bridge.proc.wait(15)
    assert time.monotonic() - started < 10


def test_sigterm_completes_while_a_client_holds_a_connection_it_asked_to_close(bridge_factory):
    bridge = bridge_factory(args=["--shutdown-grace", "1s"])
    held = connect(bridge)
    held.sendall(request_bytes(json.dumps(initialize_body()).encode(), extra="Connection: close\r\n"))
    assert read_response(held)[0] == 200
    reused = connect(bridge)
    reused.sendall(request_bytes(json.dumps(initialize_body()).encode()))
    assert read_response(reused)[0] == 200
    reused.sendall(request_bytes()[:20])  # a second request, half sent, on a kept-alive connection
    started = time.monotonic()
    bridge.proc.send_signal(signal.SIGTERM)
    bridge.proc.wait(15)
    assert time.monotonic() - started < 10
    assert bridge.proc.returncode == 0


def test_duplicate_or_missing_host_headers_get_400(bridge):
    body = json.dumps(initialize_body()).encode()
    for raw in (request_bytes(body, extra="Host: evil.example\r\n"),
                request_bytes(body).replace(b"Host: 127.0.0.1\r\n", b"")):
        sock = connect(bridge)
        sock.sendall(raw)
        status, _, payload = read_response(sock)
        assert status == 400
        assert "exactly one Host" in json.loads(payload)["error"]["message"]
        assert closed_within(sock, 3)
    # HTTP/1.0 may omit Host; on a loopback bind the DNS-rebinding check then refuses it.
    sock = connect(bridge)
    sock.sendall(request_bytes(body, version="HTTP/1.0").replace(b"Host: 127.0.0.1\r\n", b""))
    status, _, payload = read_response(sock)
    assert status == 403 and "Host" in json.loads(payload)["error"]["message"]


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_near_the_descriptor_limit_the_cap_bites_first_without_spinning(bridge_factory):
    """With nofile=128 and two sessions' worth of pipes reserved, the bridge lowers its cap (and
    says so), answers the surplus 503 at once, stays idle on the CPU, and keeps serving."""
    bridge = bridge_factory(args=["--max-sessions", "2", "--header-timeout", "60s"],
                            wrapper=["prlimit", "--nofile=128:128", "--"])
    assert bridge.wait_for_log("descriptor limit leaves room for fewer connections")
    match = re.search(r"max_connections=(\d+)", bridge.log)
    assert match, bridge.log
    cap = int(match.group(1))
    assert 16 <= cap <= 128 - 64
    held = [connect(bridge) for _ in range(cap)]
    time.sleep(0.5)
    refused = 0
    for _ in range(40):
        sock = connect(bridge)
        status, _, _ = read_response(sock)
        refused += status == 503
        sock.close()
    assert refused == 40
    before = cpu_seconds(bridge.proc.pid)
    time.sleep(2)
    assert cpu_seconds(bridge.proc.pid) - before < 0.5, "the bridge spins while at its limit"
    for sock in held[:4]:
        sock.close()
    time.sleep(0.3)
    served = connect(bridge)
    served.sendall(request_bytes(json.dumps(initialize_body()).encode()))
    assert read_response(served)[0] == 200
    for sock in held[4:]:
        sock.close()


def test_headers_over_the_limits_get_431(bridge):
    for extra in ("X-Big: " + "a" * 100_000 + "\r\n", "".join(f"X-{i}: a\r\n" for i in range(2000))):
        sock = connect(bridge)
        sock.sendall(request_bytes(extra=extra))
        status, headers, payload = read_response(sock)
        assert status == 431 and headers["connection"] == "close"
        assert "Header Fields Too Large" in json.loads(payload)["error"]["message"]
        assert closed_within(sock, 3)
    # Other framing errors stay a plain 400.
    sock = connect(bridge)
    sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert read_response(sock)[0] == 400


def read_until_closed(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_pipelined_requests_are_answered_in_order(bridge):
    # The first (a session start: a process is spawned) takes far longer than the second.
    sock = connect(bridge)
    sock.sendall(request_bytes(json.dumps(initialize_body()).encode())
                 + b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    data = read_until_closed(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 2, data
    assert b'"serverInfo"' in data and b'{"status":"ok"}' in data, data
    assert data.index(b'"serverInfo"') < data.index(b'{"status":"ok"}')


def test_a_malformed_request_gets_400_and_a_close(bridge):
    sock = connect(bridge)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nNOT A REQUEST LINE\r\n\r\n")
    data = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 OK") and b'{"status":"ok"}' in data, data
    assert b"HTTP/1.1 400 Bad Request" in data, data
    # The bridge still serves everyone else.
    other = connect(bridge)
    other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_response(other)[0] == 200


def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(bridge):
    sock = connect(bridge)
    sock.sendall(request_bytes(json.dumps(initialize_body()).encode()))
    sock.shutdown(socket.SHUT_WR)
    data = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 OK") and b'"serverInfo"' in data, data
