"""`rectify notices list|print` as the command office runs them: a subprocess configured by RECTIFY_*."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from rectify.config import Settings
from rectify.db import migrate
from rectify.runtime import build_runtime
from rectify.services.notices import issue_notices
from tests.support import factory
from tests.support.keys import TEST_SECRET


def rectify(*args: str, cwd: Path, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")} | {
        "COLUMNS": "400", "RECTIFY_DATA_DIR": str(data), "RECTIFY_SECRET_KEY": TEST_SECRET}
    return subprocess.run([sys.executable, "-m", "rectify", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_it_lists_notices_and_prints_the_path_to_print(tmp_path) -> None:
    data = tmp_path / "var"
    rt = build_runtime(Settings(data_dir=data, secret_key=TEST_SECRET))
    migrate(rt.engine)
    with rt.sessions() as s:
        r = factory.round_(s)
        unit = factory.unit(s, "县财政局")
        f = factory.finding(s, unit=unit, round=r, due=date(2024, 3, 1), level=4)
        (notice,) = issue_notices(s, rt, date(2024, 3, 15), datetime(2024, 3, 15, 1, tzinfo=UTC), {unit.id: [f.id]})
        s.commit()
    rt.close()

    listed = rectify("notices", "list", "--year", "2024", cwd=tmp_path, data=data)
    assert listed.returncode == 0, listed.stderr
    assert "〔2024〕1号  2024-03-15  县财政局  1 item(s)  reply by 2024-03-22" in listed.stdout
    printed = rectify("notices", "print", "1", "--year", "2024", cwd=tmp_path, data=data)
    assert printed.returncode == 0 and printed.stdout.strip() == notice.file
    missing = rectify("notices", "print", "2", "--year", "2024", cwd=tmp_path, data=data)
    assert missing.returncode == 2 and "no 督办通知 number 2 of 2024" in missing.stderr
    assert "Traceback" not in missing.stderr
