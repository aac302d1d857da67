"""Is there live markup in a page or a mail? Parse it like a browser would and look at the tags.

Hostile test values carry the marker `x-evil` as a tag name, an attribute and a script; after escaping
they must appear only as text. `structure` lets a test compare a hostile rendering with a benign one:
escaping every field never changes which tags and attributes a template produces.
"""

from __future__ import annotations

from html.parser import HTMLParser

# A value that breaks out of text, of a quoted attribute, of a table cell, and opens a script.
EVIL = '甲<x-evil onclick="1">"\' x-evil=1 </td></table><script>x-evil()</script><a href="https://x-evil.example">'
EVIL_SHORT = "<b x-evil>人</b>"  # for fields with a short length limit


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []  # the src of every <script> (inline: "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(name for name, _ in attrs))))
        self.attrs.extend((tag, name, value or "") for name, value in attrs)
        if tag == "script":
            self.scripts.append(dict(attrs).get("src") or "")


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    p.close()
    return p


def structure(html: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every start tag with its attribute names, in order."""
    return _parse(html).tags


def live_markup(html: str) -> list[str]:
    """What hostile values managed to turn into markup (empty when everything was escaped)."""
    p = _parse(html)
    found = [f"<{tag}>" for tag, _ in p.tags if tag in ("x-evil", "iframe", "svg")]
    found += [f"<script src={src!r}>" for src in p.scripts if not src.startswith("/static/")]
    for tag, name, value in p.attrs:
        # A re-shown form carries typed text in value=""; only a link or a source taking it is live.
        if name.startswith("on") or name == "x-evil" or (name in ("href", "src", "action") and "x-evil" in value):
            found.append(f"<{tag} {name}={value!r}>")
    return found


def hostile_text(max_pieces: int = 12):  # -> hypothesis strategy of str
    """Short runs of markup-significant pieces, quotes, bidi controls and CJK, never empty."""
    from hypothesis import strategies as st

    pieces = [*"<>&\"'/=` ;:-x甲乙\u202e\n", "<b>", "<script>", "</td>", "<x-evil onclick=1>", "&amp;", "{{", "%"]
    return st.lists(st.sampled_from(pieces), min_size=1, max_size=max_pieces).map("".join)
