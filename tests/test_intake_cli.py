"""`rectify units import`, `findings import` and `ledger export` run as a clerk runs them: a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

HEAD = "序号,编号,督导组,督导日期,责任单位,问题描述,整改意见,整改时限,责任人,备注\n"


def rectify(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    env.update(RECTIFY_COUNTY_PREFIX="鲁山县", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "rectify", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_it_reports_bad_rows_exits_non_zero_and_imports_a_good_file(tmp_path) -> None:
    assert rectify("init", cwd=tmp_path).returncode == 0
    (tmp_path / "units.csv").write_bytes(
        "单位名称,简称/别名,类型,联系人,联系人邮箱,主要负责人,负责人邮箱\n"
        "鲁山县财政局,县财政,县直单位,张三,zhang@example.cn,李四,li@example.cn\n"
        "城关镇,,乡镇街道,王五,wang@example.cn,赵六,zhao@example.cn\n".encode("gbk"))
    units = rectify("units", "import", "units.csv", cwd=tmp_path)
    assert units.returncode == 0, units.stderr
    assert "新增 2 个" in units.stdout

    (tmp_path / "bad.csv").write_text(
        HEAD + "1,,第一督导组,2024-01-10,财务局,问题一,整改,2024-01-31,,\n"
               "2,,第一督导组,2024-01-10,城关镇,问题二,整改,尽快,,\n"
               "3,,第一督导组,2024-01-10,城关镇,问题三,整改,5个工作日内,,\n", encoding="utf-8-sig")
    bad = rectify("findings", "import", "bad.csv", "--round", "2024年第一轮", cwd=tmp_path)
    assert bad.returncode == 2
    assert "未导入任何数据" in bad.stderr
    assert "第2行「责任单位」“财务局”" in bad.stderr and "鲁山县财政局" in bad.stderr
    assert "第3行「整改时限」“尽快”" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout

    (tmp_path / "good.csv").write_text(HEAD + "1,G-1,第一督导组,2024-01-10,县财政,<b>问题一</b>,整改,1月31日前,,\n",
                                       encoding="utf-8")
    good = rectify("findings", "import", "good.csv", "--round", "2024年第一轮", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "新增 1 条" in good.stdout and "鲁山县财政局" in good.stdout

    ledger = rectify("ledger", "export", "台账.xlsx", "--as-of", "2024-02-20", cwd=tmp_path)
    assert ledger.returncode == 0, ledger.stderr
    ws = load_workbook(tmp_path / "台账.xlsx").worksheets[0]
    assert ws["B2"].value == "G-1" and ws["G2"].value == "<b>问题一</b>"

    again = rectify("findings", "import", "台账.xlsx", cwd=tmp_path)
    assert again.returncode == 0 and "新增 0 条，更新 0 条，未变化 1 条" in again.stdout

    wrong_date = rectify("findings", "import", "good.csv", "--date", "明天", cwd=tmp_path)
    assert wrong_date.returncode == 2 and "明天" in wrong_date.stderr and "Traceback" not in wrong_date.stderr


def test_it_says_in_one_line_when_the_file_or_its_sheet_is_missing(tmp_path) -> None:
    # The CLI reads the file in a thread while it starts (ReadAhead): its errors still reach the clerk as one line.
    assert rectify("init", cwd=tmp_path).returncode == 0
    missing = rectify("findings", "import", "不存在.xlsx", "--round", "R", cwd=tmp_path)
    assert missing.returncode == 2 and "不存在.xlsx" in missing.stderr
    (tmp_path / "f.csv").write_text(HEAD, encoding="utf-8")
    sheet = rectify("findings", "import", "f.csv", "--sheet", "问题清单", "--round", "R", cwd=tmp_path)
    assert sheet.returncode == 2 and sheet.stderr.strip() and "\n" not in sheet.stderr.strip()
    for res in (missing, sheet):
        assert "Traceback" not in res.stderr + res.stdout
