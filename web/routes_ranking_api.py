"""`GET /api/ranking`: the 考评 ranking over a period, for the command office (every unit) and supervisors
(their group's findings), the same figures as `rectify assess` and the 驾驶舱."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rectify.services.access import may_see_status, visible
from rectify.services.assessment import assess_runtime, period
from web.actions import Forbidden
from web.routes_api import ERRORS, Caller, _today

router = APIRouter(prefix="/api", tags=["assessment"])


class Rate(BaseModel):
    rate: float = Field(description="0..1; 1 when nothing was due")
    numerator: int
    denominator: int


class RankedUnit(BaseModel):
    rank: int = Field(description="1 is best; equal scores share a rank")
    unit_id: int
    unit: str
    score: float = Field(description="0..100 (docs/practice.md, 考评)")
    on_time: Rate = Field(description="按期销号率 (current deadline)")
    on_time_original: Rate = Field(description="按原时限按期销号率")
    ack: Rate = Field(description="签收及时率")
    progress: Rate = Field(description="进展按时率")
    overdue: int = Field(description="逾期未整改 (against the original deadline)")
    escalations: int = Field(description="督办/通报 steps the original deadlines brought in the period")
    rebounds: int = Field(description="反弹: reopenings after 回头看 in the period")


class Ranking(BaseModel):
    start: date
    end: date
    weights: dict[str, float]
    units: list[RankedUnit]


def _rate(c, name: str, num: str, den: str) -> Rate:
    return Rate(rate=round(c.rate(name), 4), numerator=getattr(c, num), denominator=getattr(c, den))


@router.get("/ranking", response_model=Ranking, responses=ERRORS, summary="考评: units ranked by score")
def api_ranking(request: Request, who: Caller, start: Annotated[date | None, Query(alias="from")] = None,
                end: Annotated[date | None, Query(alias="to")] = None) -> Ranking | JSONResponse:
    _, me = who
    if not may_see_status(me.viewer):
        raise Forbidden
    rt = request.app.state.rt
    first, last = period(end or _today(request), start, rt.settings.assessment.period_days)
    if last < first:
        return JSONResponse({"error": "invalid", "fields": ["from", "to"]}, status_code=422)
    a = assess_runtime(rt, start=first, end=last, scope=visible(me.viewer))
    return Ranking(start=a.start, end=a.end, weights={k: getattr(a.weights, k) for k in a.weights.__slots__},
                   units=[RankedUnit(rank=r.rank, unit_id=r.unit_id, unit=r.unit, score=r.score,
                                     on_time=_rate(r.c, "on_time", "on_time", "due"),
                                     on_time_original=_rate(r.c, "on_time_original", "on_time_original",
                                                            "due_original"),
                                     ack=_rate(r.c, "ack", "ack_on_time", "ack_due"),
                                     progress=_rate(r.c, "progress", "progress_on_time", "progress_due"),
                                     overdue=r.c.overdue, escalations=r.c.escalations, rebounds=r.c.rebounds)
                          for r in a.ranking])
