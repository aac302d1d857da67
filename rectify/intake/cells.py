"""Reading one spreadsheet cell: text clean-up, keys for matching, dates, deadlines, e-mail. Pure.

No I/O and no clock: the inspection date and the working-day calendar are parameters.
A cell that cannot be read raises `CellError(code, **params)`; `code` names a message in
`templates/labels.toml` [intake_error], so the wording stays out of the code.

Deadline cells (整改时限) understood by `parse_deadline`, full-width digits included:

| cell                                   | rule                                                   |
| -------------------------------------- | ------------------------------------------------------ |
| a real Excel date                      | that date                                              |
| 2024-01-31, 2024/1/31, 2024.1.31       | that date (a trailing 00:00:00 is ignored)             |
| 2024年1月31日(前)                       | that date                                              |
| 2024年1月底(前)                         | the last day of that month                             |
| 1月31日前, 1月31号                      | the next 1月31日 on or after the inspection date       |
| 2月底前, 三月底                         | the next end of that month on or after the inspection  |
| 月底前, 本月底 / 年底前, 本年底           | the end of the inspection month / year                 |
| 5个工作日内, 五个工作日                 | 5 working days from the inspection date                |
| 10日内, 10天内, 十天                    | 10 calendar days from the inspection date              |
| 立行立改 (立即整改, 即知即改)            | immediate: `deadlines.immediate_working_days`          |
| 长期坚持 (长期整改, 持续整改)            | long term: no due date                                 |

"前/之前/以前" and "完成/整改完成/整改到位" may follow any of them. A date before the
inspection date is refused. Anything else is refused with a hint of what is understood.
"""

from __future__ import annotations

import calendar as _months
import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from rectify.core.deadlines import DeadlineKind, DeadlineRule


class CellError(ValueError):
    """A cell that cannot be read. `code` is a key of [intake_error] in labels.toml."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


# --- text --------------------------------------------------------------------------------------

# Characters an xlsx cannot hold (C0 controls except tab/newline/carriage return).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SPACE = re.compile(r"\s+")


# Full-width ASCII and the ideographic space, each to its compatibility decomposition (what NFKD makes of it).
_WIDE = {chr(c): unicodedata.normalize("NFKD", chr(c)) for c in (*range(0xFF01, 0xFF5F), 0x3000)}
_WIDE_CHARS = re.compile("[\uff01-\uff5e\u3000]")


def fold(text: str) -> str:
    """Full-width letters, digits and punctuation to half-width (NFKC), ideographic space included.

    NFKC of Chinese text costs ~5 µs a cell, nearly all of it for the few full-width characters (，（）１);
    replacing those by their decompositions first leaves a text with the same NFKC form, which is most often
    already normalised (a quick check) — else it is normalised as before. Same answer, a fraction of the time.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    # Each distinct full-width character replaced everywhere at once: a search per distinct one, not a
    # match object per occurrence (a whole column's texts joined hold hundreds of thousands).
    found = _WIDE_CHARS.search(text)
    while found is not None:
        text = text.replace(found[0], _WIDE[found[0]])
        found = _WIDE_CHARS.search(text, found.start())
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def cell_text(value: Any) -> str:
    """A cell as text, as typed: ends trimmed, line breaks as \\n, no control characters.

    Numbers read from xlsx come back as typed (101, not 101.0); dates as YYYY-MM-DD.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def squeeze(text: str) -> str:
    """Folded, lower-case, with no whitespace at all: the form two spellings are compared in."""
    return "".join(fold(text).split()).lower()  # str.split() drops what the regex \s does, in a tenth of the time


def problem_key(problem: str) -> str:
    """Finding.problem_key: SHA-256 of the problem text folded, lower-cased and without whitespace."""
    return hashlib.sha256(squeeze(problem).encode("utf-8")).hexdigest()


_ADMIN_LEVEL = "县市区旗"


@functools.lru_cache(maxsize=16)
def _prefixes(county_prefix: str) -> tuple[str, ...]:
    prefix = squeeze(county_prefix)
    candidates = [prefix] if prefix else []
    if prefix and prefix[-1] in _ADMIN_LEVEL:
        candidates.append(prefix[-1])
    return tuple(candidates)


def unit_key(name: str, county_prefix: str = "") -> str:
    """How unit names are compared: squeezed, without the county prefix (鲁山县财政局 == 财政局).

    With a prefix ending in 县/市/区/旗, the bare level is dropped too (县财政局 == 财政局).
    """
    return _unprefixed(squeeze(name), _prefixes(county_prefix))


def _unprefixed(key: str, prefixes: tuple[str, ...]) -> str:
    for p in prefixes:
        if key.startswith(p) and len(key) > len(p):
            return key[len(p):]
    return key


_ALIAS_SPLIT = re.compile(r"[、,，;；\n/|]+")


def split_list(value: Any) -> list[str]:
    """简称/别名 cells: several names separated by 、 , ; / or line breaks; order kept, repeats dropped."""
    seen: dict[str, None] = {}
    for part in _ALIAS_SPLIT.split(cell_text(value)):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def parse_int(value: Any) -> int | None:
    """序号: an integer, else None (序号 is informative; a stray value is not worth refusing a file)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = fold(cell_text(value))
    return int(text) if text.isdigit() and len(text) < 10 else None


_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def parse_email(value: Any) -> str | None:
    """An address, lower-cased; None for an empty cell; CellError('bad_email') otherwise."""
    text = fold(cell_text(value))
    if not text:
        return None
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if len(text) > 254 or not _EMAIL.match(text):
        raise CellError("bad_email")
    return text.lower()


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def parse_mobile(value: Any) -> str | None:
    """A mainland mobile number as 11 digits; None for an empty cell; CellError('bad_mobile') otherwise.

    Accepts what people type: full-width digits, spaces or dashes between groups, a +86/86 prefix.
    """
    text = re.sub(r"[\s\-()]", "", fold(cell_text(value)))
    if not text:
        return None
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not _MOBILE.match(text):
        raise CellError("bad_mobile")
    return text


def parse_userid(value: Any) -> str | None:
    """A 企业微信/钉钉 userid as the admin console shows it (letters, digits, _ . @ -; at most 64);
    None for an empty cell; CellError('bad_userid') otherwise. Case is kept: 钉钉 userids are case-sensitive."""
    text = fold(cell_text(value)).strip()
    if not text:
        return None
    if not _USERID.match(text):
        raise CellError("bad_userid")
    return text


# --- numbers and dates -------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_NUM = r"(\d+|[零〇一二两三四五六七八九十百]+)"


def cn_number(text: str) -> int | None:
    """'15', '十五', '二十', '一百零五' → int; None when it is not a number."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _date(y: int, m: int, d: int) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise CellError("bad_date") from None


def _month_end(y: int, m: int) -> date:
    if not 1 <= m <= 12:
        raise CellError("bad_date")
    return date(y, m, _months.monthrange(y, m)[1])


_TIME = re.compile(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$")
_FULL = re.compile(r"(\d{4})(?:[-/.]|年)(\d{1,2})(?:[-/.]|月)(\d{1,2})[日号]?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")  # 20240131, as some systems export dates


def _squeezed_cell(value: Any) -> str:
    text = fold(cell_text(value))
    text = _TIME.sub("", text)
    return _SPACE.sub("", text)


def parse_date(value: Any) -> date:
    """督导日期 and other full dates: an Excel date, 2024-01-31, 2024/1/31, 2024.1.31, 2024年1月31日."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _squeezed_cell(value)
    if not text:
        raise CellError("required")
    m = _FULL.fullmatch(text) or _COMPACT.fullmatch(text)
    if not m:
        raise CellError("bad_date")
    return _date(int(m[1]), int(m[2]), int(m[3]))


# --- deadlines ---------------------------------------------------------------------------------

_TAIL = r"(?:之前|以前|前)?(?:整改完成|整改到位|完成|办结)?"
_D_FULL = re.compile(_FULL.pattern + _TAIL)
_D_YEAR_MONTH_END = re.compile(r"(\d{4})年" + _NUM + r"月(?:底|末)" + _TAIL)
_D_MONTH_DAY = re.compile(_NUM + r"月" + _NUM + r"[日号]" + _TAIL)
_D_MONTH_END = re.compile(_NUM + r"月(?:底|末)" + _TAIL)
_D_THIS_MONTH_END = re.compile(r"(?:本|当)?月(?:底|末)" + _TAIL)
_D_YEAR_END = re.compile(r"(?:本|当|今)?年(?:底|末)" + _TAIL)
_D_WORKING = re.compile(_NUM + r"个?工作日(?:内)?" + _TAIL)
_D_CALENDAR = re.compile(_NUM + r"(?:个)?(?:日内|天内|天)" + _TAIL)
_IMMEDIATE = frozenset({"立行立改", "立即整改", "即知即改", "立知立改"})
_LONG_TERM = frozenset({"长期坚持", "长期整改", "持续整改", "长期"})


@dataclass(frozen=True, slots=True)
class Deadline:
    """A deadline cell read: the rule, and the text kept as typed (Finding.deadline_text)."""

    rule: DeadlineRule
    text: str


def _number(token: str) -> int:
    n = cn_number(token)
    if n is None:
        raise CellError("bad_deadline")
    return n


def _next_on_or_after(inspected_on: date, make: Any) -> date:
    """The first date make(year) gives on or after inspected_on (this year or a following one)."""
    for year in range(inspected_on.year, inspected_on.year + 5):
        try:
            d = make(year)
        except CellError:
            continue  # 2月29日 in a common year: try the next one
        if d >= inspected_on:
            return d
    raise CellError("bad_date")


def _check_month(m: int) -> int:
    if not 1 <= m <= 12:
        raise CellError("bad_date")
    return m


def parse_deadline_rule(value: Any, inspected_on: date | None) -> DeadlineRule:
    """The rule a deadline cell states. Month-day forms need the inspection date to pick the year.

    With `inspected_on` None (the row's date is itself bad) only the form is checked; the caller
    reports the date error.
    """
    anchor = inspected_on or date(2000, 1, 1)
    if isinstance(value, datetime):
        due = value.date()
    elif isinstance(value, date):
        due = value
    else:
        text = _squeezed_cell(value).rstrip("。.,，;；!！")
        if not text:
            raise CellError("required")
        if text in _IMMEDIATE:
            return DeadlineRule.immediate()
        if text in _LONG_TERM:
            return DeadlineRule.long_term()
        due = _parse_deadline_text(text, anchor)
        if not isinstance(due, date):
            return due
    if inspected_on is not None and due < inspected_on:
        raise CellError("deadline_before_inspection", inspected=inspected_on.isoformat())
    return DeadlineRule.fixed(due)


def _parse_deadline_text(text: str, anchor: date) -> date | DeadlineRule:
    if m := (_D_FULL.fullmatch(text) or _COMPACT.fullmatch(text)):
        return _date(int(m[1]), int(m[2]), int(m[3]))
    if m := _D_YEAR_MONTH_END.fullmatch(text):
        return _month_end(int(m[1]), _number(m[2]))
    if m := _D_MONTH_DAY.fullmatch(text):
        month, day = _check_month(_number(m[1])), _number(m[2])
        if not 1 <= day <= 31:
            raise CellError("bad_date")
        return _next_on_or_after(anchor, lambda y: _date(y, month, day))
    if m := _D_MONTH_END.fullmatch(text):
        month = _check_month(_number(m[1]))
        return _next_on_or_after(anchor, lambda y: _month_end(y, month))
    if _D_THIS_MONTH_END.fullmatch(text):
        return _month_end(anchor.year, anchor.month)
    if _D_YEAR_END.fullmatch(text):
        return date(anchor.year, 12, 31)
    for pattern, make in ((_D_WORKING, DeadlineRule.working_days), (_D_CALENDAR, DeadlineRule.calendar_days)):
        if m := pattern.fullmatch(text):
            n = _number(m[1])
            if n < 1:
                raise CellError("zero_days")
            return make(n)
    raise CellError("bad_deadline")


def parse_deadline(value: Any, inspected_on: date | None) -> Deadline:
    """A deadline cell: its rule plus the text as typed (dates as YYYY-MM-DD), at most 100 characters."""
    rule = parse_deadline_rule(value, inspected_on)
    return Deadline(rule, cell_text(value)[:100])


def rule_days(rule: DeadlineRule) -> int | None:
    return rule.days if rule.kind in (DeadlineKind.WORKING_DAYS, DeadlineKind.CALENDAR_DAYS) else None
