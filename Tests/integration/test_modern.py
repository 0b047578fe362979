"""MCP 2026-07-28 on the same /mcp endpoint: the official 2.x client pinned to 2026-07-28 (and in
auto mode) against an initialize-era child the bridge adapts, and against a 2026-07-28 child it
passes through; every validation row of the spec's server rules; MRTR; subscriptions;
cancellation by closing the stream; the warm pool."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import time
from pathlib import Path

import httpx
import pytest

from conftest import ACCEPT_BOTH, MCP_MAJOR, ROOT, SERVER_PYTHON, require, text_of, wait_until, runs_once

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
FIXTURES = ROOT / "Tests" / "integration" / "fixtures"
MODERN_PYTHON = Path(os.environ.get("MCP_MODERN_SERVER_PYTHON", ROOT / ".venv-test" / "mcp2" / "bin" / "python"))
needs_client = pytest.mark.skipif(MCP_MAJOR < 2, reason="the 2026-07-28 Client exists in mcp 2.x only")


def meta(**extra) -> dict:
    return {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}, **extra}


def modern_post(url: str, method: str, params: dict | None = None, headers: dict | None = None, request_id=1,
                name: str | None = None, timeout: float = 30) -> httpx.Response:
    sent = {"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        sent["Mcp-Name"] = name
    sent.update(headers or {})
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {"_meta": meta(), **(params or {})}}
    return httpx.post(url, headers={k: v for k, v in sent.items() if v is not None}, json=body, timeout=timeout)


def rpc(reply: httpx.Response) -> dict:
    """The JSON-RPC message of a reply, JSON or a one-event SSE stream."""
    if reply.headers.get("content-type", "").startswith("text/event-stream"):
        events = [line[5:].strip() for line in reply.text.splitlines() if line.startswith("data:")]
        import json
        return json.loads(events[-1])
    return reply.json()


# ---------------------------------------------------------------- the SDK client, legacy child

async def sampling(context, params):
    import mcp_types as types
    prompt = params.messages[0].content.text
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=f"echo:{prompt}"), model="fixture")


async def elicitation(context, params):
    import mcp_types as types
    return types.ElicitResult(action="accept", content={"username": "octocat", "email": "octo@example.test"})


@needs_client
@pytest.mark.parametrize("mode", [MODERN, "auto"])
async def test_pinned_and_auto_clients_are_served_2026_natively_by_a_legacy_child(bridge, mode):
    from mcp import Client

    async with Client(bridge.mcp_url, mode=mode, sampling_callback=sampling, elicitation_callback=elicitation) as client:
        assert client.protocol_version == MODERN
        tools = await client.list_tools()
        assert tools.meta["io.modelcontextprotocol/serverInfo"]["name"] == "mcp-bridge-fixture"
        assert "test_simple_text" in {tool.name for tool in tools.tools}
        assert text_of(await client.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
        prompts = await client.list_prompts()
        assert {prompt.name for prompt in prompts.prompts} >= {"test_simple_prompt"}
        prompt = await client.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
        assert "a" in prompt.messages[0].content.text
        resource = await client.read_resource("test://static-text")
        assert resource.contents[0].text == "This is the content of the static text resource."
        templated = await client.read_resource("test://template/42/data")
        assert "42" in templated.contents[0].text
        # MRTR: the child's sampling and elicitation requests come back as input_required results.
        assert text_of(await client.call_tool("test_sampling", {"prompt": "capital?"})) == "LLM said: echo:capital?"
        assert text_of(await client.call_tool("test_elicitation", {"message": "who?"})) == "accepted octocat <octo@example.test>"
    # No session was made: every request went to the pool.
    assert "child started" not in bridge.log.replace("pool child started", "")
    assert "adapted to 2026-07-28" in bridge.log


@needs_client
async def test_progress_reaches_the_caller_under_its_own_token(bridge):
    from mcp import Client

    seen = []

    async def progress(value, total, message):
        seen.append((value, total))

    async with Client(bridge.mcp_url, mode=MODERN) as client:
        result = await client.call_tool("test_tool_with_progress", {}, progress_callback=progress)
    assert text_of(result) == "progress done"
    assert seen == [(0.0, 100.0), (50.0, 100.0), (100.0, 100.0)]


@needs_client
@pytest.mark.parametrize("level,expected", [("info", 3), ("error", 0), (None, 0)])
async def test_log_messages_only_for_requests_that_opted_in_at_their_level(bridge, level, expected):
    from mcp import Client

    messages = []

    async def on_log(params):
        messages.append(params.data)

    async with Client(bridge.mcp_url, mode=MODERN, log_level=level, logging_callback=on_log) as client:
        assert text_of(await client.call_tool("test_tool_with_logging", {})) == "logged 3 messages"
    assert len(messages) == expected
    if expected:
        assert messages == ["log message 1", "log message 2", "log message 3"]


@needs_client
async def test_sampling_is_refused_to_a_client_without_the_capability(bridge):
    from mcp import Client

    async with Client(bridge.mcp_url, mode=MODERN) as client:
        result = await client.call_tool("test_sampling", {"prompt": "x"})
    assert result.is_error
    assert "capability" in text_of(result)


@needs_client
async def test_many_concurrent_modern_calls_each_get_their_own_answer(bridge_factory):
    from mcp import Client

    bridge = bridge_factory(args=["--pool-size", "2", "--pool-max", "3"])
    async with Client(bridge.mcp_url, mode=MODERN) as client:
        async def one(index: int) -> str:
            return text_of(await client.call_tool("slow_echo", {"text": f"call-{index}", "delay": 0.2}))

        answers = await asyncio.wait_for(asyncio.gather(*(one(index) for index in range(24))), 60)
    assert answers == [f"call-{index}" for index in range(24)]
    assert bridge.log.count("pool child started") <= 3


@needs_client
async def test_modern_and_legacy_clients_share_the_endpoint(bridge):
    from mcp import Client
    from conftest import open_session

    async with Client(bridge.mcp_url, mode=MODERN) as modern, open_session(bridge.mcp_url) as legacy:
        assert text_of(await modern.call_tool("test_simple_text", {})) == text_of(await legacy.call_tool("test_simple_text", {}))
        assert modern.protocol_version == MODERN


# ---------------------------------------------------------------- the SDK client, modern child

@needs_client
async def test_a_2026_child_is_found_by_the_probe_and_passed_through(bridge_factory):
    require(MODERN_PYTHON.exists(), f"no mcp 2.x python at {MODERN_PYTHON}")
    from mcp import Client

    bridge = bridge_factory(child=[str(MODERN_PYTHON), str(FIXTURES / "modern_server.py")])
    seen = []

    async def progress(value, total, message):
        seen.append(value)

    async with Client(bridge.mcp_url, mode="auto") as client:
        assert client.protocol_version == MODERN
        assert text_of(await client.call_tool("add", {"a": 2, "b": 40})) == "42"
        assert text_of(await client.call_tool("count_up", {"steps": 3}, progress_callback=progress)) == "counted 3"
        assert (await client.read_resource("modern://greeting")).contents[0].text == "hello from 2026"
    assert seen == [1, 2, 3]
    assert "speaks 2026-07-28: passed through" in bridge.log


@runs_once
def test_a_child_answering_the_probe_with_an_error_is_adapted_and_discover_synthesized(bridge_factory):
    bridge = bridge_factory(child=[str(SERVER_PYTHON.parent / "mcp-server-time")])
    reply = modern_post(bridge.mcp_url, "server/discover")
    assert reply.status_code == 200
    result = reply.json()["result"]
    assert MODERN in result["supportedVersions"] and "2025-11-25" in result["supportedVersions"]
    assert result["resultType"] == "complete" and result["ttlMs"] == 0 and result["cacheScope"] == "private"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "mcp-time"
    assert "tools" in result["capabilities"]


@runs_once
def test_a_child_silent_to_the_probe_is_called_legacy_after_the_probe_timeout(bridge_factory):
    bridge = bridge_factory(child=[str(SERVER_PYTHON), str(FIXTURES / "deaf_server.py")], env={"DEAF_SILENT_PROBE": "1"},
                            args=["--probe-timeout", "1s", "--pool-size", "1"])
    started = time.monotonic()
    reply = modern_post(bridge.mcp_url, "tools/call", {"name": "plain", "arguments": {}}, name="plain")
    assert rpc(reply)["result"]["content"][0]["text"] == "plain answer"
    assert 1.0 <= time.monotonic() - started < 10
    assert "pool child speaks 2025-06-18: adapted to 2026-07-28" in bridge.log


# ---------------------------------------------------------------- subscriptions

@needs_client
async def test_subscriptions_listen_maps_list_changes_and_resource_updates(bridge_factory):
    from mcp import Client

    bridge = bridge_factory(child=[str(SERVER_PYTHON), str(FIXTURES / "subscribing_server.py")], args=["--pool-size", "1"])
    async with Client(bridge.mcp_url, mode=MODERN) as client:
        async with client.listen(tools_list_changed=True, prompts_list_changed=True,
                                 resource_subscriptions=["test://watched"]) as subscription:
            honored = subscription.honored
            assert honored.tools_list_changed is True
            assert honored.prompts_list_changed is None  # the child does not announce prompt changes
            assert honored.resource_subscriptions == ["test://watched"]
            assert text_of(await client.call_tool("announce", {})) == "announced test://watched"
            events = []
            with anyio_fail_after(10):
                async for event in subscription:
                    events.append(event)
                    if len(events) == 2:
                        break
    kinds = sorted(type(event).__name__ for event in events)
    assert len(kinds) == 2, kinds


def anyio_fail_after(seconds: float):
    import anyio
    return anyio.fail_after(seconds)


@runs_once
def test_listen_stream_acknowledges_first_and_tags_every_event(bridge_factory):
    bridge = bridge_factory(child=[str(SERVER_PYTHON), str(FIXTURES / "subscribing_server.py")], args=["--pool-size", "1"])
    headers = {"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": "subscriptions/listen"}
    body = {"jsonrpc": "2.0", "id": "listen-7", "method": "subscriptions/listen",
            "params": {"_meta": meta(), "notifications": {"toolsListChanged": True, "resourceSubscriptions": ["test://watched"]}}}
    import json
    with httpx.Client(timeout=20) as client, client.stream("POST", bridge.mcp_url, headers=headers, json=body) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        first = json.loads(next(line for line in lines if line.startswith("data:"))[5:])
        assert first["method"] == "notifications/subscriptions/acknowledged"
        assert first["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-7"
        call = modern_post(bridge.mcp_url, "tools/call", {"name": "announce", "arguments": {}}, name="announce", request_id=2)
        assert rpc(call)["result"]["content"][0]["text"] == "announced test://watched"
        events = [json.loads(next(line for line in lines if line.startswith("data:"))[5:]) for _ in range(2)]
    assert sorted(event["method"] for event in events) == ["notifications/resources/updated", "notifications/tools/list_changed"]
    assert all(event["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-7" for event in events)


# ---------------------------------------------------------------- MRTR on the wire

def test_input_required_state_is_opaque_single_use_and_expires(bridge_factory):
    bridge = bridge_factory(args=["--input-timeout", "2s", "--pool-size", "1"])
    capabilities = {"sampling": {}}
    headers = {"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "test_sampling"}

    def call(request_id, extra=None):
        params = {"name": "test_sampling", "arguments": {"prompt": "p"},
                  "_meta": meta(**{"io.modelcontextprotocol/clientCapabilities": capabilities}), **(extra or {})}
        return rpc(httpx.post(bridge.mcp_url, headers=headers, json={"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                                                                      "params": params}, timeout=20))

    first = call(1)["result"]
    assert first["resultType"] == "input_required"
    (key, request), = first["inputRequests"].items()
    assert request["method"] == "sampling/createMessage"
    state = first["requestState"]
    assert len(state) >= 64
    answer = {key: {"role": "assistant", "content": {"type": "text", "text": "fine"}, "model": "m"}}
    # Presented on another request, the state is refused and stays good for the right one.
    other = rpc(httpx.post(bridge.mcp_url, headers={**headers, "Mcp-Method": "tools/list"}, timeout=20, json={
        "jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {"_meta": meta(), "requestState": state}}))
    assert other["error"]["code"] == -32602 and "another request" in other["error"]["message"]
    done = call(2, {"inputResponses": answer, "requestState": state})
    assert done["id"] == 2
    assert done["result"]["content"][0]["text"] == "LLM said: fine"
    assert done["result"]["resultType"] == "complete"
    # Used once: presenting it again is refused, as is a forged one.
    again = call(3, {"inputResponses": answer, "requestState": state})
    assert again["error"]["code"] == -32602 and "unknown or expired" in again["error"]["message"]
    forged = call(4, {"inputResponses": answer, "requestState": "mb1." + "0" * 64})
    assert forged["error"]["code"] == -32602
    # Nobody retries: the state expires and the child is told, so it does not wait forever.
    held = call(5)["result"]["requestState"]
    time.sleep(3.5)
    late = call(6, {"inputResponses": answer, "requestState": held})
    assert late["error"]["code"] == -32602
    assert bridge.wait_for_log("no client continued an input request in time")
    # The child is free again: a plain call is answered at once.
    plain = modern_post(bridge.mcp_url, "tools/call", {"name": "test_simple_text", "arguments": {}}, name="test_simple_text", request_id=7,
                        timeout=10)
    assert rpc(plain)["result"]["content"][0]["text"].startswith("This is a simple text")


# ---------------------------------------------------------------- cancellation

@runs_once
def test_closing_the_stream_cancels_the_call_and_frees_the_child(bridge_factory):
    bridge = bridge_factory(args=["--pool-size", "1", "--pool-max", "1", "--log-level", "debug"])
    headers = {"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "slow_echo"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "slow_echo", "arguments": {"text": "never", "delay": 60}, "_meta": meta()}}
    with httpx.Client(timeout=20) as client, client.stream("POST", bridge.mcp_url, headers=headers, json=body) as stream:
        assert stream.status_code == 200
        time.sleep(1.5)  # past the JSON reply window: the answer is streamed
    assert bridge.wait_for_log("cancelling in the child", timeout=20)
    # With one child and an interactive call holding it, this would wait for the pool timeout.
    started = time.monotonic()
    reply = modern_post(bridge.mcp_url, "tools/call", {"name": "test_simple_text", "arguments": {}}, name="test_simple_text", request_id=2)
    assert rpc(reply)["result"]["content"][0]["text"].startswith("This is a simple text")
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------- validation rows

@runs_once
def test_header_and_body_must_agree(bridge):
    wrong_method = modern_post(bridge.mcp_url, "tools/list", headers={"Mcp-Method": "tools/call"})
    assert wrong_method.status_code == 400 and wrong_method.json()["error"]["code"] == -32020
    wrong_name = modern_post(bridge.mcp_url, "tools/call", {"name": "test_simple_text", "arguments": {}}, name="other")
    assert wrong_name.status_code == 400 and wrong_name.json()["error"]["code"] == -32020
    missing_name = modern_post(bridge.mcp_url, "tools/call", {"name": "test_simple_text", "arguments": {}})
    assert missing_name.status_code == 400 and missing_name.json()["error"]["code"] == -32020
    encoded = "=?base64?" + base64.b64encode(b"test_simple_text").decode() + "?="
    ok = modern_post(bridge.mcp_url, "tools/call", {"name": "test_simple_text", "arguments": {}}, name=encoded)
    assert ok.status_code == 200 and rpc(ok)["result"]["resultType"] == "complete"
    # The body says 2026-07-28 but the header is missing: a mismatch, not a legacy request.
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta()}}
    no_header = httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH}, json=body)
    assert no_header.status_code == 400 and no_header.json()["error"]["code"] == -32020
    twice = httpx.post(bridge.mcp_url, json=body, headers=[("Accept", ACCEPT_BOTH), ("MCP-Protocol-Version", MODERN),
                                                          ("Mcp-Method", "tools/list"), ("Mcp-Method", "tools/list")])
    assert twice.status_code == 400 and twice.json()["error"]["code"] == -32020


@runs_once
def test_unsupported_version_names_the_supported_ones(bridge):
    reply = httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": "2099-01-01", "Mcp-Method": "tools/list"},
                       json={"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": {
                           "io.modelcontextprotocol/protocolVersion": "2099-01-01", "io.modelcontextprotocol/clientCapabilities": {}}}})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == -32022 and reply.json()["id"] == 5
    assert error["data"]["requested"] == "2099-01-01"
    assert MODERN in error["data"]["supported"] and "2024-11-05" in error["data"]["supported"]


@runs_once
def test_missing_meta_is_invalid_params(bridge):
    reply = httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"},
                       json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
                           "io.modelcontextprotocol/protocolVersion": MODERN}}})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == -32602
    assert "clientCapabilities" in reply.json()["error"]["message"]


@pytest.mark.parametrize("method", ["no/such", "initialize", "ping", "logging/setLevel", "resources/subscribe"])
@runs_once
def test_unknown_and_removed_methods_are_404_method_not_found(bridge, method):
    reply = modern_post(bridge.mcp_url, method)
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == -32601


@pytest.mark.parametrize("verb", ["GET", "DELETE"])
@runs_once
def test_get_and_delete_from_a_modern_client_are_405(bridge, verb):
    reply = httpx.request(verb, bridge.mcp_url, headers={"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": MODERN, "Mcp-Session-Id": "abc"})
    assert reply.status_code == 405
    assert "POST" in reply.headers["allow"]


@runs_once
def test_session_id_is_ignored_and_never_minted(bridge):
    reply = modern_post(bridge.mcp_url, "tools/list", headers={"Mcp-Session-Id": "not-a-session"})
    assert reply.status_code == 200
    assert "mcp-session-id" not in reply.headers
    assert rpc(reply)["result"]["resultType"] == "complete" and rpc(reply)["result"]["ttlMs"] == 0


@runs_once
def test_modern_requests_need_the_token_and_a_good_origin(bridge_factory, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    bridge = bridge_factory(args=["--token-file", str(token)])
    assert modern_post(bridge.mcp_url, "tools/list").status_code == 401
    assert modern_post(bridge.mcp_url, "tools/list", headers={"Authorization": "Bearer s3cret", "Origin": "https://evil.example"}).status_code == 403
    assert modern_post(bridge.mcp_url, "tools/list", headers={"Authorization": "Bearer s3cret"}).status_code == 200


@runs_once
def test_a_legacy_only_bridge_starts_no_pool(bridge):
    from conftest import raw_initialize
    raw_initialize(bridge.base)
    time.sleep(0.5)
    assert "pool child started" not in bridge.log


@runs_once
def test_pool_eager_starts_warm_children_with_the_bridge(bridge_factory):
    bridge = bridge_factory(args=["--pool-eager", "--pool-size", "2"])
    assert bridge.wait_for_log("adapted to 2026-07-28", timeout=20)
    assert wait_count(bridge, "adapted to 2026-07-28", 2)


def wait_count(bridge, needle: str, count: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bridge.log.count(needle) >= count:
            return True
        time.sleep(0.05)
    return False


@runs_once
def test_a_dead_pool_child_is_replaced_and_its_caller_gets_an_error(bridge_factory):
    bridge = bridge_factory(args=["--pool-size", "1", "--pool-max", "1"])
    reply = modern_post(bridge.mcp_url, "tools/call", {"name": "crash_now", "arguments": {"code": 3}}, name="crash_now")
    message = rpc(reply)
    assert message["error"]["code"] == -32603 and "exited" in message["error"]["message"]
    assert wait_count(bridge, "adapted to 2026-07-28", 2)
    again = modern_post(bridge.mcp_url, "tools/call", {"name": "test_simple_text", "arguments": {}}, name="test_simple_text")
    assert rpc(again)["result"]["content"][0]["text"].startswith("This is a simple text")


@needs_client
async def test_concurrent_sampling_calls_on_one_child_never_swap_their_input_requests(bridge_factory):
    from mcp import Client

    # One legacy child: its sampling requests name no call, so only one interactive call may run on it.
    bridge_factory_args = ["--pool-size", "1", "--pool-max", "1"]
    bridge = bridge_factory(args=bridge_factory_args)
    async with Client(bridge.mcp_url, mode=MODERN, sampling_callback=sampling) as client:
        async def one(index: int) -> str:
            return text_of(await client.call_tool("test_sampling", {"prompt": f"p{index}"}))

        answers = await asyncio.wait_for(asyncio.gather(*(one(index) for index in range(6))), 60)
    assert answers == [f"LLM said: echo:p{index}" for index in range(6)]


def test_a_cancelled_call_on_a_child_that_keeps_working_cannot_leak_into_the_next_call(bridge_factory):
    # The child ignores notifications/cancelled and asks for sampling 3 s after the call began. With one
    # process, the next client's call must not receive that request: the bridge keeps the slot until the
    # child ends the call, and replaces a child that does not.
    bridge = bridge_factory(child=[str(SERVER_PYTHON), str(FIXTURES / "deaf_server.py")],
                            args=["--pool-size", "1", "--pool-max", "1", "--log-level", "debug"])
    sampling_capable = meta(**{"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}})
    headers = {"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call"}

    def body(request_id, tool):
        return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                "params": {"name": tool, "arguments": {}, "_meta": sampling_capable}}

    with httpx.Client(timeout=20) as client, client.stream("POST", bridge.mcp_url, headers={**headers, "Mcp-Name": "late_sampler"},
                                                           json=body(1, "late_sampler")) as stream:
        assert stream.status_code == 200  # headers come when the 1 s JSON window ends
        time.sleep(0.8)
    assert bridge.wait_for_log("cancelling in the child", timeout=20)
    # In flight when the first call's late sampling request comes: it must still get its own answer.
    reply = httpx.post(bridge.mcp_url, headers={**headers, "Mcp-Name": "slow_plain"}, json=body(2, "slow_plain"), timeout=30)
    answer = rpc(reply)
    assert answer["id"] == 2
    assert answer["result"]["content"][0]["text"] == "slow answer", answer
    assert "replacing this process" in bridge.log


@runs_once
def test_the_bridge_answers_a_legacy_childs_ping_itself(bridge_factory):
    bridge = bridge_factory(child=[str(SERVER_PYTHON), str(FIXTURES / "deaf_server.py")], args=["--pool-size", "1"])
    reply = modern_post(bridge.mcp_url, "tools/call", {"name": "ping_bridge", "arguments": {}}, name="ping_bridge")
    assert rpc(reply)["result"]["content"][0]["text"] == "bridge answered ping"


@runs_once
def test_a_json_only_client_gets_the_answer_as_json_even_when_it_is_slow(bridge):
    reply = modern_post(bridge.mcp_url, "tools/call", {"name": "slow_echo", "arguments": {"text": "late", "delay": 1.5}},
                        name="slow_echo", headers={"Accept": "application/json"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    assert reply.json()["result"]["content"][0]["text"] == "late"


@runs_once
def test_a_foreign_request_state_is_refused_not_run_afresh_on_a_legacy_child(bridge_factory):
    bridge = bridge_factory(args=["--pool-size", "1", "--pool-max", "1"])
    headers = {"Mcp-Name": "test_simple_text"}
    reply = modern_post(bridge.mcp_url, "tools/call", {"name": "test_simple_text", "arguments": {}, "requestState": "someone-elses"},
                        headers=headers)
    message = rpc(reply)
    assert message["error"]["code"] == -32602 and "unknown or expired" in message["error"]["message"]
    # The reservation it took is given back: the next call runs at once.
    ok = modern_post(bridge.mcp_url, "tools/call", {"name": "test_simple_text", "arguments": {}}, headers=headers, request_id=2, timeout=10)
    assert rpc(ok)["result"]["content"][0]["text"].startswith("This is a simple text")


@needs_client
async def test_a_modern_childs_own_request_state_goes_back_to_the_process_that_issued_it(bridge_factory):
    require(MODERN_PYTHON.exists(), f"no mcp 2.x python at {MODERN_PYTHON}")
    import threading

    import mcp_types as types
    from mcp import Client

    bridge = bridge_factory(child=[str(MODERN_PYTHON), str(FIXTURES / "modern_server.py")], args=["--pool-size", "2", "--pool-eager"])
    assert wait_count(bridge, "passed through", 2)
    busy = []

    def occupy():
        # A slow call started while the client answers the input request lands on the first (least
        # loaded) process, the one that issued the state: a retry routed by load would go elsewhere.
        busy.append(modern_post(bridge.mcp_url, "tools/call", {"name": "count_up", "arguments": {"steps": 30}}, name="count_up", request_id=99))

    async def elicit(context, params):
        thread = threading.Thread(target=occupy)
        thread.start()
        await asyncio.sleep(0.3)
        return types.ElicitResult(action="accept", content={"yes": True})

    async with Client(bridge.mcp_url, mode=MODERN, elicitation_callback=elicit) as client:
        text = text_of(await client.call_tool("confirm", {}))
    issued, answered = re.search(r"state=(pid-\d+) here=(pid-\d+)", text).groups()
    assert text.startswith("accept {'yes': True}")
    assert issued == answered
    assert wait_until(lambda: busy, timeout=10) and rpc(busy[0])["result"]["content"][0]["text"] == "counted 30"
