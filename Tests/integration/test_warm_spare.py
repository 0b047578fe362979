"""--warm-spares: children started before any client, handed to new sessions, replaced, bounded,
and ended with the bridge."""

from __future__ import annotations

import os
import re
import signal
import time

import httpx
import pytest

from conftest import ACCEPT_BOTH, open_session, process_exists, raw_initialize, text_of, wait_until, runs_once

pytestmark = pytest.mark.anyio


def started_pids(bridge) -> list[int]:
    return [int(pid) for pid in re.findall(r"pid=(\d+) \[MCPBridge\] child started", bridge.log)]


async def test_a_new_session_gets_the_child_started_ahead_and_a_new_spare_follows(bridge_factory):
    bridge = bridge_factory(args=["--warm-spares", "1"])
    assert wait_until(lambda: len(started_pids(bridge)) == 1), bridge.log
    spare = started_pids(bridge)[0]
    async with open_session(bridge.mcp_url) as session:
        assert text_of(await session.call_tool("whoami", {})) == str(spare)
        assert wait_until(lambda: len(started_pids(bridge)) == 2), bridge.log
        async with open_session(bridge.mcp_url) as second:
            second_pid = int(text_of(await second.call_tool("whoami", {})))
    assert second_pid == started_pids(bridge)[1]
    assert wait_until(lambda: len(started_pids(bridge)) == 3)


@runs_once
def test_spares_do_not_count_against_max_sessions_and_a_killed_spare_is_replaced(bridge_factory):
    bridge = bridge_factory(args=["--warm-spares", "1", "--max-sessions", "1"])
    assert wait_until(lambda: len(started_pids(bridge)) == 1)
    os.kill(started_pids(bridge)[0], signal.SIGKILL)
    assert wait_until(lambda: len(started_pids(bridge)) == 2), bridge.log
    raw_initialize(bridge.base)
    refused = httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH},
                         json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                             "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    assert refused.status_code == 503


@runs_once
def test_a_command_that_cannot_stay_up_is_not_restarted_in_a_loop_but_a_client_retries_it(bridge_factory):
    bridge = bridge_factory(args=["--warm-spares", "1"], child=["/bin/sh", "-c", "exit 3"])
    assert wait_until(lambda: bridge.log.count("child exited") == 3), bridge.log
    time.sleep(2)
    assert bridge.log.count("child exited") == 3, bridge.log
    # A client's initialize gets its own (failing) child, and another spare is tried.
    httpx.post(bridge.mcp_url, headers={"Accept": ACCEPT_BOTH}, timeout=20, json={
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    assert wait_until(lambda: bridge.log.count("child exited") >= 5), bridge.log


@runs_once
def test_spares_end_with_the_bridge(bridge_factory):
    bridge = bridge_factory(args=["--warm-spares", "2"])
    assert wait_until(lambda: len(started_pids(bridge)) == 2)
    pids = started_pids(bridge)
    assert bridge.stop() == 0
    assert all(not process_exists(pid) for pid in pids)


@runs_once
def test_without_the_flag_no_child_runs_before_a_client(bridge):
    time.sleep(0.5)
    assert started_pids(bridge) == []
