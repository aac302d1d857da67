"""Charts as SVG made on the server: no script, no CDN, no inline style (the CSP allows neither).

Colours and sizes are SVG presentation attributes, which a `style-src 'self'` policy does not block. The
viewBox is narrow (320 units) and the element scales to its box, so the labels stay legible on a phone;
the browser draws the text with its own fonts, so Chinese labels need no font from us. Every label is
escaped; a bar may carry a link (the filtered list behind the number).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 320
FONT = 13


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0..scale
    text: str  # what is printed after the bar
    href: str = ""
    colour: str = "#1f5fa8"


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: Sequence[int]


def _a(href: str, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def bar_chart(bars: Sequence[Bar], *, title: str, scale: float = 100.0, label_width: int = 100) -> Markup:
    """Horizontal bars, one per row, label on the left (cut to fit), figure on the right."""
    row = 24
    top = 8
    height = top + row * max(1, len(bars)) + 6
    span = WIDTH - label_width - 52
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="{FONT}" font-family="sans-serif">',
             f"<title>{escape(title)}</title>"]
    for i, b in enumerate(bars):
        y = top + i * row
        w = 0 if scale <= 0 else max(0.0, min(1.0, b.value / scale)) * span
        label = b.label if len(b.label) <= 7 else b.label[:6] + "…"
        parts.append(_a(b.href, f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" fill="#1a1a1a">'
                                f"{escape(label)}<title>{escape(b.label)}</title></text>"))
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{b.colour}"/>')
        parts.append(_a(b.href, f'<text x="{label_width + w + 4:.1f}" y="{y + 14}" fill="#1a1a1a">'
                                f"{escape(b.text)}</text>"))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(series: Sequence[Series], xlabels: Sequence[str], *, title: str) -> Markup:
    """Lines over weeks with a zero-based y axis, a legend on top and every third x label."""
    left, right, top, bottom = 34, 8, 28, 24
    height = 220
    n = len(xlabels)
    peak = max((v for s in series for v in s.values), default=0)
    ymax = max(4, _nice(peak))
    plot_w, plot_h = WIDTH - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ymax)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="{FONT}" font-family="sans-serif">',
             f"<title>{escape(title)}</title>"]
    for k in range(5):  # grid and y labels
        v = ymax * k / 4
        parts.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#555">{v:g}</text>')
    for i, label in enumerate(xlabels):
        if i % 3 == (n - 1) % 3:  # every third week, the last one always
            anchor = "end" if i == n - 1 and n > 1 else "middle"  # the last label stays inside the box
            parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" text-anchor="{anchor}" fill="#555" '
                         f'font-size="{FONT - 2}">{escape(label)}</text>')
    lx = left
    for s in series:
        parts.append(f'<rect x="{lx}" y="8" width="10" height="10" fill="{s.colour}"/>'
                     f'<text x="{lx + 14}" y="17" fill="#1a1a1a">{escape(s.label)}</text>')
        lx += 22 + FONT * len(s.label)
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{s.colour}" stroke-width="2"/>')
        for i, v in enumerate(s.values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{s.colour}">'
                         f"<title>{escape(xlabels[i])} {escape(s.label)} {v}</title></circle>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice(v: float) -> int:
    """The next round number at or above v (1, 2, 5 × 10^k)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= v:
                return step * m
        step *= 10
