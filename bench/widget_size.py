"""Print widget/widget.js's raw and gzip -9 sizes against its budget (20 KB, stretch 12 KB).

A benchmark, not a test: `python -m bench.widget_size`.
"""

import gzip
from pathlib import Path

BUDGET, STRETCH = 20 * 1024, 12 * 1024
WIDGET = Path(__file__).resolve().parent.parent / "widget" / "widget.js"


def run() -> dict:
    raw = WIDGET.read_bytes()
    return {"raw": len(raw), "gzip": len(gzip.compress(raw, compresslevel=9))}


def table(r: dict) -> str:
    verdict = "met" if r["gzip"] <= BUDGET else "**not met**"
    stretch = "met" if r["gzip"] <= STRETCH else "not met"
    return "\n".join(["| widget/widget.js | bytes |", "|---|---:|", f"| raw | {r['raw']:,} |",
                      f"| gzip -9 | {r['gzip']:,} (budget 20 KB: {verdict}; stretch 12 KB: {stretch}) |"])


def main() -> None:
    print(table(run()))


if __name__ == "__main__":
    main()
