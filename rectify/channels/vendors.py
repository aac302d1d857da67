"""Async adapters over the vendors' documented HTTP APIs (request/response shapes: docs/channels.md).

Each adapter sends one rendered payload to one address and returns the vendor's reference (msgid,
task_id) or raises SendError classified from the vendor's error code. Retries, backoff and concurrency
are the dispatcher's; token caching is here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from rectify.channels.errors import SendError
from rectify.channels.http import send as http_send
from rectify.channels.settings import DingtalkSettings, RobotSettings, WecomSettings
from rectify.channels.tokens import TokenCache

if TYPE_CHECKING:  # the adapters take the dispatcher's lean client (rectify.channels.http) or any httpx client
    import httpx

# 企业微信 全局错误码 (developer.work.weixin.qq.com/document/path/90313).
WECOM_STALE_TOKEN = {40014, 42001, 41001}  # invalid / expired / missing access_token
WECOM_NEVER = {81013, 60111, 60102, 40003, 82001, 40008, 44004, 45002, 40031}  # bad userid, empty/too long content
WECOM_DOWN = {40001, 40013, 40056, 48002, 60011, 60020, 40091, 301002, 93000, 93004}  # secret, corp, agent, IP, webhook
WECOM_BUSY = {-1, 45009, 45033, 45011, 45047}  # system busy, rate and concurrency limits
# 钉钉 服务端错误码 (open.dingtalk.com/document/orgapp/server-api-error-codes).
DINGTALK_STALE_TOKEN = {40014, 42001, 41001}
DINGTALK_NEVER = {33012, 40035, 400002, 310000, 300001, 300004}  # bad userid / parameter; robot sign/keyword/token
DINGTALK_DOWN = {40089, 40078, 43001, 88, 60011, 60020, 33001}  # bad appkey/secret, no permission, IP not allowed
DINGTALK_BUSY = {-1, 90002, 90006, 90018, 90019, 130101, 410100, 660026}  # busy, flow control
# getsendresult's forbidden_list codes (the 获取工作通知消息的发送结果 page's table; docs/channels.md).
DINGTALK_FORBIDDEN = {"143103": "企业单应用消息发送人次QPM超限", "143104": "企业每分钟发送人次QPM超限",
                      "143105": "单应用给单人每日推送量超限", "143106": "单应用给单人推送重复消息超限",
                      "143203": "ISV单应用发送给单企业人次QPM超限", "143204": "ISV单应用发送给所有企业人次QPM超限",
                      "143205": "单应用给单人每日推送量超限", "143206": "单应用给单人推送重复消息超限"}
DINGTALK_FORBIDDEN_BUSY = {"143103", "143104", "143203", "143204"}  # too fast: not sent, send again later
DINGTALK_FORBIDDEN_REPEAT = {"143106", "143206"}  # the same content already reached this person today


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def json_answer(resp: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON body; HTTP-level trouble (429, 5xx, not JSON) becomes a transient SendError."""
    if resp.status_code == 429 or resp.status_code >= 500:
        raise SendError(f"{what}: HTTP {resp.status_code}", retry_after=_retry_after(resp))
    if resp.status_code >= 400:
        raise SendError(f"{what}: HTTP {resp.status_code}", down=True)
    try:
        data = resp.json()
    except ValueError:
        raise SendError(f"{what}: answer is not JSON (HTTP {resp.status_code})") from None
    if not isinstance(data, dict):
        raise SendError(f"{what}: unexpected answer")
    return data


def classify(code: int, message: str, what: str, *, stale: set[int], never: set[int], down: set[int],
             busy: set[int]) -> SendError:
    text = f"{what}: {code} {message}".strip()
    if code in stale:
        return SendError(text, stale_token=True)
    if code in never:
        return SendError(text, never=True)
    if code in down:
        return SendError(text, down=True)
    return SendError(text)  # busy codes and anything unknown: transient, retried then left pending


async def fetch_token(http: httpx.AsyncClient, url: str, params: dict[str, Any], what: str, *,
                      down: set[int], busy: set[int]) -> tuple[str, float]:
    """GET a vendor's access token (企业微信 and 钉钉 answer alike): (token, seconds it lives). A refusal is
    the channel's problem, never one recipient's: credentials and unknown apps count as down."""
    data = json_answer(await http_send(http, "GET", url, params=params), what)
    code = int(data.get("errcode", 0))
    if code != 0 or not data.get("access_token"):
        raise classify(code, str(data.get("errmsg", "")), what, stale=set(), never=set(), down=down, busy=busy)
    return str(data["access_token"]), float(data.get("expires_in", 7200))


class Wecom:
    """企业微信 application messages: gettoken, then message/send to a userid (markdown or textcard)."""

    name = "wecom"

    def __init__(self, cfg: WecomSettings, http: httpx.AsyncClient, cache: TokenCache | None = None) -> None:
        self.cfg = cfg
        self.http = http
        self.tokens = cache or TokenCache(self._fetch_token)

    def secrets(self) -> list[str]:
        return [self.cfg.secret.get_secret_value()]

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"corpid": self.cfg.corp_id, "corpsecret": self.cfg.secret.get_secret_value()}
        return await fetch_token(self.http, f"{self.cfg.base_url}/cgi-bin/gettoken", params, "企业微信 gettoken",
                                 down=WECOM_DOWN | WECOM_NEVER, busy=WECOM_BUSY)

    def body(self, to: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.cfg.msgtype == "textcard":
            content: dict[str, Any] = {"title": payload["title"], "description": payload["description"],
                                       "url": payload["url"], "btntxt": payload.get("button", "详情")}
        else:
            content = {"content": payload["markdown"]}
        # Duplicate check: the same request within 30 minutes is not delivered twice - a resend after a
        # crash between send and record does not reach the person a second time.
        return {"touser": to, "msgtype": self.cfg.msgtype, "agentid": self.cfg.agent_id, self.cfg.msgtype: content,
                "enable_duplicate_check": 1, "duplicate_check_interval": 1800}

    async def send(self, to: str, payload: dict[str, Any]) -> str:
        token = await self.tokens.get()
        resp = await http_send(self.http, "POST", f"{self.cfg.base_url}/cgi-bin/message/send",
                          params={"access_token": token}, json=self.body(to, payload))
        data = json_answer(resp, "企业微信 message/send")
        code = int(data.get("errcode", 0))
        if code != 0:
            err = classify(code, str(data.get("errmsg", "")), "企业微信 message/send", stale=WECOM_STALE_TOKEN,
                           never=WECOM_NEVER, down=WECOM_DOWN, busy=WECOM_BUSY)
            if err.stale_token:
                self.tokens.invalidate(token)
            raise err
        invalid = {u for u in str(data.get("invaliduser", "")).split("|") if u}
        if to.lower() in {u.lower() for u in invalid}:  # the vendor lower-cases what it returns
            raise SendError(f"企业微信 message/send: invaliduser {to}", never=True)
        return str(data.get("msgid", ""))


class Dingtalk:
    """钉钉 work notifications: gettoken (appkey/appsecret), then corpconversation/asyncsend_v2."""

    name = "dingtalk"

    def __init__(self, cfg: DingtalkSettings, http: httpx.AsyncClient, cache: TokenCache | None = None) -> None:
        self.cfg = cfg
        self.http = http
        self.tokens = cache or TokenCache(self._fetch_token)

    def secrets(self) -> list[str]:
        return [self.cfg.app_secret.get_secret_value()]

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"appkey": self.cfg.app_key, "appsecret": self.cfg.app_secret.get_secret_value()}
        return await fetch_token(self.http, f"{self.cfg.base_url}/gettoken", params, "钉钉 gettoken",
                                 down=DINGTALK_DOWN | DINGTALK_NEVER, busy=DINGTALK_BUSY)

    def body(self, to: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"agent_id": self.cfg.agent_id, "userid_list": to,
                "msg": {"msgtype": "markdown", "markdown": {"title": payload["title"], "text": payload["markdown"]}}}

    async def send(self, to: str, payload: dict[str, Any]) -> str:
        token = await self.tokens.get()
        resp = await http_send(self.http, "POST", f"{self.cfg.base_url}/topapi/message/corpconversation/asyncsend_v2",
                          params={"access_token": token}, json=self.body(to, payload))
        data = json_answer(resp, "钉钉 asyncsend_v2")
        code = int(data.get("errcode", 0))
        if code != 0:
            message = str(data.get("sub_msg") or data.get("errmsg", ""))
            sub = str(data.get("sub_code", ""))
            if code == 88 and sub.isdigit():  # 鉴权异常: the real reason is in sub_code
                code = int(sub)
            err = classify(code, message, "钉钉 asyncsend_v2", stale=DINGTALK_STALE_TOKEN, never=DINGTALK_NEVER,
                           down=DINGTALK_DOWN, busy=DINGTALK_BUSY)
            if err.stale_token:
                self.tokens.invalidate(token)
            raise err
        return str(data.get("task_id", ""))

    async def send_result(self, task_id: str) -> dict[str, Any]:
        """getsendresult of one asyncsend task (钉钉 keeps it 24 hours): its `send_result` lists."""
        token = await self.tokens.get()
        resp = await http_send(self.http, "POST", f"{self.cfg.base_url}/topapi/message/corpconversation/getsendresult",
                               params={"access_token": token}, json={"agent_id": self.cfg.agent_id,
                                                                    "task_id": int(task_id)})
        data = json_answer(resp, "钉钉 getsendresult")
        code = int(data.get("errcode", 0))
        if code != 0:
            err = classify(code, str(data.get("sub_msg") or data.get("errmsg", "")), "钉钉 getsendresult",
                           stale=DINGTALK_STALE_TOKEN, never=set(), down=DINGTALK_DOWN, busy=DINGTALK_BUSY)
            if err.stale_token:
                self.tokens.invalidate(token)
            raise err
        result = data.get("send_result")
        return result if isinstance(result, dict) else {}


def send_verdict(userid: str, result: dict[str, Any]) -> tuple[str, str]:
    """What 钉钉's send result says about one recipient: (outcome, the vendor's words). Outcomes: delivered
    (read or unread; or a repeat of what already reached them today), failed (invalid userid, refused,
    failed), retry (flow control: it was not sent), unknown (the task is not finished yet)."""

    def listed(key: str) -> bool:
        value = result.get(key) or []
        names = value.split(",") if isinstance(value, str) else [str(v) for v in value]
        return userid in names or userid.lower() in (n.lower() for n in names)

    if listed("invalid_user_id_list"):
        return "failed", f"钉钉 getsendresult: 无效的userid {userid} (invalid_user_id_list)"
    refused = [f for f in result.get("forbidden_list") or [] if isinstance(f, dict) and f.get("userid") == userid]
    if refused or listed("forbidden_user_id_list"):
        code = str(refused[0].get("code", "")) if refused else ""
        text = f"钉钉 getsendresult: 被流控 {code} {DINGTALK_FORBIDDEN.get(code, '')}".strip()
        if code in DINGTALK_FORBIDDEN_REPEAT:
            return "delivered", text
        return ("retry" if code in DINGTALK_FORBIDDEN_BUSY else "failed"), text
    if listed("failed_user_id_list"):
        return "failed", f"钉钉 getsendresult: 发送失败 {userid} (failed_user_id_list)"
    if listed("read_user_id_list") or listed("unread_user_id_list"):
        return "delivered", ""
    return "unknown", ""


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉 robot 加签: Base64(HmacSHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded by the query."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Robot:
    """A group chat robot (企业微信 群机器人 / 钉钉 自定义机器人): one markdown message per POST."""

    def __init__(self, cfg: RobotSettings, http: httpx.AsyncClient, clock=time.time) -> None:
        self.cfg = cfg
        self.http = http
        self.clock = clock
        self.name = f"{cfg.vendor}_robot"

    def secrets(self) -> list[str]:
        url = self.cfg.webhook.get_secret_value()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        return [url, self.cfg.sign_secret.get_secret_value(), *(v for vs in query.values() for v in vs)]

    async def send(self, to: str, payload: dict[str, Any]) -> str:
        url = self.cfg.webhook.get_secret_value()
        params: dict[str, str] = {}
        if self.cfg.vendor == "dingtalk":
            body: dict[str, Any] = {"msgtype": "markdown",
                                    "markdown": {"title": payload["title"], "text": payload["markdown"]}}
            secret = self.cfg.sign_secret.get_secret_value()
            if secret:
                ts = int(self.clock() * 1000)
                params = {"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)}
            codes = dict(stale=set(), never=DINGTALK_NEVER, down=DINGTALK_DOWN, busy=DINGTALK_BUSY)
        else:
            body = {"msgtype": "markdown", "markdown": {"content": payload["markdown"]}}
            codes = dict(stale=set(), never=WECOM_NEVER, down=WECOM_DOWN, busy=WECOM_BUSY)
        what = "钉钉机器人" if self.cfg.vendor == "dingtalk" else "企业微信机器人"
        if params:  # the webhook's own query (key / access_token) stays; httpx `params=` would replace it
            url += ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(params)
        resp = await http_send(self.http, "POST", url, json=body)
        data = json_answer(resp, what)
        code = int(data.get("errcode", 0))
        if code != 0:
            raise classify(code, str(data.get("errmsg", "")), what, **codes)
        return "ok"
