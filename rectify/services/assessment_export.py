"""The ranking as rows of text (terminal, bulletin) and as an xlsx (排名, 得分, each component)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from rectify.core.assessment import Ranked
from rectify.services.assessment import Assessment
from rectify.templating import cn_date, labels

RATE_COLUMNS = ("on_time", "on_time_original", "ack", "progress")
_FRACTIONS = {"on_time": ("on_time", "due"), "on_time_original": ("on_time_original", "due_original"),
              "ack": ("ack_on_time", "ack_due"), "progress": ("progress_on_time", "progress_due")}


def header() -> list[str]:
    lab = labels()["assessment"]
    return [lab[k] for k in ("rank", "unit", "score", *RATE_COLUMNS, "overdue", "escalations", "rebounds")]


def fraction(r: Ranked, name: str) -> tuple[int, int]:
    num, den = _FRACTIONS[name]
    return getattr(r.c, num), getattr(r.c, den)


def rate_text(r: Ranked, name: str, fractions: bool = True) -> str:
    n, d = fraction(r, name)
    return f"{100 * r.c.rate(name):.1f}%" + (labels()["assessment"]["fraction"].format(n=n, d=d) if fractions else "")


def text_rows(ranking: list[Ranked], fractions: bool = True) -> list[list[str]]:
    return [[str(r.rank), r.unit, f"{r.score:.1f}", *(rate_text(r, k, fractions) for k in RATE_COLUMNS),
             str(r.c.overdue), str(r.c.escalations), str(r.c.rebounds)] for r in ranking]


def period_text(a: Assessment) -> str:
    return labels()["assessment"]["period"].format(start=cn_date(a.start, year=True), end=cn_date(a.end, year=True))


def write_xlsx(a: Assessment, path: Path) -> Path:
    """One sheet: the period on the first row, the header, one row per unit; rates as percentages with
    their counts beside them, so the office can check each figure by hand."""
    lab = labels()["assessment"]
    wb = Workbook()
    ws = wb.active
    ws.title = lab["sheet"]
    ws.append([period_text(a)])
    cols = [lab["rank"], lab["unit"], lab["score"]]
    for k in RATE_COLUMNS:
        cols += [lab[k], lab[k] + "（分子/分母）"]
    cols += [lab["overdue"], lab["escalations"], lab["rebounds"]]
    ws.append(cols)
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for r in a.ranking:
        row: list[object] = [r.rank, r.unit, r.score]
        for k in RATE_COLUMNS:
            n, d = fraction(r, k)
            row += [r.c.rate(k), f"{n}/{d}"]
        row += [r.c.overdue, r.c.escalations, r.c.rebounds]
        ws.append(row)
    for i in range(len(RATE_COLUMNS)):
        letter = ws.cell(row=2, column=4 + 2 * i).column_letter
        for cell in ws[letter][2:]:
            cell.number_format = "0.0%"
    ws.column_dimensions["B"].width = 24
    ws.freeze_panes = "C3"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
