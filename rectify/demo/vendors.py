"""The demo's 企业微信, 钉钉, robot and SMS endpoints, in process: an httpx MockTransport answering the
documented shapes (docs/channels.md). No socket is opened, nothing leaves the machine; the demo counts
what each "vendor" received."""

from __future__ import annotations

import json
from collections import Counter

import httpx

DEMO_SECRET = "demo-only-secret"  # the demo config's credentials: fake, and checked here like a vendor would


class DemoVendors:
    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.tasks: dict[int, str] = {}  # 钉钉 task_id → userid (its getsendresult: unread)
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        if path in ("/cgi-bin/gettoken", "/gettoken"):
            if DEMO_SECRET not in (q.get("corpsecret"), q.get("appsecret")):
                return httpx.Response(200, json={"errcode": 40001, "errmsg": "invalid credential"})
            return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "access_token": "demo-token",
                                             "expires_in": 7200})
        if path == "/cgi-bin/message/send" and body.get("touser"):
            self.received["wecom"] += 1
            return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "demo"})
        if path == "/topapi/message/corpconversation/asyncsend_v2" and body.get("userid_list"):
            self.received["dingtalk"] += 1
            self.tasks[self.received["dingtalk"]] = body["userid_list"]
            return httpx.Response(200, json={"errcode": 0, "task_id": self.received["dingtalk"], "request_id": "d"})
        if path == "/topapi/message/corpconversation/getsendresult" and body.get("task_id") in self.tasks:
            return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "send_result": {
                "unread_user_id_list": [self.tasks[body["task_id"]]]}})
        if path in ("/cgi-bin/webhook/send", "/robot/send"):
            self.received["wecom_robot" if path.startswith("/cgi-bin") else "dingtalk_robot"] += 1
            return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})
        if path == "/sms/send" and body.get("mobile"):
            self.received["sms"] += 1
            return httpx.Response(200, json={"code": "0", "message": "ok", "id": f"sms{self.received['sms']}"})
        return httpx.Response(404, json={"errcode": 404, "errmsg": "not found"})
