"""The one Jinja2 environment: autoescape on, StrictUndefined, wording from templates/ only."""

from __future__ import annotations

import re
import threading
import tomllib
import weakref
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, StrictUndefined, Template
from jinja2.runtime import new_context
from markupsafe import escape

from rectify.template_cache import template_cache

# A plain-text template imported or included by an HTML template is compiled a second time, escaped,
# under its name plus this suffix (see _Environment.join_path).
ESCAPED = "#escaped"
HTML_SUFFIXES = (".html", ".htm", ".xml")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_DICT_NAMES = frozenset(dir(dict))  # what getattr finds on any dict: Jinja2's own lookup keeps these


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


def autoescaped(name: str | None) -> bool:
    """.txt and subject templates are plain text; html/htm/xml and templates from strings are escaped."""
    return name is None or name.endswith(ESCAPED) or name.lower().endswith(HTML_SUFFIXES)


class _Loader(FileSystemLoader):
    def get_source(self, environment: Environment, template: str):  # type: ignore[override]
        return super().get_source(environment, template.removesuffix(ESCAPED))


class _Environment(Environment):
    """Text macros used by HTML are escaped, whatever the file they live in.

    Jinja2 compiles escaping per template, but marks a macro's result safe according to the CALLER:
    a macro from a plain-text file (mail/_daily_words.txt, shared by the text and HTML parts) returns
    its arguments unescaped, and the HTML template then takes that text as safe markup (issue 13: a
    contact named `甲联系<b>人</b>` rendered live in the daily letter). So when an escaped template
    imports or includes a plain-text one, it gets that file compiled with escaping on (a separate
    cache entry); the text parts still get the unescaped compile.
    """

    _compiling = threading.Lock()

    def _load_template(self, name: str, globals: Any) -> Template:  # type: ignore[override]
        """One compile per template per process: without the lock, the form's 40 request threads each
        compiled the same page on a cold start (55 compiles, ~17 s of CPU, in bench/form_load.py)."""
        hit = None if self.cache is None or self.auto_reload else self.cache.get((weakref.ref(self.loader), name))
        if hit is not None:
            if globals:
                hit.globals.update(globals)
            return hit
        with self._compiling:
            return super()._load_template(name, globals)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`x.name` on a plain dict: its key, without first failing an attribute lookup.

        Jinja2 tries getattr(obj, name) and only then obj[name]. On a dict the first raises AttributeError
        for every name that is not one of dict's own, and raising it is most of the lookup's cost (1.5 µs a
        lookup, 0.2 µs here): a letter's templates read their blocks, rows and words from dicts ~50 times.
        The result is Jinja2's: dict's own names (`d.items`, `d.get`) still take Jinja2's way and give the
        method, a missing key still gives the undefined, and dict subclasses (a defaultdict would add the
        key) are left to Jinja2 entirely."""
        if type(obj) is dict and attribute not in _DICT_NAMES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def make_globals(self, d: Any = None) -> Any:
        """A template's globals as one plain dict instead of Jinja2's ChainMap over the environment's.

        Every render copies them into its context (dict(globals, **context)) and every `{% import %}`
        compares their keys with the importer's, and on a ChainMap both walk key by key in Python: a tenth
        of a daily letter's CPU (three renders and two imports a letter, ~1,700 letters an ordinary day).
        The environment's globals are all set in env() before the first template loads, so a snapshot of
        them per template is the same mapping."""
        return {**self.globals, **(d or {})}

    def join_path(self, template: str | Template, parent: str) -> str:  # type: ignore[override]
        name = template if isinstance(template, str) else template.name or ""
        if autoescaped(parent) and not autoescaped(name):
            return name + ESCAPED
        return name


@cache
def env() -> Environment:
    loader: BaseLoader = _Loader(TEMPLATES)
    e = _Environment(
        loader=loader,
        autoescape=autoescaped,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # compiled once per process: no stat of the file on every render (letters, notices, pages)
        bytecode_cache=template_cache(),  # and, once compiled, read back by later processes
    )
    e.filters["cn_date"] = cn_date
    e.globals["cn_percent"] = cn_percent
    e.globals["labels"] = labels()
    return e


@cache
def compiled(name: str) -> Template:
    """A template by name, looked up once per process (templates are compiled once: auto_reload is off)."""
    return env().get_template(name)


def render(name: str, **context: Any) -> str:
    return render_context(name, context)


def render_context(name: str, context: Mapping[str, Any]) -> str:
    """Template.render with the context built once: Jinja2's render copies the keyword arguments twice more
    on the way (dict(**kwargs), then dict(globals, **vars)), a few µs a render, and a day renders ~8,000
    letters' parts, cards and SMS lines. The mapping handed over (shared: not copied again) is the one
    Jinja2 would build: the template's globals overlaid with the context."""
    template = compiled(name)
    ctx = new_context(template.environment, template.name, template.blocks, {**template.globals, **context},
                      shared=True, globals=template.globals)
    try:
        return template.environment.concat(template.root_render_func(ctx))  # type: ignore[attr-defined]
    except Exception:
        template.environment.handle_exception()  # raises, with the template's line in the traceback
        raise


def render_subject(name: str, **context: Any) -> str:
    """Subjects are one line; a template's line breaks never reach a mail header."""
    return render_line(name, context)


def render_line(name: str, context: Mapping[str, Any]) -> str:
    """render_context on one line (a subject, a card's title, an SMS), the context passed as it is."""
    return " ".join(render_context(name, context).split())


_HOLE = re.compile("\x00(\\d+)\x00")


class Frame:
    """A macro's output with holes: rendered once with markers in place of its arguments, then filled by
    plain string joins.

    For rows repeated tens of thousands of times a day (the daily letter's listed items), where a Jinja
    call per row would cost more than the row's words. The wording stays in the template; the arguments
    may only be printed there (no tests on them). In an escaped template each value is escaped on filling,
    as Jinja would (values that are already Markup pass unchanged).
    """

    def __init__(self, macro: Any, holes: int, *, escaped: bool, **fixed: Any) -> None:
        parts = _HOLE.split(str(macro(*(f"\x00{k}\x00" for k in range(holes)), **fixed)))
        self.head, self.tail = parts[0], list(zip((int(k) for k in parts[1::2]), parts[2::2], strict=True))
        self.escaped = escaped

    def fill(self, *values: Any) -> str:
        if self.escaped:
            values = tuple(escape(v) for v in values)
        out = [self.head]
        for k, literal in self.tail:
            out.append(values[k])
            out.append(literal)
        return "".join(out)
