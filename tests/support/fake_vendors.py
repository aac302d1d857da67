"""Fake 企业微信, 钉钉 and SMS-gateway servers on 127.0.0.1, implementing the documented request and answer
shapes (docs/channels.md): token endpoints, send endpoints, error codes, rate limits.

One threaded HTTP server serves every vendor's paths. Tests script it: expire the tokens, answer the next
sends with 429 or a vendor code, list userids the corp does not have, blocked numbers, 钉钉 flow-control
refusals, or stop it (connection refused) and start it again on the same port; slow it down (`delay`: a
send is delivered, then answered that much later) and act on a delivery (`after_delivery`: a kill).

钉钉 as documented: asyncsend_v2 accepts any userid and returns a task_id; the task's getsendresult then
lists the userid as invalid, forbidden (with a forbidden_list code), or read/unread once the task is done
(`task_seconds` after the send).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CORP_ID, WECOM_SECRET, WECOM_AGENT = "ww-fake-corp", "wecom-secret-Zq81", 1000002
DING_KEY, DING_SECRET, DING_AGENT = "ding-fake-key", "ding-secret-Kp27", 3000001
ROBOT_KEY, ROBOT_TOKEN, ROBOT_SIGN = "robot-key-Wm55", "robot-token-Dt66", "SEC-robot-sign-Hx77"
SMS_TOKEN, SMS_KEY = "sms-token-Qa11", "sms-hmac-key-Rb22"
SECRETS = (WECOM_SECRET, DING_SECRET, ROBOT_KEY, ROBOT_TOKEN, ROBOT_SIGN, SMS_TOKEN, SMS_KEY)


@dataclass
class Delivery:
    vendor: str  # wecom / dingtalk / wecom_robot / dingtalk_robot / sms
    to: str
    body: dict[str, Any]


class FakeVendors:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.requests: list[str] = []  # every path with its query, as received
        self.tokens: dict[str, float] = {}  # token → expiry (server clock)
        self.token_fetches: Counter = Counter()
        self.token_lifetime = 7200
        self.invalid_users: set[str] = set()
        self.blocked_numbers: set[str] = set()
        self.forbidden: dict[str, str] = {}  # 钉钉 userid → forbidden_list code its task reports
        self.task_seconds = 0.0  # a 钉钉 task reports its result this long after the send
        self.tasks: dict[int, tuple[str, float]] = {}  # task_id → (userid, done at)
        self.result_reads: Counter = Counter()  # task_id → getsendresult calls
        self.delay = 0.0  # seconds between delivering a send and answering it
        self.after_delivery: Callable[[Delivery, int], None] | None = None  # (delivery, how many so far)
        self.scripted: dict[str, deque[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- scripting ---------------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: 0.0 for t in self.tokens}

    def answer_next(self, vendor: str, status: int, body: dict[str, Any], times: int = 1,
                    headers: dict[str, str] | None = None) -> None:
        """The next `times` sends to this vendor get this answer instead of being delivered."""
        with self.lock:
            self.scripted.setdefault(vendor, deque()).extend([(status, body, headers or {})] * times)

    def to(self, vendor: str) -> list[str]:
        with self.lock:
            return [d.to for d in self.deliveries if d.vendor == vendor]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeVendors:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the vendors' servers do
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self, None)

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", 0))
                fake._handle(self, self.rfile.read(size))

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # --- the vendors -------------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler, raw: bytes | None) -> None:
        parts = urlsplit(req.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append(req.path)
        status, body, headers = self._route(parts.path, query, raw, req.headers)
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json; charset=utf-8")
            req.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                req.send_header(k, v)
            req.end_headers()
            req.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the sender died before our answer (a kill test)
            req.close_connection = True

    def _issue(self, vendor: str) -> dict[str, Any]:
        with self.lock:
            self.token_fetches[vendor] += 1
            token = f"{vendor}-token-{self.token_fetches[vendor]}"
            self.tokens[token] = time.monotonic() + self.token_lifetime
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_lifetime}

    def _token_ok(self, token: str | None) -> int:
        with self.lock:
            if token is None:
                return 41001
            if token not in self.tokens:
                return 40014
            return 0 if self.tokens[token] > time.monotonic() else 42001

    def _scripted(self, vendor: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        with self.lock:
            queue = self.scripted.get(vendor)
            return queue.popleft() if queue else None

    def _deliver(self, vendor: str, to: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.deliveries.append(Delivery(vendor, to, body))
            count = len(self.deliveries)
        if self.after_delivery is not None:
            self.after_delivery(self.deliveries[count - 1], count)
        if self.delay:
            time.sleep(self.delay)  # delivered, not yet answered: a sender killed now never hears of it

    def _task(self, to: str, body: dict[str, Any]) -> int:
        """A 钉钉 asyncsend task: delivered unless the userid is unknown or refused; its id."""
        with self.lock:
            task_id = 1000 + len(self.tasks)
            self.tasks[task_id] = (to, time.monotonic() + self.task_seconds)
        if to not in self.invalid_users and to not in self.forbidden:
            self._deliver("dingtalk", to, body)
        return task_id

    def _send_result(self, task_id: int) -> dict[str, Any]:
        with self.lock:
            self.result_reads[task_id] += 1
            to, done = self.tasks[task_id]
        lists: dict[str, Any] = {k: [] for k in ("invalid_user_id_list", "forbidden_user_id_list",
                                                 "failed_user_id_list", "read_user_id_list", "unread_user_id_list")}
        lists["forbidden_list"] = []
        if time.monotonic() < done:
            return lists  # still running: nobody listed yet
        if to in self.invalid_users:
            lists["invalid_user_id_list"].append(to)
        elif to in self.forbidden:
            lists["forbidden_user_id_list"].append(to)
            lists["forbidden_list"].append({"code": self.forbidden[to], "count": 1, "userid": to})
        else:
            lists["unread_user_id_list"].append(to)
        return lists

    def _route(self, path: str, q: dict[str, str], raw: bytes | None, headers) -> tuple[int, dict, dict]:
        body = json.loads(raw) if raw else {}
        if path == "/cgi-bin/gettoken":
            if q.get("corpid") != CORP_ID or q.get("corpsecret") != WECOM_SECRET:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}, {}
            return 200, self._issue("wecom"), {}
        if path == "/cgi-bin/message/send":
            code = self._token_ok(q.get("access_token"))
            if code:
                return 200, {"errcode": code, "errmsg": "access_token expired" if code == 42001 else "invalid"}, {}
            if (s := self._scripted("wecom")) is not None:
                return s
            msgtype = body.get("msgtype")
            assert body.get("agentid") == WECOM_AGENT and msgtype in ("markdown", "textcard"), body
            assert (body[msgtype].get("content") if msgtype == "markdown" else body[msgtype].get("url")), body
            to = body["touser"]
            if to in self.invalid_users:
                return 200, {"errcode": 81013, "errmsg": "user & party & tag all invalid",
                             "invaliduser": to.lower()}, {}
            self._deliver("wecom", to, body)
            return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"msg{len(self.deliveries)}"}, {}
        if path == "/gettoken":
            if q.get("appkey") != DING_KEY or q.get("appsecret") != DING_SECRET:
                return 200, {"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"}, {}
            return 200, self._issue("dingtalk"), {}
        if path == "/topapi/message/corpconversation/asyncsend_v2":
            code = self._token_ok(q.get("access_token"))
            if code:
                return 200, {"errcode": code, "errmsg": "不合法的access_token"}, {}
            if (s := self._scripted("dingtalk")) is not None:
                return s
            assert body.get("agent_id") == DING_AGENT and body["msg"]["msgtype"] == "markdown", body
            return 200, {"errcode": 0, "task_id": self._task(body["userid_list"], body), "request_id": "req"}, {}
        if path == "/topapi/message/corpconversation/getsendresult":
            code = self._token_ok(q.get("access_token"))
            if code:
                return 200, {"errcode": code, "errmsg": "不合法的access_token"}, {}
            if body.get("agent_id") != DING_AGENT or body.get("task_id") not in self.tasks:
                return 200, {"errcode": 400002, "errmsg": "无效的参数"}, {}
            return 200, {"errcode": 0, "errmsg": "ok", "send_result": self._send_result(body["task_id"]),
                         "request_id": "req"}, {}
        if path == "/cgi-bin/webhook/send":
            if q.get("key") != ROBOT_KEY:
                return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, {}
            if (s := self._scripted("wecom_robot")) is not None:
                return s
            self._deliver("wecom_robot", q["key"], body)
            return 200, {"errcode": 0, "errmsg": "ok"}, {}
        if path == "/robot/send":
            ts = q.get("timestamp", "0")
            want = base64.b64encode(hmac.new(ROBOT_SIGN.encode(), f"{ts}\n{ROBOT_SIGN}".encode(),
                                             hashlib.sha256).digest()).decode()
            if q.get("access_token") != ROBOT_TOKEN:
                return 200, {"errcode": 300001, "errmsg": "token is not exist"}, {}
            if q.get("sign") != want or abs(time.time() * 1000 - int(ts)) > 3600_000:
                return 200, {"errcode": 310000, "errmsg": "sign not match"}, {}
            self._deliver("dingtalk_robot", q["access_token"], body)
            return 200, {"errcode": 0, "errmsg": "ok"}, {}
        if path == "/sms/send":
            if (s := self._scripted("sms")) is not None:
                return s
            ts = headers.get("X-Timestamp", "")
            want = hmac.new(SMS_KEY.encode(), f"{ts}{raw.decode() if raw else ''}".encode(), hashlib.sha256).hexdigest()
            if headers.get("X-Signature") != want or headers.get("Authorization") != f"Bearer {SMS_TOKEN}":
                return 401, {"code": "auth", "message": "签名错误"}, {}
            if body["mobile"] in self.blocked_numbers:
                return 200, {"code": "blacklist", "message": "号码在黑名单中"}, {}
            self._deliver("sms", body["mobile"], body)
            return 200, {"code": "0", "message": "ok", "id": f"sms{len(self.deliveries)}"}, {}
        return 404, {"errcode": 404, "errmsg": "not found"}, {}


def channel_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """A `[channels]` section pointing every vendor at the fake (model_validate input)."""
    cfg: dict[str, Any] = {
        "wecom": {"corp_id": CORP_ID, "secret": WECOM_SECRET, "agent_id": WECOM_AGENT, "base_url": url},
        "dingtalk": {"app_key": DING_KEY, "app_secret": DING_SECRET, "agent_id": DING_AGENT, "base_url": url},
        "sms": {"url": f"{url}/sms/send", "token": SMS_TOKEN,
                "headers": {"Authorization": "Bearer {{ token }}", "X-Timestamp": "{{ timestamp }}"},
                "sign": {"key": SMS_KEY, "message": "{{ timestamp }}{{ body }}", "header": "X-Signature"}},
        "robots": [{"group": "第一督导组", "vendor": "wecom", "webhook": f"{url}/cgi-bin/webhook/send?key={ROBOT_KEY}"},
                   {"group": "第二督导组", "vendor": "dingtalk",
                    "webhook": f"{url}/robot/send?access_token={ROBOT_TOKEN}", "sign_secret": ROBOT_SIGN}],
        "backoff": 0.0,
    }
    cfg.update(overrides)
    return cfg
