"""The digest's charts as PNG bytes (matplotlib, Agg), drawn with the CJK font Rectify ships.

The font comes from a package dependency (noto-cjk-sans-otc: Google's Noto Sans CJK, SIL Open Font
License 1.1), so the Chinese labels read on any machine, with or without fonts-noto-cjk; matplotlib is
pointed at its Simplified Chinese face explicitly instead of searching the system's fonts.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure  # pyplot is never imported: figures render with Agg, no GUI, no global state

from rectify.bulletin.weekly import UnitRate, WeekFigures
from rectify.templating import cn_date, labels

FAMILY = "Noto Sans CJK SC"  # the collection's Simplified Chinese face (it also holds JP, KR, TC, HK)


def font_path() -> Path:
    """The shipped OpenType collection (Noto Sans CJK Regular)."""
    import noto_cjk_sans_otc

    return Path(str(noto_cjk_sans_otc.FONT_PATH))


@cache
def cjk_font() -> str:
    """Register the shipped collection with matplotlib (each face by its index) and name the SC face."""
    font_manager.fontManager.addfont(str(font_path()))
    return FAMILY


def _rc() -> dict[str, object]:
    return {"axes.unicode_minus": False, "font.family": "sans-serif", "font.sans-serif": [cjk_font(), "DejaVu Sans"]}


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def rate_chart(units: Sequence[UnitRate], limit: int = 30) -> bytes:
    """Completion rate by unit, lowest first; past `limit` units only the lowest are drawn."""
    lab = labels()["digest"]
    shown = sorted(units, key=lambda u: (u.rate, -u.found))[:limit]
    title = lab["rate_chart"] if len(units) <= limit else lab["rate_chart_lowest"].format(n=limit)
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(7.2, max(2.4, 0.32 * len(shown) + 1.2)), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        names = [u.unit for u in reversed(shown)]
        rates = [u.rate for u in reversed(shown)]
        colours = ["#c00000" if r < 50 else "#e69500" if r < 80 else "#2e7d32" for r in rates]
        bars = ax.barh(names, rates, color=colours)
        for bar, u in zip(bars, reversed(shown), strict=True):
            ax.text(min(bar.get_width() + 1, 92), bar.get_y() + bar.get_height() / 2,
                    f"{u.rate:.1f}%（{u.closed}/{u.found}）", va="center", fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_xlabel(lab["rate_axis"])
        ax.set_title(title)
        ax.tick_params(axis="y", labelsize=8)
        return _png(fig)


def trend_chart(trend: Sequence[WeekFigures]) -> bytes:
    """Open, closed (cumulative) and overdue findings at the end of each week."""
    lab = labels()["digest"]
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(7.2, 3.4), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        xs = [cn_date(w.week_start) for w in trend]
        ax.plot(xs, [w.open for w in trend], marker="o", color="#1f5fa8", label=lab["open"])
        ax.plot(xs, [w.closed_total for w in trend], marker="s", color="#2e7d32", label=lab["closed"])
        ax.plot(xs, [w.overdue for w in trend], marker="^", color="#c00000", label=lab["overdue"])
        ax.set_title(lab["trend_chart"].format(n=len(trend)))
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        return _png(fig)
