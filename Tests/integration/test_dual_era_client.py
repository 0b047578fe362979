"""mcp 2.x clients probe `server/discover` (2026-07-28) first; the bridge must send them back to
`initialize` with a fast, legacy-coded 400 (M-01), and never forward the probe to the child."""

import time

import httpx
import pytest

from conftest import ACCEPT_BOTH, MCP_MAJOR, text_of

pytestmark = pytest.mark.anyio


def test_server_discover_gets_a_fast_legacy_400(bridge):
    started = time.monotonic()
    reply = httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": "2026-07-28",
                                                "Mcp-Method": "server/discover"},
                       json={"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {
                           "io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
    assert time.monotonic() - started < 1.0
    assert reply.status_code == 400
    code = reply.json()["error"]["code"]
    assert code == -32000 and not (-32099 <= code <= -32020)
    assert "child started" not in bridge.log


def test_server_discover_without_version_header_is_refused_without_a_session(bridge):
    reply = httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH},
                       json={"jsonrpc": "2.0", "id": 1, "method": "server/discover"})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == -32000
    assert "child started" not in bridge.log


@pytest.mark.skipif(MCP_MAJOR < 2, reason="the auto-negotiating Client exists in mcp 2.x")
async def test_mcp2_client_in_auto_mode_falls_back_to_initialize_and_works(bridge):
    from mcp import Client

    async with Client(bridge.mcp_url) as client:
        result = await client.call_tool("test_simple_text", {})
    assert text_of(result) == "This is a simple text response for testing."
