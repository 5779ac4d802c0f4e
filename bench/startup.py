"""`chatiq serve` from exec to healthy: fresh data dir (initdb) and warm restart; idle RSS.

    python -m bench.startup --runs 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import ChatiqServer, load_average, machine


def run(runs: int = 3, settle: float = 1.0) -> dict:
    """`settle`: seconds idle before the RSS reading."""
    fresh, warm, rss = [], [], []
    for _ in range(runs):
        data = Path(tempfile.mkdtemp(prefix="cqs", dir="/tmp"))
        try:
            server = ChatiqServer(data_dir=data)
            fresh.append(server.start())
            server.stop()
            server = ChatiqServer(data_dir=data)
            warm.append(server.start())
            time.sleep(settle)
            rss.append(server.rss_kib() / 1024)
            server.stop()
        finally:
            shutil.rmtree(data, ignore_errors=True)
    return {"fresh": fresh, "warm": warm, "rss_mib": statistics.median(rss), "load": load_average()}


def table(r: dict) -> str:
    fresh, warm = statistics.median(r["fresh"]), statistics.median(r["warm"])
    return "\n".join([
        f"| start-up (load {r['load']}) | median | runs | target |",
        "|---|---:|---|---|",
        f"| fresh data dir (initdb + migrations) | {fresh:.2f} s | "
        + ", ".join(f"{x:.2f}" for x in r["fresh"]) + f" | ≤ 5 s: {'met' if fresh <= 5 else '**not met**'} |",
        f"| warm restart | {warm:.2f} s | " + ", ".join(f"{x:.2f}" for x in r["warm"])
        + f" | ≤ 1.5 s: {'met' if warm <= 1.5 else '**not met**'} |",
        f"| server RSS at zero connections | {r['rss_mib']:.1f} MiB | | |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    result = run(args.runs)
    print(f"machine: {machine()}")
    print(table(result))


if __name__ == "__main__":
    main()
