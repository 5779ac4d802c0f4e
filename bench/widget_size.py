"""Print widget/widget.js's raw and gzip -9 sizes against its budget (20 KB, stretch 12 KB).

A benchmark, not a test: `python bench/widget_size.py`.
"""

import gzip
from pathlib import Path

BUDGET, STRETCH = 20 * 1024, 12 * 1024
WIDGET = Path(__file__).resolve().parent.parent / "widget" / "widget.js"


def main() -> None:
    raw = WIDGET.read_bytes()
    packed = len(gzip.compress(raw, compresslevel=9))
    verdict = ("within stretch goal" if packed <= STRETCH
               else "within budget" if packed <= BUDGET else "OVER BUDGET")
    print(f"widget.js raw:     {len(raw):7,d} bytes ({len(raw) / 1024:.1f} KB)")
    print(f"widget.js gzip -9: {packed:7,d} bytes ({packed / 1024:.1f} KB)  "
          f"budget {BUDGET // 1024} KB, stretch {STRETCH // 1024} KB: {verdict}")


if __name__ == "__main__":
    main()
