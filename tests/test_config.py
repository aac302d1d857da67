"""Settings: TOML file, RECTIFY_* overrides, clear errors that name the key."""

from pathlib import Path

import pytest

from rectify.config import ConfigError, load_settings
from rectify.runtime import load_calendar


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rectify.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_it_has_working_defaults(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.timezone == "Asia/Shanghai"
    assert s.db_url == f"sqlite:///{tmp_path / 'var' / 'rectify.db'}"
    assert s.outbox_path == Path("var/outbox")
    assert [step.offset for step in s.ladder] == [-3, 0, 1, 5, 10]


def test_it_reads_the_file_and_lets_the_environment_win(tmp_path, monkeypatch) -> None:
    path = write(tmp_path, '[smtp]\nhost = "mail.file"\nport = 587\n[bulletin]\nstart_issue = 20\n')
    monkeypatch.setenv("RECTIFY_SMTP__HOST", "mail.env")
    monkeypatch.setenv("RECTIFY_DATABASE_URL", "postgresql://db/rectify")
    s = load_settings(path)
    assert (s.smtp.host, s.smtp.port, s.bulletin.start_issue) == ("mail.env", 587, 20)
    assert s.db_url == "postgresql://db/rectify"


def test_it_finds_the_file_through_rectify_config(tmp_path, monkeypatch) -> None:
    path = write(tmp_path, 'county_prefix = "鲁山县"\n')
    monkeypatch.setenv("RECTIFY_CONFIG", str(path))
    assert load_settings().county_prefix == "鲁山县"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[smtp]\nport = "abc"\n', "key 'smtp.port'"),
        ('[smtp]\nhots = "x"\n', "key 'smtp.hots': unknown key"),
        ('timezone = "Mars/Olympus"\n', "key 'timezone'"),
        ('[[ladder]]\nkey = "a"\nkind = "remind"\noffset = 5\naudience = ["unit_contact"]\n'
         '[[ladder]]\nkey = "b"\nkind = "urge"\noffset = 1\naudience = ["unit_contact"]\n', "key 'ladder'"),
        ("data_dir = \n", "not valid TOML"),
    ],
)
def test_it_names_the_bad_key(tmp_path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        load_settings(write(tmp_path, text))


def test_it_names_a_missing_config_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RECTIFY_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()


def test_it_generates_a_secret_once_and_keeps_it(tmp_path) -> None:
    s = load_settings(None, data_dir=tmp_path / "var")
    first = s.secret
    assert len(first) >= 40
    assert load_settings(None, data_dir=tmp_path / "var").secret == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_extends_the_calendar_from_the_holidays_file(tmp_path) -> None:
    f = tmp_path / "holidays.toml"
    f.write_text('[2027]\nholidays = ["2027-01-01"]\nworkdays = []\n', encoding="utf-8")
    from datetime import date

    cal = load_calendar(f)
    assert cal.is_working_day(date(2027, 1, 1)) is False
    assert cal.is_working_day(date(2027, 1, 4)) is True


def test_it_names_a_bad_holidays_file(tmp_path) -> None:
    f = tmp_path / "holidays.toml"
    f.write_text('[2027]\nholidays = ["someday"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'holidays_file'.*someday"):
        load_calendar(f)
