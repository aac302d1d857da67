"""Adding supervisors and admins: the people the unit directory does not bring."""

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from models import Person, SupervisionGroup
from rectify.services.people import PeopleError, add_person, deactivate, list_people
from tests.support import factory


def test_it_adds_a_supervisor_to_a_group_creating_the_group(session) -> None:
    done = add_person(session, name="王建国", email="Wang@County.Example", role="supervisor", group="第一督导组")
    assert done.created and done.person.email == "wang@county.example"
    group = session.scalar(select(SupervisionGroup).where(SupervisionGroup.name == "第一督导组"))
    assert done.person.group_id == group.id


def test_it_updates_the_person_with_the_same_address(session) -> None:
    add_person(session, name="王建国", email="wang@county.example", role="supervisor", group="第一督导组")
    again = add_person(session, name="王建国", email="WANG@county.example", role="admin")
    assert not again.created and again.person.role == "admin" and again.person.group_id is None
    assert len(session.scalars(select(Person)).all()) == 1


def test_it_finds_a_unit_by_alias_and_county_prefix(session) -> None:
    u = factory.unit(session, "县财政局", contact=None, leader=None, aliases=["财政局"])
    done = add_person(session, name="李丽", email="li@unit.example", role="unit_contact", unit="鲁山县财政局",
                      county_prefix="鲁山县")
    assert done.person.unit_id == u.id


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"email": "not-an-address"}, "not an e-mail"),
        ({"role": "boss"}, "unknown role"),
        ({"role": "supervisor", "group": None}, "needs --group"),
        ({"role": "unit_contact", "unit": "县不存在局"}, "no unit named"),
        ({"name": "  "}, "needs a name"),
    ],
)
def test_it_names_what_is_wrong(session, kw, message) -> None:
    args = {"name": "赵六", "email": "zhao@x.example", "role": "admin", **kw}
    with pytest.raises(PeopleError, match=message):
        add_person(session, **args)
    assert session.scalars(select(Person)).all() == []


def test_it_deactivates_and_lists(session) -> None:
    add_person(session, name="王建国", email="wang@county.example", role="supervisor", group="第一督导组")
    add_person(session, name="管理员", email="admin@county.example", role="admin")
    deactivate(session, "wang@county.example", datetime(2024, 1, 20, tzinfo=UTC))
    rows = [(p.role, where, p.active) for p, where in list_people(session)]
    assert rows == [("admin", "", True), ("supervisor", "第一督导组", False)]


def test_it_works_from_the_command_line_without_tracebacks(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}

    def rectify(*args):
        return subprocess.run([sys.executable, "-m", "rectify", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    assert rectify("init").returncode == 0
    ok = rectify("people", "add", "王建国", "wang@county.example", "--role", "supervisor", "--group", "第一督导组")
    assert ok.returncode == 0 and "added: 王建国 <wang@county.example> as supervisor" in ok.stdout
    bad = rectify("people", "add", "王建国", "wang-at-county", "--role", "supervisor", "--group", "第一督导组")
    assert bad.returncode == 2 and "not an e-mail address" in bad.stderr and "Traceback" not in bad.stderr
    listed = rectify("people", "list")
    assert "第一督导组" in listed.stdout and "wang@county.example" in listed.stdout
