"""Articles the office writes (工作动态), read from Markdown or plain-text files.

The first non-empty line (a leading `#` is dropped) is the title; paragraphs are separated by blank
lines; lines starting with "- " or "* " are list items; "## text" is a subheading. Lines inside a
paragraph are joined (without a space between Chinese characters), so hard-wrapped text reads as typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rectify.bulletin.errors import BulletinError


class SectionError(BulletinError, ValueError):
    """An article file that cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # para / item / heading
    text: str


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    blocks: tuple[Block, ...]


_ITEM = re.compile(r"^\s*[-*+]\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s*")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def _clean(text: str) -> str:
    return _EMPHASIS.sub(r"\2", text).strip()


def _join(lines: list[str]) -> str:
    out = ""
    for line in (ln.strip() for ln in lines):
        if out and line and out[-1].isascii() and line[0].isascii() and out[-1].isalnum() and line[0].isalnum():
            out += " "
        out += line
    return _clean(out)


def parse_article(text: str, source: str = "article") -> Article:
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise SectionError(f"{source}: the file is empty; its first line must be the article's title")
    title = _clean(_HEADING.sub("", lines[0]))
    if not title:
        raise SectionError(f"{source}: the first line must be the article's title")
    blocks: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = _join(para)
            if joined:
                blocks.append(Block("para", joined))
            para.clear()

    for line in lines[1:]:
        if not line.strip():
            flush()
        elif _ITEM.match(line):
            flush()
            blocks.append(Block("item", _clean(_ITEM.sub("", line))))
        elif _HEADING.match(line) and line.lstrip().startswith("#"):
            flush()
            blocks.append(Block("heading", _clean(_HEADING.sub("", line))))
        else:
            para.append(line)
    flush()
    return Article(title, tuple(b for b in blocks if b.text))


def load_articles(paths: Iterable[Path]) -> list[Article]:
    articles = []
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SectionError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise SectionError(f"{path}: is a folder, not a file") from None
        except UnicodeDecodeError:
            raise SectionError(f"{path}: not UTF-8 text (save it as UTF-8)") from None
        articles.append(parse_article(text, str(path)))
    return articles


# Sections Rectify writes itself, named instead of a file: `--section progress` (整改进展, rectify.bulletin.progress)
# and `--section ranking` (考评排名).
BUILT_IN = ("progress", "ranking")


def split_sections(values: Iterable[Path | str]) -> tuple[list[Path], set[str]]:
    """Article files and built-in section names from `--section` values; an existing file wins over a name."""
    files: list[Path] = []
    named: set[str] = set()
    for v in values:
        if str(v) in BUILT_IN and not Path(v).is_file():
            named.add(str(v))
        else:
            files.append(Path(v))
    return files, named
