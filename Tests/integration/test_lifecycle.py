"""Signals, the shutdown ladder, and PID 1 duties."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from conftest import BRIDGE, SERVER_PYTHON, ROOT, process_exists, raw_initialize, require, wait_until, runs_once

pytestmark = runs_once

FIXTURES = ROOT / "Tests" / "integration" / "fixtures"


def child_pids(bridge) -> list[int]:
    return [int(part.split()[0]) for part in bridge.log.split("pid=")[1:]]


def test_sigterm_ends_every_child_and_exits_cleanly(bridge):
    for _ in range(3):
        raw_initialize(bridge.base)
    with httpx.stream("GET", bridge.sse_url, timeout=10) as stream:
        next(stream.iter_lines())
        assert wait_until(lambda: len(child_pids(bridge)) == 4)
        pids = child_pids(bridge)
        started = time.monotonic()
        assert bridge.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert not any(process_exists(pid) for pid in pids)


def test_shutdown_ladder_kills_a_child_that_ignores_eof_and_sigterm_and_its_group(bridge_factory):
    bridge = bridge_factory(child=[str(SERVER_PYTHON), str(FIXTURES / "stubborn_server.py")], args=["--shutdown-grace", "300ms"])
    with httpx.stream("GET", bridge.sse_url, timeout=10) as stream:
        next(stream.iter_lines())
        assert bridge.wait_for_log("grandchild=")
    child = child_pids(bridge)[0]
    grandchild = int(bridge.log.split("grandchild=")[1].split()[0])
    assert wait_until(lambda: not process_exists(child) and not process_exists(grandchild), timeout=10)
    assert bridge.wait_for_log("signal=9")


def test_as_pid_1_the_bridge_reaps_orphans_and_forwards_sigterm():
    require(shutil.which("unshare") is not None and os.geteuid() == 0, "needs root and unshare for a PID namespace")
    argv = ["unshare", "--pid", "--fork", "--mount-proc", str(BRIDGE), "--port", "0", "--",
            str(SERVER_PYTHON), str(FIXTURES / "orphan_maker.py")]
    outer = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        lines = []
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline:
            line = outer.stderr.readline()
            lines.append(line)
            if "listening" in line and "address=" in line:
                port = int(line.split("address=")[1].split()[0].rsplit(":", 1)[1])
        assert port, "".join(lines)
        base = f"http://127.0.0.1:{port}"
        # unshare's forked child is PID 1 in the namespace: the init supervisor.
        init_pid = int(subprocess.check_output(["pgrep", "-P", str(outer.pid)]).split()[0])
        assert Path(f"/proc/{init_pid}/status").read_text().count("NSpid") == 1
        assert "\t1\n" in next(l for l in Path(f"/proc/{init_pid}/status").read_text().splitlines(True) if l.startswith("NSpid"))
        raw_initialize(base)
        time.sleep(1.0)  # the abandoned `sleep 0.2` has exited and been re-parented to PID 1

        def zombies_in_namespace():
            found = []
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    stat = (entry / "stat").read_text()
                    ns = os.readlink(entry / "ns" / "pid")
                except OSError:
                    continue
                if ns == os.readlink(f"/proc/{init_pid}/ns/pid") and stat.split(") ")[1].split()[0] == "Z":
                    found.append(entry.name)
            return found

        assert wait_until(lambda: zombies_in_namespace() == [], timeout=5)
        os.kill(init_pid, signal.SIGTERM)
        assert outer.wait(15) == 0
    finally:
        if outer.poll() is None:
            outer.kill()
            outer.wait()
