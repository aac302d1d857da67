"""签收 and a progress report in Debian's chromium against a real uvicorn: the unit contact opens the mail
link on a phone, sees 待签收, acknowledges, then makes a 阶段性进展 with evidence; the unit head acknowledges the
rest with 一键签收 from the list on a desk. Screenshots at 375 px and 1280 px go to test-output/screenshots/."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from models import Finding, ProgressReport, Round, SupervisionGroup, Unit
from rectify.core.followup import FollowupRules
from rectify.links import login_url
from rectify.services.followup import mark_arrival
from tests.support import factory
from tests.web import samples
from tests.web.helpers import NOW, SECRET
from tests.web.test_web_browser import _confirm, _shoot, site, sqlite_rt  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_it_acknowledges_and_reports_progress_in_a_real_browser(site, sqlite_rt, browser, tmp_path) -> None:  # noqa: F811
    _, url, w = site
    with sqlite_rt.sessions() as s, s.begin():
        unit, group = s.get(Unit, w.unit_a), s.get(SupervisionGroup, w.group_1)
        rnd = s.scalars(select(Round)).one()
        far = factory.finding(s, unit=unit, round=rnd, group=group, due=date(2024, 6, 28),
                              problem="行政复议案件办理质效评估机制尚未建立，需制定办法并试运行一个季度")
        other = factory.finding(s, unit=unit, round=rnd, group=group, due=date(2024, 3, 29),
                                problem="法律顾问参与重大决策的记录不完整")
        for f in (far, other, s.get(Finding, w.open_a)):
            mark_arrival(f, date(2024, 1, 24), sqlite_rt.calendar, FollowupRules())
        far.progress_due_on = date(2024, 1, 26)
        fid = far.id
    evidence = tmp_path / "工作方案.pdf"
    evidence.write_bytes(samples.pdf())
    blocked: list[str] = []
    errors: list[str] = []

    def open_as(person_id: int, width: int, height: int, path: str):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        ctx.on("request", lambda r: None if r.url.startswith(url) else blocked.append(r.url))
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(login_url(url, SECRET, person_id, now=NOW, max_age=timedelta(days=14), next_path=path))
        _confirm(page, "")  # the mail link's confirmation page: one button
        return ctx, page

    contact, page = open_as(w.contact_a, 375, 812, f"/findings/{fid}")
    assert page.url == f"{url}/findings/{fid}"
    assert page.inner_text("#ack-badge") == "待签收"
    _shoot(page, "finding-ack")
    page.get_by_role("button", name="签收", exact=True).click()
    page.wait_for_selector("text=已签收。")
    assert page.locator("#ack-badge").count() == 0
    page.fill("textarea[name=progress_text]", "已起草质效评估办法（征求意见稿），正在征求县司法局意见，"
                                              "预计2月底前印发试行。")
    page.set_input_files("#progress-form input[name=files]", str(evidence))
    page.get_by_role("button", name="报送阶段性进展").click()
    page.wait_for_selector("text=阶段性进展已报送")
    progress = page.inner_text("#progress")
    assert "按期报送" in progress and "征求县司法局意见" in progress and "工作方案.pdf" in progress
    history = page.inner_text("section:has(h2:text('办理记录')) ol.history")
    assert "签收" in history and "报送阶段性进展" in history
    _shoot(page, "finding-progress")
    contact.close()

    leader, page = open_as(w.leader_a, 1280, 900, "/findings?ack=1")
    items = page.locator("li.item")
    assert items.count() == 2 and "待签收" in items.first.inner_text()
    _shoot(page, "list-ack")
    page.locator("#ack-all").click()
    page.wait_for_selector("text=已签收 2 项")
    assert page.locator("li.item .badge.ack").count() == 0
    leader.close()

    with sqlite_rt.sessions() as s:
        assert s.scalars(select(ProgressReport.on_time)).all() == [True]
        waiting = s.scalars(select(Finding.id).where(Finding.ack_due_on.is_not(None),
                                                     Finding.acknowledged_at.is_(None))).all()
    assert waiting == []
    assert not blocked, f"requests left the server: {blocked}"
    assert not errors, f"console errors (CSP violations show here): {errors}"
