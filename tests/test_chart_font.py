"""The digest's charts draw Chinese with the font Rectify ships, not a system font and not the missing-glyph box.

Run in a fresh interpreter whose matplotlib font list is cut down to matplotlib's own fonts first, as on a
machine without fonts-noto-cjk: what the charts then draw can only come from the package dependency.
"""

import subprocess
import sys

PROBE = r'''
import warnings
from datetime import date

import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

fm = font_manager.fontManager
fm.ttflist = [e for e in fm.ttflist if "mpl-data" in e.fname]  # a fresh machine: no system fonts at all
assert not any("CJK" in e.name for e in fm.ttflist)

from rectify.bulletin import charts
from rectify.bulletin.weekly import UnitRate, WeekFigures
import matplotlib

def pixels(text):
    with warnings.catch_warnings(record=True) as caught, matplotlib.rc_context(charts._rc()):
        warnings.simplefilter("always")
        fig = Figure(figsize=(1.2, 0.6), dpi=100)
        fig.text(0.1, 0.2, text, fontsize=28)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        img = np.asarray(canvas.buffer_rgba())[..., 0].copy()
    return img, [str(w.message) for w in caught if "missing" in str(w.message)]

path = font_manager.findfont(font_manager.FontProperties(family=charts._rc()["font.sans-serif"]))
assert path == str(charts.font_path()), path

box, box_warnings = pixels("\ue000")  # a private-use code point: no font has it, the .notdef box is drawn
zheng, zheng_warnings = pixels("整")
gai, _ = pixels("改")
assert box_warnings, "the probe must see a missing glyph when there is one"
assert zheng_warnings == [], zheng_warnings
ink = lambda img: int((img < 128).sum())
assert ink(zheng) > 0 and not np.array_equal(zheng, box) and not np.array_equal(gai, box)
assert not np.array_equal(zheng, gai)  # two different characters, two different shapes

with warnings.catch_warnings():
    warnings.filterwarnings("error", message=".*missing from font.*")
    rate = charts.rate_chart([UnitRate("县市场监督管理局", 4, 3), UnitRate("城关镇", 2, 0)])
    trend = charts.trend_chart([WeekFigures(date(2024, 1, 1), date(2024, 1, 7), open=3, closed_total=1)])
assert rate.startswith(b"\x89PNG") and trend.startswith(b"\x89PNG")
print("ok", ink(zheng), ink(box))
'''


def test_it_draws_chinese_with_the_shipped_font_on_a_machine_without_cjk_fonts() -> None:
    res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok ")
