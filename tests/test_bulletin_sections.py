"""Office-written articles (工作动态) from Markdown or plain text."""

import pytest

from rectify.bulletin.sections import Block, SectionError, load_articles, parse_article


def test_it_reads_a_markdown_article() -> None:
    a = parse_article("\ufeff\n# 督导组调研督导法治政府创建工作\n\n本周，督导组分别到县法院、\n县公安局开展督导。\n\n"
                      "## 下一步工作\n- 专班人员必谈\n* 关键资料**必查**\n\nSee the plan\nfor details.\n")
    assert a.title == "督导组调研督导法治政府创建工作"
    assert a.blocks == (Block("para", "本周，督导组分别到县法院、县公安局开展督导。"),
                        Block("heading", "下一步工作"), Block("item", "专班人员必谈"), Block("item", "关键资料必查"),
                        Block("para", "See the plan for details."))


def test_it_reads_plain_text_with_windows_line_ends() -> None:
    a = parse_article("营造浓厚氛围\r\n\r\n第一段。\r\n\r\n第二段。\r\n")
    assert a.title == "营造浓厚氛围" and [b.text for b in a.blocks] == ["第一段。", "第二段。"]


def test_it_refuses_an_empty_file(tmp_path) -> None:
    (tmp_path / "empty.md").write_text("\n\n", encoding="utf-8")
    with pytest.raises(SectionError, match=r"empty\.md: the file is empty"):
        load_articles([tmp_path / "empty.md"])


def test_it_names_a_missing_or_non_utf8_file(tmp_path) -> None:
    (tmp_path / "gbk.txt").write_bytes("工作动态".encode("gbk"))
    with pytest.raises(SectionError, match=r"gbk\.txt: not UTF-8"):
        load_articles([tmp_path / "gbk.txt"])
    with pytest.raises(SectionError, match=r"nope\.md: no such file"):
        load_articles([tmp_path / "nope.md"])
