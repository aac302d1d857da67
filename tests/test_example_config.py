from pathlib import Path

from rectify.config import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_it_loads_the_documented_example_config() -> None:
    s = load_settings(ROOT / "rectify.example.toml")
    assert s.bulletin.start_issue == 20
    assert [step.kind for step in s.ladder] == ["remind", "remind", "urge", "supervise", "notify"]
