"""CPU time per acknowledged message: the ChatIQ process and its PostgreSQL, from /proc.

Throughput in messages per second depends on what else the machine is doing; the CPU each
message costs does much less (it is time spent on a core, not time waited for one), so this
figure can be compared between two versions on a busy machine. Same load as
bench/throughput.py (N visitors, one message at a time each, ack after commit).

    python -m bench.cpu_cost --visitors 50 --seconds 10
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.common import ChatiqServer, load_average, machine, postgres_pids, setup_site
from bench.throughput import drive

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_cpu(pgdata: Path) -> float:
    total = 0.0
    for pid in postgres_pids(pgdata):
        try:
            total += cpu_seconds(pid)
        except OSError:  # exited meanwhile
            pass
    return total


def run(visitors: int = 50, seconds: float = 10.0) -> dict:
    server = ChatiqServer()
    server.start()
    try:
        _, site_key = setup_site(server.url)
        pgdata = server.data_dir / "pg"
        app0, pg0 = cpu_seconds(server.proc.pid), postgres_cpu(pgdata)
        rate = drive(server.url, site_key, visitors, seconds)
        app1, pg1 = cpu_seconds(server.proc.pid), postgres_cpu(pgdata)
        load = load_average()
    finally:
        server.cleanup()
    messages = rate * seconds
    return {"visitors": visitors, "seconds": seconds, "rate": rate, "load": load,
            "app_us": (app1 - app0) / messages * 1e6, "pg_us": (pg1 - pg0) / messages * 1e6}


def table(r: dict) -> str:
    return "\n".join([
        f"{r['visitors']} visitors, {r['seconds']:g} s, {r['rate']:,.0f} msgs/s acked"
        f" (load {r['load']})",
        "",
        "| CPU per acked message | µs |",
        "|---|---:|",
        f"| ChatIQ process | {r['app_us']:,.0f} |",
        f"| its PostgreSQL (all backends) | {r['pg_us']:,.0f} |",
        f"| both | {r['app_us'] + r['pg_us']:,.0f} |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(table(run(args.visitors, args.seconds)))


if __name__ == "__main__":
    main()
