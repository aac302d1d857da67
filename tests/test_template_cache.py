"""Compiled templates are kept on disk and read back by later processes: the same words either way, HTML
still escaped, and a damaged or unwritable cache only costs compiling again (rectify/template_cache.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A fresh process (the environment is built once per process): compiles counted, two templates rendered
# with HTML in the user's name, every template loaded.
PROBE = """
import json
from datetime import date
from rectify.templating import env
e = env()
compiles = []
compile = e.compile
e.compile = lambda *a, **k: (compiles.append(a[1] if len(a) > 1 else k.get("name")), compile(*a, **k))[1]
ctx = {"person": {"name": "<b>甲</b>&乙"}, "hours": 24, "url": "https://dc.example/a?b=1&c=2",
       "now": date(2024, 6, 5)}
out = {"html": e.get_template("mail/signin.html").render(**ctx),
       "text": e.get_template("mail/signin.txt").render(**ctx)}
for name in e.list_templates():
    e.get_template(name)
out["compiles"] = len(compiles)
print(json.dumps(out))
"""


def _probe(cache: Path) -> dict:
    env = {**os.environ, "RECTIFY_CACHE_DIR": str(cache)}
    res = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_it_reads_compiled_templates_back_in_a_later_process(tmp_path) -> None:
    first = _probe(tmp_path / "cache")
    assert first["compiles"] > 40  # every template compiled once
    assert len(list((tmp_path / "cache").glob("templates-*/*.cache"))) == first["compiles"]
    second = _probe(tmp_path / "cache")
    assert second["compiles"] == 0
    assert second["html"] == first["html"]
    assert second["text"] == first["text"]
    assert "&lt;b&gt;甲&lt;/b&gt;&amp;乙" in second["html"] and "<b>甲" not in second["html"]
    assert "<b>甲</b>&乙" in second["text"]


def test_it_compiles_again_over_damaged_files(tmp_path) -> None:
    clean = _probe(tmp_path / "cache")
    files = sorted((tmp_path / "cache").glob("templates-*/*.cache"))
    for k, path in enumerate(files):  # three kinds of damage: truncated, garbage, a valid header then junk
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3] if k % 3 == 0 else b"junk" * 9 if k % 3 == 1
                         else data[: len(data) - 40] + b"\x00" * 40)
    again = _probe(tmp_path / "cache")
    assert again["compiles"] > 0
    assert (again["html"], again["text"]) == (clean["html"], clean["text"])
    assert _probe(tmp_path / "cache")["compiles"] == 0  # the damaged files were written again


def test_it_renders_without_a_writable_cache(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    first = _probe(blocker / "cache")
    second = _probe(blocker / "cache")
    assert first["compiles"] == second["compiles"] > 40
    assert second["html"] == first["html"]
