"""蓝/黄/红 on the form: a badge in words on every list card and finding page, each unit's colour on the
status page (its worst finding; two yellows make red), filtered and sorted, computed per page in bulk."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event, select

from models import Finding, Round, SupervisionGroup, Unit
from tests.support import factory
from tests.web.helpers import World, client


def _more(rt, w: World) -> dict[str, int]:
    """Unit A gets a second yellow (two yellows: red), 城关镇 a blue, a third unit a red, a fourth owes nothing."""
    with rt.sessions() as s, s.begin():
        rnd = s.scalars(select(Round)).one()
        g1, g2 = s.get(SupervisionGroup, w.group_1), s.get(SupervisionGroup, w.group_2)
        ua, ub = s.get(Unit, w.unit_a), s.get(Unit, w.unit_b)
        uc, ud = factory.unit(s, "县教育局"), factory.unit(s, "县卫健局")
        ids = {
            "yellow_a": factory.finding(s, unit=ua, round=rnd, group=g1, due=date(2024, 1, 24), level=3).id,
            "blue_b": factory.finding(s, unit=ub, round=rnd, group=g2, due=date(2024, 1, 29), level=1).id,
            "red_c": factory.finding(s, unit=uc, round=rnd, group=g1, due=date(2024, 1, 12), level=4).id,
            "closed_d": factory.finding(s, unit=ud, round=rnd, group=g1, due=date(2024, 1, 12), state="closed").id,
        }
    return ids


def _card(html: str, fid: int) -> str:
    return next(li for li in html.split('<li class="item')[1:] if f'href="/findings/{fid}"' in li)


def _units_in_order(html: str) -> list[str]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [row.split("</th>")[0] for row in body.split('<th scope="row">')[1:]]


def test_it_badges_each_finding_with_its_colour_in_words(app, rt, world) -> None:
    ids = _more(rt, world)
    listing = client(app, world.admin).get("/findings").text
    expected = {world.open_a: "黄色预警", ids["yellow_a"]: "黄色预警", ids["blue_b"]: "蓝色预警",
                ids["red_c"]: "红色预警", world.open_b: None, world.reported_a: None, ids["closed_d"]: None}
    for fid, label in expected.items():
        card = _card(listing, fid)
        if label is None:
            assert "预警" not in card, fid
        else:
            colour = {"黄色预警": "yellow", "蓝色预警": "blue", "红色预警": "red"}[label]
            assert f'<span class="badge colour-{colour}">{label}</span>' in card, fid
    page = client(app, world.contact_a).get(f"/findings/{world.open_a}").text
    assert "<dt>预警</dt><dd><span class=\"badge colour-yellow\">黄色预警</span>" in page


def test_it_colours_units_by_their_worst_finding_and_two_yellows(app, rt, world) -> None:
    _more(rt, world)
    admin = client(app, world.admin)
    page = admin.get("/status").text
    rows = {r.split("</th>")[0]: r for r in page.split("<tbody>")[1].split('<th scope="row">')[1:]}
    assert "红色预警" in rows["县财政局"]  # two yellows, no red finding
    assert "红色预警" in rows["县教育局"] and "蓝色预警" in rows["城关镇"]
    assert "预警" not in rows["县卫健局"].split("</tr>")[0]
    assert '<span class="badge colour-red">红色预警</span> 2 个单位' in page
    assert "有2个及以上黄色预警问题的单位按红色预警" in page

    assert _units_in_order(admin.get("/status", params={"colour": "red"}).text) == ["县财政局", "县教育局"]
    assert _units_in_order(admin.get("/status", params={"colour": "none"}).text) == ["县卫健局"]
    assert _units_in_order(admin.get("/status", params={"sort": "colour"}).text) == [
        "县财政局", "县教育局", "城关镇", "县卫健局"]
    assert _units_in_order(admin.get("/status", params={"colour": "purple"}).text) == [
        "县财政局", "城关镇", "县教育局", "县卫健局"]  # an odd value is no filter

    group2 = client(app, world.sup_2).get("/status").text  # a supervisor: the colours of their group's findings
    assert _units_in_order(group2) == ["城关镇"] and "蓝色预警" in group2.split("<tbody>")[1]


def test_it_colours_a_page_of_findings_without_a_query_per_row(app, rt, world) -> None:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    admin = client(app, world.admin)
    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        assert admin.get("/findings").status_code == 200
        few = len(statements)
        with rt.sessions() as s, s.begin():
            rnd = s.scalars(select(Round)).one()
            unit, group = s.get(Unit, world.unit_a), s.get(SupervisionGroup, world.group_1)
            for i in range(24):
                factory.finding(s, unit=unit, round=rnd, group=group, due=date(2024, 1, 10 + i % 20), level=i % 5)
        statements.clear()
        listing = admin.get("/findings").text
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)
    assert listing.count("红色预警") >= 10 and "共 30 项" in listing
    assert len(statements) == few


def test_it_still_shows_a_finding_whose_deadline_the_calendar_does_not_know(app, rt, world) -> None:
    with rt.sessions() as s, s.begin():  # imported with a deadline beyond the holiday schedules
        s.get(Finding, world.open_a).due_date = date(2099, 1, 31)
    admin = client(app, world.admin)
    listing = admin.get("/findings").text
    assert "预警" not in _card(listing, world.open_a)
    assert admin.get(f"/findings/{world.open_a}").status_code == 200
    assert admin.get("/status").status_code == 200
    assert admin.get("/api/findings").status_code == 200  # the session's GET needs no CSRF header
