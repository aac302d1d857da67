"""`rectify demo` as a newcomer runs it: one command, then every output opens."""

import email
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from email.policy import default
from pathlib import Path

import docx
import openpyxl
import pytest

from rectify.demo.simulate import run_demo
from tests.conftest import missing


def test_it_simulates_a_month_and_every_output_opens(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    res = subprocess.run([sys.executable, "-m", "rectify", "demo", "--end", "2024-02-08", "--out", "county"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    out = tmp_path / "county"
    assert "findings found       120" in res.stdout
    assert "bulletin 第20期 docx" in res.stdout
    assert f"RECTIFY_CONFIG={out / 'rectify.toml'} rectify web" in res.stdout
    assert "extensions (延期)     1 approved, 1 refused" in res.stdout and "红色预警" in res.stdout
    for channel in ("wecom", "dingtalk", "sms", "wecom_robot", "dingtalk_robot"):
        counts = re.search(rf"{channel}\s+(\d+) queued, (\d+) sent \((\d+) received", res.stdout)
        assert counts and len(set(counts.groups())) == 1 and int(counts.group(1)) > 0, channel
    acks = re.search(r"签收 \(acknowledged\)\s+(\d+) on time, (\d+) late, (\d+) waiting; (\d+) listed", res.stdout)
    progress = re.search(r"进展反馈 \(progress\)\s+(\d+) on time, (\d+) late, (\d+) missed", res.stdout)
    assert acks and sum(map(int, acks.groups()[:3])) == 120 and int(acks[1]) > int(acks[2]) > 0
    assert int(acks[4]) == int(acks[2]) + int(acks[3])  # every late one was listed to its group, once
    assert progress and int(progress[1]) > 0 and int(progress[3]) > 0
    assert "mails: 签收 (ack)" in res.stdout and "mails: 进展反馈 (progress)" in res.stdout

    issued = re.search(r"督办通知 issued\s+(\d+)", res.stdout)
    notices = sorted((out / "var" / "notices" / "2024").glob("督办通知〔2024〕*号（*）.docx"))
    assert issued and int(issued.group(1)) == len(notices) > 0
    assert f"{out / 'var' / 'notices'}/" in res.stdout
    first = docx.Document(next(p for p in notices if "〔2024〕1号" in p.name))
    assert "〔2024〕1号" in "\n".join(p.text for p in first.paragraphs)

    bulletin = docx.Document(out / "var" / "bulletins" / "工作简报第20期.docx")
    text = "\n".join(p.text for p in bulletin.paragraphs)
    assert "第20期" in text.replace(" ", "") and "整改落实情况" in text
    assert "整改进展" in text and "五、签收和进展反馈" in text

    assert "Glyph" not in res.stderr  # the charts draw Chinese with the shipped font
    ranked = re.search(r"考评 ranking \((\d+) units", res.stdout)
    assert ranked and int(ranked.group(1)) > 10 and re.search(r"\n\s+1\. \S+\s+\d+\.\d", res.stdout)
    ranking = openpyxl.load_workbook(next(out.glob("考评排名-*.xlsx")), read_only=True)
    assert sum(1 for _ in ranking.worksheets[0].iter_rows()) == int(ranked.group(1)) + 2  # period, header, units
    assert re.search("[五六]、考评排名", text)  # after 五、签收和进展反馈 when the period had any
    last_run = json.loads((out / "var" / "last_daily_run.json").read_text(encoding="utf-8"))
    assert last_run["day"] == "2024-02-08" and last_run["scanned"] > 0

    ledger = openpyxl.load_workbook(next(out.glob("整改台账-*.xlsx")), read_only=True)
    assert sum(1 for _ in ledger.worksheets[0].iter_rows()) == 121  # header + 120 findings
    head = [c.value for c in next(ledger.worksheets[0].iter_rows(max_row=1))]
    assert head[-2:] == ["签收时间", "最新进展"]

    emls = sorted((out / "var" / "outbox").glob("*.eml"))
    assert len(emls) > 100
    kinds = {p.name.split("-")[1] for p in emls}
    assert {"daily", "digest"} <= kinds
    for path in emls[:: max(len(emls) // 20, 1)]:
        msg = email.message_from_bytes(path.read_bytes(), policy=default)
        assert msg["To"] and msg["Subject"]
        assert msg.get_body(("html",)) is not None and msg.get_body(("plain",)) is not None


def test_it_starts_afresh_in_the_same_folder_and_refuses_a_foreign_one(tmp_path: Path) -> None:
    first = run_demo(tmp_path / "c", days=10, end=date(2024, 1, 19), findings=20)
    again = run_demo(tmp_path / "c2", days=10, end=first.end, findings=20)
    assert (first.found, first.closed) == (again.found, again.closed)  # seeded: the same month twice
    # IM and SMS went to the in-process vendors: every queued row sent once, nothing more.
    assert first.channels_queued["wecom"] > 0  # (SMS starts at 督办, which ten days do not reach)
    assert first.channels_queued == first.channels_sent == first.channels_received
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    res = subprocess.run([sys.executable, "-m", "rectify", "demo", "--out", str(tmp_path / "busy")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and (tmp_path / "busy" / "notes.txt").exists()
    assert "Traceback" not in res.stderr


def test_it_writes_a_bulletin_libreoffice_opens(tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        missing("LibreOffice", "soffice not found (apt-get install libreoffice-writer-nogui)")
    result = run_demo(tmp_path / "c", days=10, end=date(2024, 1, 19), findings=30, pdf=True)
    pdf = result.bulletin.get("pdf")
    assert pdf is not None and pdf.read_bytes().startswith(b"%PDF")


pytestmark = pytest.mark.slow
