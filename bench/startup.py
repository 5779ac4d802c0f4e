"""`chatiq serve` from exec to healthy: fresh data dir (initdb) and warm restart; idle RSS.

    python bench/startup.py --runs 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ChatiqServer, machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    fresh, warm, rss = [], [], []
    for _ in range(args.runs):
        data = Path(tempfile.mkdtemp(prefix="cqs", dir="/tmp"))
        try:
            server = ChatiqServer(data_dir=data)
            fresh.append(server.start())
            server.stop()
            server = ChatiqServer(data_dir=data)
            warm.append(server.start())
            time.sleep(1.0)
            rss.append(server.rss_kib() / 1024)
            server.stop()
        finally:
            shutil.rmtree(data, ignore_errors=True)
    print(f"machine: {machine()}")
    print("| start-up | median | runs |\n|---|---:|---|")
    print(f"| fresh data dir (initdb + migrations) | {statistics.median(fresh):.2f} s | "
          + ", ".join(f"{x:.2f}" for x in fresh) + " |")
    print(f"| warm restart | {statistics.median(warm):.2f} s | "
          + ", ".join(f"{x:.2f}" for x in warm) + " |")
    print(f"| server RSS at zero connections | {statistics.median(rss):.1f} MiB | |")


if __name__ == "__main__":
    main()
