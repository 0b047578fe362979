"""mcp 2.x clients probe `server/discover` (2026-07-28) first. The bridge is dual-era now (see
test_modern.py): a probe is served by the 2026-07-28 pool, never by a session, and a malformed
one gets the modern validation error at once. Clients pinned to a legacy revision still get sessions."""

import time

import httpx
import pytest

from conftest import ACCEPT_BOTH, MCP_MAJOR, text_of, runs_once

pytestmark = pytest.mark.anyio


@runs_once
def test_server_discover_without_client_capabilities_gets_a_fast_400_and_no_session(bridge):
    started = time.monotonic()
    reply = httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": "2026-07-28",
                                                "Mcp-Method": "server/discover"},
                       json={"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {
                           "io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
    assert time.monotonic() - started < 1.0
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == -32602
    assert "child started" not in bridge.log


@runs_once
def test_server_discover_without_version_header_is_refused_without_a_session(bridge):
    reply = httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH},
                       json={"jsonrpc": "2.0", "id": 1, "method": "server/discover"})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == -32000
    assert "child started" not in bridge.log


@pytest.mark.skipif(MCP_MAJOR < 2, reason="the auto-negotiating Client exists in mcp 2.x")
async def test_mcp2_client_in_legacy_mode_gets_a_session_and_works(bridge):
    from mcp import Client

    async with Client(bridge.mcp_url, mode="legacy") as client:
        assert client.protocol_version != "2026-07-28"
        result = await client.call_tool("test_simple_text", {})
    assert text_of(result) == "This is a simple text response for testing."
