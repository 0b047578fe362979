"""Drives the benchmark: starts each target on loopback, loads it with wrk, measures memory,
sessions per second, a slow-reader burst, cold start and binary size, and writes the report.
Every load is bounded in time; every reply is checked (see mcp_call.lua)."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BRIDGE = ROOT / ".build" / "release" / "mcp-bridge"
ECHO = ROOT / ".build" / "bench" / "echo_server"
PROXY = ROOT / ".venv-bench" / "bin" / "mcp-proxy"
LUA = ROOT / "bench" / "mcp_call.lua"
ACCEPT = "application/json, text/event-stream"
CONNECTIONS = [1, 16, 64]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


class Target:
    name = ""
    path = "/mcp"
    check = "strict"

    def start(self):
        self.port = free_port()
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def session(self) -> str | None:
        return initialize(self.url + self.path)


class Bridge(Target):
    name = "mcp-bridge"

    def __init__(self, *extra: str):
        self.extra = extra

    def argv(self):
        return [str(BRIDGE), "--port", str(self.port), "--log-level", "error", "--max-sessions", "1000", *self.extra, "--", str(ECHO)]


class Proxy(Target):
    name = "mcp-proxy 0.13.0"
    path = "/mcp/"

    def argv(self):
        return [str(PROXY), "--host", "127.0.0.1", "--port", str(self.port), "--", str(ECHO)]


class NginxFloor(Target):
    """nginx answering every POST with one fixed JSON-RPC body: no child, no session."""
    name = "nginx floor"
    check = "status"

    def argv(self):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        body = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"v1"}]}}'
        (self.dir / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log stderr error;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {self.dir};
    proxy_temp_path {self.dir};
    fastcgi_temp_path {self.dir};
    uwsgi_temp_path {self.dir};
    scgi_temp_path {self.dir};
    server {{
        listen 127.0.0.1:{self.port};
        location /mcp {{ default_type application/json; return 200 '{body}'; }}
    }}
}}
""")
        return ["nginx", "-c", str(self.dir / "nginx.conf"), "-e", "stderr"]

    def session(self):
        return None


def initialize(url: str, client: httpx.Client | None = None) -> str:
    own = client is None
    client = client or httpx.Client(timeout=30)
    try:
        reply = client.post(url, headers={"Accept": ACCEPT}, json={
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
        reply.raise_for_status()
        session = reply.headers["mcp-session-id"]
        client.post(url, headers={"Accept": ACCEPT, "Mcp-Session-Id": session},
                    json={"jsonrpc": "2.0", "method": "notifications/initialized"}).raise_for_status()
        return session
    finally:
        if own:
            client.close()


def load(target: Target, connections: int, seconds: int) -> dict:
    env = {**os.environ, "MCP_PATH": target.path, "MCP_CHECK": target.check, "MCP_SESSION": target.session() or ""}
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), target.url],
                         env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    result = json.loads(out.split("RESULT ", 1)[1])
    result["rps"] = result["requests"] / result["seconds"]
    return result


async def sessions_per_second(url: str, count: int, concurrency: int) -> tuple[float, int]:
    """initialize + initialized + first tools/call, each on a new session (a new child for the bridge)."""
    failures = 0
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        async def one(index: int):
            nonlocal failures
            async with semaphore:
                try:
                    reply = await client.post(url, headers={"Accept": ACCEPT}, json={"jsonrpc": "2.0", "id": 0, "method": "initialize",
                        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "b", "version": "1"}}})
                    session = reply.headers["mcp-session-id"]
                    headers = {"Accept": ACCEPT, "Mcp-Session-Id": session}
                    await client.post(url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
                    answer = await client.post(url, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": {"name": "echo", "arguments": {"text": f"s{index}"}}})
                    if f'"s{index}"' not in answer.text:
                        failures += 1
                    await client.delete(url, headers=headers)
                except Exception:
                    failures += 1
        started = time.monotonic()
        await asyncio.gather(*(one(index) for index in range(count)))
        return count / (time.monotonic() - started), failures


def open_sessions(url: str, count: int) -> list[str]:
    with httpx.Client(timeout=30) as client:
        return [initialize(url, client) for _ in range(count)]


def memory(target_factory) -> dict:
    """Bridge RSS (its own process only) idle, then with 100 and 500 open sessions."""
    target = target_factory().start()
    try:
        time.sleep(0.5)
        figures = {"idle": rss_kib(target.proc.pid)}
        opened = 0
        for level in (100, 500):
            open_sessions(target.url + target.path, level - opened)
            opened = level
            time.sleep(1.0)
            figures[level] = rss_kib(target.proc.pid)
        return figures
    finally:
        target.stop()


def slow_reader_burst(total_bytes: int) -> dict:
    """The child floods a client that reads slowly; bridge RSS growth and delivered bytes."""
    bridge = Bridge("--stream-buffer-bytes", "4MiB").start()
    try:
        session = bridge.session()
        time.sleep(0.3)
        baseline = rss_kib(bridge.proc.pid)
        peak = baseline
        delivered = 0
        started = time.monotonic()
        body = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "flood", "arguments": {"bytes": total_bytes}}}
        with httpx.stream("POST", bridge.url + "/mcp", json=body, timeout=300,
                          headers={"Accept": ACCEPT, "Mcp-Session-Id": session}) as reply:
            final = None
            for line in reply.iter_lines():
                if line.startswith("data: "):
                    message = json.loads(line[6:])
                    if message.get("method") == "notifications/message":
                        delivered += len(message["params"]["data"])
                        if delivered % (1 << 20) < 65535:
                            time.sleep(0.004)  # a slow reader: about 250 naps per 64 MiB
                            peak = max(peak, rss_kib(bridge.proc.pid))
                    elif message.get("id") == 9:
                        final = message["result"]["content"][0]["text"]
        return {"baseline_kib": baseline, "peak_kib": peak, "growth_mib": (peak - baseline) / 1024,
                "delivered": delivered, "expected": total_bytes, "complete": final == str(total_bytes),
                "seconds": time.monotonic() - started}
    finally:
        bridge.stop()


def cold_start(runs: int = 10) -> float:
    """Process launch to the first answered initialize (ms, median)."""
    samples = []
    for _ in range(runs):
        port = free_port()
        started = time.monotonic()
        proc = subprocess.Popen([str(BRIDGE), "--port", str(port), "--log-level", "error", "--", str(ECHO)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(timeout=5) as client:
                while True:
                    try:
                        initialize(f"http://127.0.0.1:{port}/mcp", client)
                        break
                    except (httpx.ConnectError, httpx.RemoteProtocolError):
                        time.sleep(0.002)
            samples.append((time.monotonic() - started) * 1000)
        finally:
            proc.terminate()
            proc.wait()
    return sorted(samples)[len(samples) // 2]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return f"{os.cpu_count()} cores ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB RAM, Linux {platform.release()}"


def chart(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, rows), color in zip(results.items(), ("tab:blue", "tab:orange", "tab:green")):
        left.plot(CONNECTIONS, [rows[c]["rps"] for c in CONNECTIONS], marker="o", color=color, label=name)
        right.plot(CONNECTIONS, [rows[c]["p50_us"] / 1000 for c in CONNECTIONS], marker="o", color=color, label=f"{name} p50")
        right.plot(CONNECTIONS, [rows[c]["p99_us"] / 1000 for c in CONNECTIONS], marker="x", color=color, linestyle="--",
                   label=f"{name} p99")
    left.set(title="Throughput (tools/call, one session)", xlabel="connections", ylabel="requests/s", xscale="log", yscale="log")
    right.set(title="Latency", xlabel="connections", ylabel="ms", xscale="log", yscale="log")
    left.set_xticks(CONNECTIONS, [str(c) for c in CONNECTIONS])
    right.set_xticks(CONNECTIONS, [str(c) for c in CONNECTIONS])
    left.legend()
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per point")
    parser.add_argument("--burst-mib", type=int, default=128)
    args = parser.parse_args()

    results: dict[str, dict] = {}
    for factory in (Bridge, Proxy, NginxFloor):
        target = factory().start()
        try:
            load(target, 16, 2)  # warm-up
            results[target.name] = {c: load(target, c, args.seconds) for c in CONNECTIONS}
        finally:
            target.stop()
        for c in CONNECTIONS:
            row = results[target.name][c]
            print(f"{target.name:18} c={c:<3} {row['rps']:9.0f} req/s  p50 {row['p50_us'] / 1000:6.2f} ms  p99 {row['p99_us'] / 1000:6.2f} ms"
                  f"  ok {row['ok']} wrong {row['wrong']} failed {row['failed']} socket errors {row['socket_errors']}", flush=True)

    bridge_sps = Bridge().start()
    try:
        sps, sps_failures = asyncio.run(sessions_per_second(bridge_sps.url + "/mcp", 300, 8))
    finally:
        bridge_sps.stop()
    proxy_sps = Proxy().start()
    try:
        peer_sps, peer_sps_failures = asyncio.run(sessions_per_second(proxy_sps.url + "/mcp/", 300, 8))
    finally:
        proxy_sps.stop()
    print(f"sessions/s: bridge {sps:.0f} (failures {sps_failures}), mcp-proxy {peer_sps:.0f} (failures {peer_sps_failures})", flush=True)

    bridge_memory = memory(Bridge)
    proxy_memory = memory(Proxy)
    print(f"RSS KiB: bridge {bridge_memory}, mcp-proxy {proxy_memory}", flush=True)
    burst = slow_reader_burst(args.burst_mib << 20)
    print(f"slow reader: {burst}", flush=True)
    start_ms = cold_start()
    size = BRIDGE.stat().st_size
    stripped = Path(tempfile.mkdtemp()) / "mcp-bridge"
    subprocess.run(["strip", "-o", str(stripped), str(BRIDGE)], check=True)
    stripped_size = stripped.stat().st_size
    print(f"cold start {start_ms:.1f} ms, binary {size / 1e6:.1f} MB ({stripped_size / 1e6:.1f} MB stripped)", flush=True)

    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    chart(results, docs / "benchmarks.png")
    report(docs / "benchmarks.md", args, results, sps, sps_failures, peer_sps, peer_sps_failures,
           bridge_memory, proxy_memory, burst, start_ms, size, stripped_size)


def report(path, args, results, sps, sps_failures, peer_sps, peer_sps_failures, bridge_memory, proxy_memory, burst,
           start_ms, size, stripped_size):
    bridge, proxy, floor = (results[name] for name in ("mcp-bridge", "mcp-proxy 0.13.0", "nginx floor"))
    per_session = lambda figures: (figures[500] - figures[100]) / 400
    wrong = sum(rows[c]["wrong"] + rows[c]["failed"] + rows[c]["socket_errors"] for rows in results.values() for c in CONNECTIONS)
    checks = [
        ("throughput at 16 connections ≥ 10× mcp-proxy", f"{bridge[16]['rps'] / proxy[16]['rps']:.1f}×", bridge[16]["rps"] >= 10 * proxy[16]["rps"]),
        ("throughput at 16 connections ≥ 25 % of the nginx floor", f"{100 * bridge[16]['rps'] / floor[16]['rps']:.0f} %", bridge[16]["rps"] >= 0.25 * floor[16]["rps"]),
        ("p50 at 16 connections ≤ 1 ms", f"{bridge[16]['p50_us'] / 1000:.2f} ms", bridge[16]["p50_us"] <= 1000),
        ("p99 at 16 connections ≤ 5 ms", f"{bridge[16]['p99_us'] / 1000:.2f} ms", bridge[16]["p99_us"] <= 5000),
        ("idle RSS ≤ 15 MB", f"{bridge_memory['idle'] / 1024:.1f} MiB", bridge_memory["idle"] <= 15 * 1000),
        ("≤ 100 KB more per idle session", f"{per_session(bridge_memory):.0f} KiB", per_session(bridge_memory) <= 100),
        ("slow reader: RSS grows ≤ 32 MB, every byte arrives", f"{burst['growth_mib']:.1f} MiB, {burst['delivered']} of {burst['expected']} bytes",
         burst["growth_mib"] <= 32 and burst["delivered"] == burst["expected"] and burst["complete"]),
        ("zero wrong or lost replies", f"{wrong} in all load runs, {sps_failures} in session runs", wrong == 0 and sps_failures == 0),
    ]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()} by `bench/run` (wrk {args.seconds} s per point, "
        f"one initialized session, `tools/call` echo with a unique id per request; every reply checked: HTTP 200, a result, "
        f"and the echoed text matching the reply's id). All three targets ran in the same run, one after the other, "
        "with wrk on the same two cores.",
        "",
        "Targets: **mcp-bridge** (release build) in front of `bench/echo_server.c`, a minimal compiled stdio server; "
        "**mcp-proxy 0.13.0** (PyPI) in front of the same child; the **nginx floor**: nginx answering every POST with a "
        "fixed JSON-RPC body, no child at all.",
        "",
        "![throughput and latency against connections](benchmarks.png)",
        "",
        "| target | connections | req/s | p50 ms | p99 ms | ok | wrong | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, rows in results.items():
        for c in CONNECTIONS:
            row = rows[c]
            lines.append(f"| {name} | {c} | {row['rps']:.0f} | {row['p50_us'] / 1000:.2f} | {row['p99_us'] / 1000:.2f} | "
                         f"{row['ok']} | {row['wrong']} | {row['failed'] + row['socket_errors']} |")
    lines += [
        "",
        "| other figure | mcp-bridge | mcp-proxy 0.13.0 |",
        "| --- | ---: | ---: |",
        f"| sessions per second (initialize + initialized + first call + DELETE, 300 sessions, 8 at a time) | {sps:.0f} (a new child each) | {peer_sps:.0f} (one shared child) |",
        f"| RSS idle | {bridge_memory['idle'] / 1024:.1f} MiB | {proxy_memory['idle'] / 1024:.1f} MiB |",
        f"| RSS with 100 open sessions | {bridge_memory[100] / 1024:.1f} MiB | {proxy_memory[100] / 1024:.1f} MiB |",
        f"| RSS with 500 open sessions | {bridge_memory[500] / 1024:.1f} MiB | {proxy_memory[500] / 1024:.1f} MiB |",
        f"| per idle session (100 → 500) | {per_session(bridge_memory):.0f} KiB | {per_session(proxy_memory):.0f} KiB |",
        f"| slow reader, {args.burst_mib} MiB burst: RSS growth | {burst['growth_mib']:.1f} MiB ({burst['seconds']:.1f} s, all bytes: {burst['delivered'] == burst['expected']}) | — |",
        f"| cold start to first answered initialize (median of 10) | {start_ms:.1f} ms | — |",
        f"| binary size | {size / 1e6:.1f} MB ({stripped_size / 1e6:.1f} MB stripped) | — (Python) |",
        "",
        "RSS is the bridge process alone (children not counted); mcp-proxy runs one shared child, so its sessions cost "
        "no process.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, value, met in checks]
    lines += ["", "## Reproduce", "", "```sh", "bench/run            # or: bench/run --seconds 5 --burst-mib 32", "```", ""]
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text()]
    path.write_text("\n".join(lines))
    print("\n".join(f"{'met' if met else 'MISSED'}: {name}: {value}" for name, value, met in checks))


if __name__ == "__main__":
    main()
