"""The bare floor of the IM/SMS sending, for bench/channels.py: the day's 企业微信 and SMS rows, as the channel
run queued them, sent again with nothing but asyncio streams - no outbox, no claims, no marks, no retries -
to a fresh fake vendor, over keep-alive connections, as many per channel as the run used. What it costs is
what the HTTP exchanges themselves cost in Python here; Rectify's sender is compared with it in the same run.

    .venv/bin/python bench/channels_floor.py DATABASE_URL PORT CONCURRENCY   (prints one JSON line)

The requests are written by hand from the vendors' documented shapes (docs/channels.md), not by Rectify's
code: 企业微信 gettoken once, then message/send (markdown) with the duplicate check; the SMS gateway's JSON body
with the same signature recipe as the fake vendors' settings (HMAC-SHA256 over timestamp + body). Every answer
is read whole and its JSON checked, as the sender does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import fake_vendors as fv  # noqa: E402  (the fake's credentials)


def rows(url: str) -> dict[str, list[dict]]:
    """The run's 企业微信 and SMS rows (their stored payloads), by channel, in id order."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            got = conn.execute(text("SELECT o.channel, b.message FROM outbox o JOIN outbox_bodies b ON b.id = o.id "
                                    "WHERE o.channel IN ('wecom', 'sms') ORDER BY o.id")).all()
    finally:
        engine.dispose()
    out: dict[str, list[dict]] = {"wecom": [], "sms": []}
    for channel, message in got:
        out[channel].append(json.loads(bytes(message)))
    return out


async def _answer(reader: asyncio.StreamReader) -> dict:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    return json.loads(await reader.readexactly(length))


def _wecom(payload: dict, token: str) -> bytes:
    body = json.dumps({"touser": payload["to"], "msgtype": "markdown", "agentid": fv.WECOM_AGENT,
                       "markdown": {"content": payload["markdown"]}, "enable_duplicate_check": 1,
                       "duplicate_check_interval": 1800}, ensure_ascii=False).encode()
    return (f"POST /cgi-bin/message/send?access_token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def _sms(payload: dict) -> bytes:
    body = json.dumps({"mobile": payload["to"], "content": payload["text"]})
    stamp = str(int(time.time() * 1000))
    signature = hmac.new(fv.SMS_KEY.encode(), (stamp + body).encode(), hashlib.sha256).hexdigest()
    return (f"POST /sms/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Authorization: Bearer {fv.SMS_TOKEN}\r\nX-Timestamp: {stamp}\r\nX-Signature: {signature}\r\n"
            f"Content-Length: {len(body.encode())}\r\n\r\n").encode() + body.encode()


async def _connection(port: int, requests: list[bytes], ok: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            writer.write(request)
            answer = await _answer(reader)
            if str(answer.get(ok)) != "0":
                raise RuntimeError(f"the fake vendor refused a request: {answer}")
    finally:
        writer.close()
    return len(requests)


async def send_all(port: int, work: dict[str, list[dict]], concurrency: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /cgi-bin/gettoken?corpid={fv.CORP_ID}&corpsecret={fv.WECOM_SECRET} HTTP/1.1\r\n"
                 "Host: 127.0.0.1\r\n\r\n".encode())
    token = (await _answer(reader))["access_token"]
    writer.close()
    jobs = []
    for channel, payloads in work.items():
        requests = [_wecom(p, token) if channel == "wecom" else _sms(p) for p in payloads]
        ok = "errcode" if channel == "wecom" else "code"
        parts = [requests[k::concurrency] for k in range(concurrency)]
        jobs += [_connection(port, part, ok) for part in parts if part]
    return 1 + sum(await asyncio.gather(*jobs))


def main() -> None:
    url, port, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    work = rows(url)
    start, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    sent = asyncio.run(send_all(port, work, concurrency))  # building the requests included, as in the sender
    wall, end = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime
    print(json.dumps({"cpu_s": cpu, "wall_s": wall, "requests": sent,
                      "rows": {k: len(v) for k, v in work.items()}}), flush=True)


if __name__ == "__main__":
    main()
