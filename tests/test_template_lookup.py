"""`x.name` in Rectify's templates gives what Jinja2's own lookup gives, on dicts taken the short way."""

from __future__ import annotations

from collections import OrderedDict, defaultdict

import pytest
from jinja2 import Environment, StrictUndefined, UndefinedError
from markupsafe import Markup

from rectify.templating import env

PLAIN = Environment(autoescape=True, undefined=StrictUndefined)  # Jinja2 as it comes

CASES = [
    ({"code": "B-0001", "problem": "<b>问题</b>"}, "{{ d.code }}|{{ d.problem }}"),
    ({"items": 3, "kind": "urge"}, "{{ d.items is callable }}|{{ d['items'] }}|{{ d.kind }}"),  # dict's own name
    ({"get": "值"}, "{{ d.get('get') }}|{{ d['get'] }}"),
    ({"html": Markup("<td>1</td>"), "n": 0}, "{{ d.html }}|{{ d.n }}"),
    ({"x": None, "y": ""}, "{{ d.x }}|{{ d.y }}|{{ d.z is defined }}"),
    ({1: "整数键", "a": {"b": {"c": "深"}}}, "{{ d.a.b.c }}|{{ d[1] }}"),
    (OrderedDict(a="有序"), "{{ d.a }}|{{ d.move_to_end is callable }}"),
]


@pytest.mark.parametrize(("d", "source"), CASES)
def test_it_reads_what_jinja2_reads(d, source) -> None:
    assert env().from_string(source).render(d=d) == PLAIN.from_string(source).render(d=d)


def test_it_still_fails_loudly_on_a_missing_key() -> None:
    with pytest.raises(UndefinedError):
        env().from_string("{{ d.missing }}").render(d={"there": 1})


def test_it_leaves_dict_subclasses_to_jinja2() -> None:
    d: defaultdict[str, list] = defaultdict(list)
    assert env().from_string("{{ d.anything }}").render(d=d) == PLAIN.from_string("{{ d.anything }}").render(
        d=defaultdict(list))
    assert env().getattr(d, "keys") == d.keys


def test_it_gives_a_dicts_key_and_its_own_methods_as_jinja2_does() -> None:
    d = {"code": "B-1", "items": 2}
    assert env().getattr(d, "code") == PLAIN.getattr(d, "code") == "B-1"
    assert env().getattr(d, "items") == PLAIN.getattr(d, "items") == d.items  # the method, not the key
