"""Per-person channels (issue 16): the directory import's 手机/企业微信账号/钉钉账号 columns, `people add/list`,
and revision 0007 turning every existing outbox row into a mail row."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

from models import Person
from rectify.intake import ImportRejected, import_units
from rectify.services.people import PeopleError, add_person, list_people

HEAD = ["单位名称", "联系人", "联系人邮箱", "手机", "企业微信账号", "钉钉账号", "主要负责人", "负责人邮箱",
        "负责人手机"]


def csv_bytes(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def people(session) -> dict[str, tuple]:
    session.expire_all()
    return {p.email: (p.mobile, p.wecom_userid, p.dingtalk_userid) for p in session.scalars(select(Person))}


def test_it_imports_the_channel_columns_with_the_header_folding_of_today(session) -> None:
    rows = [["单位名称", "联系人", "联系人邮箱", "手 机", "企业微信账号（选填）", "钉钉账号*", "主要负责人",
             "负责人邮箱", "负责人手机"],
            ["县财政局", "李丽", "li@unit.example", "+86 138-0013-8000", "LiLi", "0123@ding", "张伟",
             "zhang@unit.example", "１３９００１３９０００"]]
    report = import_units(session, csv_bytes(rows), filename="units.csv")
    session.commit()
    assert report.ignored_columns == []
    assert people(session) == {"li@unit.example": ("13800138000", "LiLi", "0123@ding"),
                               "zhang@unit.example": ("13900139000", None, None)}


def test_it_refuses_bad_channel_cells_and_writes_nothing(session) -> None:
    rows = [HEAD, ["县财政局", "李丽", "li@unit.example", "12345", "li li", "", "张伟", "zhang@unit.example", ""],
            ["城关镇", "", "", "13800138000", "", "", "", "", ""]]
    with pytest.raises(ImportRejected) as caught:
        import_units(session, csv_bytes(rows), filename="units.csv")
    codes = sorted((e.row, e.code) for e in caught.value.errors)
    assert codes == [(2, "bad_mobile"), (2, "bad_userid"), (3, "channel_without_person")]
    session.rollback()
    assert people(session) == {}


def test_it_keeps_stored_channels_when_a_column_is_absent_and_clears_them_on_an_empty_cell(session) -> None:
    import_units(session, csv_bytes([HEAD, ["县财政局", "李丽", "li@unit.example", "13800138000", "lili", "dd1",
                                            "张伟", "zhang@unit.example", "13900139000"]]), filename="u.csv")
    session.commit()
    # A sheet without the channel columns: what was stored stays.
    import_units(session, csv_bytes([["单位名称", "联系人", "联系人邮箱"], ["县财政局", "李丽", "li@unit.example"]]),
                 filename="u.csv")
    session.commit()
    assert people(session)["li@unit.example"] == ("13800138000", "lili", "dd1")
    # The column is there and the cell is empty: cleared. The report counts the change.
    report = import_units(session, csv_bytes([["单位名称", "联系人", "联系人邮箱", "企业微信账号"],
                                              ["县财政局", "李丽", "li@unit.example", ""]]), filename="u.csv")
    session.commit()
    assert people(session)["li@unit.example"] == ("13800138000", None, "dd1")
    assert report.people["updated"] == 1


def test_it_adds_people_with_channels_and_checks_them(session) -> None:
    add_person(session, name="王建国", email="wang@county.example", role="supervisor", group="第一督导组",
               mobile="13700137000", wecom="WangJG", dingtalk="wjg01")
    assert people(session)["wang@county.example"] == ("13700137000", "WangJG", "wjg01")
    add_person(session, name="王建国", email="wang@county.example", role="supervisor", group="第一督导组", wecom="")
    assert people(session)["wang@county.example"] == ("13700137000", None, "wjg01")  # "" clears, None keeps
    with pytest.raises(PeopleError, match="not a mobile number"):
        add_person(session, name="赵六", email="zhao@x.example", role="admin", mobile="010-1234567")
    assert [p.email for p, _ in list_people(session)] == ["wang@county.example"]


def test_it_shows_channels_in_people_list(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}

    def rectify(*args):
        return subprocess.run([sys.executable, "-m", "rectify", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    assert rectify("init").returncode == 0
    ok = rectify("people", "add", "王建国", "wang@county.example", "--group", "第一督导组", "--mobile", "13700137000",
                 "--wecom", "WangJG")
    assert ok.returncode == 0, ok.stderr
    listed = rectify("people", "list")
    assert "手机 13700137000" in listed.stdout and "企业微信 WangJG" in listed.stdout
    bad = rectify("people", "add", "王建国", "wang@county.example", "--group", "第一督导组", "--dingtalk", "a b")
    assert bad.returncode == 2 and "钉钉 userid" in bad.stderr and "Traceback" not in bad.stderr


def test_it_migrates_existing_outbox_rows_to_the_mail_channel(tmp_path: Path) -> None:
    from alembic import command

    from rectify.db import alembic_config, make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0006")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO outbox (dedupe_key, recipient, kind, day, subject, message, items, meta, state, attempts, "
            "last_error, created_at) VALUES ('a@x|2024-01-20|daily', 'a@x', 'daily', :day, 's', x'00', 1, '{}', "
            "'sent', 1, '', '2024-01-20 01:00:00')"), {"day": date(2024, 1, 20)})
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT channel, dedupe_key FROM outbox")).all() == [("mail", "a@x|2024-01-20|daily")]
        assert conn.execute(text("SELECT id, message FROM outbox_bodies")).all() == [(1, b"\x00")]  # 0010 moved it
        assert conn.execute(text("SELECT mobile, wecom_userid, dingtalk_userid FROM people")).all() == []
    command.downgrade(cfg, "0006")
    engine.dispose()
