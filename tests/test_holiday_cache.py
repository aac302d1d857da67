"""The provisional years' statutory days kept between processes (rectify.holiday_cache): computed once by
lunar-python, read back by the next process without loading it, and any damaged or tampered file only
means computing again."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from rectify.core import provisional

ROOT = Path(__file__).resolve().parent.parent
# A process that builds the calendar as every Rectify process does (through the runtime when a database is
# given), then says whether it loaded lunar-python and what the provisional years' festivals are.
SNIPPET = """
import json, os, sys
if os.environ.get("RECTIFY_DATABASE_URL"):
    from rectify.runtime import build_runtime
    cal = build_runtime().calendar
else:
    from rectify import holiday_cache
    from rectify.core.provisional import provisional_through
    from rectify.core.workcal import package_calendar
    cal = holiday_cache.kept(lambda: provisional_through(package_calendar(), 5))
from rectify.core.provisional import statutory_days
years = sorted(cal.provisional)
print(json.dumps({"lunar": "lunar_python" in sys.modules, "years": years,
                  "days": {y: {k: [d.isoformat() for d in v] for k, v in statutory_days(y).items()} for y in years}}))
"""


def _process(cache: Path, prelude: str = "", environ: dict[str, str] | None = None, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", prelude + SNIPPET], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**(os.environ if environ is None else environ),
                                           "RECTIFY_CACHE_DIR": str(cache), **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _cache_file(cache: Path) -> Path:
    (found,) = cache.glob("statutory-days-*.json")
    return found


def test_it_computes_once_and_the_next_process_reads_the_days_without_lunar_python(tmp_path: Path) -> None:
    first = _process(tmp_path)
    assert first["lunar"] and first["years"]
    assert json.loads(_cache_file(tmp_path).read_text(encoding="utf-8"))["2027"]["春节"][0] == "2027-02-05"
    second = _process(tmp_path)
    assert not second["lunar"]  # every provisional year came from the file
    assert second == {**first, "lunar": False}


def test_the_runtime_keeps_them_too(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "rectify.db")  # the cache is the runtime's, whatever the database
    env = {"RECTIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'rectify.db'}", "RECTIFY_DATA_DIR": str(tmp_path / "var"),
           "RECTIFY_SECRET_KEY": secrets.token_urlsafe(48)}
    first = _process(tmp_path / "cache", **env)
    second = _process(tmp_path / "cache", **env)
    assert first["lunar"] and not second["lunar"]
    assert first["days"] == second["days"] and first["years"]


def test_a_damaged_file_is_computed_again_and_rewritten(tmp_path: Path) -> None:
    expected = _process(tmp_path)
    _cache_file(tmp_path).write_text('{"2027": {"元旦": ["2027-01', encoding="utf-8")
    again = _process(tmp_path)
    assert again["lunar"] and again["days"] == expected["days"]
    assert set(json.loads(_cache_file(tmp_path).read_text(encoding="utf-8"))) == {str(y) for y in expected["years"]}


def test_a_tampered_year_is_not_believed(tmp_path: Path) -> None:
    expected = _process(tmp_path)
    file = _cache_file(tmp_path)
    stored = json.loads(file.read_text(encoding="utf-8"))
    stored["2028"]["国庆节"] = ["2028-10-08"]  # not the law's 10月1日至3日
    file.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    again = _process(tmp_path)
    assert again["lunar"] and again["days"] == expected["days"]  # 2028 computed; the others read back


def test_an_unwritable_cache_folder_only_means_computing(tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    first, second = _process(blocked), _process(blocked)
    assert first["lunar"] and second["lunar"] and first["days"] == second["days"]


# A user without a passwd entry and without $HOME (a container's arbitrary uid): the lookup Python makes for
# "~" fails as it does for such a user, so no cache folder can be named (Path.home raises RuntimeError).
NO_HOME = """
import pwd
def _no_entry(uid):
    raise KeyError(f"getpwuid(): uid not found: {uid}")
pwd.getpwuid = _no_entry
"""


def test_a_process_with_no_home_folder_computes_and_goes_on(tmp_path: Path) -> None:
    expected = _process(tmp_path / "cache")
    bare = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", "RECTIFY_CACHE_DIR")}
    probe = subprocess.run([sys.executable, "-c", NO_HOME + "from pathlib import Path\ntry:\n    Path.home()\n"
                            "except RuntimeError:\n    print('no home')"], capture_output=True, text=True, env=bare)
    assert probe.stdout.strip() == "no home"  # the condition is real: Python cannot name a home folder
    got = _process(Path(), prelude=NO_HOME, environ=bare, RECTIFY_CACHE_DIR="")  # "" counts as unset
    assert got["lunar"] and got["days"] == expected["days"]
    assert not list(ROOT.glob("statutory-days-*.json"))  # nothing written beside the process instead


def test_remember_takes_only_a_year_shaped_as_the_rules_make_it() -> None:
    year = 2031
    good = provisional._compute(year)
    assert not provisional.remember(2024, provisional._compute(2025))  # before the rules: not theirs
    assert not provisional.remember(year, {k: v for k, v in good.items() if k != "中秋节"})
    assert not provisional.remember(year, {**good, "劳动节": [date(year, 5, 1)]})  # the law says two days
    assert not provisional.remember(year, {**good, "端午节": [date(year + 5, 6, 1)]})
    assert not provisional.remember(year, {**good, "端午节": []})
    assert provisional.remember(year, good)
    assert provisional.statutory_days(year) == good

