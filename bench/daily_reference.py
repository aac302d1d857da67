"""The bare reference for bench/daily_run.py: the same day's mail done the plainest way, in one process.

Plain SQL (sqlite3 / psycopg, no ORM), the ladder's levels from the pure core and the long-term items' 复查
requests (so it sends the run's letter count: issue 14 asks for the same mail count), Jinja2 (one template for
the text and one for the HTML), compat32 MIME (email.mime, `as_bytes`), one small DOCX per unit at the
督办 rung (zipfile around a fixed document.xml), the levels and one outbox-like row per message written
in one transaction, then aiosmtplib over 20 connections (or as many as the
fourth argument says). What it leaves out is what Rectify adds on
purpose: the durable outbox with claims, compare-and-set, signed links, routing rules, the per-unit
colours, the notices' numbering and official layout. Run by daily_run.py on a copy of the database;
prints `RESULT {json}`.
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
import sys
import time
import zipfile
from collections import defaultdict
from datetime import date
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from xml.sax.saxutils import escape

TEXT = """{{ who }}：
截至{{ today }}，你有{{ items|length }}项整改任务需要关注：
{% for i in items[:300] %}{{ i.code }} {{ i.problem }}（{{ i.kind }}，整改时限{{ i.due }}）
{% endfor %}"""
HTML = """<p>{{ who }}：</p><p>截至{{ today }}，你有{{ items|length }}项整改任务需要关注：</p><table>
{% for i in items[:300] %}<tr><td>{{ i.code }}</td><td>{{ i.problem }}</td><td>{{ i.kind }}</td>
<td>{{ i.due }}</td></tr>{% endfor %}</table>"""
DOCX_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
              'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
              'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
              '"/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
              'document.main+xml"/></Types>')
DOCX_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
             '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
             '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
KINDS = ["", "提醒", "提醒", "催办", "督办", "通报"]
REVIEW_EVERY = 20  # working days between 复查 requests for long-term items (Rectify's default)


def small_docx(unit: str, items: list[dict]) -> bytes:
    paras = [f"{unit}：", "督办通知", *(f"{i['code']} {i['problem']}" for i in items)]
    body = "".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>" for p in paras)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", DOCX_TYPES)
        z.writestr("_rels/.rels", DOCX_RELS)
        z.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
                   f'openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>')
    return buf.getvalue()


def mime(to: str, subject: str, text: str, html: str, docx: bytes | None, unit: str) -> bytes:
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText(text, "plain", "utf-8"))
    alt.attach(MIMEText(html, "html", "utf-8"))
    msg = alt
    if docx is not None:
        msg = MIMEMultipart("mixed")
        msg.attach(alt)
        part = MIMEApplication(docx, "vnd.openxmlformats-officedocument.wordprocessingml.document")
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", f"督办通知（{unit}）.docx"))
        msg.attach(part)
    msg["From"], msg["To"], msg["Subject"] = "rectify@county.example", to, subject
    return msg.as_bytes()


async def send_all(messages: list[tuple[str, bytes]], port: int, connections: int = 20) -> int:
    import aiosmtplib

    queue = list(reversed(messages))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            while queue:
                to, data = queue.pop()
                await smtp.sendmail("rectify@county.example", [to], data)
                sent += 1

    await asyncio.gather(*(worker() for _ in range(connections)))
    return sent


def main(url: str, port: int, today: date, connections: int = 20) -> None:
    from jinja2 import Environment

    from rectify.config import default_ladder
    from rectify.core.ladder import reached_level, steps_from
    from rectify.core.workcal import package_calendar

    t0 = time.perf_counter()
    ladder, cal = steps_from(default_ladder()), package_calendar()
    sqlite = url.startswith("sqlite")
    if sqlite:
        import sqlite3

        con = sqlite3.connect(url.split("///", 1)[1])
    else:
        import psycopg

        con = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
    p = "?" if sqlite else "%s"
    cur = con.cursor()
    units = dict(cur.execute("SELECT id, name FROM units").fetchall())
    people = cur.execute("SELECT email, name, role, unit_id, group_id FROM people").fetchall()
    rows = cur.execute("SELECT id, code, problem, due_date, level, unit_id, group_id, "
                       "coalesce(last_review_on, inspected_on) FROM findings "
                       "WHERE state IN ('open', 'rejected')").fetchall()
    by_unit: dict[int, list[dict]] = defaultdict(list)
    raised, reviewed = [], []
    for fid, code, problem, due, level, unit, group, review_from in rows:
        if due is None:  # 长期坚持: a 复查 request every REVIEW_EVERY working days, to the unit (as Rectify does)
            since = date.fromisoformat(review_from) if isinstance(review_from, str) else review_from
            if since is not None and cal.working_days_between(since, today) >= REVIEW_EVERY:
                reviewed.append((today, fid))
                by_unit[unit].append({"code": code, "problem": problem, "kind": "复查", "due": "长期坚持",
                                      "level": 0, "group": group, "old": 0})
            continue
        due = date.fromisoformat(due) if isinstance(due, str) else due
        new = reached_level(cal.working_days_between(due, today), ladder)
        if new > level:
            raised.append((new, fid))
            by_unit[unit].append({"code": code, "problem": problem, "kind": KINDS[new], "due": due, "level": new,
                                  "group": group, "old": level})
    env = Environment(autoescape=False)
    text, html = env.from_string(TEXT), Environment(autoescape=True).from_string(HTML)
    letters: list[tuple[str, str, list[dict], bytes | None, str]] = []  # (to, who, items, docx, unit)
    contacts: dict[int, list] = defaultdict(list)
    supervisors: dict[int, list] = defaultdict(list)
    for email, name, role, unit, group in people:
        if unit is not None:
            contacts[unit].append((email, name, role))
        elif group is not None:
            supervisors[group].append((email, name))
    by_group: dict[int, list[dict]] = defaultdict(list)
    office: list[dict] = []
    notices = 0
    for unit, items in by_unit.items():
        top = max(i["level"] for i in items)
        docx = None
        if any(i["old"] < 4 <= i["level"] for i in items):
            docx = small_docx(units[unit], [i for i in items if i["level"] >= 4])
            notices += 1
        for email, name, role in contacts[unit]:
            if role == "unit_contact" or top >= 3:
                letters.append((email, name, items, docx, units[unit]))
        for i in items:
            if i["level"] >= 4 and i["group"] is not None:
                by_group[i["group"]].append(i)
            if i["level"] >= 5:
                office.append(i)
    for group, items in by_group.items():
        letters += [(email, name, items, None, "") for email, name in supervisors[group]]
    if office:
        letters += [(f"office{k}@county.example", "指挥部办公室", office, None, "") for k in (1, 2, 3)]
    messages = [(to, mime(to, f"【整改督办】{who}：{len(items)}项", text.render(who=who, today=today, items=items),
                          html.render(who=who, today=today, items=items), docx, unit))
                for to, who, items, docx, unit in letters]
    cur.execute(f"CREATE TABLE IF NOT EXISTS ref_outbox (recipient TEXT, message {'BLOB' if sqlite else 'BYTEA'})")
    cur.executemany(f"UPDATE findings SET level = {p} WHERE id = {p}", raised)
    cur.executemany(f"UPDATE findings SET last_review_on = {p} WHERE id = {p}", reviewed)
    cur.executemany(f"INSERT INTO ref_outbox (recipient, message) VALUES ({p}, {p})", messages)
    con.commit()
    con.close()
    sent = asyncio.run(send_all(messages, port, connections))
    out = {"run_s": time.perf_counter() - t0, "messages": len(messages), "sent": sent, "notices": notices,
           "escalations": len(raised), "bytes": sum(len(m) for _, m in messages),
           "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    main(sys.argv[1], int(sys.argv[2]), date.fromisoformat(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 20)
