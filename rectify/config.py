"""One settings object: `rectify.toml` (or $RECTIFY_CONFIG) overridden by RECTIFY_* variables.

Nested keys use a double underscore in the environment: RECTIFY_SMTP__HOST=mail.example.gov.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import string
import tomllib
import zlib
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from rectify.channels.settings import ChannelSettings

Audience = Literal["unit_contact", "unit_leader", "group", "command_office"]
LevelKind = Literal["remind", "urge", "supervise", "notify"]


class ConfigError(Exception):
    """A configuration problem a user can fix; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpSettings(_Section):
    host: str = ""  # empty: mail is written as .eml files into the outbox folder
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    password: SecretStr = SecretStr("")
    from_addr: str = "rectify@localhost"
    from_name: str = "整改督办系统"
    timeout: float = Field(30.0, gt=0)
    concurrency: int = Field(4, ge=1, le=32)
    max_attempts: int = Field(5, ge=1)
    ca_file: Path | None = None  # PEM file of a private CA that signed the server's certificate
    allow_plain_auth: bool = False  # send the password without TLS (only on a trusted network)

    @field_validator("ca_file")
    @classmethod
    def _readable_ca(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"{v} is not a file")
        return v


class DeadlineSettings(_Section):
    immediate_working_days: int = Field(3, ge=0)  # 立行立改
    long_term_review_working_days: int = Field(20, ge=1)  # 长期坚持 review cadence


class LadderStep(_Section):
    key: str
    kind: LevelKind
    offset: int  # working days relative to the due date (negative: before it)
    audience: list[Audience]


def default_ladder() -> list[LadderStep]:
    return [
        LadderStep(key="remind_before", kind="remind", offset=-3, audience=["unit_contact"]),
        LadderStep(key="remind_due", kind="remind", offset=0, audience=["unit_contact"]),
        LadderStep(key="urge", kind="urge", offset=1, audience=["unit_contact", "unit_leader"]),
        LadderStep(key="supervise", kind="supervise", offset=5,
                   audience=["unit_contact", "unit_leader", "group"]),
        LadderStep(key="notify", kind="notify", offset=10,
                   audience=["unit_contact", "unit_leader", "group", "command_office"]),
    ]


class SupervisionSettings(_Section):
    max_extensions: int = Field(1, ge=0)  # 延期 requests a finding may have approved
    recheck_working_days: int = Field(30, ge=1)  # 回头看 after closing
    blue_window: int = Field(3, ge=0)  # 蓝: due within this many working days
    red_from: str = "supervise"  # 红 from this ladder step key on
    yellows_make_red: int = Field(2, ge=0)  # a unit with this many 黄 findings is 红 (0: off)
    notice_reply_working_days: int = Field(5, ge=1)  # 督办通知: reply within
    ack_working_days: int = Field(1, ge=1)  # 签收 due this many working days after import or reassignment
    progress_threshold_working_days: int = Field(20, ge=1)  # deadline further than this: 阶段性进展 owed
    progress_every_working_days: int = Field(10, ge=1)  # one 阶段性进展 every this many working days


class CalendarSettings(_Section):
    # From this day (MM-DD) on, while next year has no official schedule, the run summary, the form's
    # 整改进度 page and the weekly digest say so (with the command that fixes it).
    warn_from: str = "11-01"
    provisional_years: int = Field(5, ge=1, le=50)  # years past the last official one filled in provisionally
    refresh_seconds: int = Field(30, ge=0)  # long-running processes (the form) re-read imported years this often

    @field_validator("warn_from")
    @classmethod
    def _month_day(cls, v: str) -> str:
        import re

        m = re.fullmatch(r"(\d{2})-(\d{2})", v)
        if not m or not (1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 31):
            raise ValueError("must be MM-DD, e.g. 11-01")
        return v


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8400, ge=1, le=65535)
    link_max_age_days: int = Field(14, ge=1)
    session_max_age_hours: int = Field(12, ge=1)
    max_upload_mib: int = Field(20, ge=1)
    api_token_max_days: int = Field(365, ge=1, le=3660)  # `rectify api-token issue --days` at most this
    trusted_proxies: list[str] = []  # addresses whose X-Forwarded-For is believed (e.g. ["127.0.0.1"])
    header_timeout: float = Field(10.0, gt=0)  # seconds a client has to send a request's headers
    keep_alive_timeout: float = Field(5.0, gt=0)  # seconds an idle connection is kept between requests
    public_docs: bool = False  # true: /docs and /openapi.json readable without signing in


class ScheduleSettings(_Section):
    # Every day, not Mon-Fri: 调休 Saturdays are working days; the flow skips days off itself.
    daily_cron: str = "0 8 * * *"
    digest_cron: str = "0 16 * * 5"
    prefect_port: int = Field(4200, ge=0, le=65535)  # `rectify serve`'s own Prefect server; 0: any free port


class BulletinSettings(_Section):
    title: str = "工作简报"
    issuer: str = "指挥部办公室"
    start_issue: int = Field(1, ge=1)  # a county already at 第19期 sets 20
    bao: str = ""  # 报：
    song: str = ""  # 送：
    fa: str = ""  # 发：
    editors: list[str] = []  # 编校
    copies: int = Field(80, ge=0)  # 共印N份
    item_list_limit: int = Field(200, ge=1)  # past this, closed items are summarised per unit
    unit_order: list[str] = []  # explicit order of units in tables; default county depts then townships


class AssessmentSettings(_Section):
    """考评 weights (rectify.core.assessment): points per rate (0..1) and the deduction per counted item.
    The current deadline's rate weighs 0 by default so that an approved extension cannot raise a score."""

    on_time: float = Field(0.0, ge=0)  # 按期销号率 (current deadline)
    on_time_original: float = Field(60.0, ge=0)  # 按原时限按期销号率
    ack: float = Field(20.0, ge=0)  # 签收及时率
    progress: float = Field(20.0, ge=0)  # 进展按时率
    overdue: float = Field(2.0, ge=0)  # per 逾期未整改 finding
    escalation: float = Field(1.0, ge=0)  # per 督办/通报 step
    rebound: float = Field(3.0, ge=0)  # per 反弹 (reopened after 回头看)
    period_days: int = Field(30, ge=1)  # `rectify assess` without --from: this many days up to --to

    def weights(self):  # -> rectify.core.assessment.Weights
        from rectify.core.assessment import Weights

        return Weights(self.on_time, self.on_time_original, self.ack, self.progress, self.overdue,
                       self.escalation, self.rebound)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECTIFY_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("var")
    database_url: str = ""  # default: sqlite file in data_dir
    timezone: str = "Asia/Shanghai"
    public_url: str = "http://127.0.0.1:8400"
    secret_key: SecretStr = SecretStr("")  # default: generated into data_dir/secret_key
    county_prefix: str = ""  # e.g. 鲁山县, stripped when matching unit names
    # e-mail addresses of the command office (指挥部办公室); RECTIFY_COMMAND_OFFICE: JSON or a,b,c
    command_office: Annotated[list[str], NoDecode] = []
    holidays_file: Path | None = None  # extra years for the working-day calendar
    calendar: CalendarSettings = CalendarSettings()
    outbox_dir: Path | None = None  # default: data_dir/outbox
    smtp: SmtpSettings = SmtpSettings()
    deadlines: DeadlineSettings = DeadlineSettings()
    ladder: list[LadderStep] = Field(default_factory=default_ladder)
    supervision: SupervisionSettings = SupervisionSettings()
    web: WebSettings = WebSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    bulletin: BulletinSettings = BulletinSettings()
    channels: ChannelSettings = ChannelSettings()  # 企业微信 / 钉钉 / SMS beside mail (rectify/channels/)
    assessment: AssessmentSettings = AssessmentSettings()

    @field_validator("command_office", mode="before")
    @classmethod
    def _address_list(cls, v: Any) -> Any:
        """The environment gives a string: a JSON list, or addresses separated by commas."""
        if not isinstance(v, str):
            return v
        text = v.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ValueError(f"not a JSON list ({exc.msg}); or give the addresses separated by commas") from None
        return [a.strip() for a in text.split(",") if a.strip()]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        import pendulum

        try:
            pendulum.timezone(v)
        except Exception as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("ladder")
    @classmethod
    def _ordered_ladder(cls, steps: list[LadderStep]) -> list[LadderStep]:
        offsets = [s.offset for s in steps]
        if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
            raise ValueError("ladder steps must have strictly increasing offsets")
        if len({s.key for s in steps}) != len(steps):
            raise ValueError("ladder step keys must be unique")
        return steps

    @model_validator(mode="after")
    def _red_step_exists(self) -> Settings:
        if self.supervision.red_from not in {s.key for s in self.ladder}:
            raise ValueError(f"supervision.red_from {self.supervision.red_from!r} is not a ladder step key")
        return self

    # The TOML file is handed in by load_settings(); env beats file, file beats defaults.
    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'rectify.db').resolve()}"

    @property
    def outbox_path(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def evidence_path(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def bulletins_path(self) -> Path:
        return self.data_dir / "bulletins"

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp.host)

    @cached_property
    def secret(self) -> str:
        """The signing secret: configured, else generated once into the data folder.

        Generated only when the file is absent: an empty or short file (a disk-full write, a `touch`,
        a bad restore) is refused, never silently replaced, since replacing it would end every session
        and link without anyone deciding so, and reading it as empty would let anyone sign links.
        """
        configured = self.secret_key.get_secret_value()
        if configured:
            return check_secret(configured, "secret_key (RECTIFY_SECRET_KEY)")
        path = self.data_dir / "secret_key"
        if path.exists():
            return check_secret(path.read_text(encoding="utf-8", errors="replace").strip(), str(path))
        ensure_private_dir(self.data_dir)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


MIN_SECRET_BITS = 256  # 32 bytes of entropy


_HEX = (set(string.digits + "abcdef"), set(string.digits + "ABCDEF"))
_B64 = set(string.ascii_letters + string.digits + "+/=-_")
_EMPTY_ZLIB = len(zlib.compress(b"", 9))


def secret_bits(secret: str) -> float:
    """A conservative estimate of a secret's entropy in bits (no estimate can be exact).

    A string that looks random (its Shannon entropy per character, bias-corrected, is at least 3/4 of
    what its alphabet allows: hex, base64, or the character classes it uses) counts its alphabet's
    bits per character, so `token_hex(32)` and `token_urlsafe(32)` reach 256; otherwise only its
    Shannon entropy counts. Capped by 1.25 × its zlib-compressed size, which catches repetition
    ("xxxx…", "test-secret-…", "password" × 20).
    """
    if not secret:
        return 0.0
    n, chars = len(secret), set(secret)
    counts = Counter(secret).values()
    shannon = -sum(c / n * math.log2(c / n) for c in counts) + (len(counts) - 1) / (2 * n * math.log(2))
    if any(chars <= h for h in _HEX):
        alphabet = 16
    elif chars <= _B64:
        alphabet = 64
    else:
        alphabet = sum(size for cls, size in ((string.digits, 10), (string.ascii_lowercase, 26),
                                              (string.ascii_uppercase, 26), (string.punctuation, 32))
                       if chars & set(cls)) + (128 if not secret.isascii() else 0)
    full = math.log2(max(alphabet, 2))
    per_char = full if shannon >= 0.75 * full else shannon
    compressed = 8 * (len(zlib.compress(secret.encode(), 9)) - _EMPTY_ZLIB)
    return min(n * min(per_char, 8.0), 1.25 * compressed)


def check_secret(secret: str, source: str) -> str:
    """The secret, or ConfigError (one line) when it is empty or weaker than 32 bytes of entropy."""
    if not secret:
        raise ConfigError(f"{source} is empty: restore it, or delete the file so a new one is generated "
                          "(all sign-in links and sessions then end)")
    if secret_bits(secret) < MIN_SECRET_BITS:
        raise ConfigError(f"{source} is too weak (about {secret_bits(secret):.0f} bits; 256 needed): use e.g. "
                          "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")
    return secret


def ensure_private_dir(path: Path) -> Path:
    """Create a folder readable by this user only (0700); an existing one is tightened to 0700.

    The data folder holds sign-in links (outbox .eml), evidence and the database.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def config_path() -> Path | None:
    explicit = os.environ.get("RECTIFY_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"RECTIFY_CONFIG points at {path}, which is not a file")
        return path
    default = Path("rectify.toml")
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        given = err.get("input")
        shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  key '{key}': {msg}{shown}")
    return "\n".join(lines)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings; any problem becomes a ConfigError that names the key."""
    path = path or config_path()
    data = _read_toml(path) if path else {}
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(path) if path else "environment")) from None
    except SettingsError as exc:  # a RECTIFY_* variable that should hold JSON does not
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else "?"
        var = "RECTIFY_" + field.upper()
        raise ConfigError(f"{var}: not valid JSON ({os.environ.get(var, '')[:60]!r}); "
                          f"give {field} as JSON, or set it in rectify.toml") from None
