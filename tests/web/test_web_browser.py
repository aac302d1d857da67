"""The whole round trip in Debian's chromium against a real uvicorn: a unit contact opens the mail
link and reports with evidence; a supervisor asks for a sign-in link, opens it and closes the item
(销号); the list then shows it closed. Screenshots at 375 px and 1280 px go to test-output/screenshots/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import date, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from models import Person, Round, SupervisionGroup, Unit
from rectify.config import Settings
from rectify.links import login_url
from rectify.runtime import Runtime, build_runtime
from tests.support import factory
from tests.web import samples
from tests.web.helpers import NOW, SECRET, LiveServer, World, build_world
from web.app import create_app

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture
def sqlite_rt(tmp_path: Path, sqlite_template: Path) -> Iterator[Runtime]:
    """The browser round trip runs once, on SQLite; the HTTP tests cover PostgreSQL."""
    db = tmp_path / "rectify.db"
    shutil.copy(sqlite_template, db)
    rt = build_runtime(Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{db}", secret_key=SECRET))
    yield rt
    rt.close()


@pytest.fixture
def site(sqlite_rt: Runtime) -> Iterator[tuple[FastAPI, str, World]]:
    with sqlite_rt.sessions() as s:
        w = build_world(s)
        _more_of_group_1(s, w)
        s.commit()
    app = create_app(sqlite_rt, clock=lambda: NOW)
    server = LiveServer(app).start()
    sqlite_rt.settings = sqlite_rt.settings.model_copy(update={"public_url": server.url})  # links in mails
    yield app, server.url, w
    server.stop()


def _more_of_group_1(s, w: World) -> None:
    """A fuller list for the screenshots: escalated, overdue, sent back and long-term items."""
    unit, group = s.get(Unit, w.unit_a), s.get(SupervisionGroup, w.group_1)
    rnd = s.scalars(select(Round)).one()
    factory.finding(s, unit=unit, round=rnd, group=group, due=date(2024, 1, 12), level=3,
                    problem="重大行政决策目录未按期向社会公布，决策程序台账缺少合法性审查意见")
    factory.finding(s, unit=unit, round=rnd, group=group, due=date(2024, 1, 24), level=2, state="rejected",
                    problem="行政执法人员持证上岗情况未建立动态管理台账")
    factory.finding(s, unit=unit, round=rnd, group=group, due=None, kind="long_term",
                    problem="法治政府建设工作长效机制有待健全")


def _mailed_link(rt: Runtime, recipient: str) -> str:
    """The sign-in link from the .eml file the outbox wrote (no SMTP host configured). The form sends it after
    answering (a background task), so the file may land a moment after the page says 请查收邮件."""
    deadline = time.monotonic() + 10
    while not (files := sorted(rt.settings.outbox_path.glob("*-signin-*.eml"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert files, "no sign-in mail was written"
    msg = message_from_bytes(files[-1].read_bytes(), policy=default_policy)
    assert msg["To"].addresses[0].addr_spec == recipient
    text = msg.get_body(("plain",)).get_content()
    return next(line.strip() for line in text.splitlines() if "/auth/" in line)


def _confirm(page, who: str) -> None:
    """A mail link first shows whom it signs in (issue 13.7); the one button signs in."""
    assert "确认登录" in page.inner_text("main") and who in page.inner_text("main")
    with page.expect_navigation():
        page.get_by_role("button", name="确认登录").click()


def _shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((375, 812), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(50)
        if width == 375:
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, f"{name}: horizontal scroll"
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def test_it_reports_and_closes_a_finding_in_a_real_browser(site, sqlite_rt, browser, tmp_path) -> None:
    _, url, w = site
    evidence = tmp_path / "整改报告.pdf"
    evidence.write_bytes(samples.pdf())
    blocked: list[str] = []

    # The unit contact: straight from the reminder's link to the finding, then the report form.
    contact = browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    contact.on("request", lambda r: None if r.url.startswith(url) else blocked.append(r.url))
    page = contact.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    link = login_url(url, SECRET, w.contact_a, now=NOW, max_age=timedelta(days=14), next_path=f"/findings/{w.open_a}")
    page.goto(link)
    _confirm(page, "县财政局联系人")
    assert page.url == f"{url}/findings/{w.open_a}"
    assert "行政执法公示信息未及时更新" in page.inner_text("main")
    page.fill("textarea[name=measures]", "已安排专人在县政府门户网站更新行政执法公示信息，建立每周更新机制。")
    page.fill("textarea[name=progress]", "已完成。公示信息已更新至2024年1月24日。")
    page.set_input_files("input[name=files]", str(evidence))
    page.get_by_role("button", name="提交整改情况").click()
    page.wait_for_selector("text=整改情况已报送")
    assert "整改报告.pdf" in page.inner_text("main")
    contact.close()

    # The supervisor has no fresh link: asks for one by e-mail and opens it.
    with sqlite_rt.sessions() as s:
        sup_email = s.get(Person, w.sup_1).email
    supervisor = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    supervisor.on("request", lambda r: None if r.url.startswith(url) else blocked.append(r.url))
    page = supervisor.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/findings/{w.open_a}")
    assert "/signin" in page.url
    page.fill("input[name=email]", sup_email)
    page.get_by_role("button", name="发送登录链接").click()
    page.wait_for_selector("text=请查收邮件")
    page.goto(_mailed_link(sqlite_rt, sup_email))
    _confirm(page, sup_email)
    assert page.url == f"{url}/findings/{w.open_a}"
    page.fill("textarea[name=note]", "经核实，公示信息已更新，同意销号。")
    page.get_by_role("button", name="核实无误，销号").click()
    page.wait_for_selector("text=已销号。")
    history = page.inner_text("ol.history")
    assert "报送整改情况" in history and "上传佐证材料" in history and "核实销号" in history
    _shoot(page, "finding")

    page.goto(f"{url}/findings")
    item = page.locator("li.item", has_text="行政执法公示信息未及时更新")
    assert "已销号" in item.inner_text()
    _shoot(page, "list")
    supervisor.close()

    assert not blocked, f"requests left the server: {blocked}"
    assert not errors, f"console errors (CSP violations show here): {errors}"


def test_it_asks_for_and_approves_an_extension_in_a_real_browser(site, sqlite_rt, browser) -> None:
    """The unit contact asks for more time on a phone; the supervisor approves another date on a desk; the
    page then shows both deadlines and the extension history, the list the 蓝/黄/红 badges."""
    _, url, w = site
    with sqlite_rt.sessions() as s, s.begin():
        unit, group = s.get(Unit, w.unit_a), s.get(SupervisionGroup, w.group_1)
        rnd = s.scalars(select(Round)).one()
        fid = factory.finding(s, unit=unit, round=rnd, group=group, due=date(2024, 1, 30), level=1,
                              problem="行政规范性文件备案审查台账未按季度更新").id
        factory.finding(s, unit=unit, round=rnd, group=group, due=date(2024, 1, 29), level=1,
                        problem="政务公开栏目“法治政府建设”专栏内容更新不及时")
    blocked: list[str] = []
    errors: list[str] = []

    def open_as(person_id: int, width: int, height: int):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        ctx.on("request", lambda r: None if r.url.startswith(url) else blocked.append(r.url))
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(login_url(url, SECRET, person_id, now=NOW, max_age=timedelta(days=14),
                            next_path=f"/findings/{fid}"))
        _confirm(page, "")
        return ctx, page

    contact, page = open_as(w.contact_a, 375, 812)
    page.click("#extension summary")
    page.fill("input[name=proposed]", "2024-02-07")
    page.fill("textarea[name=ext_reason]", "台账涉及2023年第四季度全部规范性文件，需逐件补充合法性审查意见，"
                                           "春节前难以全部完成。")
    _shoot(page, "finding-extension-form")
    page.get_by_role("button", name="提交延期申请").click()
    page.wait_for_selector("text=延期申请已提交")
    assert "审批中" in page.inner_text("#extension-decision")
    contact.close()

    supervisor, page = open_as(w.sup_1, 1280, 900)
    assert "需逐件补充合法性审查意见" in page.inner_text("#extension-decision")
    page.fill("input[name=approved_due]", "2024-02-06")
    page.fill("textarea[name=decision_note]", "同意延期，请于2月6日前完成并报送佐证材料。")
    page.get_by_role("button", name="同意延期", exact=True).click()
    page.wait_for_selector("text=已同意延期")
    facts = page.inner_text("dl.facts")
    assert "原定时限" in facts and "2024年1月30日" in facts and "现时限" in facts and "2024年2月6日" in facts
    assert "同意延期，整改时限由2024年1月30日调整为2024年2月6日" in page.inner_text("#extensions")
    assert "整改时限由2024年1月30日调整为2024年2月6日" in page.inner_text("ol.history >> nth=1")
    _shoot(page, "finding-extension")

    page.goto(f"{url}/findings")
    main = page.inner_text("main")
    assert "红色预警" in main and "黄色预警" in main and "蓝色预警" in main
    _shoot(page, "list-colours")
    page.goto(f"{url}/status?sort=colour")
    assert "红色预警" in page.inner_text("table.status tbody tr >> nth=0")
    _shoot(page, "status-colours")
    supervisor.close()

    assert not blocked, f"requests left the server: {blocked}"
    assert not errors, f"console errors (CSP violations show here): {errors}"
