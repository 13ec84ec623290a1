"""The roll-up (统计): figures for a region and period, per child region, each traceable."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CaseReader, QueryDay, SessionDep
from api.schemas import SafetyIndexOut, StatsOut, WeeklyOut, WeekOut
from gis import safety, stats
from gis.worktime import SHANGHAI, plausible_day, report_day

router = APIRouter(prefix="/api", tags=["stats 统计"])


def period(start: date | None, end: date | None, days: int = 30) -> tuple[datetime, datetime]:
    """Dates (Asia/Shanghai) → ``[start 00:00, end + 1 day 00:00)``; default: the last ``days``
    days up to today."""
    last = plausible_day(end, "end") if end else datetime.now(SHANGHAI).date()
    first = plausible_day(start, "start") if start else (last - timedelta(days=days - 1))
    return (
        datetime.combine(first, time(0), SHANGHAI),
        datetime.combine(last + timedelta(days=1), time(0), SHANGHAI),
    )


@router.get("/stats", response_model=StatsOut | list[str])
def get_stats(
    session: SessionDep,
    caller: CaseReader,
    region: Annotated[str | None, Query(description="region code (default: yours)")] = None,
    start: Annotated[
        QueryDay | None, Query(description="first day (default: 30 days back)")
    ] = None,
    end: Annotated[
        QueryDay | None, Query(description="last day, included (default: today)")
    ] = None,
    trace: Annotated[
        str | None, Query(description="list the case codes behind this figure instead")
    ] = None,
) -> StatsOut | list[str]:
    """Cases received in the period in the region: by state, kind and category; resolution,
    on-time (按期结案率), extension (延期率) and rework (返工率) rates, average handling time in
    working hours, satisfaction — in total and per child region."""
    since, until = period(start, end)
    if trace:
        return stats.trace(session, caller.scope, region, since, until, trace)
    return StatsOut.of(stats.stats(session, caller.scope, region, since, until))


@router.get("/stats/weekly", response_model=WeeklyOut)
def get_weekly(
    session: SessionDep,
    caller: CaseReader,
    region: Annotated[str | None, Query(description="region code (default: yours)")] = None,
    end: Annotated[
        QueryDay | None, Query(description="last day, included (default: today)")
    ] = None,
    weeks: Annotated[int, Query(ge=1, le=156, description="how many weeks")] = stats.TREND_WEEKS,
) -> WeeklyOut:
    """趋势: the cases received in the region week by week (seven days each, the last ending with
    ``end``), disputes and hazards, and of them those resolved, on time and rated — the daily
    roll-up's 近12周趋势, by the definitions of ``/api/stats``; for a command screen's chart."""
    _, until = period(None, end, days=1)
    code, name, _ = stats.find_region(session, caller.scope, region)
    found = stats.weekly(session, caller.scope, code, until, weeks)
    return WeeklyOut(region=code, region_name=name, weeks=[WeekOut.of(w) for w in found])


@router.get("/safety-index", response_model=SafetyIndexOut)
def get_safety_index(
    session: SessionDep,
    caller: CaseReader,
    region: Annotated[str | None, Query(description="region code (default: yours)")] = None,
    day: Annotated[
        QueryDay | None,
        Query(alias="date", description="last day of the 30 days, YYYY-MM-DD (default: yesterday)"),
    ] = None,
) -> SafetyIndexOut:
    """平安指数: the safety index (0–100) of a region and of each of its child regions, ranked,
    for the 30 days ending with ``date`` — 100 less deductions for incidence and critical cases
    per 10,000 residents (``serious``), overdue cases, repeat warnings and dissatisfied residents
    (``parts`` says how each is counted); with its band, the figures behind it and the change from
    a week before.  The published index where the day has been published, else computed now
    (``published`` false)."""
    entry = safety.safety_index(session, caller.scope, region, report_day(day))
    return SafetyIndexOut.of(entry, safety.PARTS, safety.BANDS)
