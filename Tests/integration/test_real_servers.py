"""Real MCP servers from PyPI as children: mcp-server-time and mcp-server-git."""

import json
import subprocess

import pytest

from conftest import SERVER_BIN, open_session, text_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_mcp_server_time(bridge_factory, transport):
    bridge = bridge_factory(child=[str(SERVER_BIN / "mcp-server-time"), "--local-timezone", "UTC"])
    url = bridge.mcp_url if transport == "streamable" else bridge.sse_url
    async with open_session(url, transport) as session:
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert {"get_current_time", "convert_time"} <= names
        now = json.loads(text_of(await session.call_tool("get_current_time", {"timezone": "Europe/Paris"})))
        assert now["timezone"] == "Europe/Paris" and "datetime" in now
        converted = json.loads(text_of(await session.call_tool(
            "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"})))
        assert converted["target"]["datetime"].split("T")[1].startswith("21:00")


async def test_mcp_server_git_through_the_one_string_stdio_form(bridge_factory, tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "notes.txt").write_text("hello\n")
    bridge = bridge_factory(stdio=f"'{SERVER_BIN / 'mcp-server-git'}' --repository '{repo}'")
    async with open_session(bridge.mcp_url) as session:
        status = text_of(await session.call_tool("git_status", {"repo_path": str(repo)}))
        assert "notes.txt" in status
