"""The IM card, the SMS line and the channel settings: pure, no database, no network."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

import pytest

from rectify.channels.render import CardInput, card, plain, sms_line
from rectify.channels.settings import ChannelSettings, SmsSettings
from rectify.channels.sms import build_request
from rectify.config import ConfigError, load_settings


def card_input(total: int = 12, who: str = "张三") -> CardInput:
    counts = {"notify": 1, "supervise": 3, "urge": 2, "remind": total - 6, "handover": 0, "signoff": 0,
              "recheck": 0, "review": 0}
    urgent = [{"kind": "notify", "days": 12, "problem": plain("执法信息未公开" * 10), "unit": ""},
              {"kind": "supervise", "days": 6, "problem": "台账不全", "unit": ""},
              {"kind": "remind", "days": -2, "problem": "制度未建立", "unit": ""}]
    return CardInput(date(2024, 1, 31), who, "县财政局", "notify", counts, urgent, total,
                     "https://dc.county.example/auth/TOKEN?next=/findings")


def test_it_renders_a_short_card_with_counts_the_three_most_urgent_and_the_link() -> None:
    got = card(card_input())
    assert got["title"] == "【整改通报】县财政局：12项整改任务待办理"
    md = got["markdown"]
    assert "通报1项、督办3项、催办2项、提醒6项" in md and md.count("\n> ") == 4  # three items and "其余9项"
    assert "（已逾期12个工作日）" in md and "（还有2个工作日到期）" in md and "其余9项" in md
    assert md.endswith("(https://dc.county.example/auth/TOKEN?next=/findings)")
    assert len(md.encode()) < 2048 and len(got["description"].encode()) <= 512  # the vendors' limits


def test_it_neutralises_markdown_and_shortens_user_text() -> None:
    assert plain("[点我](http://evil)\n**粗** <b>") == "点我 http://evil 粗 b"
    assert plain("长" * 60) == "长" * 39 + "…"


def test_the_sms_line_stays_within_the_operators_limit() -> None:
    c = card_input()
    full = sms_line(CardInput(**{**c.__dict__, "url": "https://dc.county.example"}), "【整改督办】", 120)
    assert full == ("【整改督办】张三同志，您有12项整改任务待办理（通报1项、督办3项、催办2项、提醒6项），"
                    "请登录https://dc.county.example办理。")
    brief = sms_line(CardInput(**{**c.__dict__, "url": "https://dc.county.example"}), "【整改督办】", 70)
    assert brief == "【整改督办】您有12项整改任务待办理，其中1项通报，请登录https://dc.county.example办理。"
    assert len(brief) <= 70
    assert sms_line(CardInput(**{**c.__dict__, "url": "https://" + "x" * 80}), "【整改督办】", 70) is None


def test_it_signs_the_sms_request_as_configured() -> None:
    cfg = ChannelSettings.model_validate({"sms": {
        "url": "https://sms.gov.example/api/send?appid=7", "headers": {"X-Nonce": "{{ nonce }}"},
        "body": '{"phone": {{ mobile|tojson }}, "msg": {{ text|tojson }}}',
        "sign": {"key": "k3y", "message": "{{ timestamp }}\n{{ nonce }}\n{{ body }}", "encoding": "base64",
                 "param": "sig"}}}).sms
    method, url, params, headers, body = build_request(cfg, "13800138000", "您有2项", clock=lambda: 1700000000.5,
                                                       nonce="n1")
    assert (method, url, headers["X-Nonce"]) == ("POST", "https://sms.gov.example/api/send?appid=7", "n1")
    assert json.loads(body) == {"phone": "13800138000", "msg": "您有2项"}
    import base64

    want = base64.b64encode(hmac.new(b"k3y", b"1700000000500\nn1\n" + body, hashlib.sha256).digest()).decode()
    assert params == {"sig": want} and "X-Signature" not in headers


def test_it_sends_only_configured_channels_and_names_a_bad_setting(tmp_path) -> None:
    cfg = ChannelSettings.model_validate({"wecom": {"corp_id": "ww1", "secret": "corp-Secret-9", "agent_id": 2}})
    assert cfg.for_level("supervise") == ["wecom"] and cfg.for_level("review") == []
    assert "corp-Secret-9" not in repr(cfg) + str(cfg.model_dump())  # secrets never print
    bad = tmp_path / "rectify.toml"
    bad.write_text('[channels]\ndaily_cap = { fax = 3 }\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"channels\.daily_cap.*unknown channel 'fax'"):
        load_settings(bad)
    bad.write_text('[channels]\nremind = ["pager"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"channels\.remind"):
        load_settings(bad)


def test_it_builds_the_documented_request_bodies() -> None:
    import base64

    from rectify.channels.vendors import Dingtalk, Wecom, dingtalk_sign

    payload = card(card_input())
    cfg = ChannelSettings.model_validate({"wecom": {"corp_id": "ww1", "secret": "s", "agent_id": 7,
                                                    "msgtype": "textcard"},
                                          "dingtalk": {"app_key": "k", "app_secret": "s", "agent_id": 9}})
    wecom = Wecom(cfg.wecom, None).body("ZhangSan", payload)  # type: ignore[arg-type]
    assert wecom["touser"] == "ZhangSan" and wecom["agentid"] == 7 and wecom["msgtype"] == "textcard"
    assert set(wecom["textcard"]) == {"title", "description", "url", "btntxt"}
    ding = Dingtalk(cfg.dingtalk, None).body("u1", payload)  # type: ignore[arg-type]
    assert ding == {"agent_id": 9, "userid_list": "u1", "msg": {"msgtype": "markdown", "markdown": {
        "title": payload["title"], "text": payload["markdown"]}}}
    want = base64.b64encode(hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()).decode()
    assert dingtalk_sign("SECabc", 1700000000000) == want


def test_the_gateways_one_line_templates_render_as_jinja2_would() -> None:
    from jinja2 import UndefinedError

    from rectify.channels import sms

    ctx = {"mobile": "13800138000", "text": "您有2项", "timestamp": "1700000000000", "nonce": "ab", "token": "T",
           "body": '{"a": 1}', "signature": "S"}
    odd = {**ctx, "text": "<b>您有2项</b> & 'x' \"y\"", "mobile": "+86 138"}
    default_body = SmsSettings.model_fields["body"].default
    for source in ("https://gw.example/sms/send", "Bearer {{ token }}", "{{timestamp}}{{ body }}", "x{{  mobile }}y",
                   '{"m": {{ mobile|tojson }}}', default_body, "{{ text | tojson }}}", "a}{{ nonce|tojson}}{x"):
        for values in (ctx, odd):
            assert sms._template(source).render(**values) == sms._ENV.from_string(source).render(**values)
        assert type(sms._template(source)) is sms._Substitution  # the fast path, not a Jinja2 template
    for source in ("{{ range }}", "{{ token }}\n", "{% if 1 %}1{% endif %}", "{{ x }}", "{{ text|upper }}",
                   "{{ text|tojson(2) }}", "{# c #}{{ text }}", "{{- text }}"):
        assert type(sms._template(source)) is not sms._Substitution  # anything else: Jinja2 itself
    from jinja2 import TemplateSyntaxError

    with pytest.raises(TemplateSyntaxError):  # "{{{": Jinja2's reading (an error), not a substitution's
        sms._template("{{{ text }}")
    with pytest.raises(UndefinedError, match="'signature' is undefined"):
        sms._template("{{ signature }}").render(mobile="1")  # StrictUndefined, as before
