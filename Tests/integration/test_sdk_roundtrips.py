"""Every MCP feature class through the bridge, driven by the official SDK on both transports."""

import anyio
import pytest
from mcp import types

from conftest import MCP_MAJOR, field, open_session, text_of

pytestmark = pytest.mark.anyio
TRANSPORTS = ["streamable", "sse"]


def url_for(bridge, transport):
    return bridge.mcp_url if transport == "streamable" else bridge.sse_url


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tools_resources_and_prompts_round_trip(bridge, transport):
    async with open_session(url_for(bridge, transport), transport) as session:
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert {"test_simple_text", "test_tool_with_progress", "test_tool_with_logging", "test_sampling",
                "test_elicitation", "test_image_content", "test_error_handling"} <= names

        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
        image = (await session.call_tool("test_image_content", {})).content[0]
        assert image.type == "image" and field(image, "mimeType") == "image/png"
        audio = (await session.call_tool("test_audio_content", {})).content[0]
        assert audio.type == "audio" and field(audio, "mimeType") == "audio/wav"
        embedded = (await session.call_tool("test_embedded_resource", {})).content[0]
        assert embedded.type == "resource" and str(embedded.resource.uri) == "test://embedded-resource"
        failed = await session.call_tool("test_error_handling", {})
        assert field(failed, "isError") and "intentionally returns an error" in text_of(failed)

        uris = {str(resource.uri) for resource in (await session.list_resources()).resources}
        assert {"test://static-text", "test://static-binary"} <= uris
        text = await session.read_resource("test://static-text")
        assert text.contents[0].text == "This is the content of the static text resource."
        binary = await session.read_resource("test://static-binary")
        assert binary.contents[0].blob and field(binary.contents[0], "mimeType") == "image/png"
        templated = await session.read_resource("test://template/123/data")
        assert templated.contents[0].text == "Data for id 123"

        prompts = {prompt.name for prompt in (await session.list_prompts()).prompts}
        assert {"test_simple_prompt", "test_prompt_with_arguments"} <= prompts
        prompt = await session.get_prompt("test_prompt_with_arguments", {"arg1": "hello", "arg2": "world"})
        assert prompt.messages[0].content.text == "Prompt with arguments: arg1='hello', arg2='world'"
        await session.send_ping()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_progress_notifications_reach_the_caller(bridge, transport):
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, total))

    async with open_session(url_for(bridge, transport), transport) as session:
        result = await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        assert text_of(result) == "progress done"
    assert seen == [(0, 100), (50, 100), (100, 100)]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_log_messages_arrive_during_the_call(bridge, transport):
    logs = []

    async def on_log(params):
        logs.append(params.data)

    async with open_session(url_for(bridge, transport), transport, logging_callback=on_log) as session:
        result = await session.call_tool("test_tool_with_logging", {})
        assert text_of(result) == "logged 3 messages"
        # Logs travel ahead of the response on the same stream, so they are all in by now.
        assert logs == ["log message 1", "log message 2", "log message 3"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_sampling_request_is_relayed_to_the_client_and_answered(bridge, transport):
    prompts = []

    async def on_sampling(context, params):
        prompts.append(params.messages[0].content.text)
        return types.CreateMessageResult(role="assistant", model="test-model",
                                         content=types.TextContent(type="text", text="forty-two"))

    async with open_session(url_for(bridge, transport), transport, sampling_callback=on_sampling) as session:
        result = await session.call_tool("test_sampling", {"prompt": "what is six times seven?"})
    assert prompts == ["what is six times seven?"]
    assert text_of(result) == "LLM said: forty-two"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_elicitation_request_is_relayed_to_the_client_and_answered(bridge, transport):
    async def on_elicit(context, params):
        assert "who are you" in params.message
        return types.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.com"})

    async with open_session(url_for(bridge, transport), transport, elicitation_callback=on_elicit) as session:
        result = await session.call_tool("test_elicitation", {"message": "who are you?"})
    assert text_of(result) == "accepted ada <ada@example.com>"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_three_concurrent_calls_in_one_session_each_get_their_own_answer(bridge, transport):
    answers = {}
    async with open_session(url_for(bridge, transport), transport) as session:
        async def call(text, delay):
            answers[text] = text_of(await session.call_tool("slow_echo", {"text": text, "delay": delay}))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(call, "slowest", 0.6)
                group.start_soon(call, "middle", 0.3)
                group.start_soon(call, "fastest", 0.0)
    assert answers == {"slowest": "slowest", "middle": "middle", "fastest": "fastest"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_four_megabyte_result_arrives_intact(bridge, transport):
    if transport == "sse" and MCP_MAJOR >= 2:
        pytest.skip("mcp 2.x's sse_client caps one SSE event at 1 MiB (httpx2 EventSource) with no option to lift it")
    size = 4 * 1024 * 1024
    async with open_session(url_for(bridge, transport), transport) as session:
        result = await session.call_tool("big_result", {"size": size})
    assert text_of(result) == "x" * size


async def test_negotiates_the_newest_legacy_protocol_version(bridge):
    async with open_session(bridge.mcp_url) as session:
        # The SDK client negotiated, and the session works end to end.
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
    # The child (SDK 1.30.0) and both clients speak 2025-11-25; the bridge forwards it as is.
    import httpx
    from conftest import initialize_body
    reply = httpx.post(bridge.mcp_url, json=initialize_body(version="2025-11-25"), headers={"Accept": "application/json"})
    assert reply.json()["result"]["protocolVersion"] == "2025-11-25"
    # An older version the child also speaks is answered with that version, not the newest.
    older = httpx.post(bridge.mcp_url, json=initialize_body(version="2025-03-26"), headers={"Accept": "application/json"})
    assert older.json()["result"]["protocolVersion"] == "2025-03-26"


async def test_mcp2_default_streamable_client_gets_large_answers_as_plain_json(bridge):
    """A quick answer with nothing streamed before it comes back as application/json, so even a
    client with an SSE event cap (mcp 2.x's default 1 MiB) receives multi-megabyte results."""
    import httpx
    from conftest import raw_initialize
    session_id = raw_initialize(bridge.base)
    reply = httpx.post(bridge.mcp_url, timeout=30, headers={"Accept": "application/json, text/event-stream", "Mcp-Session-Id": session_id},
                       json={"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "big_result", "arguments": {"size": 3 << 20}}})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["result"]["content"][0]["text"] == "x" * (3 << 20)
    if MCP_MAJOR >= 2:
        from mcp import Client
        async with Client(bridge.mcp_url) as client:
            result = await client.call_tool("big_result", {"size": 2 << 20})
        assert text_of(result) == "x" * (2 << 20)
