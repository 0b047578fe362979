"""Chaos soak: attacks a running mcp-bridge as hostile clients and a hostile environment would,
and checks that nothing is misdelivered, lost, hung or leaked.

Many sessions on both transports (Streamable HTTP and legacy HTTP+SSE) call an echo tool with a
unique id and payload each, while the soak SIGKILLs random children, drops clients at every stage
(half-sent bodies, unread answers, streams closed at once), abandons sessions, and keeps slow SSE
readers. Every answer is checked against the request it belongs to. At the end idle reaping must
bring the bridge back to no child, its descriptors to the baseline and its memory near it, and
after SIGTERM no child may survive.

    python bench/chaos.py --seconds 20                 # the short mode CI runs
    python bench/chaos.py --calls 1000000 --seconds 3600  # the long mode (README figures)

Exit status 0 only when every check holds; the figures are printed either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from run import rss_kib  # bench/run.py, beside this file

ROOT = Path(__file__).resolve().parents[1]
ACCEPT = "application/json, text/event-stream"


@dataclass
class Tally:
    calls_ok: int = 0
    calls_killed: int = 0  # answered with the bridge's "child died" error after a SIGKILL
    misdelivered: int = 0
    lost: int = 0
    hangs: int = 0
    sessions: dict = field(default_factory=lambda: {"streamable": 0, "legacy": 0, "abandoned": 0})
    drops: dict = field(default_factory=lambda: {"half_body": 0, "unread_answer": 0, "stream_closed": 0, "init_unread": 0})
    kills: int = 0
    slow_reader_events: int = 0
    problems: list = field(default_factory=list)

    def problem(self, kind: str, detail: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.problems) < 20:
            self.problems.append(f"{kind}: {detail}")


def compile_echo(directory: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        swift = shutil.which("swift")
        candidate = Path(os.path.realpath(swift)).parent / "clang" if swift else None
        compiler = str(candidate) if candidate and candidate.exists() else None
    if compiler is None:
        sys.exit("chaos: no C compiler (cc, gcc or the Swift toolchain's clang) for bench/echo_server.c")
    # A unique path, so orphans are found by their executable alone.
    binary = directory / f"chaos-echo-{os.getpid()}"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(ROOT / "bench" / "echo_server.c")], check=True)
    return binary


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def processes_running(executable: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "exe") == str(executable):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Bridge:
    def __init__(self, binary: str, echo: Path, idle_timeout: str, log_level: str = "notice", log: Path | None = None):
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--log-level", log_level, "--max-sessions", "200",
             "--session-idle-timeout", idle_timeout, "--evict-idle-after", "1h", "--request-timeout", "20s",
             "--shutdown-grace", "1s", "--", str(echo)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.port = None
        ready = threading.Event()

        def read():
            with open(log, "w") if log else contextlib.nullcontext() as copy:
                for line in self.proc.stderr:
                    if copy:
                        copy.write(line)
                        copy.flush()
                    match = re.search(r"address=\S+:(\d+)", line)
                    if match and "listening" in line:
                        self.port = int(match.group(1))
                        ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(20):
            self.proc.kill()
            sys.exit("chaos: the bridge did not start")
        self.base = f"http://127.0.0.1:{self.port}"


class Hang(Exception):
    """A wait that ran out, named so the report says which step hung."""


async def within(seconds: float, what: str, awaitable):
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except asyncio.TimeoutError:
        raise Hang(f"{what} (no answer in {seconds:g} s)") from None


async def until_answer_or_end(future: asyncio.Future, listener: asyncio.Task, seconds: float, what: str):
    """The answer a legacy stream delivers to `future`, or None once the stream has ended.

    The stream may end (a killed child ends its session) before the client registers the
    answer it waits for, so waiting for the future alone could wait for an answer that can no
    longer come."""
    done, _ = await asyncio.wait({future, listener}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    if future in done:
        return future.result()
    if listener in done:
        listener.result()  # a read error surfaces as itself
        return None
    raise Hang(f"{what} (no answer in {seconds:g} s)")


def initialize_body(request_id) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "chaos", "version": "1"}}}


def echo_body(request_id: str, text: str) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": text}}}


def killed_error(message: dict) -> bool:
    error = message.get("error") or {}
    return error.get("code") == -32603 and ("killed by signal" in error.get("message", "") or "exited" in error.get("message", ""))


class Soak:
    def __init__(self, bridge: Bridge, tally: Tally, deadline: float, calls: int):
        self.bridge = bridge
        self.tally = tally
        self.deadline = deadline
        self.calls = calls
        self.serial = 0

    def running(self) -> bool:
        return time.monotonic() < self.deadline and self.tally.calls_ok + self.tally.calls_killed < self.calls

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}-{random.getrandbits(32):08x}"

    def check_reply(self, message: dict, request_id: str, text: str) -> None:
        if message.get("id") != request_id:
            self.tally.problem("misdelivered", f"asked {request_id}, got {message.get('id')}")
        elif "result" in message:
            got = message["result"]["content"][0]["text"]
            if got == text:
                self.tally.calls_ok += 1
            else:
                self.tally.problem("misdelivered", f"{request_id}: payload {got!r} is not {text!r}")
        elif killed_error(message) and self.tally.kills:
            self.tally.calls_killed += 1
        else:
            self.tally.problem("lost", f"{request_id}: {message}")

    async def streamable(self, client: httpx.AsyncClient) -> None:
        self.tally.sessions["streamable"] += 1
        reply = await client.post("/mcp", json=initialize_body(0), headers={"Accept": ACCEPT})
        if reply.status_code != 200 or "mcp-session-id" not in reply.headers:
            # A child killed while it initializes fails the initialize; nothing else may.
            if not (self.tally.kills and "killed by signal" in reply.text):
                self.tally.problem("lost", f"initialize answered {reply.status_code}: {reply.text[:200]}")
            return
        headers = {"Accept": ACCEPT, "Mcp-Session-Id": reply.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-06-18"}
        await client.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
        for _ in range(random.randint(5, 60)):
            if not self.running():
                break
            request_id = self.next_id("s")
            text = f"payload {request_id} " + "x" * random.randint(0, 2000)
            reply = await client.post("/mcp", json=echo_body(request_id, text), headers=headers)
            if reply.status_code == 404 and self.tally.kills:
                self.tally.calls_killed += 1  # the session ended with its killed child
                return
            if reply.status_code != 200:
                self.tally.problem("lost", f"{request_id}: HTTP {reply.status_code} {reply.text[:200]}")
                return
            messages = [json.loads(line[6:]) for line in reply.text.splitlines() if line.startswith("data: ")] \
                if reply.headers.get("content-type", "").startswith("text/event-stream") else [reply.json()]
            answers = [m for m in messages if "id" in m]
            if len(answers) != 1:
                self.tally.problem("lost", f"{request_id}: {len(answers)} answers")
                continue
            self.check_reply(answers[0], request_id, text)
            if answers[0].get("error"):
                return
        if random.random() < 0.2:
            self.tally.sessions["abandoned"] += 1  # no DELETE: idle reaping must end it
        else:
            await client.delete("/mcp", headers=headers)

    async def legacy(self, client: httpx.AsyncClient) -> None:
        self.tally.sessions["legacy"] += 1
        waiting: dict[str, asyncio.Future] = {}
        endpoint: asyncio.Future = asyncio.get_running_loop().create_future()
        async with client.stream("GET", "/sse", headers={"Accept": "text/event-stream"}) as stream:
            async def listen():
                async for line in stream.aiter_lines():
                    if line.startswith("data: /") and not endpoint.done():
                        endpoint.set_result(line[6:])
                    elif line.startswith("data: {"):
                        message = json.loads(line[6:])
                        future = waiting.pop(str(message.get("id")), None)
                        if future and not future.done():
                            future.set_result(message)
                        elif "id" in message and message.get("id") != 0:
                            self.tally.problem("misdelivered", f"legacy stream got unknown id {message.get('id')}")
                for future in waiting.values():
                    if not future.done():
                        future.set_result(None)

            listener = asyncio.create_task(listen())
            try:
                url = await until_answer_or_end(endpoint, listener, 10, "legacy: endpoint event")
                if url is None:  # the stream ended first: only a refusal or a killed child may do that
                    if not self.tally.kills:
                        self.tally.problem("lost", f"legacy stream answered {stream.status_code} without an endpoint")
                    return
                init = asyncio.get_running_loop().create_future()
                waiting["0"] = init
                posted = await client.post(url, json=initialize_body(0))
                if posted.status_code != 202:
                    if not (posted.status_code == 404 and self.tally.kills):
                        self.tally.problem("lost", f"legacy initialize: POST answered {posted.status_code}")
                    return
                if (await until_answer_or_end(init, listener, 10, f"legacy: initialize answer via {url}")) is None:
                    if not self.tally.kills:  # the stream ended: only a killed child may do that
                        self.tally.problem("lost", "legacy initialize unanswered")
                    return
                await client.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
                for _ in range(random.randint(5, 40)):
                    if not self.running():
                        break
                    request_id = self.next_id("l")
                    text = f"legacy {request_id}"
                    future = asyncio.get_running_loop().create_future()
                    waiting[request_id] = future
                    posted = await client.post(url, json=echo_body(request_id, text))
                    if posted.status_code == 404 and self.tally.kills:
                        waiting.pop(request_id, None)
                        self.tally.calls_killed += 1
                        return
                    if posted.status_code != 202:
                        self.tally.problem("lost", f"{request_id}: POST answered {posted.status_code}")
                        return
                    message = await until_answer_or_end(future, listener, 20, f"legacy: {request_id} answer via {url}")
                    if message is None:  # the stream ended: only a killed child may do that
                        if self.tally.kills:
                            self.tally.calls_killed += 1
                        else:
                            self.tally.problem("lost", f"{request_id}: stream ended")
                        return
                    self.check_reply(message, request_id, text)
            finally:
                listener.cancel()

    async def drop(self) -> None:
        kind = random.choice(["half_body", "unread_answer", "stream_closed", "init_unread"])
        self.tally.drops[kind] += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.bridge.port)
        try:
            body = json.dumps(initialize_body(1)).encode()
            head = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {ACCEPT}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            if kind == "half_body":
                writer.write(head + body[: len(body) // 2])
            elif kind == "stream_closed":
                writer.write(b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
                await writer.drain()
                await within(5, "drop: GET /sse head", reader.read(64))
            else:
                writer.write(head + body)
            await writer.drain()
            if kind == "unread_answer":
                await asyncio.sleep(0.01)
        finally:
            writer.transport.abort()

    async def slow_reader(self, client: httpx.AsyncClient) -> None:
        """A GET /sse stream read a few bytes at a time, kept open through the soak."""
        while self.running():
            async with client.stream("GET", "/sse", headers={"Accept": "text/event-stream"}) as stream:
                async for _ in stream.aiter_bytes(16):
                    self.tally.slow_reader_events += 1
                    await asyncio.sleep(0.2)
                    if not self.running():
                        return

    async def worker(self, index: int) -> None:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        async with httpx.AsyncClient(base_url=self.bridge.base, timeout=30, limits=limits) as client:
            while self.running():
                roll = random.random()
                try:
                    if roll < 0.55:
                        await self.streamable(client)
                    elif roll < 0.85:
                        await self.legacy(client)
                    else:
                        await self.drop()
                except Hang as error:
                    self.tally.problem("hangs", f"worker {index}: {error}")
                except httpx.TimeoutException as error:
                    request = error.request
                    self.tally.problem("hangs", f"worker {index}: {type(error).__name__} on {request.method} {request.url}")
                except (httpx.RemoteProtocolError, httpx.ReadError, ConnectionError) as error:
                    if not self.tally.kills:
                        self.tally.problem("lost", f"worker {index}: {error!r}")
                except (KeyError, ValueError, IndexError) as error:  # a malformed answer
                    self.tally.problem("lost", f"worker {index}: malformed answer ({error!r})")

    async def killer(self, interval: float) -> None:
        while self.running():
            await asyncio.sleep(interval)
            children = children_of(self.bridge.proc.pid)
            if children:
                try:
                    os.kill(random.choice(children), signal.SIGKILL)
                    self.tally.kills += 1
                except ProcessLookupError:
                    pass


async def soak(bridge: Bridge, tally: Tally, seconds: float, calls: int, concurrency: int, kill_interval: float) -> None:
    run = Soak(bridge, tally, time.monotonic() + seconds, calls)
    async with httpx.AsyncClient(base_url=bridge.base, timeout=None) as slow_client:
        tasks = [asyncio.create_task(run.worker(i)) for i in range(concurrency)]
        tasks.append(asyncio.create_task(run.slow_reader(slow_client)))
        if kill_interval > 0:
            tasks.append(asyncio.create_task(run.killer(kill_interval)))
        await asyncio.gather(*tasks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="stop after this long (default 20)")
    parser.add_argument("--calls", type=int, default=10**9, help="stop after this many answered calls")
    parser.add_argument("--concurrency", type=int, default=12, help="concurrent clients (default 12)")
    parser.add_argument("--kill-interval", type=float, default=0.25, help="SIGKILL a random child this often (0: never)")
    parser.add_argument("--bridge", default=os.environ.get("MCP_BRIDGE_RELEASE_BIN") or os.environ.get("MCP_BRIDGE_BIN")
                        or str(ROOT / ".build" / "release" / "mcp-bridge"))
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--bridge-log", type=Path, help="copy the bridge's log to this file (to diagnose a failure)")
    parser.add_argument("--log-level", default="notice", help="the bridge's --log-level (default notice)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mcp-chaos-"))
    echo = compile_echo(workdir)
    bridge = Bridge(args.bridge, echo, idle_timeout="2s", log_level=args.log_level, log=args.bridge_log)
    # Warm up first (event loops, thread pools and buffers start on first use), so the baseline
    # is what a served bridge holds with no session.
    asyncio.run(soak(bridge, Tally(), 1, 50, 2, 0))
    deadline = time.monotonic() + 15
    while children_of(bridge.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)  # idle reaping of the warm-up's abandoned sessions, if any
    baseline_fds, baseline_rss = fd_count(bridge.proc.pid), rss_kib(bridge.proc.pid)
    tally = Tally()
    started = time.monotonic()
    asyncio.run(soak(bridge, tally, args.seconds, args.calls, args.concurrency, args.kill_interval))
    elapsed = time.monotonic() - started
    peak_rss = rss_kib(bridge.proc.pid)

    # Idle reaping (2 s here) must end every abandoned session and its child.
    reaped = False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not children_of(bridge.proc.pid) and fd_count(bridge.proc.pid) <= baseline_fds + 2:
            reaped = True
            break
        time.sleep(0.25)
    after_fds, after_rss = fd_count(bridge.proc.pid), rss_kib(bridge.proc.pid)
    if not reaped:
        fds = sorted(os.readlink(f"/proc/{bridge.proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{bridge.proc.pid}/fd"))
        print(f"not reaped: children {children_of(bridge.proc.pid)}, descriptors {fds}", file=sys.stderr)
    bridge.proc.send_signal(signal.SIGTERM)
    try:
        bridge.proc.wait(20)
        clean_exit = bridge.proc.returncode == 0
    except subprocess.TimeoutExpired:
        os.killpg(bridge.proc.pid, signal.SIGKILL)
        clean_exit = False
    time.sleep(0.5)
    orphans = processes_running(echo)
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(workdir, ignore_errors=True)

    rss_growth_mib = (after_rss - baseline_rss) / 1024
    figures = {
        "seconds": round(elapsed, 1), "calls_ok": tally.calls_ok, "calls_answered_child_killed": tally.calls_killed,
        "calls_per_second": round((tally.calls_ok + tally.calls_killed) / elapsed), "sessions": tally.sessions,
        "client_drops": tally.drops, "child_sigkills": tally.kills, "slow_reader_reads": tally.slow_reader_events,
        "misdelivered": tally.misdelivered, "lost": tally.lost, "hangs": tally.hangs, "orphans": len(orphans),
        "reaped_to_no_child": reaped, "fds_baseline_after": [baseline_fds, after_fds],
        "rss_kib_baseline_peak_after": [baseline_rss, peak_rss, after_rss], "sigterm_exit_clean": clean_exit,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:32} {value}")
    for problem in tally.problems:
        print("problem:", problem, file=sys.stderr)
    checks = {
        "no misdelivered reply": tally.misdelivered == 0,
        "no lost reply": tally.lost == 0,
        "no hang": tally.hangs == 0,
        "no orphan child": not orphans,
        "idle reaping ended every session and returned the descriptors": reaped,
        "memory after reaping within 48 MiB of the start": rss_growth_mib < 48,
        "SIGTERM ended the bridge cleanly": clean_exit,
        "the soak made calls": tally.calls_ok > 0,
    }
    failed = [name for name, ok in checks.items() if not ok]
    for name in failed:
        print("FAILED:", name, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
