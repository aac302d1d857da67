"""The 驾驶舱 over HTTP (both backends): what each role sees, the links behind the figures, the SVG charts,
the last daily run; and `GET /api/ranking`."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi.testclient import TestClient

from rectify.services import runrecord
from tests.web.helpers import NOW, api_token, client


def _links(html: str) -> set[str]:
    return {h.replace("&amp;", "&") for h in re.findall(r'href="(/findings[^"]*)"', html)}


def test_it_shows_the_command_office_every_figure_with_its_list(app, rt, world) -> None:
    runrecord.record(rt.settings.data_dir, {"day": "2024-01-25", "working_day": True, "scanned": 6, "messages": 3,
                                            "sent": 3, "escalations": {"urge": 1}, "notices": ["1"]},
                     datetime(2024, 1, 25, 0, 5))
    admin = client(app, world.admin)
    r = admin.get("/cockpit")
    assert r.status_code == 200
    html = r.text
    assert "<script" not in html.split("<body>", 1)[1]  # the charts are SVG, not script
    assert html.count('<svg class="chart"') == 3
    assert "县财政局" in html and "城关镇" in html and "第一督导组" in html and "第二督导组" in html
    links = _links(html)
    assert {"/findings", "/findings?state=closed", "/findings?overdue=1", f"/findings?unit={world.unit_a}",
            f"/findings?unit={world.unit_a}&overdue=1", f"/findings?group={world.group_1}&state=closed"} <= links
    # the tiles' figures: 6 findings, 1 closed, 1 overdue (open_a was due 2024-01-22)
    tiles = dict((t, n) for n, t in re.findall(r'<span class="n">([^<]+)</span><span class="t">([^<]+)</span>', html))
    assert (tiles["问题总数"], tiles["已销号"], tiles["逾期未整改"], tiles["待核实销号"]) == ("6", "1", "1", "3")
    assert tiles["待签收"] == "0" and "/findings?ack=1" in links
    assert "检查问题</dt><dd>6 项" in html and "催办 1 项" in html and "督办通知</dt><dd>1 份" in html
    assert "已有国务院办公厅放假安排的年份：2004–2026" in html  # the package's years; 2024 needs no provisional one


def test_it_follows_a_link_to_the_same_number_of_findings(app, world) -> None:
    admin = client(app, world.admin)
    html = admin.get("/cockpit").text
    row = re.search(rf'href="/findings\?group={world.group_1}">(\d+)</a>', html)
    assert row is not None
    listed = admin.get("/findings", params={"group": world.group_1}).text
    assert f"共 {row[1]} 项" in listed


def test_it_shows_a_supervisor_their_group_and_refuses_units(app, rt, world) -> None:
    from datetime import date

    from models import Finding

    with rt.sessions() as s, s.begin():
        s.get(Finding, world.open_b).ack_due_on = date(2024, 1, 26)  # waits for the unit's 签收
    html = client(app, world.sup_2).get("/cockpit").text
    assert '<span class="n">1</span><span class="t">待签收</span>' in html
    assert "城关镇" in html and "县财政局" not in html and "第一督导组" not in html
    assert client(app, world.contact_a).get("/cockpit").status_code == 403
    assert client(app).get("/cockpit").status_code == 303  # sign in first
    assert "尚无每日运行记录" in html


def _api(app, person_id: int) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    c.headers["Authorization"] = f"Bearer {api_token(app, person_id)}"
    return c


def test_it_serves_the_ranking_as_json_to_those_who_may_see_it(app, world) -> None:
    r = _api(app, world.admin).get("/api/ranking", params={"from": "2024-01-01", "to": "2024-01-31"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"]) == ("2024-01-01", "2024-01-31")
    assert body["weights"]["on_time"] == 0 and body["weights"]["on_time_original"] == 60
    units = {u["unit"]: u for u in body["units"]}
    assert set(units) == {"县财政局", "城关镇"}
    a = units["县财政局"]  # open_a (due 01-22) is overdue on 01-31
    assert a["overdue"] == 1 and a["on_time_original"]["denominator"] >= 1
    assert [u["rank"] for u in body["units"]] == sorted(u["rank"] for u in body["units"])

    mine = _api(app, world.sup_2).get("/api/ranking").json()
    assert [u["unit"] for u in mine["units"]] == ["城关镇"] and mine["end"] == NOW.date().isoformat()
    assert _api(app, world.contact_a).get("/api/ranking").json() == {"error": "forbidden"}
    bad = _api(app, world.admin).get("/api/ranking", params={"from": "2024-02-01", "to": "2024-01-01"})
    assert bad.status_code == 422
    assert _api(app, world.admin).get("/api/ranking", params={"from": "tomorrow"}).status_code == 422
