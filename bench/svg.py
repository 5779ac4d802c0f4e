"""A tiny SVG line-chart writer for the benchmark figures: no plotting dependency.

A figure is a grid of panels; each panel has axes (linear or log10 on x) and a few
named series of (x, y) points drawn as polylines, with one legend for the figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

PANEL_H = 220
MIN_FIGURE_W = 600
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 56, 20, 28, 42
LEGEND_H = 30
FONT = "font-family='system-ui, sans-serif'"


@dataclass
class Series:
    label: str
    color: str
    points: list[tuple[float, float]]


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    xlog: bool = False
    ymin: float | None = None
    ymax: float | None = None


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 × 10^k apart) covering lo..hi."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [math.floor(lo / step) * step]
    while ticks[-1] < hi - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten covering lo..hi (both > 0)."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [10.0 ** k for k in range(first, max(last, first + 1) + 1)]


def _label(value: float) -> str:
    if value >= 1000:  # compact, so neighbouring ticks never run into each other
        return f"{value / 1000:g}k"
    if value >= 1 or value == 0:
        return f"{value:g}"
    return f"{value:.3g}"


def _panel(panel: Panel, ox: float, oy: float, panel_w: int) -> list[str]:
    points = [p for s in panel.series for p in s.points if not panel.xlog or p[0] > 0]
    xs = [p[0] for p in points] or [1.0]
    ys = [p[1] for p in points] or [1.0]
    xt = log_ticks(min(xs), max(xs)) if panel.xlog else nice_ticks(min(0.0, min(xs)), max(xs))
    yt = nice_ticks(panel.ymin if panel.ymin is not None else min(0.0, min(ys)),
                    panel.ymax if panel.ymax is not None else max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    left, top = ox + MARGIN_L, oy + MARGIN_T
    width, height = panel_w - MARGIN_L - MARGIN_R, PANEL_H - MARGIN_T - MARGIN_B

    def sx(x: float) -> float:
        if panel.xlog:
            return left + (math.log10(x) - math.log10(x0)) / (math.log10(x1) - math.log10(x0)) * width
        return left + (x - x0) / (x1 - x0) * width

    def sy(y: float) -> float:
        return top + height - (y - y0) / (y1 - y0) * height

    out = [f"<text x='{left + width / 2:.1f}' y='{oy + 17}' text-anchor='middle' font-size='13'"
           f" font-weight='600' {FONT}>{escape(panel.title)}</text>"]
    for x in xt:
        out.append(f"<line x1='{sx(x):.1f}' x2='{sx(x):.1f}' y1='{top}' y2='{top + height}'"
                   " stroke='#e5e7eb'/>")
        out.append(f"<text x='{sx(x):.1f}' y='{top + height + 15}' text-anchor='middle'"
                   f" font-size='11' fill='#374151' {FONT}>{_label(x)}</text>")
    for y in yt:
        out.append(f"<line x1='{left}' x2='{left + width}' y1='{sy(y):.1f}' y2='{sy(y):.1f}'"
                   " stroke='#e5e7eb'/>")
        out.append(f"<text x='{left - 5}' y='{sy(y) + 4:.1f}' text-anchor='end' font-size='11'"
                   f" fill='#374151' {FONT}>{_label(y)}</text>")
    out.append(f"<rect x='{left}' y='{top}' width='{width}' height='{height}' fill='none'"
               " stroke='#9ca3af'/>")
    out.append(f"<text x='{left + width / 2:.1f}' y='{top + height + 32}' text-anchor='middle'"
               f" font-size='11' fill='#374151' {FONT}>{escape(panel.xlabel)}</text>")
    out.append(f"<text transform='translate({ox + 14},{top + height / 2:.1f}) rotate(-90)'"
               f" text-anchor='middle' font-size='11' fill='#374151' {FONT}>"
               f"{escape(panel.ylabel)}</text>")
    for series in panel.series:
        drawn = [(sx(x), sy(y)) for x, y in series.points if not panel.xlog or x > 0]
        if drawn:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in drawn)
            out.append(f"<polyline points='{path}' fill='none' stroke='{series.color}'"
                       " stroke-width='2' stroke-linejoin='round'/>")
    return out


def figure(rows: list[list[Panel]], title: str, panel_w: int = 300) -> str:
    """The SVG text of a grid of panels under one title and one legend."""
    cols = max(len(r) for r in rows)
    panel_w = max(panel_w, MIN_FIGURE_W // cols)
    width, height = cols * panel_w, len(rows) * PANEL_H + LEGEND_H + 24
    body = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'"
            f" viewBox='0 0 {width} {height}'>",
            f"<rect width='{width}' height='{height}' fill='white'/>",
            f"<text x='{width / 2}' y='18' text-anchor='middle' font-size='15' font-weight='600'"
            f" {FONT}>{escape(title)}</text>"]
    legend: dict[str, str] = {}
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            body += _panel(panel, c * panel_w, 24 + r * PANEL_H, panel_w)
            for series in panel.series:
                legend.setdefault(series.label, series.color)
    x, y = 20, height - 12
    for label, color in legend.items():
        body.append(f"<line x1='{x}' x2='{x + 22}' y1='{y - 4}' y2='{y - 4}' stroke='{color}'"
                    " stroke-width='3'/>")
        body.append(f"<text x='{x + 28}' y='{y}' font-size='12' {FONT}>{escape(label)}</text>")
        x += 40 + 7 * len(label)
    body.append("</svg>")
    return "\n".join(body) + "\n"
