"""How the bridge starts a session's MCP server, and what an idle session costs: the child
starts clean (its own session, default signal dispositions, nothing blocked, only 0–2 open), and
idle sessions wake nothing in the bridge."""

from __future__ import annotations

import re
import time
from pathlib import Path


from conftest import raw_initialize, runs_once

pytestmark = runs_once

# A minimal MCP server in sh: it reports how it was started on stderr (the descriptors first,
# before any pipe of its own), answers initialize with the request's own id, then idles.
CLEAN_START_SERVER = r"""
set -- /proc/$$/fd/*
fds=$(for entry in "$@"; do printf '%s,' "${entry##*/}"; done)
printf 'spawn-report sid=%s pid=%s ign=%s blk=%s fds=%s\n' \
    "$(cut -d' ' -f6 /proc/$$/stat)" "$$" \
    "$(awk '/^SigIgn/ {print $2}' /proc/$$/status)" "$(awk '/^SigBlk/ {print $2}' /proc/$$/status)" "$fds" >&2
read -r line
id=$(printf '%s' "$line" | sed -E 's/.*"id":([^,}]*).*/\1/')
printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"sh","version":"1"}}}\n' "$id"
while read -r line; do :; done
"""


def context_switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except FileNotFoundError:  # a thread that just ended
            continue
        total += sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
    return total


def test_the_child_starts_in_its_own_session_with_default_signals_and_only_its_stdio(bridge_factory):
    bridge = bridge_factory(child=["/bin/sh", "-c", CLEAN_START_SERVER])
    raw_initialize(bridge.base)
    assert bridge.wait_for_log("spawn-report"), bridge.log[-2000:]
    match = re.search(r"sid=(\d+) pid=(\d+) ign=([0-9a-f]+) blk=([0-9a-f]+) fds=([0-9,]+)", bridge.log)
    assert match, bridge.log[-2000:]
    sid, pid, ignored, blocked, fds = match.groups()
    assert sid == pid
    assert int(ignored, 16) == 0 and int(blocked, 16) == 0
    # The shell's first glob listed its fd directory through one more descriptor: 3.
    assert fds.rstrip(",") == "0,1,2,3"


def test_idle_sessions_wake_nothing_in_the_bridge(bridge_factory):
    # swift-subprocess woke a task once a second for every child it watched: 1,000 idle sessions
    # cost 5 % of a core. Now an idle session is a few parked descriptors and no timer.
    bridge = bridge_factory(child=["/bin/sh", "-c", CLEAN_START_SERVER], args=["--max-sessions", "200"])
    time.sleep(1)
    baseline = context_switches_during(bridge.proc.pid, 3)  # the bridge's own clocks (Date header, sweeps)
    for _ in range(150):
        raw_initialize(bridge.base)
    time.sleep(1)
    woken = context_switches_during(bridge.proc.pid, 3)
    print(f"context switches in 3 s: {baseline} idle, {woken} with 150 idle sessions")
    assert woken < baseline + 40, f"{woken} context switches in 3 s with 150 idle sessions, {baseline} without"


def context_switches_during(pid: int, seconds: float) -> int:
    before = context_switches(pid)
    time.sleep(seconds)
    return context_switches(pid) - before
