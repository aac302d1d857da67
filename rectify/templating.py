"""The one Jinja2 environment: autoescape on, StrictUndefined, wording from templates/ only."""

from __future__ import annotations

import tomllib
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@cache
def labels() -> dict[str, Any]:
    """Fixed wording that code needs as data (state names, ladder levels, sheet headers)."""
    with (TEMPLATES / "labels.toml").open("rb") as fh:
        return tomllib.load(fh)


def cn_date(d: date, year: bool = False) -> str:
    """Official style: 1月19日 (or 2024年1月19日)."""
    return f"{d.year}年{d.month}月{d.day}日" if year else f"{d.month}月{d.day}日"


def cn_percent(part: int, whole: int) -> str:
    """Percentages to one decimal, as bulletins print them; 0.0% when there is nothing."""
    return f"{(100.0 * part / whole) if whole else 0.0:.1f}%"


@cache
def env() -> Environment:
    e = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # .txt and subject templates are plain text; everything else (html, htm, xml) is escaped.
        autoescape=select_autoescape(["html", "htm", "xml"], default_for_string=True, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    e.filters["cn_date"] = cn_date
    e.globals["cn_percent"] = cn_percent
    e.globals["labels"] = labels()
    return e


def render(name: str, **context: Any) -> str:
    return env().get_template(name).render(**context)


def render_subject(name: str, **context: Any) -> str:
    """Subjects are one line; a template's line breaks never reach a mail header."""
    return " ".join(render(name, **context).split())
