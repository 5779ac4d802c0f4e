"""Where a loaded ChatIQ server spends its CPU: py-spy samples, summarised.

Starts a fresh `chatiq serve`, drives the durable-throughput load (50 visitors, one
message at a time each) or the operator→visitor latency load at a fixed rate, records
the server with py-spy for the whole run, and prints the functions with the most
samples: on top of the stack (self) and anywhere in it (inclusive).

    python -m bench.cpu_profile --load throughput --seconds 10 [--py-spy PATH]
    python -m bench.cpu_profile --load operator --rate 1000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import latency, throughput
from bench.common import ChatiqServer, load_average, setup_site


def summarise(collapsed: str, top: int) -> str:
    """py-spy's raw format: 'frame;frame;...;frame count' per line, outermost first."""
    own: Counter = Counter()
    anywhere: Counter = Counter()
    callers: dict[str, Counter] = {}  # leaf function → the innermost ChatIQ frame above it
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            anywhere[frame] += n
        ours = [f for f in frames if f.startswith("chatiq/")]
        callers.setdefault(frames[-1], Counter())[ours[-1] if ours else "(not ChatIQ code)"] += n
    idle = sum(n for f, n in own.items() if "select" in f or "epoll" in f)
    rows = [f"{total} samples; idle in the event loop's select: {100 * idle / max(total, 1):.0f}%",
            "", f"| self % | function (top {top}) |", "|---:|---|"]
    rows += [f"| {100 * n / total:.1f} | `{f}` |" for f, n in own.most_common(top)]
    rows += ["", f"| inclusive % | ChatIQ function (top {top}) |", "|---:|---|"]
    ours = [(f, n) for f, n in anywhere.most_common() if f.startswith("chatiq/")]
    rows += [f"| {100 * n / total:.1f} | `{f}` |" for f, n in ours[:top]]
    hottest = own.most_common(1)[0][0] if own else ""
    rows += ["", f"| % | ChatIQ code calling `{hottest}` |", "|---:|---|"]
    rows += [f"| {100 * n / total:.1f} | `{f}` |"
             for f, n in callers.get(hottest, Counter()).most_common(8)]
    return "\n".join(rows)


def _short(frame: str) -> str:
    """'func (/abs/path/chatiq/store/writer.py:123)' → 'chatiq/store/writer.py:func'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    if "/site-packages/" in path:
        path = path.rsplit("/site-packages/", 1)[1]
    elif "chatiq/" in path:
        path = "chatiq/" + path.rsplit("chatiq/", 1)[1]
    else:
        path = "/".join(Path(path).parts[-2:])
    return f"{path}:{name}" if path else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", choices=("throughput", "operator"), default="throughput")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="--load operator: msgs/s")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or
                        str(Path(sys.executable).parent / "py-spy"))
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="cqp")) / "profile.txt"
    server = ChatiqServer()
    server.start()
    try:
        token, site_key = setup_site(server.url)
        spy = subprocess.Popen([args.py_spy, "record", "--pid", str(server.proc.pid), "--format",
                                "raw", "--output", str(out), "--rate", "200", "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.load == "throughput":
            rate = throughput.drive(server.url, site_key, 50, args.seconds)
            print(f"load: 50 visitors, {rate:,.0f} msgs/s acked (load average {load_average()})")
        else:
            result = asyncio.run(latency.run_rate(server.url, token, site_key, "operator→visitor",
                                                  args.rate, args.seconds, 50, 10))
            print(f"load: operator→visitor at {args.rate:,.0f} msgs/s offered, p50"
                  f" {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms (load average {load_average()})")
        spy.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        spy.wait(60)
    finally:
        server.cleanup()
    print(summarise(out.read_text(), args.top))
    shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
