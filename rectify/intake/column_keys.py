"""Keys of a whole column at once: `problem_key`, `squeeze` and `unit_key` of many texts, folded in one pass.

Per cell, `fold` (NFKC), whitespace removal and lower-casing are a handful of Python calls each; over 100,000
problem texts that was half the checks. Joined by NUL, the texts are folded, squeezed and lower-cased once,
then split again: per text only the split and, for a problem, its encoding and hash are left.
The answers are those of the one-by-one functions (`tests/test_intake_columns.py` compares them on random
texts of combining marks, jamo, final sigma, full-width and odd whitespace).
"""

from __future__ import annotations

import hashlib

from rectify.intake.cells import _prefixes, _unprefixed, fold, squeeze


def problem_keys(problems: list[str]) -> list[str]:
    """`problem_key` of each text: the texts squeezed in one pass (`squeeze_all`), then hashed one by one.

    Why the answer is the same: NUL is a starter that composes with nothing, so NFKC never reaches across it;
    it is no whitespace, so no run of whitespace spans two texts; it is neither cased nor case-ignorable, so a
    final sigma is told as at a text's end. A text holding NUL itself (cell text never does) is keyed alone."""
    sha = hashlib.sha256
    return [sha(p.encode("utf-8")).hexdigest() for p in squeeze_all(problems)]


def _squeezed_joined(texts: list[str]) -> str | None:
    """`squeeze` of each text, joined by NUL (see `problem_keys` for why that is the same); None when a text
    holds NUL itself, or there are none."""
    if not texts:
        return None
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:
        return None
    return "".join(fold(joined).split()).lower()


def squeeze_all(texts: list[str]) -> list[str]:
    """`squeeze` of each text, folded in one pass as `problem_keys` folds."""
    squeezed = _squeezed_joined(texts)
    parts = squeezed.split("\x00") if squeezed is not None else []
    return parts if len(parts) == len(texts) else list(map(squeeze, texts))


def unit_keys(names: list[str], county_prefix: str = "") -> list[str]:
    """`unit_key` of each name, folded in one pass (a directory's names, a sheet's distinct unit cells)."""
    prefixes = _prefixes(county_prefix)
    return [_unprefixed(k, prefixes) for k in squeeze_all(names)]
