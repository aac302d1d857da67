"""Run the benches' children on Rectify as installed: with its bytecode compiled.

pip compiles a package's modules when it installs them, so a production run imports Rectify from .pyc
files. A checkout run under PYTHONDONTWRITEBYTECODE=1 (this project's sandbox sets it) never writes them,
and every child process the benches start would compile Rectify's ~150 source files again: ~0.35 s of CPU
a process on the development machine, charged to Rectify's side of ratios whose references import only
installed libraries. `compiled()` writes the bytecode once, as pip would, before any child starts; the
children then read it, whatever the environment says about writing.
"""

from __future__ import annotations

import compileall
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rectify", "models", "web", "flows", "bench")


def compiled(root: Path = ROOT) -> str:
    """Compile the tree's packages into __pycache__ (quietly; already compiled files are skipped). Returns
    a line for the bench's header."""
    ok = all(compileall.compile_dir(str(root / name), quiet=1) for name in PACKAGES if (root / name).is_dir())
    unset = "PYTHONDONTWRITEBYTECODE" not in os.environ
    return ("bytecode: compiled before the runs, as pip installs it" if ok else
            "bytecode: some modules did not compile; those are compiled in every process") + \
        ("" if unset else " (PYTHONDONTWRITEBYTECODE is set: the children read it, they would not write it)")
