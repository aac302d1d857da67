"""The bulletin's 整改进展 section (`rectify bulletin --section progress`): the newest progress reports of each
supervision group in the period, as an article under 工作动态 (so the DOCX and HTML writers need nothing new)."""

from __future__ import annotations

from collections.abc import Sequence

from rectify.bulletin.sections import Article, Block
from rectify.services.followup_stats import ProgressItem
from rectify.templating import cn_date, labels

BUILTIN = ("progress",)  # --section values that name a built-in section rather than a file


def progress_article(groups: Sequence[tuple[str, Sequence[ProgressItem]]]) -> Article:
    lab = labels()["bulletin"]
    blocks: list[Block] = []
    for group, items in groups:
        blocks.append(Block("heading", group or lab["progress_ungrouped"]))
        for i in items:
            late = "" if i.on_time else "（逾期报送）"
            blocks.append(Block("item", f"{i.unit}：{i.problem}（{i.code}）。{cn_date(i.at)}报送进展{late}：{i.text}"))
    if not blocks:
        blocks.append(Block("para", "本期无报送的阶段性整改进展。"))
    return Article(lab["progress_title"], tuple(blocks))
