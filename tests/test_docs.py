"""The README and the example config document every setting there is, and every relative link in the docs leads
to a file and heading that exist."""

import re
from pathlib import Path

from pydantic import BaseModel

from rectify.config import LadderStep, Settings

ROOT = Path(__file__).resolve().parent.parent


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += keys(ann, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def test_it_documents_every_setting_in_the_example_and_the_readme() -> None:
    example = (ROOT / "rectify.example.toml").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    all_keys = keys(Settings) + [f"ladder.{k}" for k in LadderStep.model_fields]
    for key in all_keys:
        leaf = key.rsplit(".", 1)[-1]
        assert f"{leaf} =" in example or f"# {leaf} =" in example or f"[[{leaf}]]" in example, key
        assert f"`{leaf}`" in readme or f"`{key}`" in readme or f"`[[{leaf}]]`" in readme, key


def test_it_calls_exactly_the_readme_test_command_in_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test   #" in readme
    assert ci.rstrip().splitlines()[-1] == "make test"


LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (CJK kept), spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_every_relative_link_in_the_readme_and_docs_leads_somewhere() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto: - not ours to check offline
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []
