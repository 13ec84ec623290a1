"""The roll-up: what leaders read — for a region and a period, and for each of its child regions.

The cases counted are those *received* in the period ``[start, end)`` inside the region (and the
caller's jurisdiction).  Each figure is defined by events, and :func:`trace` lists the cases
behind any of them:

* ``resolved`` — reached resolved, verified or closed; resolution rate = resolved ÷ cases;
* ``closed`` — status closed;
* ``on_time`` — resolved no later than the deadline (the first ``→ resolved`` event, or the
  closing time for history without events); on-time rate (按期结案率) = on_time ÷ resolved;
* ``extended`` — with an ``extend`` event; extension rate (延期率) = extended ÷ cases;
* ``reworked`` — with a move to ``reopened``; rework rate (返工率) = reworked ÷ closed;
* ``on_site`` — settled on the spot by the reporter (就地化解, an ``on_site`` event); on-the-spot
  rate (就地化解率) = on_site ÷ cases;
* handling time — working hours from receipt to resolution, averaged over resolved cases;
* satisfaction — the residents' ratings: count, average score, share of 4–5.

A case merged into another (并案: two reports of one matter) is left out: the matter is counted
once, by the case that carries it (merged cases are closed at once, and would count as resolved
on time before the matter is).

A period of whole days (midnight to midnight in Beijing: the daily roll-up, the trend, 统计排名)
of a city, district or township is read from the figures kept per day and village
(``case_figure_day``) and per day and township by state, kind, category and source
(``case_figure_split``), except for the (day, township) pairs a change has marked since the
clock last counted them (:mod:`gis.figures`): those are counted from their cases.  Any other
period, a village's, or one with too many pairs marked is counted from its cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, NotFound
from gis.scope import Scope
from gis.workflow import not_merged_sql
from gis.worktime import SHANGHAI, clock_sql

CHILD_COLUMN = {"city": "district_code", "district": "township_code", "township": "village_code"}
LEVEL_COLUMN = {
    "city": "city_code",
    "district": "district_code",
    "township": "township_code",
    "village": "village_code",
}

_BASE = """
    WITH base AS {materialized} (
        SELECT c.id, c.code, c.status, c.kind::text AS kind, c.category,
               c.source::text AS source, c.deadline,
               c.received_at, {child} AS child, c.city_code, c.district_code, c.township_code,
               c.village_code,
               -- what its events and rating say, kept on the case (migration 0062); history
               -- without events: resolved when it was closed
               coalesce(c.first_resolved_at,
                        CASE WHEN c.status IN ('resolved', 'verified', 'closed')
                             THEN c.closed_at END) AS handled_at,
               c.extended, c.reworked, c.on_site, c.score
        FROM {source}
        WHERE {where}
          AND {in_scope}
          AND {not_merged}
    ), flagged AS (
        SELECT *, status IN ('resolved', 'verified', 'closed') AS is_resolved,
               status = 'closed' AS is_closed,
               status IN ('resolved', 'verified', 'closed') AND handled_at <= deadline
                   AS is_on_time
        FROM base
    )
"""

# the figures of the whole region and of each child region, and the cases counted by status, kind,
# category and source: one pass over the cases (the breakdowns' columns of figures are not read)
_DIMS = ("child", "status", "kind", "category", "source")
# the working hours from receipt to resolution, as ``wangge_work_hours`` counts them: the
# calendar joined for both days (a PL/pgSQL call per clock took 1.4 of 3.3 s for 114,000 cases)
_JOIN_FROM, _CLOCK_FROM = clock_sql("f0.received_at", "wc_from")
_JOIN_TO, _CLOCK_TO = clock_sql("f0.handled_at", "wc_to")
#: the figures, each a sum: a case counts 1 in each that it meets; the handling hours and the
#: scores as sums and counts, averaged after (so that the figures kept per day and place,
#: ``case_figure_day``, add up to the same)
SUMS = (
    "cases", "disputes", "hazards", "resolved", "closed", "on_time", "extended", "reworked",
    "hours_sum", "hours_n", "rated", "score_sum", "satisfied", "on_site",
)  # fmt: skip
#: the breakdowns: the cases counted by each of these (kept per day and township)
SPLITS = ("status", "kind", "category", "source")
#: of each case of ``flagged``: its dimensions, its day and place, and its figures (SUMS)
PER_CASE = f"""
    SELECT f.child, f.status, f.kind, f.category, f.source, f.received_at,
           CAST(f.received_at AT TIME ZONE 'Asia/Shanghai' AS date) AS day,
           coalesce(f.city_code, '') AS city_code, coalesce(f.district_code, '') AS district_code,
           coalesce(f.township_code, '') AS township_code,
           coalesce(f.village_code, '') AS village_code,
           1 AS cases, CAST(f.kind = 'dispute' AS int) AS disputes,
           CAST(f.kind = 'hazard' AS int) AS hazards,
           CAST(f.is_resolved AS int) AS resolved, CAST(f.is_closed AS int) AS closed,
           CAST(coalesce(f.is_on_time, false) AS int) AS on_time,
           CAST(f.extended AS int) AS extended, CAST(f.reworked AS int) AS reworked,
           coalesce(f.hours, 0) AS hours_sum, CAST(f.hours IS NOT NULL AS int) AS hours_n,
           CAST(f.score IS NOT NULL AS int) AS rated, coalesce(f.score, 0) AS score_sum,
           CAST(coalesce(f.score >= 4, false) AS int) AS satisfied,
           CAST(f.on_site AS int) AS on_site
    FROM (SELECT f0.*, CASE WHEN f0.is_resolved AND f0.handled_at IS NOT NULL
                            THEN ({_CLOCK_TO}) - ({_CLOCK_FROM}) END AS hours
          FROM flagged f0 {_JOIN_FROM} {_JOIN_TO}
          OFFSET 0) f  -- (OFFSET 0: the hours once per case, not once per set)
"""
#: the figures (:class:`Figures`) of the rows summed
#: (the counts 0, not null, where no case was received: the total of no rows is a row)
_FIGURE_SUMS = """coalesce(sum(cases), 0) AS cases, coalesce(sum(resolved), 0) AS resolved,
           coalesce(sum(closed), 0) AS closed, coalesce(sum(on_time), 0) AS on_time,
           coalesce(sum(extended), 0) AS extended, coalesce(sum(reworked), 0) AS reworked,
           -- (to a millionth of an hour: summed per day first or case by case, the same)
           CAST(round(CAST(sum(hours_sum) / nullif(sum(hours_n), 0) AS numeric), 6)
                AS double precision) AS handling_hours,
           coalesce(sum(rated), 0) AS rated,
           CAST(sum(score_sum) AS numeric) / nullif(sum(rated), 0) AS score,
           coalesce(sum(satisfied), 0) AS satisfied, coalesce(sum(on_site), 0) AS on_site"""
_FIGURES = f"""
    SELECT CASE {" ".join(f"WHEN grouping({d}) = 0 THEN '{d}'" for d in _DIMS)} END AS dim,
           coalesce({", ".join(_DIMS)}) AS key,
           {_FIGURE_SUMS}
    FROM rows
    GROUP BY GROUPING SETS ((), {", ".join(f"({d})" for d in _DIMS)})
"""
_TRACE = {
    "cases": "true",
    "resolved": "is_resolved",
    "closed": "is_closed",
    "on_time": "is_on_time",
    "extended": "extended",
    "reworked": "reworked",
    "rated": "score IS NOT NULL",
    "on_site": "on_site",
}


@dataclass(frozen=True)
class Figures:
    cases: int
    resolved: int
    closed: int
    on_time: int
    extended: int
    reworked: int
    handling_hours: float | None
    rated: int
    score: float | None
    satisfied: int
    on_site: int = 0  # 就地化解

    @staticmethod
    def _rate(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    @property
    def rates(self) -> dict[str, float | None]:
        return {
            "resolution_rate": self._rate(self.resolved, self.cases),
            "on_time_rate": self._rate(self.on_time, self.resolved),
            "extension_rate": self._rate(self.extended, self.cases),
            "rework_rate": self._rate(self.reworked, self.closed),
            "satisfaction_rate": self._rate(self.satisfied, self.rated),
            "on_site_rate": self._rate(self.on_site, self.cases),
        }


@dataclass(frozen=True)
class Stats:
    region: str
    region_name: str
    level: str
    start: datetime
    end: datetime
    total: Figures
    by_status: dict[str, int]
    by_kind: dict[str, int]
    by_category: dict[str, int]
    children: dict[str, tuple[str, Figures]] = field(default_factory=dict)
    #: cases by where they came from (案件来源: ``gis.cases.SOURCE_NAMES``)
    by_source: dict[str, int] = field(default_factory=dict)


def find_region(session: Session, scope: Scope, code: str | None) -> tuple[str, str, str]:
    """Code, name and level of region ``code`` (default: the caller's), which must lie in
    ``scope`` (else 404)."""
    row: Any
    if code is None:
        if scope.is_everything:
            row = session.execute(
                text(
                    "SELECT code, name, level::text FROM region WHERE parent_id IS NULL "
                    "ORDER BY code LIMIT 1"
                )
            ).first()
        else:
            row = (scope.region_code, scope.region_name, scope.level)
    else:
        row = session.execute(
            text(
                f"SELECT code, name, level::text FROM region r WHERE code = :c "
                f"AND {scope.region_condition('r')}"
            ),
            {"c": code},
        ).first()
    if row is None or row[0] is None:
        raise NotFound(
            "没有找到该区划（或不在您的管辖范围内）。",
            "No such region (or not in your jurisdiction).",
        )
    return str(row[0]), str(row[1]), str(row[2])


def _check_period(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput(
            "统计区间的结束时间须晚于开始时间。",
            "The period must end after it starts.",
            field="end",
        )
    if (end - start).days > 3 * 366:
        raise InvalidInput(
            "统计区间最长三年。", "The period may be at most three years.", field="start"
        )


#: the (day, township) pairs marked to count again (``case_figure_dirty``, migration 0084) among
#: the days ``[:d0, :d1)``
MARKED_PAIRS = """(SELECT DISTINCT day, township_code FROM case_figure_dirty
                   WHERE day >= :d0 AND day < :d1)"""
#: the cases of the pairs ``{pairs}``, each pair's through its index (a township's cases of a day;
#: those of no township, of the day)
_OF_PAIRS = """{pairs} d
        CROSS JOIN LATERAL (
            SELECT * FROM cases c WHERE c.township_code = d.township_code
               AND c.received_at >= CAST(d.day AS timestamp) AT TIME ZONE 'Asia/Shanghai'
               AND c.received_at < CAST(d.day + 1 AS timestamp) AT TIME ZONE 'Asia/Shanghai'
            UNION ALL
            SELECT * FROM cases c WHERE d.township_code = '' AND c.township_code IS NULL
               AND c.received_at >= CAST(d.day AS timestamp) AT TIME ZONE 'Asia/Shanghai'
               AND c.received_at < CAST(d.day + 1 AS timestamp) AT TIME ZONE 'Asia/Shanghai'
        ) c"""


def base_sql(
    scope: Scope, level: str | None, materialized: bool = True, pairs: str | None = None
) -> str:
    """The cases counted, with what each figure needs: those received in ``[:start, :end)`` in
    region ``:region`` of ``level``, or those of the (day, township) ``pairs`` (SQL of rows
    ``day, township_code``: :data:`MARKED_PAIRS`) (``level`` None: in every region).
    ``materialized``: read once for the several sets of :data:`_FIGURES`."""
    child = f"c.{CHILD_COLUMN[level]}" if level in CHILD_COLUMN else "NULL::varchar"
    where = [] if level is None else [f"c.{LEVEL_COLUMN[level]} = :region"]
    if pairs is None:
        where.append("c.received_at >= :start AND c.received_at < :end")
    return _BASE.format(
        materialized="MATERIALIZED" if materialized else "NOT MATERIALIZED",
        child=child,
        source="cases c" if pairs is None else _OF_PAIRS.format(pairs=pairs),
        where=" AND ".join(where) or "true",
        in_scope=scope.case_condition("c"),
        not_merged=not_merged_sql("c"),  # (a matter counted once: the module docstring)
    )


def days_of(start: datetime, end: datetime) -> tuple[date, date] | None:
    """``[start, end)`` as days in Beijing ``[d0, d1)``, if it begins and ends at midnight there
    (the figures kept per day can then be read); else None."""
    a, b = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
    if a.timetz().replace(tzinfo=None) != time(0) or b.timetz().replace(tzinfo=None) != time(0):
        return None
    return a.date(), b.date()


#: of a period of whole days, read from the figures kept per day when at most this many (day,
#: township) pairs of it are marked to count again (more: a bulk import, a new calendar, the
#: first minutes after migration 0084 — each case is read, by the period's scan)
MAX_MARKED = 300
#: the figures of the child regions and of the whole (dim ``child`` or None), from ``rows``
_TOTALS = f"""
    SELECT CASE WHEN grouping(child) = 0 THEN 'child' END AS dim, child AS key, {_FIGURE_SUMS}
    FROM rows GROUP BY GROUPING SETS ((), (child))
"""
_SPLITS = " SELECT dim, key, sum(n) AS cases FROM splits GROUP BY dim, key"


def _kept_days(
    session: Session, scope: Scope, level: str, start: datetime, end: datetime
) -> dict[str, date]:
    """The parameters ``d0``, ``d1`` of :func:`_rows` if the figures of ``[start, end)`` in a
    region of ``level`` are read from those kept per day (``case_figure_day``, migration 0084):
    a period of whole days in Beijing, of a city, district or township (a village's cases are
    few: counted), with not too many pairs marked; else empty."""
    days = days_of(start, end)
    if days is None or level not in CHILD_COLUMN or scope.level == "village":
        return {}
    kept = {"d0": days[0], "d1": days[1]}
    marked = session.execute(
        text(f"SELECT count(*) FROM (SELECT 1 FROM {MARKED_PAIRS} p LIMIT :m) p"),
        kept | {"m": MAX_MARKED + 1},
    ).scalar_one()
    return kept if marked <= MAX_MARKED else {}


def _rows(scope: Scope, level: str) -> str:
    """SQL: ``… pc AS (…), rows AS (…), splits AS (…)`` for a period of whole days ``[:d0,
    :d1)``: the figures of the region's cases per village (``rows``, with the child region) and
    per state, kind, category and source (``splits``: dim, key, n), those kept per day where no
    change marked their (day, township) since, and of each case where one did (``pc``)."""
    child = f"nullif(k.{CHILD_COLUMN[level]}, '')"
    unmarked = """NOT EXISTS (SELECT 1 FROM case_figure_dirty d
                          WHERE d.day = k.day AND d.township_code = k.township_code)"""
    where = f"k.{LEVEL_COLUMN[level]} = :region AND k.day >= :d0 AND k.day < :d1"
    where += f" AND {scope.case_condition('k')} AND {unmarked}"
    split_rows = " UNION ALL ".join(
        f"SELECT '{d}' AS dim, CAST({d} AS varchar) AS key, 1 AS n FROM pc" for d in SPLITS
    )
    return (
        base_sql(scope, level, pairs=MARKED_PAIRS)
        + f""",
    pc AS MATERIALIZED ({PER_CASE}),
    rows AS (
        SELECT child, day, {", ".join(SUMS)} FROM pc
        UNION ALL
        SELECT {child}, k.day, {", ".join(f"k.{f}" for f in SUMS)} FROM case_figure_day k
        WHERE {where}
    ),
    splits AS (
        {split_rows}
        UNION ALL
        SELECT k.dim, k.key, k.n FROM case_figure_split k WHERE {where}
    )"""
    )


def stats(
    session: Session, scope: Scope, region: str | None, start: datetime, end: datetime
) -> Stats:
    """The roll-up for ``region`` (default: the caller's) over ``[start, end)``."""
    _check_period(start, end)
    code, name, level = find_region(session, scope, region)
    params: dict[str, Any] = {"region": code, "start": start, "end": end}
    kept = _kept_days(session, scope, level, start, end)
    if kept:
        params |= kept
        rows = _rows(scope, level)  # (the marked pairs' cases read twice: they are few)
        found = [
            *session.execute(text(rows + _TOTALS), params).mappings(),
            *session.execute(text(rows + _SPLITS), params).mappings(),
        ]
    else:
        sql = base_sql(scope, level) + f", rows AS ({PER_CASE})" + _FIGURES
        found = list(session.execute(text(sql), params).mappings())
    total = Figures(0, 0, 0, 0, 0, 0, None, 0, None, 0)
    figures: dict[str, Figures] = {}  # of the child regions
    breakdown: dict[str, dict[str, int]] = {
        "status": {}, "kind": {}, "category": {}, "source": {}
    }  # fmt: skip
    for r in found:
        if r["dim"] in breakdown:
            breakdown[r["dim"]][r["key"]] = r["cases"]
            continue
        row = Figures(**{k: r[k] for k in Figures.__dataclass_fields__})  # type: ignore[arg-type]
        if r["dim"] is None:
            total = row
        elif r["key"] is not None:  # (the cases of no child region count in the total only)
            figures[r["key"]] = row
    children: dict[str, tuple[str, Figures]] = {}
    child_codes = list(figures)
    if child_codes:
        names: dict[str, str] = dict(
            session.execute(
                text("SELECT code, name FROM region WHERE code = ANY(CAST(:c AS varchar[]))"),
                {"c": child_codes},
            ).all()
        )
        children = {c: (names.get(c, c), figures[c]) for c in sorted(child_codes)}
    return Stats(
        code, name, level, start, end, total, breakdown["status"], breakdown["kind"],
        breakdown["category"], children, breakdown["source"],
    )  # fmt: skip


#: the weeks of a trend (近12周趋势): seven days each, the last ending where the period ends
TREND_WEEKS = 12
_WEEK_SECONDS = 7 * 86400
# the figures week by week (``nth``: 0 for the week starting at ``:start``, so that a case
# received at a week's first instant — a ledger's date without a time — counts in that week;
# by day when the period is of whole days, as the figures kept per day are); the same
# definitions as the roll-up's
_WEEKLY = """
    SELECT {nth} AS nth,
           sum(cases) AS cases, sum(disputes) AS disputes, sum(hazards) AS hazards,
           sum(resolved) AS resolved, sum(on_time) AS on_time, sum(rated) AS rated,
           sum(satisfied) AS satisfied
    FROM rows GROUP BY 1
"""
_NTH_BY_TIME = (
    f"floor(date_part('epoch', received_at - CAST(:start AS timestamptz)) / {_WEEK_SECONDS})::int"
)
_NTH_BY_DAY = "(day - CAST(:d0 AS date)) / 7"


@dataclass(frozen=True)
class Week:
    """A week's figures (of the cases received in ``[start, end)``), as :class:`Figures`."""

    start: datetime
    end: datetime
    cases: int = 0
    disputes: int = 0
    hazards: int = 0
    resolved: int = 0
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0

    @property
    def rates(self) -> dict[str, float | None]:
        rate = Figures._rate
        return {
            "resolution_rate": rate(self.resolved, self.cases),
            "on_time_rate": rate(self.on_time, self.resolved),
            "satisfaction_rate": rate(self.satisfied, self.rated),
        }


def weekly(
    session: Session, scope: Scope, region: str | None, end: datetime, weeks: int = TREND_WEEKS
) -> list[Week]:
    """The trend of ``region`` (default: the caller's): its figures for each of the ``weeks``
    weeks ending at ``end``, the oldest first (a week without cases: zeros)."""
    code, _, level = find_region(session, scope, region)
    start = end - timedelta(weeks=weeks)
    _check_period(start, end)
    params: dict[str, Any] = {"region": code, "start": start, "end": end}
    kept = _kept_days(session, scope, level, start, end)
    if kept:
        params |= kept
        sql, nth = _rows(scope, level), _NTH_BY_DAY
    else:
        sql = base_sql(scope, level, materialized=False) + f", rows AS ({PER_CASE})"
        nth = _NTH_BY_TIME
    weekly_sql = _WEEKLY.format(nth=nth)
    rows = {r["nth"]: r for r in session.execute(text(sql + weekly_sql), params).mappings()}
    counts = [f for f in Week.__dataclass_fields__ if f not in ("start", "end")]
    return [
        Week(
            start + timedelta(weeks=nth),
            start + timedelta(weeks=nth + 1),
            **({f: rows[nth][f] for f in counts} if nth in rows else {}),
        )
        for nth in range(weeks)
    ]


def trace(
    session: Session,
    scope: Scope,
    region: str | None,
    start: datetime,
    end: datetime,
    figure: str,
    limit: int = 1000,
) -> list[str]:
    """The codes of the cases counted in ``figure`` (see the module docstring)."""
    if figure not in _TRACE:
        raise InvalidInput(
            f"未知的指标 {figure!r}；可用：{', '.join(_TRACE)}。",
            f"Unknown figure {figure!r}; use one of: {', '.join(_TRACE)}.",
            field="trace",
        )
    _check_period(start, end)
    code, _, level = find_region(session, scope, region)
    sql = (
        base_sql(scope, level) + f"SELECT code FROM flagged WHERE {_TRACE[figure]} "
        "ORDER BY code LIMIT :limit"
    )
    return list(
        session.execute(
            text(sql), {"region": code, "start": start, "end": end, "limit": limit}
        ).scalars()
    )
