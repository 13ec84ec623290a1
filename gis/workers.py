"""网格员名册: the grid workers of a region, with what they have done lately.

A leader looks here for the worker nobody has heard from (no report in 30 days) and for the grid
whose open cases pile up; a desk for whom to call.  Each worker with their village, their grids,
their account (if any), the grid workers' reports in their grids over the last
:data:`ACTIVE_DAYS` days, how many of them were settled on the spot (就地化解) and the last one
(by grid, not by account: a worker reporting from a shared phone, or a history imported without
accounts, counts the same), the open cases of their grids and the resolved ones waiting for
them to verify on the spot (待核查, 现场核查).  And their patrols (巡查打卡,
:mod:`gis.patrols`): on how many of those days they checked in, and when last (by worker: a
check-in is made under the worker's own account).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.patrols import NOT_AHEAD_SQL
from gis.roles import GRID_ROLES
from gis.scope import Scope
from gis.workflow import open_sql, to_verify_sql

#: the period a worker's reports are counted over
ACTIVE_DAYS = 30


@dataclass(frozen=True)
class WorkerRow:
    code: str
    name: str
    phone: str | None
    village_code: str | None
    village: str | None
    grids: list[str]
    username: str | None  # their account, if they have one
    reported: int  # grid workers' reports in their grids over the last ACTIVE_DAYS days
    last_report: datetime | None  # the last grid worker's report in their grids
    open_in_grids: int  # open cases of their grids
    #: of ``reported``, those settled on the spot (就地化解)
    settled: int = 0
    #: the days (Beijing time) of the last ACTIVE_DAYS days with a patrol check-in of theirs
    patrol_days: int = 0
    last_patrol: datetime | None = None  # their last check-in (device time)
    #: the names of ``grids``, in their order (兴沙社区第1网格; the code where a grid has none)
    grid_names: list[str] = field(default_factory=list)
    #: their parts in their grids' teams (GRID_ROLES), each once, in GRID_ROLES's order
    roles: list[str] = field(default_factory=list)
    #: 巡查里程: the metres of the routes their check-ins of the last ACTIVE_DAYS days carried
    walked_m: float = 0.0
    #: 待核查: the resolved cases of their grids, waiting for a verification on the spot (those
    #: resolved here: not another system's history, imported resolved)
    to_verify: int = 0
    #: of ``to_verify``, those past their verification's due time (3 working days after their
    #: resolution: ``cases.verify_due``)
    verify_late: int = 0


@dataclass(frozen=True)
class Roster:
    workers: list[WorkerRow]
    total: int
    #: the workers with no report in ACTIVE_DAYS days (of all ``total``, not only this page)
    silent: int


def roster(
    session: Session, scope: Scope, *, least_first: bool = False, limit: int = 100, offset: int = 0
) -> Roster:
    """The grid workers of ``scope``'s region (:func:`gis.boundaries.narrow_scope` for one of
    its regions), by village and code, or those with the fewest reports first
    (``least_first``)."""
    order = "w.reported, w.village_code, w.code" if least_first else "w.village_code, w.code"
    rows = session.execute(
        text(f"""
        -- by grid, once, not per worker: its resolved cases (few: through cases_status) and the
        -- grid workers' reports of the last days (the jurisdiction's recent cases, read in the
        -- order they came: a grid's own, looked up for each of its workers, lay all over the
        -- table, 0.25 s of a city's 0.31 s over a million cases); then summed for each worker
        WITH by_grid AS MATERIALIZED (
            SELECT c.grid_code, count(*) FILTER (WHERE {to_verify_sql("c")}) AS to_verify,
                   count(*) FILTER (WHERE c.verify_due < now()) AS verify_late,
                   0 AS reported, 0 AS settled
            FROM cases c
            WHERE c.status = 'resolved' AND {scope.case_condition("c")}
            GROUP BY c.grid_code
            UNION ALL
            SELECT c.grid_code, 0, 0, count(*),
                   count(*) FILTER (WHERE c.on_site)  -- (migration 0062)
            FROM cases c
            WHERE c.received_at >= now() - make_interval(days => :days)
              AND c.source = 'grid_worker' AND {scope.case_condition("c")}
            GROUP BY c.grid_code
        ),
        by_worker AS (
            SELECT g.worker_id, sum(b.to_verify) AS to_verify, sum(b.verify_late) AS verify_late,
                   sum(b.reported) AS reported, sum(b.settled) AS settled
            FROM worker_grid g JOIN by_grid b ON b.grid_code = g.grid_code
            GROUP BY g.worker_id
        ),
        w AS MATERIALIZED (  -- (each worker once, whatever the order asked: joined by hashing)
            SELECT w.id, w.code, w.name, w.phone, v.code AS village_code, v.name AS village,
                   (SELECT a.username FROM app_user a
                    WHERE a.worker_id = w.id ORDER BY a.id LIMIT 1) AS username,
                   coalesce(b.reported, 0) AS reported, coalesce(b.settled, 0) AS settled,
                   coalesce(b.to_verify, 0) AS to_verify,
                   coalesce(b.verify_late, 0) AS verify_late
            FROM worker w JOIN region v ON v.id = w.region_id
            LEFT JOIN by_worker b ON b.worker_id = w.id
            WHERE {scope.region_condition("v")}
        )
        SELECT w.code, w.name, w.phone, w.village_code, w.village,
               coalesce((SELECT array_agg(g.grid_code ORDER BY g.grid_code)
                         FROM worker_grid g WHERE g.worker_id = w.id), '{{}}') AS grids,
               coalesce((SELECT array_agg(coalesce(gr.name, g.grid_code) ORDER BY g.grid_code)
                         FROM worker_grid g
                         LEFT JOIN grid gr ON gr.code = g.grid_code AND gr.valid_to IS NULL
                         WHERE g.worker_id = w.id), '{{}}') AS grid_names,
               coalesce((SELECT array_agg(DISTINCT g.role) FROM worker_grid g
                         WHERE g.worker_id = w.id), '{{}}') AS roles,
               w.username, w.reported, w.settled,
               (SELECT max(l.at) FROM worker_grid g
                CROSS JOIN LATERAL (  -- (each grid's newest first: stops at its last report)
                    SELECT c.received_at AS at FROM cases c
                    WHERE c.grid_code = g.grid_code AND c.source = 'grid_worker'
                      AND {scope.case_condition("c")}
                    ORDER BY c.received_at DESC LIMIT 1) l
                WHERE g.worker_id = w.id) AS last_report,
               gc.open_in_grids, w.to_verify, w.verify_late,
               pt.days AS patrol_days, pt.walked_m,
               (SELECT max(p.checked_at) FROM patrol p
                WHERE p.worker_id = w.id AND {NOT_AHEAD_SQL}
                  AND {scope.case_condition("p")}) AS last_patrol,
               count(*) OVER () AS total,
               count(*) FILTER (WHERE w.reported = 0) OVER () AS silent
        FROM w
        CROSS JOIN LATERAL (  -- (the open ones only: the partial index of a grid's open cases)
            SELECT count(*) AS open_in_grids
            FROM worker_grid g JOIN cases c ON c.grid_code = g.grid_code
            WHERE g.worker_id = w.id AND {open_sql("c")} AND {scope.case_condition("c")}) gc
        CROSS JOIN LATERAL (
            SELECT count(DISTINCT (p.checked_at AT TIME ZONE 'Asia/Shanghai')::date) AS days,
                   coalesce(sum(p.track_m), 0) AS walked_m
            FROM patrol p
            WHERE p.worker_id = w.id
              AND p.checked_at >= now() - make_interval(days => :days) AND {NOT_AHEAD_SQL}
              AND {scope.case_condition("p")}) pt
        ORDER BY {order}
        LIMIT :limit OFFSET :offset
    """),
        scope.params() | {"days": ACTIVE_DAYS, "limit": limit, "offset": offset},
    ).all()
    workers = [
        WorkerRow(
            r.code, r.name, r.phone, r.village_code, r.village, list(r.grids), r.username,
            int(r.reported), r.last_report, int(r.open_in_grids), int(r.settled),
            int(r.patrol_days), r.last_patrol, list(r.grid_names),
            [role for role in GRID_ROLES if role in r.roles], float(r.walked_m),
            int(r.to_verify), int(r.verify_late),
        )
        for r in rows
    ]  # fmt: skip
    total = int(rows[0].total) if rows else 0
    silent = int(rows[0].silent) if rows else 0
    if not rows and offset:  # (a page past the end: the counts still)
        again = roster(session, scope, least_first=least_first, limit=1, offset=0)
        total, silent = again.total, again.silent
    return Roster(workers, total, silent)


@dataclass(frozen=True)
class Activity:
    """How many grid workers a region has, and how many were silent: no grid worker's report
    in their grids over the :data:`ACTIVE_DAYS` days before ``end``; how many have an account
    (only they can check in), and how many of those made no patrol check-in (巡查打卡) then;
    the grids of the region on the day before ``end``, and how many of them someone checked in
    at that day (巡查覆盖)."""

    code: str
    name: str
    workers: int
    silent: int
    accounts: int = 0
    unpatrolled: int = 0
    grids: int = 0
    walked: int = 0


def activity(session: Session, scope: Scope, region: str, end: datetime) -> list[Activity]:
    """The grid workers of ``region`` and of each of its child regions (the region first, then
    the children by code; a village has none), with the silent ones: the daily roll-up's
    网格员履职.  Counted as on the roster (reports by grid, check-ins by worker, over the days
    before ``end``)."""
    rows = session.execute(
        text(f"""
        WITH top AS (SELECT id, code, name FROM region WHERE code = :region),
        w AS (
            SELECT w.id, v.path,
                   NOT EXISTS (
                       SELECT 1 FROM worker_grid g JOIN cases c ON c.grid_code = g.grid_code
                       WHERE g.worker_id = w.id AND c.source = 'grid_worker'
                         AND c.received_at >= CAST(:end AS timestamptz)
                                              - make_interval(days => :days)
                         AND c.received_at < :end AND {scope.case_condition("c")}) AS silent,
                   a.account,
                   a.account AND NOT EXISTS (
                       SELECT 1 FROM patrol p
                       WHERE p.worker_id = w.id
                         AND p.checked_at >= CAST(:end AS timestamptz)
                                             - make_interval(days => :days)
                         AND p.checked_at < :end AND {scope.case_condition("p")}) AS unpatrolled
            FROM worker w JOIN region v ON v.id = w.region_id
            CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM app_user u
                                               WHERE u.worker_id = w.id) AS account) a,
                 top
            WHERE top.id = ANY(v.path) AND {scope.region_condition("v")}
        ),
        -- the grids of that day (the layout then), each walked or not that day; each code
        -- once (a grid redrawn that day has a version before and one after)
        g AS (
            SELECT DISTINCT ON (g.code) v.path, EXISTS (
                       SELECT 1 FROM patrol p
                       WHERE p.grid_code = g.code
                         AND p.checked_at >= CAST(:end AS timestamptz) - interval '1 day'
                         AND p.checked_at < :end AND {scope.case_condition("p")}) AS walked
            FROM grid g JOIN region v ON v.id = g.village_id, top
            WHERE top.id = ANY(v.path) AND {scope.region_condition("v")}
              AND g.valid_from < :end
              AND (g.valid_to IS NULL
                   OR g.valid_to > CAST(:end AS timestamptz) - interval '1 day')
        )
        SELECT top.code, top.name, count(w.id) AS workers,
               count(w.id) FILTER (WHERE w.silent) AS silent,
               count(w.id) FILTER (WHERE w.account) AS accounts,
               count(w.id) FILTER (WHERE w.unpatrolled) AS unpatrolled,
               gc.grids, gc.walked, 0 AS rank
        FROM top
        CROSS JOIN (SELECT count(*) AS grids, count(*) FILTER (WHERE walked) AS walked FROM g) gc
        LEFT JOIN w ON true
        GROUP BY top.code, top.name, gc.grids, gc.walked
        UNION ALL
        SELECT child.code, child.name, count(w.id), count(w.id) FILTER (WHERE w.silent),
               count(w.id) FILTER (WHERE w.account), count(w.id) FILTER (WHERE w.unpatrolled),
               gc.grids, gc.walked, 1
        FROM top JOIN region child ON child.parent_id = top.id
        CROSS JOIN LATERAL (SELECT count(*) AS grids, count(*) FILTER (WHERE g.walked) AS walked
                            FROM g WHERE child.id = ANY(g.path)) gc
        LEFT JOIN w ON child.id = ANY(w.path)
        GROUP BY child.code, child.name, gc.grids, gc.walked
        ORDER BY rank, code
    """),
        scope.params() | {"region": region, "end": end, "days": ACTIVE_DAYS},
    ).all()
    return [
        Activity(r.code, r.name, int(r.workers), int(r.silent), int(r.accounts),
                 int(r.unpatrolled), int(r.grids), int(r.walked))
        for r in rows
    ]  # fmt: skip
