"""One child per session, and no message ever reaches another session."""

from pathlib import Path

import anyio
import httpx
import pytest

from conftest import open_session, process_exists, text_of, wait_until, runs_once

pytestmark = pytest.mark.anyio


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1])


async def test_ten_concurrent_sessions_each_have_their_own_child_and_see_only_their_own_answers(bridge):
    sessions = 12
    results: dict[int, dict] = {}

    async def client(index: int):
        transport = "streamable" if index % 2 == 0 else "sse"
        url = bridge.mcp_url if transport == "streamable" else bridge.sse_url
        seen_logs = []

        async def on_log(params):
            seen_logs.append(params.data)

        async with open_session(url, transport, logging_callback=on_log) as session:
            pid = int(text_of(await session.call_tool("whoami", {})))
            echoes = []
            for round_ in range(3):
                token = f"client-{index}-round-{round_}"
                echoes.append(text_of(await session.call_tool("slow_echo", {"text": token, "delay": 0.05 * (index % 4)})))
            await session.call_tool("test_tool_with_logging", {})
            results[index] = {"pid": pid, "echoes": echoes, "logs": seen_logs, "alive": process_exists(pid),
                              "parent": parent_of(pid)}

    with anyio.fail_after(90):
        async with anyio.create_task_group() as group:
            for index in range(sessions):
                group.start_soon(client, index)

    pids = [result["pid"] for result in results.values()]
    assert len(results) == sessions
    assert len(set(pids)) == sessions, "every session must have its own child process"
    for index, result in results.items():
        assert result["alive"] and result["parent"] == bridge.proc.pid
        assert result["echoes"] == [f"client-{index}-round-{r}" for r in range(3)]
        assert result["logs"] == ["log message 1", "log message 2", "log message 3"]
    # Closing the sessions ends their children.
    assert wait_until(lambda: not any(process_exists(pid) for pid in pids), timeout=15)


@runs_once
async def test_concurrent_sessions_with_colliding_request_ids_never_cross(bridge):
    """Every client numbers its requests from the same start; answers must still go home."""
    import json
    from conftest import raw_initialize

    ids = [raw_initialize(bridge.base) for _ in range(5)]

    async def ask(client, session_id, index):
        reply = await client.post(bridge.mcp_url, headers={"Accept": "application/json", "Mcp-Session-Id": session_id},
                                  json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                        "params": {"name": "slow_echo", "arguments": {"text": f"s{index}", "delay": 0.2}}})
        return json.loads(reply.text)["result"]["content"][0]["text"]

    answers = {}
    async with httpx.AsyncClient(timeout=20) as client:
        async def run(index, session_id):
            answers[index] = await ask(client, session_id, index)

        async with anyio.create_task_group() as group:
            for index, session_id in enumerate(ids):
                group.start_soon(run, index, session_id)
    assert answers == {index: f"s{index}" for index in range(5)}
