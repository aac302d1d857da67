"""Test data and client helpers for the form tests."""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pendulum
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Person
from rectify.links import sign
from tests.support import factory
from tests.support.keys import TEST_SECRET
from tests.support.smtp import free_port

# Thursday 25 January 2024, 09:00 in the county: a working day before the findings' due dates.
NOW = pendulum.datetime(2024, 1, 25, 9, 0, tz="Asia/Shanghai")
SECRET = TEST_SECRET  # tests/conftest.py's settings.secret_key


@dataclass
class World:
    """Two units in two supervision groups, everyone who may sign in, and findings in each state."""

    unit_a: int
    unit_b: int
    group_1: int
    group_2: int
    contact_a: int
    leader_a: int
    contact_b: int
    sup_1: int
    sup_1b: int  # a second supervisor of group 1 (for stale-form races)
    sup_2: int
    admin: int
    open_a: int  # unit A, group 1
    reported_a: int  # unit A, group 1
    reported_a2: int
    open_b: int  # unit B, group 2
    reported_b: int  # unit B, group 2
    closed_a: int


def _person(s: Session, unit_id: int, role: str) -> int:
    return s.scalar(select(Person.id).where(Person.unit_id == unit_id, Person.role == role))


def build_world(s: Session) -> World:
    r = factory.round_(s)
    g1, g2 = factory.group(s, "第一督导组", members=2), factory.group(s, "第二督导组", members=1)
    ua, ub = factory.unit(s, "县财政局"), factory.unit(s, "城关镇", kind="township")
    admin = Person(name="指挥部办公室", email="admin@county.example", role="admin")
    s.add(admin)
    s.flush()
    sups1 = list(s.scalars(select(Person.id).where(Person.group_id == g1.id).order_by(Person.id)))
    sup2 = s.scalar(select(Person.id).where(Person.group_id == g2.id))
    f = factory.finding
    return World(
        unit_a=ua.id, unit_b=ub.id, group_1=g1.id, group_2=g2.id,
        contact_a=_person(s, ua.id, "unit_contact"), leader_a=_person(s, ua.id, "unit_leader"),
        contact_b=_person(s, ub.id, "unit_contact"), sup_1=sups1[0], sup_1b=sups1[1], sup_2=sup2, admin=admin.id,
        open_a=f(s, unit=ua, round=r, group=g1, due=date(2024, 1, 22), problem="行政执法公示信息未及时更新").id,
        reported_a=f(s, unit=ua, round=r, group=g1, state="reported", problem="合法性审查台账不完整").id,
        reported_a2=f(s, unit=ua, round=r, group=g1, state="reported", problem="法律顾问合同未备案").id,
        open_b=f(s, unit=ub, round=r, group=g2, problem="镇村法律明白人培训记录缺失").id,
        reported_b=f(s, unit=ub, round=r, group=g2, state="reported", problem="行政复议应诉材料未归档").id,
        closed_a=f(s, unit=ua, round=r, group=g1, state="closed", problem="普法宣传栏内容陈旧").id,
    )


def login_token(person_id: int, *, now=NOW, days: int = 14, purpose: str = "login") -> str:
    return sign(SECRET, person_id, now=now, max_age=timedelta(days=days), purpose=purpose)


def api_token(app: FastAPI, person_id: int, *, now=NOW, days: int = 30) -> str:
    """A recorded API token (an api_tokens row), as `rectify api-token issue` makes."""
    from rectify.services.revocation import issue_api_token

    rt = app.state.rt
    with rt.sessions() as s, s.begin():
        return issue_api_token(s, SECRET, s.get(Person, person_id).email, now, days=days, max_days=365).token


def client(app: FastAPI, person_id: int | None = None) -> TestClient:
    """A browser-like client; signed in through a mail link when a person is given."""
    c = TestClient(app, follow_redirects=False)
    if person_id is not None:
        r = open_link(c, login_token(person_id), "/findings")
        assert r.status_code == 303, r.text
    return c


def open_link(c: TestClient, token: str, next_path: str = "/findings"):
    """Open a mail link as a person does: the confirmation page, then its one button (a POST)."""
    page = c.get(f"/auth/{token}", params={"next": next_path})
    if page.status_code != 200:
        return page
    form = _CSRF.search(page.text)
    nxt = re.search(r'name="next" value="([^"]*)"', page.text)
    assert form is not None and nxt is not None
    return c.post(f"/auth/{token}", data={"csrf_token": form[1], "next": html.unescape(nxt[1])})


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_VERSION = re.compile(r'name="version" value="(\d+)"')


def form_tokens(c: TestClient, finding_id: int) -> tuple[str, int]:
    """The CSRF token and version a page's form carries, as a browser would submit them."""
    page = c.get(f"/findings/{finding_id}")
    assert page.status_code == 200, page.status_code
    csrf = _CSRF.search(page.text)
    version = _VERSION.search(page.text)
    assert csrf is not None
    return csrf[1], int(version[1]) if version else 0


def csrf_of(c: TestClient, path: str = "/findings") -> str:
    found = _CSRF.search(c.get(path).text)
    assert found is not None
    return found[1]


class LiveServer:
    """uvicorn in a thread on a free loopback port (the browser tests need a real socket)."""

    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def person_of(s: Session, unit_id: int, role: str) -> int:
    """Another unit's contact or leader (World names only the ones most tests need)."""
    return _person(s, unit_id, role)


def post_form(c: TestClient, finding_id: int, action: str, **data: str):
    """Submit one of the finding page's forms as a browser would: the page's CSRF token and version."""
    csrf, version = form_tokens(c, finding_id)
    return c.post(f"/findings/{finding_id}/{action}", data={"csrf_token": csrf, "version": str(version), **data})
