"""How much of the nginx floor SwiftNIO itself leaves (bench/NOTES.md, round two, tenth part).

Interleaved rounds at one connection count (16 by default), each target loaded by wrk with
bench/mcp_call.lua for the same time: the nginx floor as in bench/run; `nio-floor fixed` (a
one-loop NIO HTTP/1 server answering the same fixed body); `nio-floor pipe` (the same server
relaying each POST body to bench/echo_server over a pipe and answering with its line: a bridge
with no session, guard, task or check, every reply still checked by id); `nio-floor task` (the
relay with a Swift task per request on the event loop awaiting its line, as the bridge's
requests do); and mcp-bridge. Prints requests/s, p50, p99, the share of the floor, and the
server process's user and system CPU per request (with its child: the whole process group).
With --baseline, another mcp-bridge binary (an earlier build) runs in the same rounds, for a
before/after comparison under the same load and noise.
Usage: bench/floor [--rounds 3] [--seconds 6] [--connections 16] [--baseline BINARY]"""

from __future__ import annotations

import argparse
import statistics
import subprocess
from pathlib import Path

import run

FLOOR_PACKAGE = run.ROOT / "bench" / "nio-floor"


class NIOFloor(run.Target):
    def __init__(self, mode: str, binary: Path):
        self.mode, self.binary = mode, binary
        self.name = f"nio-floor {mode}"
        self.check = "status" if mode == "fixed" else "strict"

    def argv(self):
        return [str(self.binary), self.mode, str(self.port), *([str(run.ECHO)] if self.mode != "fixed" else [])]

    def session(self):
        return None


class BaselineBridge(run.Bridge):
    """mcp-bridge from another binary, with the same arguments."""

    def __init__(self, binary: Path):
        super().__init__()
        self.binary = binary
        self.name = "mcp-bridge baseline"

    def argv(self):
        return [str(self.binary), *super().argv()[1:]]


def group_seconds(group: int) -> float:
    """CPU seconds of every process in the target's process group (nginx's worker, the bridge's
    or the relay's child included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(run.stat_fields(int(entry.name))[2]) == group:
                total += run.cpu_seconds(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return total


def server_times(pid: int) -> tuple[float, float]:
    """User and system seconds of the server process alone (for nginx: its one worker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    worker = int(children[0]) if children and Path(f"/proc/{children[0]}/exe").resolve().name == "nginx" else pid
    return run.cpu_times(worker)


def build() -> Path:
    """Builds bench/nio-floor in release; a failed build ends the run with the compiler's output."""
    built = subprocess.run(["swift", "build", "-c", "release", "--package-path", str(FLOOR_PACKAGE)], capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"bench/floor: building {FLOOR_PACKAGE} failed (exit {built.returncode}):\n{built.stdout}{built.stderr}")
    return FLOOR_PACKAGE / ".build" / "release" / "nio-floor"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--baseline", type=Path, help="another mcp-bridge binary to run in the same rounds")
    args = parser.parse_args()
    if args.baseline and not args.baseline.is_file():
        parser.error(f"--baseline {args.baseline}: no such file")
    if not run.ECHO.exists():
        run.ECHO.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", "-O2", "-o", str(run.ECHO), str(run.ROOT / "bench" / "echo_server.c")], check=True)
    binary = build()
    targets = [run.NginxFloor(), NIOFloor("fixed", binary), NIOFloor("pipe", binary), NIOFloor("task", binary), run.Bridge()]
    if args.baseline:
        targets.append(BaselineBridge(args.baseline))
    rows = {target.name: [] for target in targets}
    for round_number in range(1, args.rounds + 1):
        for target in targets:
            target.start()
            try:
                session = target.session()
                before, group_before = server_times(target.proc.pid), group_seconds(target.proc.pid)
                result = run.load(target, args.connections, args.seconds, session=session)
                after, group_after = server_times(target.proc.pid), group_seconds(target.proc.pid)
                count = max(result["requests"], 1)
                result["user_us"] = (after[0] - before[0]) * 1e6 / count
                result["system_us"] = (after[1] - before[1]) * 1e6 / count
                result["group_us"] = (group_after - group_before) * 1e6 / count
            finally:
                target.stop()
            rows[target.name].append(result)
            print(f"round {round_number} {target.name:16} {result['rps']:8.0f} req/s  p50 {result['p50_us'] / 1000:.2f} ms  "
                  f"p99 {result['p99_us'] / 1000:.2f} ms  server {result['user_us']:.1f} user + {result['system_us']:.1f} system µs/request, "
                  f"with its child {result['group_us']:.1f}  wrong {result['wrong']} failed {result['failed']}",
                  flush=True)
    floor = statistics.median(r["rps"] for r in rows["nginx floor"])
    print(f"\nmedians over {args.rounds} rounds at {args.connections} connections, {args.seconds} s each:")
    for name, results in rows.items():
        rps = statistics.median(r["rps"] for r in results)
        print(f"  {name:16} {rps:8.0f} req/s = {100 * rps / floor:5.1f} % of the floor  p50 {statistics.median(r['p50_us'] for r in results) / 1000:.2f} ms  "
              f"p99 {statistics.median(r['p99_us'] for r in results) / 1000:.2f} ms  server {statistics.median(r['user_us'] for r in results):.1f} user + "
              f"{statistics.median(r['system_us'] for r in results):.1f} system µs/request  "
              f"wrong {sum(r['wrong'] for r in results)} failed {sum(r['failed'] for r in results)}")


if __name__ == "__main__":
    main()
