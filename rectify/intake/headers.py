"""Which column is which: header names matched after trimming and full-width folding. Pure.

Each field accepts the header the ledger export writes (labels.toml [ledger] / [unit_sheet]) and
the usual spellings county staff type, plus English names. When two columns name the same field
(整改意见 and 整改措施), the spelling listed first wins and the other column is ignored.
Title rows above the header ("2024年第一轮督导问题清单") are skipped: the header is the first of the
top rows that names at least two known fields, one of them an anchor field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rectify.intake.cells import cell_text, squeeze
from rectify.templating import labels

# Header spellings besides the label the export writes; order is preference.
FINDING_ALIASES: dict[str, tuple[str, ...]] = {
    "seq": ("序号", "no", "no.", "seq"),
    "code": ("编号", "问题编号", "code"),
    "round": ("督导轮次", "轮次", "round"),
    "group": ("督导组", "督导组别", "group"),
    "date": ("督导日期", "检查日期", "发现日期", "date"),
    "unit": ("责任单位", "整改责任单位", "unit"),
    "problem": ("问题描述", "存在问题", "问题", "problem"),
    "opinion": ("整改意见", "整改要求", "整改措施", "opinion"),
    "deadline": ("整改时限", "整改期限", "完成时限", "现整改时限", "deadline"),  # 现整改时限: the ledger's header
    "owner": ("责任人", "owner"),
    "note": ("备注", "note"),
}
FINDING_ANCHORS = frozenset({"unit", "problem"})

UNIT_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("单位名称", "单位", "名称", "name", "unit"),
    "aliases": ("简称/别名", "简称", "别名", "简称或别名", "aliases", "alias"),
    "kind": ("类型", "单位类型", "kind", "type"),
    "contact": ("联系人", "联系人姓名", "contact"),
    "contact_email": ("联系人邮箱", "联系人电子邮箱", "contact_email", "contact email"),
    "leader": ("主要负责人", "负责人", "leader"),
    "leader_email": ("负责人邮箱", "主要负责人邮箱", "leader_email", "leader email"),
    # Optional channels (issue 16). A bare 手机/企业微信账号/钉钉账号 column is the contact's: the contact is
    # who the daily letters reach first.
    "contact_mobile": ("联系人手机", "手机", "手机号", "手机号码", "联系人手机号", "contact_mobile"),
    "contact_wecom": ("联系人企业微信账号", "企业微信账号", "企业微信", "企业微信ID", "联系人企业微信",
                      "contact_wecom"),
    "contact_dingtalk": ("联系人钉钉账号", "钉钉账号", "钉钉", "钉钉ID", "联系人钉钉", "contact_dingtalk"),
    "leader_mobile": ("负责人手机", "主要负责人手机", "负责人手机号", "leader_mobile"),
    "leader_wecom": ("负责人企业微信账号", "主要负责人企业微信账号", "负责人企业微信", "leader_wecom"),
    "leader_dingtalk": ("负责人钉钉账号", "主要负责人钉钉账号", "负责人钉钉", "leader_dingtalk"),
}
UNIT_ANCHORS = frozenset({"name"})

_MARKS = re.compile(r"[*※]")
_NOTE = re.compile(r"(?:\([^()]*\)|【[^【】]*】|\[[^\[\]]*\])$")


def header_key(text: Any) -> str:
    """A header cell compared: squeezed, without required-marks (*) or a trailing note (必填)."""
    key = _MARKS.sub("", squeeze(cell_text(text)))
    stripped = _NOTE.sub("", key)
    return stripped or key


@dataclass(frozen=True)
class Spec:
    """The fields of one kind of sheet and the header spellings each accepts."""

    names: dict[str, tuple[str, ...]]
    anchors: frozenset[str]

    def title(self, key: str) -> str:
        """The field's header as the export writes it: used in messages about a missing column."""
        return self.names[key][0]

    def lookup(self) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for key, names in self.names.items():
            for rank, name in enumerate(names):
                out.setdefault(header_key(name), (key, rank))
        return out


def _with_labels(section: str, aliases: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    written = labels().get(section, {})
    return {key: tuple(dict.fromkeys((str(written[key]), *names) if key in written else names))
            for key, names in aliases.items()}


def finding_spec() -> Spec:
    return Spec(_with_labels("ledger", FINDING_ALIASES), FINDING_ANCHORS)


def unit_spec() -> Spec:
    return Spec(_with_labels("unit_sheet", UNIT_ALIASES), UNIT_ANCHORS)


@dataclass
class HeaderMap:
    row: int  # the header's sheet row number
    columns: dict[str, int]  # field → 0-based column index
    typed: dict[str, str]  # field → the header as typed, for messages
    ignored: list[str] = field(default_factory=list)  # non-empty headers that name no field (or lost)

    def get(self, cells: Sequence[Any], key: str) -> Any:
        i = self.columns.get(key)
        return cells[i] if i is not None and i < len(cells) else None


def match_headers(row: int, cells: Sequence[Any], spec: Spec) -> HeaderMap:
    lookup = spec.lookup()
    best: dict[str, tuple[int, int]] = {}  # field → (rank, column)
    ignored: list[str] = []
    for i, cell in enumerate(cells):
        text = cell_text(cell)
        if not text:
            continue
        hit = lookup.get(header_key(text))
        if hit is None:
            ignored.append(text)
            continue
        key, rank = hit
        if key in best and best[key][0] <= rank:
            ignored.append(text)
            continue
        if key in best:
            ignored.append(cell_text(cells[best[key][1]]))
        best[key] = (rank, i)
    columns = {k: i for k, (_, i) in best.items()}
    typed = {k: " ".join(cell_text(cells[i]).split()) for k, i in columns.items()}
    return HeaderMap(row, columns, typed, ignored)


def find_header(rows: Sequence[tuple[int, Sequence[Any]]], spec: Spec) -> HeaderMap | None:
    """The first row naming two known fields, one of them an anchor; None if the top rows have none."""
    for row, cells in rows:
        found = match_headers(row, cells, spec)
        if len(found.columns) >= 2 and spec.anchors & found.columns.keys():
            return found
    return None
