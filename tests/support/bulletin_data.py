"""One small county for the bulletin and digest tests, with figures worked out by hand.

As of 2024-01-19 (Asia/Shanghai): 6 findings count (one cancelled does not), 2 closed in the period
(one at 23:30 local time on the 19th), one closed at 00:30 on the 20th (next period), 1 overdue at the
notify level, 1 reported awaiting verification. Units in office order: 县公安局, 县财政局, 琴台街道.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from models import Finding
from tests.support import factory

AS_OF = date(2024, 1, 19)
SCRIPT = "执法信息公示<script>alert('x')</script>不到位"
LEAD = ("截至1月19日，2个督导组共督导发现问题6个，已整改销号2个，整改完成率33.3%；本期新增销号2个；"
        "逾期未整改1个，涉及1个单位。")
TABLE = [  # no deadline moved and nothing reopened: 逾期（按原时限） equals 逾期（按现时限）, no 反弹
    ["县公安局", "2", "1", "1", "1", "1", "0", "50.0%"],
    ["县财政局", "3", "1", "2", "0", "0", "0", "33.3%"],
    ["琴台街道", "1", "0", "1", "0", "0", "0", "0.0%"],
    ["合计", "6", "2", "4", "1", "1", "0", "33.3%"],
]


@dataclass
class County:
    closed_in_period: list[Finding]
    closed_next_day: Finding
    overdue: Finding
    reported: Finding


def seed(s: Session) -> County:
    r = factory.round_(s)
    g1, g2 = factory.group(s, "第一督导组"), factory.group(s, "第二督导组")
    police = factory.unit(s, "县公安局")
    finance = factory.unit(s, "县财政局")
    street = factory.unit(s, "琴台街道", "township")
    police.sort_order, finance.sort_order = 1, 2

    def closed(f: Finding, at: datetime, measures: str) -> Finding:
        f.state, f.closed_at, f.measures = "closed", at, measures
        f.reported_at = at
        return f

    a = closed(factory.finding(s, unit=police, round=r, group=g1, problem=SCRIPT),
               datetime(2024, 1, 18, 2, 0, tzinfo=UTC), "已在政府网站公开执法信息")
    overdue = factory.finding(s, unit=police, round=r, group=g1, problem="执法案卷评查未开展",
                              due=date(2024, 1, 15), level=5)
    b = closed(factory.finding(s, unit=finance, round=r, group=g2, problem="合同审查台账不全"),
               datetime(2024, 1, 19, 15, 30, tzinfo=UTC), "补齐合同审查台账")  # 23:30 local on the 19th
    c = closed(factory.finding(s, unit=finance, round=r, group=g2, problem="规范性文件未备案"),
               datetime(2024, 1, 19, 16, 30, tzinfo=UTC), "已报送备案")  # 00:30 local on the 20th
    reported = factory.finding(s, unit=finance, round=r, group=g2, problem="行政复议应诉制度未建立",
                               due=date(2024, 1, 15), state="reported")
    reported.reported_at = datetime(2024, 1, 17, 2, 0, tzinfo=UTC)
    factory.finding(s, unit=street, round=r, group=g1, problem="普法宣传栏内容陈旧", inspected=date(2024, 1, 16))
    factory.finding(s, unit=street, round=r, group=g1, problem="已撤销的问题", state="cancelled")
    s.commit()
    return County([a, b], c, overdue, reported)
