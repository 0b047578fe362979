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
SESSIONS_LUA = ROOT / "bench" / "mcp_sessions.lua"
TOKEN = "0123456789abcdef" * 4
ACCEPT = "application/json, text/event-stream"
# Issue 15's median target at 16 connections, checked in the report and bounded under it.
P50_TARGET_US = 350
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
        return [str(BRIDGE), "--port", str(self.port), "--log-level", "error", "--max-sessions", "1100", *self.extra, "--", str(ECHO)]


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


def self_signed(directory: Path) -> tuple[Path, Path]:
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True)
    return certificate, key


class NginxFront(Target):
    """The committed nginx front (`nginx/nginx.conf`: TLS, token map, keep-alive upstream) in front
    of a bridge, with its paths moved into a temp folder and its per-address rate limits lifted
    (50 requests/s per client would turn a load test into a 429 test)."""
    name = "nginx front + mcp-bridge"

    def start(self):
        self.bridge = Bridge().start()
        return super().start()

    def stop(self):
        super().stop()
        self.bridge.stop()

    def argv(self):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-front-"))
        certificate, key = self_signed(self.dir)
        config = (ROOT / "nginx" / "nginx.conf").read_text()
        config = config.replace("/run/mcp-sandbox/nginx", str(self.dir))
        config = config.replace("listen 8443 ssl;", f"listen 127.0.0.1:{self.port} ssl;")
        config = config.replace("127.0.0.1:8000", f"127.0.0.1:{self.bridge.port}")
        config = "\n".join(line for line in config.splitlines() if not line.strip().startswith(("limit_req ", "limit_conn ")))
        config = config.replace("access_log /dev/stdout mcp;", "access_log off;")
        (self.dir / "nginx.conf").write_text(config)
        (self.dir / "tokens.conf").write_text(f'"Bearer {TOKEN}" 1;\n')
        (self.dir / "tls.conf").write_text(f"ssl_certificate {certificate};\nssl_certificate_key {key};\n")
        return ["nginx", "-c", str(self.dir / "nginx.conf"), "-e", "stderr"]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def session(self):
        with httpx.Client(timeout=30, verify=False, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            return initialize(self.url + self.path, client)


class NginxTLSFloor(NginxFloor):
    """nginx alone over TLS: the same fixed body as the floor, the front's TLS settings."""
    name = "nginx floor (TLS)"

    def argv(self):
        argv = super().argv()
        certificate, key = self_signed(self.dir)
        config = (self.dir / "nginx.conf").read_text().replace(
            f"listen 127.0.0.1:{self.port};",
            f"listen 127.0.0.1:{self.port} ssl; ssl_certificate {certificate}; ssl_certificate_key {key}; "
            "ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets off;")
        (self.dir / "nginx.conf").write_text(config)
        return argv

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


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


def load(target: Target, connections: int, seconds: int, session: str | None = None) -> dict:
    """wrk on `session` (a new one from the target when None)."""
    session = session if session is not None else target.session()
    env = {**os.environ, "MCP_PATH": target.path, "MCP_CHECK": target.check, "MCP_SESSION": session or "", "MCP_TOKEN": TOKEN}
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), target.url],
                         env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    result = json.loads(out.split("RESULT ", 1)[1])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def churn(target: Target, seconds: int, concurrency: int = 8) -> dict:
    """New sessions per second: wrk drives `concurrency` connections, each through whole sessions
    (initialize, initialized, one checked tools/call, DELETE) for `seconds`. A C client, so the
    figure is the server's and not a Python client's."""
    env = {**os.environ, "MCP_PATH": target.path, "MCP_TOKEN": TOKEN}
    out = subprocess.run(["wrk", f"-t{concurrency}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(SESSIONS_LUA),
                          target.url], env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    result = json.loads(out.split("RESULT ", 1)[1])
    result["per_second"] = result["sessions"] / result["seconds"]
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


def stat_fields(pid: int) -> list[str]:
    """`/proc/PID/stat` after the command name: [0] state, [1] ppid, [2] pgrp, [11] utime, [12] stime."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system seconds of one process."""
    fields = stat_fields(pid)
    return int(fields[11]) / os.sysconf("SC_CLK_TCK"), int(fields[12]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def evict_page_cache(path: Path) -> None:
    """Drops `path`'s clean pages from the page cache. A file written moments ago (a fresh link
    or copy) sits there in large folios that a mapping takes whole: the same bridge binary
    measured 15.2 MiB idle from an old copy and 16.8 MiB from a fresh `cp`, 15.1–15.2 MiB for
    both once evicted. Evicting first makes idle RSS a property of the binary, not of its history."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def memory(target_factory) -> dict:
    """Bridge RSS (its own process only) idle, then with 100, 500 and 1,000 open sessions, and
    the CPU time the process spends while those 1,000 sessions idle for 5 s. Both executables
    (the bridge, the Python interpreter running mcp-proxy) start from an evicted page cache."""
    for executable in (BRIDGE, Path(os.path.realpath(PROXY.with_name("python")))):
        evict_page_cache(executable)
    target = target_factory().start()
    try:
        time.sleep(0.5)
        figures = {"idle": rss_kib(target.proc.pid)}
        opened = 0
        for level in (100, 500, 1000):
            open_sessions(target.url + target.path, level - opened)
            opened = level
            time.sleep(1.0)
            figures[level] = rss_kib(target.proc.pid)
        before = cpu_seconds(target.proc.pid)
        time.sleep(5)
        figures["idle_cpu_ms"] = (cpu_seconds(target.proc.pid) - before) * 1000
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


def instructions_per_request(requests: int = 2000, warmup: int = 300, health: bool = False, vary: bool = False) -> dict:
    """Instructions the bridge executes per `tools/call` (callgrind: a count, not a time, so it is
    the same on a busy or a quiet machine): one session, `warmup` calls, counters zeroed, then
    `requests` calls one after another, then a dump. valgrind 3.19 cannot read the release
    binary's DWARF 5, so a copy without debug sections runs (the same code). With `health`, the
    requests are `GET /healthz` instead: the HTTP server's own cost, no session and no child.
    With `vary`, each call's body has another length than the one before, so no request head is
    the same as the last (the connection's head cache reuses fields, not the whole head)."""
    work = Path(tempfile.mkdtemp(prefix="bench-callgrind-"))
    binary = work / "mcp-bridge"
    subprocess.run(["objcopy", "--strip-debug", str(BRIDGE), str(binary)], check=True)
    port = free_port()
    out = work / "callgrind.out"
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary), "--port", str(port),
                             "--log-level", "error", "--", str(ECHO)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, timeout=120)
        url = f"http://127.0.0.1:{port}/mcp"
        with httpx.Client(timeout=60) as client:
            session = initialize(url, client)
            headers = {"Accept": ACCEPT, "Mcp-Session-Id": session}

            def calls(count: int, start: int):
                for index in range(start, start + count):
                    if health:
                        reply = client.get(url.replace("/mcp", "/healthz"))
                        assert reply.status_code == 200, reply.text
                        continue
                    text = f"v{index}" + "x" * (index % 5 if vary else 0)
                    reply = client.post(url, headers=headers, json={"jsonrpc": "2.0", "id": index, "method": "tools/call",
                                                                    "params": {"name": "echo", "arguments": {"text": text}}})
                    assert f'"{text}"' in reply.text, reply.text

            calls(warmup, 1)
            subprocess.run(["callgrind_control", "--zero", str(proc.pid)], check=True, capture_output=True)
            calls(requests, warmup + 1)
            subprocess.run(["callgrind_control", "--dump", str(proc.pid)], check=True, capture_output=True)
        dumps = sorted(work.glob("callgrind.out.*"))
        totals = next(int(line.split()[1]) for line in dumps[-1].read_text().splitlines() if line.startswith("totals:"))
        return {"requests": requests, "instructions": totals, "per_request": totals / requests}
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


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

    # The same figures behind the nginx front (TLS, keep-alive to the bridge), against nginx alone over TLS.
    for factory in (NginxFront, NginxTLSFloor):
        target = factory().start()
        try:
            load(target, 16, 2)
            results[target.name] = {16: load(target, 16, args.seconds)}
        finally:
            target.stop()
        row = results[target.name][16]
        print(f"{target.name:18} c=16  {row['rps']:9.0f} req/s  p50 {row['p50_us'] / 1000:6.2f} ms  p99 {row['p99_us'] / 1000:6.2f} ms"
              f"  ok {row['ok']} wrong {row['wrong']} failed {row['failed']} socket errors {row['socket_errors']}", flush=True)

    churns = {}
    for label, factory in (("mcp-bridge", Bridge), ("mcp-bridge --warm-spares 4", lambda: Bridge("--warm-spares", "4")),
                           ("mcp-proxy 0.13.0", Proxy), ("nginx front + mcp-bridge", NginxFront)):
        target = factory().start()
        try:
            time.sleep(0.5)
            churns[label] = churn(target, args.seconds)
        finally:
            target.stop()
        print(f"new sessions/s {label}: {churns[label]}", flush=True)
    # The Python client the earlier reports used (httpx, 300 sessions, 8 at a time): it costs more
    # CPU per session than either server, so on two cores it mostly measures itself.
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
    print(f"sessions/s (httpx client): bridge {sps:.0f} (failures {sps_failures}), mcp-proxy {peer_sps:.0f} (failures {peer_sps_failures})", flush=True)
    counted = [instructions_per_request() for _ in range(2)]
    counted_vary = instructions_per_request(vary=True)
    counted_health = instructions_per_request(health=True)
    print(f"callgrind: {[round(c['per_request']) for c in counted]} instructions per request, "
          f"{counted_vary['per_request']:.0f} with a new body length each call, "
          f"{counted_health['per_request']:.0f} per GET /healthz", flush=True)

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
    report(docs / "benchmarks.md", args, results, churns, counted, counted_vary, counted_health, sps, sps_failures, peer_sps, peer_sps_failures,
           bridge_memory, proxy_memory, burst, start_ms, size, stripped_size)


def latency_bound(bridge: dict, floor: dict, connections: int = 16, target_ms: float = P50_TARGET_US / 1000) -> str:
    """What bounds the latency targets in one run, from that run's figures. Little's law: with
    `connections` connections each waiting for an answer or about to send, a request's latency
    plus the client's own time before the next averages `connections` over the throughput; a
    median latency sits below that as far as latencies are skewed and the client takes time."""
    def cycle_ms(point: dict) -> float:
        return connections / point["rps"] * 1000

    def ratio(point: dict) -> float:
        return point["p50_us"] / 1000 / cycle_ms(point)

    def needed(point: dict) -> str:
        return f"{connections * ratio(point) / target_ms * 1000:,.0f}"

    return (
        f"What bounds the latency targets here: with {connections} connections each waiting for an answer or about to "
        f"send the next request, a request's latency plus the client's own time before the next averages {connections} over "
        f"the throughput (Little's law): {cycle_ms(bridge):.2f} ms for the bridge in this run, whose median latency was "
        f"{ratio(bridge):.2f} of that ({bridge['p50_us'] / 1000:.2f} ms). At that ratio a {target_ms} ms median needs "
        f"{needed(bridge)} req/s; even at the nginx floor's ratio ({ratio(floor):.2f}: {floor['p50_us'] / 1000:.2f} against "
        f"{cycle_ms(floor):.2f} ms) it needs {needed(floor)}. The floor, with no child and no second process, answered "
        f"{floor['rps']:,.0f} req/s; its own p99 at {connections} connections was {floor['p99_us'] / 1000:.2f} ms."
    )


def report(path, args, results, churns, counted, counted_vary, counted_health, sps, sps_failures, peer_sps, peer_sps_failures, bridge_memory, proxy_memory, burst,
           start_ms, size, stripped_size):
    bridge, proxy, floor = (results[name] for name in ("mcp-bridge", "mcp-proxy 0.13.0", "nginx floor"))
    front, tls_floor = results["nginx front + mcp-bridge"][16], results["nginx floor (TLS)"][16]
    per_session = lambda figures: (figures[1000] - figures[100]) / 900
    churn_bridge, churn_spares, churn_proxy = (churns[name] for name in ("mcp-bridge", "mcp-bridge --warm-spares 4", "mcp-proxy 0.13.0"))
    wrong = sum(row["wrong"] + row["failed"] + row["socket_errors"] for rows in results.values() for row in rows.values())
    churn_wrong = sum(c["wrong"] + c["failed"] + c["socket_errors"] for c in churns.values())
    checks = [
        ("new sessions per second ≥ 2× mcp-proxy (one child per session)",
         f"{churn_bridge['per_second'] / churn_proxy['per_second']:.2f}× ({churn_bridge['per_second']:.0f} against {churn_proxy['per_second']:.0f})",
         churn_bridge["per_second"] >= 2 * churn_proxy["per_second"]),
        ("throughput at 16 connections ≥ 20× mcp-proxy", f"{bridge[16]['rps'] / proxy[16]['rps']:.1f}×", bridge[16]["rps"] >= 20 * proxy[16]["rps"]),
        ("throughput at 16 connections ≥ 40 % of the nginx floor", f"{100 * bridge[16]['rps'] / floor[16]['rps']:.0f} %", bridge[16]["rps"] >= 0.40 * floor[16]["rps"]),
        (f"p50 at 16 connections ≤ {P50_TARGET_US / 1000} ms", f"{bridge[16]['p50_us'] / 1000:.2f} ms", bridge[16]["p50_us"] <= P50_TARGET_US),
        ("p99 at 16 connections ≤ 2 ms", f"{bridge[16]['p99_us'] / 1000:.2f} ms", bridge[16]["p99_us"] <= 2000),
        ("idle RSS ≤ 10 MiB", f"{bridge_memory['idle'] / 1024:.1f} MiB", bridge_memory["idle"] <= 10 * 1024),
        ("≤ 50 KiB more per idle session (100 → 1,000 sessions)", f"{per_session(bridge_memory):.0f} KiB", per_session(bridge_memory) <= 50),
        ("slow reader: RSS grows ≤ 32 MB, every byte arrives", f"{burst['growth_mib']:.1f} MiB, {burst['delivered']} of {burst['expected']} bytes",
         burst["growth_mib"] <= 32 and burst["delivered"] == burst["expected"] and burst["complete"]),
        ("zero wrong or lost replies", f"{wrong} in all load runs, {churn_wrong} in session churn, {sps_failures + peer_sps_failures} in the httpx session runs",
         wrong == 0 and churn_wrong == 0 and sps_failures == 0 and peer_sps_failures == 0),
    ]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()} by `bench/run` (wrk {args.seconds} s per point, "
        f"one initialized session, `tools/call` echo with a unique id per request; every reply checked: HTTP 200, a result, "
        f"and the echoed text matching the reply's id). All targets ran in the same run, one after the other, "
        "with wrk on the same two cores.",
        "",
        "Targets: **mcp-bridge** (release build) in front of `bench/echo_server.c`, a minimal compiled stdio server; "
        "**mcp-proxy 0.13.0** (PyPI) in front of the same child; the **nginx floor**: nginx answering every POST with a "
        "fixed JSON-RPC body, no child at all; the **nginx front** (`nginx/nginx.conf`: TLS, the token map, keep-alive to "
        "the bridge; its per-address rate limits lifted for the load) in front of mcp-bridge, against the **nginx floor "
        "over TLS** (the same fixed body, the same TLS settings).",
        "",
        "![throughput and latency against connections](benchmarks.png)",
        "",
        "| target | connections | req/s | p50 ms | p99 ms | ok | wrong | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, rows in results.items():
        for c, row in rows.items():
            lines.append(f"| {name} | {c} | {row['rps']:.0f} | {row['p50_us'] / 1000:.2f} | {row['p99_us'] / 1000:.2f} | "
                         f"{row['ok']} | {row['wrong']} | {row['failed'] + row['socket_errors']} |")
    lines += [
        "",
        f"Behind the nginx front (TLS, keep-alive) the bridge answers {front['rps']:.0f} req/s at 16 connections, "
        f"{100 * front['rps'] / tls_floor['rps']:.0f} % of nginx alone over TLS ({tls_floor['rps']:.0f} req/s) and "
        f"{100 * front['rps'] / bridge[16]['rps']:.0f} % of the bridge without the front; the front adds "
        f"{(front['p50_us'] - bridge[16]['p50_us']) / 1000:.2f} ms at the median.",
        "",
        "New sessions per second (wrk, 8 connections at a time, each through whole sessions: initialize, initialized, "
        f"one checked `tools/call`, DELETE; {args.seconds} s each):",
        "",
        "| target | sessions/s | sessions | wrong | failed |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, c in churns.items():
        lines.append(f"| {name} | {c['per_second']:.0f} | {c['sessions']} | {c['wrong']} | {c['failed'] + c['socket_errors']} |")
    lines += [
        "",
        "| other figure | mcp-bridge | mcp-proxy 0.13.0 |",
        "| --- | ---: | ---: |",
        f"| sessions per second with the Python client of earlier reports (httpx, 300 sessions, 8 at a time) | {sps:.0f} | {peer_sps:.0f} |",
        f"| instructions per `tools/call` (callgrind, {counted[0]['requests']} calls, two runs) | "
        + " / ".join(f"{c['per_request']:,.0f}" for c in counted) + " | — |",
        f"| the same, each call's body a different length from the last (no request head repeats whole) | {counted_vary['per_request']:,.0f} | — |",
        f"| instructions per `GET /healthz` (callgrind: the HTTP server alone, no body, no session, no child) | {counted_health['per_request']:,.0f} | — |",
        f"| RSS idle | {bridge_memory['idle'] / 1024:.1f} MiB | {proxy_memory['idle'] / 1024:.1f} MiB |",
        f"| RSS with 100 open sessions | {bridge_memory[100] / 1024:.1f} MiB | {proxy_memory[100] / 1024:.1f} MiB |",
        f"| RSS with 500 open sessions | {bridge_memory[500] / 1024:.1f} MiB | {proxy_memory[500] / 1024:.1f} MiB |",
        f"| RSS with 1,000 open sessions | {bridge_memory[1000] / 1024:.1f} MiB | {proxy_memory[1000] / 1024:.1f} MiB |",
        f"| per idle session (100 → 1,000) | {per_session(bridge_memory):.0f} KiB | {per_session(proxy_memory):.0f} KiB |",
        f"| CPU time while 1,000 sessions idle for 5 s | {bridge_memory['idle_cpu_ms']:.0f} ms | {proxy_memory['idle_cpu_ms']:.0f} ms |",
        f"| slow reader, {args.burst_mib} MiB burst: RSS growth | {burst['growth_mib']:.1f} MiB ({burst['seconds']:.1f} s, all bytes: {burst['delivered'] == burst['expected']}) | — |",
        f"| cold start to first answered initialize (median of 10) | {start_ms:.1f} ms | — |",
        f"| binary size | {size / 1e6:.1f} MB ({stripped_size / 1e6:.1f} MB stripped) | — (Python) |",
        "",
        "RSS is the bridge process alone (children not counted); mcp-proxy runs one shared child, so its sessions cost "
        f"no process. `--warm-spares 4` churned {churn_spares['per_second']:.0f} sessions/s: a spare saves a new session "
        "the wait for its process, but under sustained churn every session still costs one process start.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, value, met in checks]
    lines += ["", latency_bound(bridge[16], floor[16])]
    lines += ["", "## Reproduce", "", "```sh", "bench/run            # or: bench/run --seconds 5 --burst-mib 32", "```", ""]
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text()]
    path.write_text("\n".join(lines))
    print("\n".join(f"{'met' if met else 'MISSED'}: {name}: {value}" for name, value, met in checks))


if __name__ == "__main__":
    main()
