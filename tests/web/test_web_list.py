"""My list: open and most overdue first, filters (state, unit, overdue, text), pages, and the deadline
standing in working days."""

from __future__ import annotations

import re
from datetime import date

from models import Finding, Round, SupervisionGroup, Unit
from tests.support import factory
from tests.web.helpers import client


def _codes(html: str) -> list[str]:
    return re.findall(r'<a class="code" href="/findings/\d+">([^<]+)</a>', html)


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a class="code" href="/findings/(\d+)">', html)]


def test_it_lists_open_and_overdue_first_with_working_days(app, world) -> None:
    page = client(app, world.admin).get("/findings").text
    order = _ids(page)
    assert order[:2] == [world.open_a, world.open_b]  # open: the overdue one first
    assert set(order[2:5]) == {world.reported_a, world.reported_a2, world.reported_b}
    assert order[-1] == world.closed_a
    # 1月22日 is three working days before Thursday 25 January; 1月31日 is four ahead.
    assert "逾期3个工作日" in page and "剩余4个工作日" in page
    detail = client(app, world.admin).get(f"/findings/{world.open_a}").text
    assert "逾期3个工作日" in detail and "2024年1月22日" in detail


def test_it_filters_by_state_unit_overdue_and_text(app, rt, world) -> None:
    c = client(app, world.admin)
    assert set(_ids(c.get("/findings", params={"state": "reported"}).text)) == {
        world.reported_a, world.reported_a2, world.reported_b}
    assert set(_ids(c.get("/findings", params={"unit": world.unit_b}).text)) == {world.open_b, world.reported_b}
    assert _ids(c.get("/findings", params={"overdue": "1"}).text) == [world.open_a]
    assert _ids(c.get("/findings", params={"q": "台账"}).text) == [world.reported_a]
    with rt.sessions() as s, s.begin():
        s.get(Finding, world.open_b).problem = "完成率100%_以上"
    assert _ids(c.get("/findings", params={"q": "100%_"}).text) == [world.open_b]  # % and _ are literal
    assert _ids(c.get("/findings", params={"q": "%"}).text) == [world.open_b]
    # Odd values mean "no filter", never an error page.
    odd = c.get("/findings", params={"state": "nonsense", "unit": "x", "page": "-3"})
    assert odd.status_code == 200 and len(_ids(odd.text)) == 6
    # A supervisor's unit filter offers only units with findings they may see.
    sup = client(app, world.sup_2).get("/findings").text
    assert "县财政局" not in sup


def test_it_pages_through_a_long_list(app, rt, world) -> None:
    with rt.sessions() as s, s.begin():
        unit, group = s.get(Unit, world.unit_b), s.get(SupervisionGroup, world.group_2)
        rnd = s.query(Round).one()
        for n in range(40):
            factory.finding(s, unit=unit, round=rnd, group=group, due=date(2024, 2, 1), code=f"P-{n:03d}")
    c = client(app, world.sup_2)
    first = c.get("/findings").text
    assert "共 42 项，第 1/2 页" in first and len(_ids(first)) == 30
    assert 'href="/findings?page=2"' in first
    second = c.get("/findings", params={"page": "2"}).text
    assert len(_ids(second)) == 12 and not set(_ids(first)) & set(_ids(second))
    assert 'href="/findings"' in second  # 上一页 drops page=1
    beyond = c.get("/findings", params={"page": "99"}).text
    assert _ids(beyond) == _ids(second)  # clamped to the last page
    filtered = c.get("/findings", params={"state": "open", "page": "2"}).text
    assert '<a href="/findings?state=open">上一页</a>' in filtered  # filters survive paging
