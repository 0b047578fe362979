"""Start-up errors that say what to do, and limits on what a child or a half-started session may
cost: a busy port, a bad --port, the version, a flooding stderr, sessions whose initialize never
completes."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys

import httpx

from conftest import ACCEPT_BOTH, BRIDGE, children_of, initialize_body, wait_until, runs_once
from docker_support import RELEASE_BRIDGE

pytestmark = runs_once


def run_bridge(*argv: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([str(BRIDGE), *argv], capture_output=True, text=True, timeout=timeout)


def test_a_busy_port_names_the_address_and_says_what_to_do():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_bridge("--port", str(port), "--", "cat")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; another process holds this port" in result.stderr
    assert "bind(descriptor" not in result.stderr


def test_a_negative_port_is_a_range_error_not_a_missing_value():
    result = run_bridge("--port", "-1", "--", "cat")
    assert result.returncode != 0 and "--port must be between 0 and 65535" in result.stderr


def test_huge_durations_are_refused_instead_of_trapping():
    result = run_bridge("--session-idle-timeout", "99999999999999999999h", "--", "cat")
    assert result.returncode == 64 and "--session-idle-timeout expects a duration" in result.stderr


def test_version():
    result = run_bridge("--version")
    assert result.returncode == 0 and result.stdout.startswith("mcp-bridge ")


def test_the_bridges_own_settings_cannot_be_given_to_the_child():
    result = run_bridge("--env", "MCP_BRIDGE_X=1", "--", "cat")
    assert result.returncode != 0 and "MCP_BRIDGE_X belongs to the bridge's front" in result.stderr


def event_loop_threads(pid: int) -> int:
    """NIO names the singleton group's threads NIO-SGLTN-<group>-#<loop>."""
    names = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            names.append(open(f"/proc/{pid}/task/{task}/comm").read().strip())
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return sum(name.startswith("NIO-SGLTN-") for name in names)


def test_one_event_loop_by_default_and_as_many_as_asked(bridge_factory):
    for args, loops in (([], 1), (["--event-loops", "3"], 3)):
        bridge = bridge_factory(args=args)
        assert httpx.get(bridge.base + "/healthz", timeout=10).status_code == 200
        assert event_loop_threads(bridge.proc.pid) == loops, (args, open(f"/proc/{bridge.proc.pid}/status").read())
        bridge.stop()


def test_an_event_loop_count_out_of_range_is_refused():
    for value in ("0", "65"):
        result = run_bridge("--event-loops", value, "--", "cat")
        assert result.returncode == 64 and "--event-loops must be between 1 and 64" in result.stderr, result.stderr


def test_the_release_bridge_needs_no_shared_library_but_glibcs():
    # scripts/build-release links libstdc++ and libgcc's unwinder in: a host-built bridge then
    # runs on a glibc image without a C++ runtime, and maps no C++ library whole (idle RSS).
    dynamic = subprocess.run(["readelf", "--dynamic", str(RELEASE_BRIDGE)], capture_output=True, text=True, check=True).stdout
    needed = [line.split("[", 1)[1].split("]", 1)[0] for line in dynamic.splitlines() if "(NEEDED)" in line]
    # (the static unwinder finds unwind tables through the dynamic loader's _dl_find_object)
    assert "libc.so.6" in needed, needed
    assert all(name in ("libc.so.6", "libm.so.6") or name.startswith("ld-linux") for name in needed), needed


def test_a_child_flooding_stderr_cannot_flood_the_bridge_log(bridge_factory):
    # 20 MiB of stderr lines, then a normal MCP answer is never needed: the session just starts.
    flood = ("import sys\nline = 'x' * 1000 + '\\n'\nfor _ in range(20 * 1024):\n    sys.stderr.write(line)\n"
             "sys.stderr.flush()\nsys.stdin.read()\n")
    bridge = bridge_factory(child=[sys.executable, "-c", flood])
    with httpx.Client(timeout=5) as client:
        try:
            client.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH}, timeout=2)
        except httpx.HTTPError:
            pass  # the child never answers initialize; it only floods
    assert bridge.wait_for_log("lines dropped", timeout=20), bridge.log[-2000:]
    logged = len(bridge.log.encode())
    assert logged < 2 << 20, f"{logged} bytes of bridge log for 20 MiB of child stderr"


def test_sessions_whose_initialize_never_completes_are_reaped_and_free_their_slot(bridge_factory):
    silent = [sys.executable, "-c", "import sys\nsys.stdin.read()\n"]  # never answers initialize
    bridge = bridge_factory(child=silent, args=["--max-sessions", "1", "--initialize-timeout", "2s", "--json-reply-window", "1s"])
    first = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": "application/json"}, timeout=30)
    assert bridge.wait_for_log("initialize did not complete within the initialize timeout", timeout=15), bridge.log[-2000:]
    assert first.status_code in (200, 500, 502, 504)  # answered, with an error, once the session ended
    # The slot is free again: a new session can start (and is reaped the same way).
    assert wait_until(lambda: httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH},
                                         timeout=10).status_code != 503, timeout=15)




def test_a_client_gone_before_the_sse_head_does_not_pin_its_session(bridge_factory):
    """The answer is slower than the JSON reply window, so the SSE head is written only after the
    client has left: the stream must still be detached, so the session idles out and its child ends."""
    import json
    from conftest import raw_initialize

    bridge = bridge_factory(args=["--json-reply-window", "300ms", "--session-idle-timeout", "2s"])
    session_id = raw_initialize(bridge.base)
    assert wait_until(lambda: len(children_of(bridge.proc.pid)) == 1, timeout=10)
    body = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                       "params": {"name": "slow_echo", "arguments": {"text": "late", "delay": 1.5}}}).encode()
    with socket.create_connection(("127.0.0.1", bridge.port)) as sock:
        # Linger 0: closing resets the connection, so the bridge's channel is already closed when
        # it writes the head (a plain FIN would let that first write succeed).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Accept: application/json, text/event-stream\r\nMcp-Session-Id: " + session_id.encode() +
                     b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    # Gone. After the window the bridge writes the head into a closed connection.
    assert wait_until(lambda: children_of(bridge.proc.pid) == [], timeout=20), bridge.log[-3000:]
    assert bridge.wait_for_log("idle timeout", timeout=5), bridge.log[-3000:]
