"""`[channels]` in rectify.toml: which letters go beyond mail, when, how many, and the vendors' settings.

Mail stays the channel of record; these channels carry a short card (IM) or one line (SMS) of the same
letter. Every secret is a SecretStr: it never prints in a repr, a log line or `rectify outbox list`.
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Channel = Literal["wecom", "dingtalk", "sms"]
CHANNELS: tuple[str, ...] = ("wecom", "dingtalk", "sms")  # person channels, in sending order
ROBOTS: tuple[str, ...] = ("wecom_robot", "dingtalk_robot")  # group-chat channels (督导组 summaries)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WecomSettings(_Section):
    """企业微信 self-built application (自建应用): 企业ID, the app's Secret and AgentId."""

    corp_id: str = ""
    secret: SecretStr = SecretStr("")
    agent_id: int = 0
    msgtype: Literal["markdown", "textcard"] = "markdown"
    base_url: str = "https://qyapi.weixin.qq.com"  # tests point this at a loopback fake

    @property
    def configured(self) -> bool:
        return bool(self.corp_id and self.secret.get_secret_value() and self.agent_id)


class DingtalkSettings(_Section):
    """钉钉 internal application (企业内部应用): AppKey, AppSecret and AgentId for 工作通知."""

    app_key: str = ""
    app_secret: SecretStr = SecretStr("")
    agent_id: int = 0
    base_url: str = "https://oapi.dingtalk.com"
    # asyncsend_v2 only accepts a task; who it did not reach (an invalid userid …) comes from getsendresult,
    # read after the sends for up to this many seconds, then at later dispatches (钉钉 keeps it 24 hours).
    result_wait: float = Field(5.0, ge=0, le=300)

    @property
    def configured(self) -> bool:
        return bool(self.app_key and self.app_secret.get_secret_value() and self.agent_id)


class RobotSettings(_Section):
    """A group chat's robot (群机器人) that gets a 督导组's daily summary."""

    group: str  # the supervision group's name, as in the directory (第一督导组)
    vendor: Literal["wecom", "dingtalk"]
    webhook: SecretStr  # the full webhook URL: its key / access_token is the credential
    sign_secret: SecretStr = SecretStr("")  # 钉钉 加签 secret (SEC…); empty when the robot uses keywords/IPs


class SmsSignSettings(_Section):
    """An HMAC over the request, as the gateway documents it: which key, over what, into which header."""

    key: SecretStr = SecretStr("")
    algorithm: Literal["sha256", "sha1", "md5"] = "sha256"
    message: str = "{{ timestamp }}{{ body }}"  # Jinja2 over timestamp, nonce, body, mobile
    encoding: Literal["hex", "base64"] = "hex"
    header: str = "X-Signature"  # the signature goes into this header …
    param: str = ""  # … or, if set, into this query parameter instead

    @property
    def configured(self) -> bool:
        return bool(self.key.get_secret_value())


class SmsSettings(_Section):
    """An SMS gateway (政务短信平台) described as an HTTP request template."""

    url: str = ""
    method: Literal["POST", "GET", "PUT"] = "POST"
    headers: dict[str, str] = {}  # Jinja2 values (timestamp, nonce, signature are available)
    body: str = '{"mobile": {{ mobile|tojson }}, "content": {{ text|tojson }}}'  # Jinja2 over mobile, text, …
    content_type: str = "application/json; charset=utf-8"
    token: SecretStr = SecretStr("")  # available to headers/body as {{ token }} (an API key, say)
    sign: SmsSignSettings = SmsSignSettings()
    signature: str = "【整改督办】"  # the operator-registered 短信签名 the text starts with
    max_chars: int = Field(70, ge=20, le=1000)  # one segment: 70 characters (67 per part when split)
    ok_field: str = "code"  # dotted path into the JSON answer; success when it equals ok_value
    ok_value: str = "0"
    error_field: str = "message"  # the gateway's words, recorded on the row
    never_codes: list[str] = ["blacklist", "invalid_mobile"]  # answers that fail the row at once

    @property
    def configured(self) -> bool:
        return bool(self.url)


class ChannelSettings(_Section):
    # Which channels each ladder level's letters go to, besides mail. `other`: letters whose most urgent
    # item is not a ladder step (长期坚持 review, 移交, 回头看, sign-off).
    remind: list[Channel] = ["wecom", "dingtalk"]
    urge: list[Channel] = ["wecom", "dingtalk"]
    supervise: list[Channel] = ["wecom", "dingtalk", "sms"]
    notify: list[Channel] = ["wecom", "dingtalk", "sms"]
    other: list[Channel] = []
    # Quiet hours: IM and SMS go out only between these local times on working days; rows queued
    # outside wait for the next working morning.
    work_start: time = time(8, 30)
    work_end: time = time(18, 0)
    daily_cap: dict[str, int] = {}  # channel → at most this many rows a day (most urgent first); none: no cap
    max_attempts: int = Field(5, ge=1)
    concurrency: int = Field(4, ge=1, le=32)
    timeout: float = Field(10.0, gt=0)
    tries: int = Field(3, ge=1, le=10)  # per send, for transient errors, with exponential backoff
    backoff: float = Field(0.5, ge=0)  # seconds before the second try; doubles; a Retry-After wins
    wecom: WecomSettings = WecomSettings()
    dingtalk: DingtalkSettings = DingtalkSettings()
    sms: SmsSettings = SmsSettings()
    robots: list[RobotSettings] = []

    @field_validator("daily_cap")
    @classmethod
    def _known_channels(cls, caps: dict[str, int]) -> dict[str, int]:
        for name, cap in caps.items():
            if name not in CHANNELS + ROBOTS:
                raise ValueError(f"unknown channel {name!r}: one of {', '.join(CHANNELS + ROBOTS)}")
            if cap < 0:
                raise ValueError(f"daily_cap.{name} must be 0 or more")
        return caps

    def configured(self) -> list[str]:
        """Person channels with their vendor settings filled in."""
        return [c for c in CHANNELS if getattr(self, c).configured]

    def for_level(self, top_kind: str) -> list[str]:
        """The configured channels a letter whose most urgent item is `top_kind` goes to."""
        wanted = getattr(self, top_kind, None) if top_kind in ("remind", "urge", "supervise", "notify") \
            else self.other
        ready = self.configured()
        return [c for c in (wanted or []) if c in ready]
