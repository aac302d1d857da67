"""延期 over HTTP: the unit contact asks before the deadline, the finding's supervisor (or an admin) approves,
possibly with another date, or refuses with a reason; the original deadline stays beside the current one."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from models import Event, ExtensionRequest, Finding
from tests.web.helpers import api_token, client, csrf_of, person_of, post_form


def _kinds(rt, fid: int) -> list[tuple[str, int | None, str]]:
    with rt.sessions() as s:
        return [(e.kind, e.actor_id, e.ip) for e in s.scalars(select(Event).where(Event.finding_id == fid)
                                                             .order_by(Event.id))]


def _requests(rt, fid: int) -> list[tuple[str, date, date | None]]:
    with rt.sessions() as s:
        return [(r.state, r.proposed_due, r.approved_due) for r in s.scalars(
            select(ExtensionRequest).where(ExtensionRequest.finding_id == fid).order_by(ExtensionRequest.id))]


def _deadline(rt, fid: int) -> tuple[date | None, date | None, int, int, int]:
    with rt.sessions() as s:
        f = s.get(Finding, fid)
        return f.due_date, f.original_due_date, f.level, f.extensions_used, f.version


def _row(html: str, fid: int) -> str:
    """The list card of one finding."""
    return next(li for li in html.split('<li class="item')[1:] if f'href="/findings/{fid}"' in li)


def _ask(app, world, proposed: str = "2024-02-08", reason: str = "需等待上级批复专项资金"):
    return post_form(client(app, world.contact_b), world.open_b, "extension", proposed=proposed, ext_reason=reason)


def _request_id(page: str) -> str:
    found = re.search(r'name="request" value="(\d+)"', page)
    assert found is not None, "no pending request on the page"
    return found[1]


def test_it_refuses_an_extension_asked_after_the_deadline(app, rt, world) -> None:
    c = client(app, world.contact_a)
    page = c.get(f"/findings/{world.open_a}").text  # due 22 January, today is the 25th
    assert "整改时限已过，不能申请延期" in page and f"/findings/{world.open_a}/extension" not in page
    r = post_form(c, world.open_a, "extension", proposed="2024-02-05", ext_reason="资金未到位")
    assert r.status_code == 409 and "整改时限已过，不能申请延期" in r.text
    assert _requests(rt, world.open_a) == [] and _kinds(rt, world.open_a) == []


def test_it_approves_an_extension_with_another_date_keeping_the_original(app, rt, world) -> None:
    with rt.sessions() as s, s.begin():
        s.get(Finding, world.open_b).level = 1  # the pre-deadline reminder went out
    r = _ask(app, world)
    assert r.status_code == 303 and r.headers["location"] == f"/findings/{world.open_b}?done=extension"
    contact = client(app, world.contact_b)
    page = contact.get(r.headers["location"]).text
    assert "延期申请已提交" in page and "审批中" in page and 'name="ext_reason"' not in page

    sup = client(app, world.sup_2)
    waiting = sup.get("/findings", params={"pending": "1"}).text
    assert "延期待审批" in _row(waiting, world.open_b)
    assert f'href="/findings/{world.reported_b}"' not in waiting  # the filter keeps only pending requests
    page = sup.get(f"/findings/{world.open_b}").text
    assert 'value="2024-02-08"' in page and "需等待上级批复专项资金" in page
    r = post_form(sup, world.open_b, "extension/decide", request=_request_id(page), decision="approve",
                  approved_due="2024-02-07", decision_note="同意延期至2月7日")
    assert r.status_code == 303

    assert _deadline(rt, world.open_b)[:4] == (date(2024, 2, 7), date(2024, 1, 31), 0, 1)  # level starts again
    assert _requests(rt, world.open_b) == [("approved", date(2024, 2, 8), date(2024, 2, 7))]
    assert _kinds(rt, world.open_b) == [("extension_request", world.contact_b, "testclient"),
                                        ("extension_approved", world.sup_2, "testclient")]
    page = contact.get(f"/findings/{world.open_b}").text
    assert "原定时限</dt><dd>2024年1月31日" in page and "现时限</dt><dd><strong>2024年2月7日</strong>" in page
    assert "同意延期，整改时限由2024年1月31日调整为2024年2月7日" in page  # the extension history
    assert "整改时限由2024年1月31日调整为2024年2月7日" in page.split("办理记录")[1]  # and the audit trail
    assert "延期次数已达上限（1次）" in page  # one extension per finding by default
    again = post_form(contact, world.open_b, "extension", proposed="2024-02-20", ext_reason="再延")
    assert again.status_code == 409 and len(_requests(rt, world.open_b)) == 1


def test_it_refuses_an_extension_changing_nothing_but_the_log(app, rt, world) -> None:
    contact = client(app, world.contact_b)
    assert "预警" not in _row(contact.get("/findings").text, world.open_b)  # four working days left
    assert _ask(app, world).status_code == 303
    before = _deadline(rt, world.open_b)
    sup = client(app, world.sup_2)
    request_id = _request_id(sup.get(f"/findings/{world.open_b}").text)
    r = post_form(sup, world.open_b, "extension/decide", request=request_id, decision="refuse", decision_note=" ")
    assert r.status_code == 400 and "不同意延期须填写理由" in r.text
    assert _requests(rt, world.open_b)[0][0] == "pending"
    r = post_form(sup, world.open_b, "extension/decide", request=request_id, decision="refuse",
                  decision_note="理由不充分，请按期完成")
    assert r.status_code == 303
    assert _deadline(rt, world.open_b) == before  # deadline, original, level, extensions and version
    assert [k for k, *_ in _kinds(rt, world.open_b)] == ["extension_request", "extension_refused"]
    assert _requests(rt, world.open_b) == [("refused", date(2024, 2, 8), None)]
    assert "黄色预警" in _row(contact.get("/findings").text, world.open_b)
    page = contact.get(f"/findings/{world.open_b}").text
    assert "不同意延期" in page and "理由不充分，请按期完成" in page and "原定时限" not in page


def test_it_lets_only_the_findings_supervisors_and_admins_decide(app, rt, world) -> None:
    assert _ask(app, world).status_code == 303
    with rt.sessions() as s:
        leader_b = person_of(s, world.unit_b, "unit_leader")
        request_id = s.scalars(select(ExtensionRequest.id)).one()
    for who in (world.sup_1, world.contact_b, leader_b, world.contact_a):
        c = client(app, who)
        r = c.post(f"/findings/{world.open_b}/extension/decide",
                   data={"csrf_token": csrf_of(c), "version": "1", "request": str(request_id), "decision": "approve"})
        assert r.status_code == 403, who
    assert _requests(rt, world.open_b)[0][0] == "pending"
    r = post_form(client(app, world.admin), world.open_b, "extension/decide", request=str(request_id),
                  decision="approve")
    assert r.status_code == 303
    assert _deadline(rt, world.open_b)[0] == date(2024, 2, 8)  # the date asked for


def test_it_says_what_is_wrong_with_a_request_and_keeps_what_was_typed(app, rt, world) -> None:
    contact = client(app, world.contact_b)
    r = post_form(contact, world.open_b, "extension", proposed="2024-01-30", ext_reason="资金未到位<紧急>")
    assert r.status_code == 400 and "延期后的时限须晚于现时限" in r.text and "资金未到位&lt;紧急&gt;" in r.text
    r = post_form(contact, world.open_b, "extension", proposed="2024-02-08", ext_reason="  ")
    assert r.status_code == 400 and "申请延期须填写延期理由" in r.text and 'value="2024-02-08"' in r.text
    r = post_form(contact, world.open_b, "extension", proposed="8 Feb", ext_reason="资金未到位")
    assert r.status_code == 400 and "日期格式不正确" in r.text
    r = post_form(contact, world.open_b, "extension", proposed="2099-02-08", ext_reason="资金未到位")
    assert r.status_code == 400 and "超出工作日历已有的年份" in r.text
    assert _requests(rt, world.open_b) == []
    assert _ask(app, world).status_code == 303
    r = _ask(app, world, proposed="2024-02-09")
    assert r.status_code == 409 and "已有延期申请正在审批" in r.text
    assert len(_requests(rt, world.open_b)) == 1
    for who in (world.contact_a, world.sup_2, world.admin):  # only the unit's contact asks
        c = client(app, who)
        r = c.post(f"/findings/{world.open_b}/extension",
                   data={"csrf_token": csrf_of(c), "version": "1", "proposed": "2024-02-09", "ext_reason": "x"})
        assert r.status_code == 403, who


def test_it_asks_and_decides_extensions_over_the_api(app, rt, world) -> None:
    def api(person_id: int) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        c.headers["Authorization"] = f"Bearer {api_token(app, person_id)}"
        return c

    contact, sup = api(world.contact_b), api(world.sup_2)
    late = api(world.contact_a).post(f"/api/findings/{world.open_a}/extension",
                                     json={"version": 1, "proposed_due": "2024-02-05", "reason": "资金未到位"})
    assert late.status_code == 409 and late.json() == {"error": "refused", "reason": "passed"}
    r = contact.post(f"/api/findings/{world.open_b}/extension",
                     json={"version": 1, "proposed_due": "2024-02-08", "reason": " "})
    assert r.status_code == 422 and r.json() == {"error": "invalid", "fields": ["reason"]}
    r = contact.post(f"/api/findings/{world.open_b}/extension",
                     json={"version": 1, "proposed_due": "2024-02-08", "reason": "资金未到位"})
    assert r.status_code == 200
    [pending] = r.json()["extensions"]
    assert pending["state"] == "pending" and pending["proposed_due"] == "2024-02-08"
    assert api(world.sup_1).post(f"/api/findings/{world.open_b}/extension/decide",
                                 json={"version": 1, "request_id": pending["id"], "approve": True}).status_code == 403
    wrong = sup.post(f"/api/findings/{world.open_b}/extension/decide",
                     json={"version": 1, "request_id": pending["id"] + 1, "approve": True})
    assert wrong.status_code == 409 and wrong.json()["error"] == "conflict"
    r = sup.post(f"/api/findings/{world.open_b}/extension/decide",
                 json={"version": 1, "request_id": pending["id"], "approve": True, "due": "2024-02-06"})
    assert r.status_code == 200
    body = r.json()
    assert (body["due_date"], body["original_due_date"], body["extensions_used"]) == ("2024-02-06", "2024-01-31", 1)
    assert body["extensions"][0]["state"] == "approved" and body["extensions"][0]["approved_due"] == "2024-02-06"
    docs = client(app, world.sup_2).get("/docs").text
    assert "POST /api/findings/{finding_id}/extension" in docs and "/extension/decide" in docs
