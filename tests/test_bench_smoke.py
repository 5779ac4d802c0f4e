"""The benchmark harness still runs: `python -m bench.all --quick` with tiny numbers.

Timings are not asserted (CI machines vary); that every benchmark ran, lost nothing
and produced well-formed figures is.
"""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.svg import Panel, Series, figure, log_ticks, nice_ticks

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"


def test_ticks_cover_the_data():
    assert nice_ticks(0, 69) == [0, 20, 40, 60, 80]
    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(36, 540)[0] == 0 and nice_ticks(36, 540)[-1] >= 540
    flat = nice_ticks(5, 5)  # a flat series still gets an axis with some height
    assert flat[0] <= 5 < flat[-1]
    assert log_ticks(0.4, 2100) == [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]


def test_figure_is_valid_svg_and_escapes_labels():
    svg = figure([[Panel("a < b", "x", "y", [Series("s & t", "#000", [(1, 1), (2, 4)])])]], "T")
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "a < b" in texts and "s & t" in texts
    assert len(list(root.iter(SVG + "polyline"))) == 1


def test_quick_run_of_every_benchmark(tmp_path):
    docs = ROOT / "docs" / "benchmarks.md"
    before = docs.read_text()
    result = subprocess.run([sys.executable, "-m", "bench.all", "--quick", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    results = json.loads((tmp_path / "bench-results.json").read_text())

    assert results["throughput"]["chatiq"] > 0 and results["throughput"]["serial"] > 0
    for server in ("chatiq", "bare"):
        runs = results["latency"][server]
        assert {r["direction"] for r in runs} == {"operator→visitor", "visitor→operator"}
        for run in runs:
            assert run["lost"] == 0 and run["count"] > 0
            assert 0 < run["p50"] <= run["p99"] <= run["max"]
        assert [r["operators"] for r in results["fanout"][server]] == [1, 3]
    conn = results["connections"]
    assert [n for n, _ in conn["chatiq_curve"]] == [0, 100, 200]
    assert conn["per_socket_kib"] > 0 and conn["fanout_s"] > 0
    assert results["startup"]["fresh"] and results["startup"]["warm"]

    for name in ("bench-latency.svg", "bench-connections.svg"):
        root = ET.parse(tmp_path / name).getroot()
        assert len(list(root.iter(SVG + "polyline"))) >= 2  # ChatIQ and the bare baseline
    report = (tmp_path / "bench-report.md").read_text()
    assert report.startswith("<!-- bench:all:start -->") and "| operator→visitor | 100 |" in report
    assert docs.read_text() == before  # a quick run never rewrites the committed docs


def test_docs_have_the_block_a_full_run_replaces():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    assert text.count("<!-- bench:all:start -->") == 1 and text.count("<!-- bench:all:end -->") == 1
