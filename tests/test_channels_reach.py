"""Whom the IM/SMS rows can reach (rectify.channels.enqueue.reach_of): the same people whether the day's
letters name few of the directory's people (read by their ids) or most (one read of everyone reachable)."""

from __future__ import annotations

from models import Person
from rectify.channels import enqueue


def _directory(session) -> dict[str, int]:
    rows = [Person(name="李丽", email="li@unit.example", role="unit_contact", mobile="13800138000",
                   wecom_userid="lili"),
            Person(name="张伟", email="zhang@unit.example", role="unit_leader", dingtalk_userid="zw01"),
            Person(name="王芳", email="wang@unit.example", role="unit_contact"),  # mail only
            Person(name="孙敏", email="sun@unit.example", role="unit_contact", mobile="13700137000"),
            Person(name="周杰", email="zhou@unit.example", role="unit_contact"),
            Person(name="赵强", email="zhao@unit.example", role="unit_contact", mobile="13900139000",
                   active=False)]  # left: never reached
    session.add_all(rows)
    session.commit()
    return {p.email: p.id for p in rows}


def test_it_reads_the_same_people_when_the_letters_name_most_of_the_directory(rt, session) -> None:
    ids = _directory(session)
    named = [ids[e] for e in ("li@unit.example", "zhang@unit.example", "wang@unit.example", "zhao@unit.example")]
    # 4 of 5 active people named: one read of everyone reachable, then only those named are kept
    assert enqueue._reach(rt, named) == {ids["li@unit.example"]: ("13800138000", "lili", None),
                                         ids["zhang@unit.example"]: (None, None, "zw01")}


def test_it_reads_by_id_when_the_letters_name_few(rt, session) -> None:
    ids = _directory(session)
    assert enqueue._reach(rt, [ids["sun@unit.example"]]) == {ids["sun@unit.example"]: ("13700137000", None, None)}
    assert enqueue._reach(rt, [ids["zhao@unit.example"], ids["wang@unit.example"]]) == {}
    assert enqueue._reach(rt, []) == {}
