"""Read the State Council's yearly notice (国务院办公厅关于XXXX年部分节假日安排的通知) into a schedule. Pure.

The input is the notice as an office pastes it from gov.cn: the whole page text, title to signature.
Only the numbered items (一、元旦：… 六、国庆节、中秋节：…) count; the preamble (自2025年1月1日起 …),
encouragements (安排职工在除夕（2月9日）休息) and the signature date are ignored.

Each item has sentences of two kinds, in the forms the published notices really use:
  holidays  1月1日（周三）放假1天，不调休 / 2月10日至17日放假调休，共8天 / 6月10日放假，与周末连休 /
            9月29日至10月6日放假调休 / 2022年12月31日至2023年1月2日放假调休
  workdays  1月26日（周日）、2月8日（周六）上班
Weekday notes may be （周四）, （星期日） or carry a lunar note （农历腊月二十八、周日）.

Everything read is checked (weekday notes, 共N天, no day both off and on, dates in the notice's year);
a failure names the item line and why. Nothing is guessed: an item it cannot read is an error.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from rectify.core.workcal import CalendarError

WEEKDAYS = "一二三四五六日"  # Monday first, as date.weekday()
FESTIVALS = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")
_NUMERAL = "一二三四五六七八九十"


class NoticeParseError(CalendarError):
    """The notice cannot be read or does not check out; the message names the item line."""


@dataclass(frozen=True, slots=True)
class NoticeSchedule:
    year: int
    holidays: tuple[date, ...]  # every day off listed in the items' ranges (weekends inside included)
    workdays: tuple[date, ...]  # 调休 make-up working days
    document: str  # 国办发明电〔2025〕7号, "" when the pasted text has no document number

    def as_json(self) -> dict[str, object]:
        return {"year": self.year, "holidays": [d.isoformat() for d in self.holidays],
                "workdays": [d.isoformat() for d in self.workdays], "document": self.document}


_TITLE = re.compile(r"关于\s*(\d{4})\s*年\s*部分节假日安排的通知")
_DOCUMENT = re.compile(r"国办发明电\s*〔\s*\d{4}\s*〕\s*\d+\s*号")
_FEST = "|".join(FESTIVALS)
_ITEM = re.compile(rf"([{_NUMERAL}]{{1,3}})、\s*((?:{_FEST})(?:\s*、\s*(?:{_FEST}))*)\s*:")
_DATE = re.compile(r"(?:(\d{4})年)?(?:(\d{1,2})月)?(\d{1,2})日(?:\(([^()]*)\))?")
_WEEKDAY = re.compile(r"(?:周|星期)([一二三四五六日天])")
_TOTAL = re.compile(r"共(\d+)天")
_DAYS_OFF = re.compile(r"放假(\d+)天")


def normalise(text: str) -> str:
    """Full-width digits and punctuation to ASCII (NFKC), unify line ends; 〔〕 and 、 stay."""
    return unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class _Ctx:
    year: int
    line: str  # the item as published, for error messages

    def fail(self, why: str) -> NoticeParseError:
        return NoticeParseError(f"notice item “{self.line.strip()}”: {why}")


def _date_of(m: re.Match[str], ctx: _Ctx, year: int, month: int | None) -> tuple[date, int, int]:
    y = int(m[1]) if m[1] else year
    mo = int(m[2]) if m[2] else month
    if mo is None:
        raise ctx.fail(f"“{m[0]}” has no month")
    try:
        d = date(y, mo, int(m[3]))
    except ValueError:
        raise ctx.fail(f"“{m[0]}” is not a date") from None
    note = m[4] or ""
    wd = _WEEKDAY.search(note)
    if wd:
        said = WEEKDAYS.index("日" if wd[1] == "天" else wd[1])
        if said != d.weekday():
            raise ctx.fail(f"{d.isoformat()} is a 周{WEEKDAYS[d.weekday()]}, the notice says 周{wd[1]}")
    return d, y, mo


def _holiday_range(sentence: str, ctx: _Ctx) -> list[date]:
    head = sentence[: sentence.index("放假")]
    parts = head.split("至")
    if len(parts) > 2:
        raise ctx.fail(f"“{head}” is not a date or a range")
    dates: list[date] = []
    year, month = ctx.year, None
    for part in parts:
        m = _DATE.fullmatch(part.strip())
        if not m:
            raise ctx.fail(f"“{part.strip()}” is not a date")
        d, year, month = _date_of(m, ctx, year, month)
        dates.append(d)
    first, last = dates[0], dates[-1]
    if last < first:
        raise ctx.fail(f"the range {first} to {last} ends before it starts")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    for pattern in (_TOTAL, _DAYS_OFF):
        total = pattern.search(sentence)
        if total and int(total[1]) != len(days):
            raise ctx.fail(f"it says {total[0]} but {first} to {last} is {len(days)} day(s)")
    return days


def _workday_list(sentence: str, ctx: _Ctx) -> list[date]:
    head = sentence[: sentence.rindex("上班")].strip()
    out: list[date] = []
    year, month, pos = ctx.year, None, 0
    for m in _DATE.finditer(head):
        gap = head[pos:m.start()].strip()
        if gap not in ("", "、", "和"):
            raise ctx.fail(f"“{head}” is not a list of dates")
        pos = m.end()
        d, year, month = _date_of(m, ctx, year, month)
        if d.weekday() < 5:
            raise ctx.fail(f"{d.isoformat()} (上班) is a 周{WEEKDAYS[d.weekday()]}, already a working day")
        out.append(d)
    if not out or head[pos:].strip():
        raise ctx.fail(f"“{head}” is not a list of dates")
    return out


def _sentences(body: str) -> list[str]:
    # Sentences end with 。 (or ; after normalising); weekday notes never contain either.
    return [s.strip() for s in re.split(r"[。;]", body) if s.strip()]


def _items(text: str) -> list[tuple[str, str]]:
    """(item line as published, its body) for every numbered festival item."""
    found = list(_ITEM.finditer(text))
    out = []
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        newline = text.find("\n", m.end())
        if 0 <= newline < end:
            end = newline
        out.append((text[m.start():end], text[m.end():end]))
    return out


def parse_notice(raw: str) -> NoticeSchedule:
    """The schedule a notice gives; NoticeParseError naming the item line when anything does not check."""
    text = normalise(raw)
    title = _TITLE.search(text)
    if not title:
        raise NoticeParseError("not a holiday notice: no title “国务院办公厅关于XXXX年部分节假日安排的通知” found")
    year = int(title[1])
    doc = _DOCUMENT.search(text)
    document = re.sub(r"\s+", "", doc[0]) if doc else ""
    items = _items(text)
    if not items:
        raise NoticeParseError(f"the {year} notice has no numbered items (一、元旦：…) to read")
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for line, body in items:
        ctx = _Ctx(year, line)
        read_any = False
        for sentence in _sentences(body):
            if "补休" in sentence:  # the pre-2014 form (4月5日放假，4月7日补休): refused rather than half read
                raise ctx.fail("“补休” days are not read; add this year to 'holidays_file' instead")
            if "放假" in sentence and _DATE.match(sentence.lstrip()):
                for d in _holiday_range(sentence, ctx):
                    if d.year == year:
                        holidays.setdefault(d, line)
                    elif not (d.year == year - 1 and d.month == 12):  # 元旦 may start on 12月31日 before
                        raise ctx.fail(f"{d.isoformat()} is outside {year}")
                read_any = True
            elif sentence.endswith("上班") and _DATE.match(sentence.lstrip()):
                for d in _workday_list(sentence, ctx):
                    if d.year != year:
                        raise ctx.fail(f"{d.isoformat()} is outside {year}")
                    workdays.setdefault(d, line)
        if not read_any:
            raise ctx.fail("no “…放假” sentence with a date or range was found")
    clash = sorted(set(holidays) & set(workdays))
    if clash:
        d = clash[0]
        raise NoticeParseError(f"notice item “{workdays[d].strip()}”: {d.isoformat()} is both a day off "
                               f"(item “{holidays[d].strip()}”) and a working day")
    return NoticeSchedule(year, tuple(sorted(holidays)), tuple(sorted(workdays)), document)


def decode(data: bytes) -> str:
    """The notice's text from bytes: UTF-8 (with or without BOM), else GB18030 (a superset of GBK)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise NoticeParseError("the file is neither UTF-8 nor GBK/GB18030 text")
