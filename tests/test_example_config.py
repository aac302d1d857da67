from pathlib import Path

from rectify.config import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_it_loads_the_documented_example_config() -> None:
    s = load_settings(ROOT / "rectify.example.toml")
    assert s.bulletin.start_issue == 20
    assert [step.kind for step in s.ladder] == ["remind", "remind", "urge", "supervise", "notify"]


def test_it_documents_every_setting() -> None:
    """Each key of Settings and of its sections appears in rectify.example.toml (commented or not)."""
    from pydantic import BaseModel

    from rectify.config import Settings

    text = (ROOT / "rectify.example.toml").read_text(encoding="utf-8")
    missing = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            missing += [f"{name}.{sub}" for sub in annotation.model_fields
                        if f"\n{sub} =" not in text and f"\n# {sub} =" not in text and f"[{name}.{sub}]" not in text]
        elif f"{name} =" not in text and f"[[{name}]]" not in text:
            missing.append(name)
    assert missing == []
