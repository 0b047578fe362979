"""`mcp-bridge connect`: the official SDK's stdio client launches the real binary, which relays to
(a) our bridge with a token, (b) our nginx front over TLS, pinned by fingerprint and by CA file,
(c) the Python mcp-proxy peer's legacy /sse. Then the failure paths: wrong token, wrong
fingerprint, unreachable URL, expired session, stdin closing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest
from mcp import types

from conftest import BRIDGE, FIXTURE, ROOT, SERVER_PYTHON, children_of, field, free_port, listening, require, text_of, wait_until, runs_once

try:
    from mcp.shared.exceptions import McpError as SDKError
except ImportError:  # mcp 2.x renamed it
    from mcp.shared.exceptions import MCPError as SDKError

pytestmark = pytest.mark.anyio

TOKEN = "connect-test-token-0123456789abcdef"
PEER = Path(os.environ.get("MCP_PEER_PROXY", ROOT / ".venv-test" / "peer" / "bin" / "mcp-proxy"))
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


@contextlib.asynccontextmanager
async def connect_session(url: str | None, *flags: str, env: dict | None = None, log: Path | None = None, **callbacks):
    """An initialized SDK ClientSession whose stdio server is `mcp-bridge connect URL FLAGS`."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    args = ["connect", *([url] if url else []), "--log-level", "info", *flags]
    params = StdioServerParameters(command=str(BRIDGE), args=args, env=env or {})
    with open(log or os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, **callbacks) as session:
                with anyio.fail_after(30):
                    await session.initialize()
                yield session


async def exercise(session, server_requests: bool = True):
    """Tools and progress, then (unless the server cannot send them) sampling and elicitation,
    all through the relay."""
    tools = {tool.name for tool in (await session.list_tools()).tools}
    assert {"test_simple_text", "test_sampling", "test_elicitation"} <= tools
    assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
    progress = []

    async def on_progress(value, total, message):
        progress.append(value)

    await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
    assert progress == [0, 50, 100]
    if not server_requests:
        return
    result = await session.call_tool("test_sampling", {"prompt": "what is six times seven?"})
    assert text_of(result) == "LLM said: forty-two"
    result = await session.call_tool("test_elicitation", {"message": "who are you?"})
    assert text_of(result) == "accepted ada <ada@example.com>"


async def on_sampling(context, params):
    assert params.messages[0].content.text == "what is six times seven?"
    return types.CreateMessageResult(role="assistant", model="test-model",
                                     content=types.TextContent(type="text", text="forty-two"))


async def on_elicit(context, params):
    assert "who are you" in params.message
    return types.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.com"})


async def initialize_failure(url: str | None, *flags: str, env: dict | None = None, log: Path | None = None) -> str:
    """The message of the JSON-RPC error `initialize` got (the SDK wraps it in task groups)."""
    try:
        async with connect_session(url, *flags, env=env, log=log):
            pass
    except BaseException as raised:  # noqa: BLE001 - searched below, re-raised if not found
        pending = [raised]
        while pending:
            error = pending.pop()
            if isinstance(error, SDKError):
                return str(error)
            pending.extend(getattr(error, "exceptions", []))
        raise
    pytest.fail("initialize succeeded")


CALLBACKS = {"sampling_callback": on_sampling, "elicitation_callback": on_elicit}


@pytest.fixture
def token_bridge(bridge_factory):
    return bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN})


# ---------------------------------------------------------------- (a) our bridge

@pytest.mark.parametrize("path,transport", [("/mcp", "auto"), ("/mcp", "streamable"), ("/sse", "auto"), ("/sse", "sse")])
async def test_everything_round_trips_to_our_bridge_with_a_token(token_bridge, path, transport, tmp_path):
    log = tmp_path / "connect.log"
    async with connect_session(token_bridge.base + path, "--transport", transport, env={"MCP_BRIDGE_TOKEN": TOKEN},
                               log=log, **CALLBACKS) as session:
        await exercise(session)
    text = log.read_text()
    assert TOKEN not in text
    if path == "/sse" and transport == "auto":
        assert "answered 405 to initialize; trying the legacy HTTP+SSE transport" in text


async def test_the_token_file_and_url_from_the_environment_work(token_bridge, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("# the sandbox's token\n" + TOKEN + "\n")
    async with connect_session(None, "--token-file", str(token_file), env={"MCP_BRIDGE_URL": token_bridge.mcp_url}) as session:
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
async def test_notifications_during_a_call_and_outside_any_call_arrive(token_bridge, path):
    """Logs sent while a call runs travel on its response stream; one sent after the call has
    returned can only come on the GET stream (or the legacy SSE stream)."""
    logs = []
    arrived = anyio.Event()

    async def on_log(params):
        logs.append(params.data)
        if params.data == "after the call":
            arrived.set()

    async with connect_session(token_bridge.base + path, env={"MCP_BRIDGE_TOKEN": TOKEN}, logging_callback=on_log) as session:
        result = await session.call_tool("test_tool_with_logging", {})
        assert text_of(result) == "logged 3 messages"
        assert logs == ["log message 1", "log message 2", "log message 3"]
        assert text_of(await session.call_tool("log_later", {"text": "after the call", "delay": 0.5})) == "scheduled"
        with anyio.fail_after(10):
            await arrived.wait()


async def test_concurrent_calls_each_get_their_own_answer(token_bridge):
    answers = {}
    async with connect_session(token_bridge.mcp_url, env={"MCP_BRIDGE_TOKEN": TOKEN}) as session:
        async def call(text, delay):
            answers[text] = text_of(await session.call_tool("slow_echo", {"text": text, "delay": delay}))

        with anyio.fail_after(15):
            async with anyio.create_task_group() as group:
                for index, delay in enumerate([0.6, 0.1, 0.3, 0.0, 0.5]):
                    group.start_soon(call, f"call-{index}", delay)
    assert answers == {f"call-{index}": f"call-{index}" for index in range(5)}


@runs_once
def test_stdout_carries_only_mcp_messages_and_stdin_eof_ends_the_remote_session(token_bridge):
    argv = [str(BRIDGE), "connect", token_bridge.mcp_url, "--log-level", "debug"]
    proc = subprocess.Popen(argv, env={"PATH": os.environ["PATH"], "MCP_BRIDGE_TOKEN": TOKEN},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = [INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "big_result", "arguments": {"size": 300000}}},
             "this is not json", ""]
    proc.stdin.write(b"".join((item if isinstance(item, str) else json.dumps(item)).encode() + b"\n" for item in lines))
    proc.stdin.flush()
    # The child exists while the session lives.
    assert wait_until(lambda: children_of(token_bridge.proc.pid), timeout=10)
    # Requests still in flight when stdin closes are abandoned (the client is done), so stdin
    # stays open until the call is answered: a fixed pause raced the server's start-up.
    out_lines: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [threading.Thread(target=lambda: out_lines.extend(proc.stdout), daemon=True),
               threading.Thread(target=lambda: err_chunks.extend(proc.stderr), daemon=True)]
    for reader in readers:
        reader.start()
    assert wait_until(lambda: any(b'"id":2' in line or b'"id": 2' in line for line in out_lines), timeout=20)
    proc.stdin.close()
    returncode = proc.wait(timeout=15)
    for reader in readers:
        reader.join(timeout=15)
    err = b"".join(err_chunks)
    assert returncode == 0, err.decode()
    messages = [json.loads(line) for line in out_lines]
    by_id = {message.get("id"): message for message in messages}
    assert by_id[1]["result"]["serverInfo"]["name"] == "mcp-bridge-fixture"
    assert len(by_id[2]["result"]["content"][0]["text"]) == 300000
    assert by_id[None]["error"]["code"] == -32700
    assert b"relaying stdio to" in err and TOKEN.encode() not in err
    # stdin closed → DELETE → the bridge ends the session and its child.
    assert wait_until(lambda: not children_of(token_bridge.proc.pid), timeout=10)


# ---------------------------------------------------------------- failures

async def test_a_wrong_token_is_a_json_rpc_error_that_says_so(token_bridge, tmp_path):
    log = tmp_path / "connect.log"
    message = await initialize_failure(token_bridge.mcp_url, env={"MCP_BRIDGE_TOKEN": "wrong"}, log=log)
    assert "refused the bearer token (HTTP 401)" in message
    assert "does not match the server's" in log.read_text()


async def test_no_token_is_reported_as_missing(token_bridge):
    message = await initialize_failure(token_bridge.mcp_url)
    assert "refused the request without a bearer token (HTTP 401)" in message


async def test_an_unreachable_url_is_a_json_rpc_error_that_says_so(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/mcp"
    log = tmp_path / "connect.log"
    message = await initialize_failure(url, log=log)
    assert f"cannot reach {url}: Connection refused" in message
    assert "check the URL" in log.read_text()


@pytest.mark.parametrize("path,transport", [("/mcp", "auto"), ("/sse", "sse")])
async def test_an_expired_session_is_renewed_with_the_clients_initialize(bridge_factory, path, transport, tmp_path):
    """The bridge restarts (every session gone); the next call still gets its answer."""
    first = bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN})
    port = first.port
    log = tmp_path / "connect.log"
    async with connect_session(first.base + path, "--transport", transport, env={"MCP_BRIDGE_TOKEN": TOKEN}, log=log) as session:
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
        first.stop()
        second = bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN}, args=["--port", str(port)])
        assert second.port == port
        with anyio.fail_after(20):
            result = await session.call_tool("slow_echo", {"text": "after restart", "delay": 0})
        assert text_of(result) == "after restart"
    assert "the remote session ended; starting a new one with the client's initialize" in log.read_text()


@runs_once
def test_bad_settings_fail_before_connecting_and_name_the_setting(tmp_path):
    def run(*args, env=None):
        return subprocess.run([str(BRIDGE), "connect", *args], env={"PATH": os.environ["PATH"], **(env or {})},
                              capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)

    cases = [
        ((), None, "give the server's URL"),
        (("ftp://127.0.0.1/mcp",), None, "only http:// and https:// URLs"),
        (("https://user:pw@127.0.0.1/mcp",), None, "carries credentials in the URL"),
        (("https://127.0.0.1/mcp", "--fingerprint", "AB:CD"), None, "--fingerprint: expected a SHA-256 fingerprint"),
        (("https://127.0.0.1/mcp", "--fingerprint", "00" * 32, "--insecure"), None, "choose one way"),
        (("http://127.0.0.1/mcp", "--insecure"), None, "apply to https:// only"),
        (("https://127.0.0.1/mcp", "--ca-file", str(tmp_path / "missing.pem")), None, "--ca-file: cannot read"),
        (("http://127.0.0.1/mcp", "--header", "X-Key: ${UNSET_FOR_TEST}"), None, "the environment has no UNSET_FOR_TEST"),
        (("http://127.0.0.1/mcp", "--header", "Authorization: Bearer x"), {"MCP_BRIDGE_TOKEN": "t"}, "keep one"),
        (("http://127.0.0.1/mcp", "--token-file", str(tmp_path / "none")), None, "--token-file: cannot read"),
    ]
    for args, env, expected in cases:
        result = run(*args, env=env)
        assert result.returncode != 0 and expected in result.stderr, (args, result.stderr)
        assert result.stdout == ""


# ---------------------------------------------------------------- (b) our nginx front over TLS

@pytest.fixture
def tls_front(token_bridge):
    require(shutil.which("nginx") is not None and shutil.which("setpriv") is not None and os.geteuid() == 0,
            "needs Debian's nginx, setpriv and root (to drop to uid 10001 like the container)")
    from test_nginx_front import Front

    workdir = Path(tempfile.mkdtemp(prefix="mcp-connect-front-"))
    os.chmod(workdir, 0o755)
    front = Front(workdir / "front", token_bridge.port, tokens=TOKEN).start()
    fingerprint = subprocess.run(["openssl", "x509", "-in", front.cert, "-noout", "-fingerprint", "-sha256"],
                                 capture_output=True, text=True, check=True).stdout.strip().split("=", 1)[1]
    front.fingerprint = fingerprint
    yield front
    front.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("trust", ["fingerprint", "ca-file", "fingerprint-in-env"])
async def test_everything_round_trips_through_the_tls_front(tls_front, trust):
    env = {"MCP_BRIDGE_TOKEN": TOKEN}
    flags: list[str] = []
    if trust == "fingerprint":
        flags = ["--fingerprint", tls_front.fingerprint]
    elif trust == "ca-file":
        flags = ["--ca-file", tls_front.cert]
    else:
        env["MCP_BRIDGE_FINGERPRINT"] = tls_front.fingerprint.replace(":", "").lower()
    async with connect_session(tls_front.base + "/mcp", *flags, env=env, **CALLBACKS) as session:
        await exercise(session)


async def test_the_tls_front_legacy_sse_path_works_too(tls_front):
    async with connect_session(tls_front.base + "/sse", "--fingerprint", tls_front.fingerprint,
                               env={"MCP_BRIDGE_TOKEN": TOKEN}, **CALLBACKS) as session:
        await exercise(session)


async def test_a_wrong_fingerprint_is_refused_and_names_both(tls_front, tmp_path):
    wrong = ":".join(["AB"] * 32)
    log = tmp_path / "connect.log"
    message = await initialize_failure(tls_front.base + "/mcp", "--fingerprint", wrong, env={"MCP_BRIDGE_TOKEN": TOKEN}, log=log)
    assert "TLS verification" in message and f"fingerprint is {tls_front.fingerprint}, not the pinned {wrong}" in message
    assert "--fingerprint" in log.read_text()


async def test_system_trust_refuses_the_self_signed_front(tls_front):
    """Verification is never silently off: without a pin or CA the self-signed certificate fails."""
    message = await initialize_failure(tls_front.base + "/mcp", env={"MCP_BRIDGE_TOKEN": TOKEN})
    assert "not trusted by the system's CA store (CERTIFICATE_VERIFY_FAILED)" in message


def test_a_refused_certificate_is_named_even_when_the_request_write_loses_the_race(tmp_path):
    """A failed handshake closes the connection; a request write that lands after that used to
    surface as "connection lost: I/O on closed channel" instead of the TLS reason: 1-6 of these
    120 attempts (8 at a time) in each of six runs before the fix."""
    require(shutil.which("openssl") is not None, "needs openssl")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", str(cert), "-key", str(key), "-www", "-quiet"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: listening(port), timeout=10), "openssl s_server did not listen"
        initialize = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "race", "version": "1"}}})

        def attempt(_: int) -> str:
            result = subprocess.run([str(BRIDGE), "connect", f"https://127.0.0.1:{port}/mcp"], input=initialize + "\n",
                                    capture_output=True, text=True, timeout=30, env={**os.environ, "MCP_BRIDGE_TOKEN": TOKEN})
            return json.loads(result.stdout.splitlines()[0])["error"]["message"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            messages = list(pool.map(attempt, range(120)))
    finally:
        server.kill()
        server.wait()
    wrong = [message for message in messages if "not trusted by the system's CA store (CERTIFICATE_VERIFY_FAILED)" not in message]
    assert not wrong, f"{len(wrong)} of {len(messages)}: {wrong[0]}"


async def test_a_ca_file_that_did_not_issue_the_certificate_is_refused(tls_front, tmp_path):
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=other", "-keyout", str(tmp_path / "other.key"), "-out", str(other)],
                   check=True, capture_output=True)
    message = await initialize_failure(tls_front.base + "/mcp", "--ca-file", str(other), env={"MCP_BRIDGE_TOKEN": TOKEN})
    assert f"not issued by a CA in {other}" in message


async def test_insecure_connects_and_warns(tls_front, tmp_path):
    log = tmp_path / "connect.log"
    async with connect_session(tls_front.base + "/mcp", "--insecure", env={"MCP_BRIDGE_TOKEN": TOKEN}, log=log) as session:
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
    assert "--insecure: the server's certificate is not checked" in log.read_text()


# ---------------------------------------------------------------- (c) the mcp-proxy peer's /sse

@pytest.fixture
def peer():
    require(PEER.exists(), f"needs mcp-proxy 0.13.0 at {PEER} (scripts/test installs it)")
    port = free_port()
    proc = subprocess.Popen([str(PEER), "--port", str(port), "--host", "127.0.0.1", "--", *FIXTURE],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    assert wait_until(lambda: listening(port), timeout=30), "mcp-proxy did not start"
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_tools_and_progress_round_trip_to_the_peers_legacy_sse(peer, tmp_path):
    """mcp-proxy 0.13.0 does not relay sampling or elicitation to its clients (its own limit):
    the tool's error about it comes back through our relay intact."""
    log = tmp_path / "connect.log"
    async with connect_session(peer + "/sse", log=log, **CALLBACKS) as session:
        await exercise(session, server_requests=False)
        result = await session.call_tool("test_sampling", {"prompt": "what is six times seven?"})
        assert field(result, "isError") and "Sampling not supported" in text_of(result)
    assert "answered 405 to initialize; trying the legacy HTTP+SSE transport" in log.read_text()
    assert "connected with the legacy HTTP+SSE transport" in log.read_text()


@runs_once
def test_stdin_closing_with_a_call_in_flight_exits_cleanly_and_ends_the_session(token_bridge):
    """The client quits mid-call: the relay abandons the call, DELETEs the session, exits 0."""
    proc = subprocess.Popen([str(BRIDGE), "connect", token_bridge.mcp_url], env={"PATH": os.environ["PATH"], "MCP_BRIDGE_TOKEN": TOKEN},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = [INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "slow_echo", "arguments": {"text": "x", "delay": 30}}}]
    proc.stdin.write(b"".join(json.dumps(item).encode() + b"\n" for item in lines))
    proc.stdin.flush()
    assert wait_until(lambda: children_of(token_bridge.proc.pid), timeout=10)
    time.sleep(1.0)
    started = time.monotonic()
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()
    assert time.monotonic() - started < 8
    assert json.loads(out.decode().splitlines()[0])["id"] == 1
    assert wait_until(lambda: not children_of(token_bridge.proc.pid), timeout=10)


# ---------------------------------------------------------------- (d) servers written with the SDK

@pytest.mark.parametrize("mode", ["stateful", "stateless", "json", "sse"])
async def test_remote_servers_written_with_the_sdk(mode, tmp_path):
    """FastMCP's own Streamable HTTP (with sessions, stateless, JSON answers) and legacy SSE."""
    port = free_port()
    server = subprocess.Popen([str(SERVER_PYTHON), str(ROOT / "Tests" / "integration" / "fixtures" / "http_server.py"), mode, str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    try:
        assert wait_until(lambda: listening(port), timeout=30), "the SDK server did not start"
        url = f"http://127.0.0.1:{port}" + ("/sse" if mode == "sse" else "/mcp")
        progress, logs = [], []

        async def on_progress(value, total, message):
            progress.append(value)

        async def on_log(params):
            logs.append(params.data)

        async def on_sampling(context, params):
            return types.CreateMessageResult(role="assistant", model="m", content=types.TextContent(type="text", text="yes"))

        async with connect_session(url, logging_callback=on_log, sampling_callback=on_sampling) as session:
            result = await session.call_tool("echo", {"text": "through the relay"}, progress_callback=on_progress)
            assert text_of(result) == "through the relay"
            if mode != "json":  # a JSON answer carries no notifications
                assert progress == [50] and logs == ["echoing through the relay"]
            if mode not in ("stateless", "json"):  # server requests need a stream back to the client
                assert text_of(await session.call_tool("ask", {"prompt": "ok?"})) == "LLM said: yes"
    finally:
        server.terminate()
        server.wait(10)


async def test_headers_from_the_environment_carry_the_credentials(token_bridge):
    """No MCP_BRIDGE_TOKEN: the Authorization header is given with --header, its value from ${VAR}."""
    async with connect_session(token_bridge.mcp_url, "--header", "Authorization: Bearer ${SANDBOX_KEY}", "--header", "X-Trace: relay-test",
                               env={"SANDBOX_KEY": TOKEN}) as session:
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."


async def test_a_forced_transport_the_server_lacks_says_what_it_answered(peer):
    message = await initialize_failure(peer + "/sse", "--transport", "streamable")
    assert "answered HTTP 405" in message


@runs_once
def test_requests_beyond_max_in_flight_are_answered_at_once(token_bridge):
    proc = subprocess.Popen([str(BRIDGE), "connect", token_bridge.mcp_url, "--max-in-flight", "2"],
                            env={"PATH": os.environ["PATH"], "MCP_BRIDGE_TOKEN": TOKEN},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    slow = [{"jsonrpc": "2.0", "id": 10 + n, "method": "tools/call", "params": {"name": "slow_echo", "arguments": {"text": f"s{n}", "delay": 1.5}}}
            for n in range(4)]
    lines = [INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"}, *slow]
    proc.stdin.write(b"".join(json.dumps(item).encode() + b"\n" for item in lines))
    proc.stdin.flush()
    answers = {}
    started = time.monotonic()
    while len(answers) < 5 and time.monotonic() - started < 20:
        message = json.loads(proc.stdout.readline())
        answers[message["id"]] = (message, time.monotonic() - started)
    proc.stdin.close()
    proc.wait(15)
    refused = [id for id, (message, _) in answers.items() if "error" in message]
    served = [id for id, (message, _) in answers.items() if id != 1 and "result" in message]
    assert sorted(refused) == [12, 13] and sorted(served) == [10, 11]
    assert all("--max-in-flight" in answers[id][0]["error"]["message"] for id in refused)
    # "At once" counts from the initialize answer (the requests wait for the session; starting the
    # child server took 1.2-1.4 s on a slow machine): a refusal comes before either slot frees.
    ready = answers[1][1]
    first_served = min(answers[id][1] for id in served)
    assert all(answers[id][1] - ready < 1.0 and answers[id][1] < first_served for id in refused), \
        {id: round(at, 3) for id, (_, at) in answers.items()}
