"""The README and the example config document every setting there is."""

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
