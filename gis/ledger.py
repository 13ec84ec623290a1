"""网格台账: the current grids of a region, one row each, with what a leader asks of a grid.

Its village and township, households and population (the size a grid is drawn to), its area,
its grid workers, its open and overdue cases, its cases of the last :data:`RECENT_DAYS` days,
and (for those who may read check-ins) the days of those on which someone checked in there
(巡查). Two marks a planner acts on: a grid with no grid worker (未配网格员), and a grid of more
households than :data:`HOUSEHOLDS_MAX` (户数偏多: redraw it, or give it a second worker).

The counts of the whole region come with any page of it: how many grids, households, people and
square kilometres, how many unstaffed and how many large.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, NotFound
from gis.mapdata import Period
from gis.patrols import NOT_AHEAD_SQL
from gis.roles import check_roles, role_rank_sql
from gis.scope import Scope
from gis.workflow import open_sql

#: the period a grid's recent cases and patrol days are counted over
RECENT_DAYS = 30
#: the most households a grid is drawn for, unless the deployment sets its own
#: (``WANGGE_GRID_HOUSEHOLDS_MAX``): the usual rule for a city community's grids is 300–500
#: households each (rural grids, by village group, are often smaller); above it, marked
HOUSEHOLDS_MAX = 500
#: the orders a ledger can be read in: by village and code; the most open cases first; the most
#: households first; the most cases of the last RECENT_DAYS days first
LedgerOrder = Literal["code", "open", "households", "recent"]
_ORDER_SQL: dict[str, str] = {
    "code": "village_code, code",
    "open": "open_cases DESC, overdue DESC, village_code, code",
    "households": "households DESC NULLS LAST, village_code, code",
    "recent": "recent DESC, village_code, code",
}


@dataclass(frozen=True)
class GridRow:
    code: str
    name: str
    village_code: str
    village: str
    township: str | None  # the village's parent (a township, or whatever stands above it)
    households: int | None
    population: int | None
    area_km2: float
    version: int
    valid_from: datetime  # since when the grid is drawn as it is now
    #: (code, name, role) of its grid workers: the chief first, then by role and code
    workers: list[tuple[str, str, str]]
    open_cases: int
    overdue: int  # of ``open_cases``, those past their deadline
    recent: int  # cases received in the last RECENT_DAYS days
    patrol_days: int | None  # days of the last RECENT_DAYS with a check-in here (None: not shown)
    large: bool = False  # of more households than the ledger's ``households_max``

    @property
    def chiefless(self) -> bool:
        """Grid workers, but no chief among them (未设网格长)."""
        return bool(self.workers) and all(role != "chief" for _, _, role in self.workers)


@dataclass(frozen=True)
class Ledger:
    grids: list[GridRow]  # the page
    matching: int  # the grids the filters let through (what the pages run over)
    total: int  # every current grid of the region, filters or not
    households: int
    population: int
    area_km2: float
    unstaffed: int  # of ``total``, those without a grid worker
    large: int  # of ``total``, those of more than ``households_max`` households
    households_max: int = HOUSEHOLDS_MAX  # the rule ``large`` goes by
    chiefless: int = 0  # of ``total``, those with grid workers but no chief (未设网格长)


def ledger(
    session: Session,
    scope: Scope,
    *,
    order: LedgerOrder = "code",
    unstaffed: bool = False,
    large: bool = False,
    chiefless: bool = False,
    search: str | None = None,
    patrols: bool = False,
    code: str | None = None,
    limit: int = 100,
    offset: int = 0,
    households_max: int = HOUSEHOLDS_MAX,
) -> Ledger:
    """The current grids of ``scope``'s region (:func:`gis.boundaries.narrow_scope` for one of
    its regions) in ``order``: only those without a grid worker (``unstaffed``), with workers
    but no chief among them (``chiefless``, 未设网格长: nobody answers for the grid), of more than
    ``households_max`` households (``large``), whose code starts with or whose name holds
    ``search``.  ``patrols``: count the days with a check-in (for those who may read them).
    ``code``: that grid alone (the region's counts are then its own)."""
    needle = unicodedata.normalize("NFKC", search.strip()) if search and search.strip() else None
    # each count is made once for the region's grids (grouped by grid code, then joined), not
    # grid by grid: a city's 2,617 grids took 72 ms that way, half of it in those lookups.  The
    # open cases come from their index alone (cases_open_grid, migration 0061); the recent ones
    # from the roll-up by grid and day; both periods are the last RECENT_DAYS days of Beijing
    # time, today included, as on the map
    recent = Period.of(RECENT_DAYS)
    patrol_cte = (
        f"""pt AS (
            SELECT p.grid_code,
                   count(DISTINCT CAST(p.checked_at AT TIME ZONE 'Asia/Shanghai' AS date)) AS days
            FROM patrol p
            WHERE p.checked_at >= :since AND {NOT_AHEAD_SQL}
              AND {scope.case_condition("p")} AND p.grid_code IN (SELECT code FROM g0)
            GROUP BY p.grid_code),"""
        if patrols
        else "pt AS (SELECT NULL::text AS grid_code, NULL::bigint AS days WHERE false),"
    )
    rows = session.execute(
        text(f"""
        WITH g0 AS MATERIALIZED (
            SELECT g.code, g.name, v.code AS village_code, v.name AS village,
                   t.name AS township, g.households, g.population, g.area_m2 / 1e6 AS area_km2,
                   g.version, g.valid_from
            FROM grid g JOIN region v ON v.id = g.village_id
            LEFT JOIN region t ON t.id = v.parent_id
            WHERE g.valid_to IS NULL AND {scope.region_condition("v")}
              AND (CAST(:code AS text) IS NULL OR g.code = :code)
        ), w AS (
            SELECT wg.grid_code,
                   array_agg(w.code ORDER BY {role_rank_sql("wg")}, w.code) AS codes,
                   array_agg(w.name ORDER BY {role_rank_sql("wg")}, w.code) AS names,
                   array_agg(wg.role ORDER BY {role_rank_sql("wg")}, w.code) AS roles
            FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
            WHERE wg.grid_code IN (SELECT code FROM g0)
            GROUP BY wg.grid_code
        ), n AS (
            SELECT c.grid_code, count(*) AS open_cases,
                   count(*) FILTER (WHERE c.deadline < now()) AS overdue
            FROM cases c
            WHERE {open_sql("c")} AND {scope.case_condition("c")}
              AND c.grid_code IN (SELECT code FROM g0)
            GROUP BY c.grid_code
        ), r AS (  -- from the roll-up the map's grid counts read (a matter counted once)
            SELECT d.grid_code, sum(d.n) AS recent FROM case_grid_day d
            WHERE d.day >= :first_day AND d.grid_code IN (SELECT code FROM g0)
            GROUP BY d.grid_code
        ), {patrol_cte}
        g AS (
            SELECT g0.*,
                   coalesce(w.codes, '{{}}') AS worker_codes,
                   coalesce(w.names, '{{}}') AS worker_names,
                   coalesce(w.roles, '{{}}') AS worker_roles,
                   coalesce(n.open_cases, 0) AS open_cases, coalesce(n.overdue, 0) AS overdue,
                   coalesce(r.recent, 0) AS recent,
                   CASE WHEN :patrols THEN coalesce(pt.days, 0) END AS patrol_days,
                   w.codes IS NULL AS no_worker,
                   w.codes IS NOT NULL AND NOT 'chief' = ANY(w.roles) AS no_chief
            FROM g0 LEFT JOIN w ON w.grid_code = g0.code
            LEFT JOIN n ON n.grid_code = g0.code
            LEFT JOIN r ON r.grid_code = g0.code
            LEFT JOIN pt ON pt.grid_code = g0.code
        ), totals AS (  -- the region's, whatever the filters
            SELECT count(*) AS total, coalesce(sum(households), 0) AS all_households,
                   coalesce(sum(population), 0) AS all_population,
                   coalesce(sum(area_km2), 0) AS all_area,
                   count(*) FILTER (WHERE no_worker) AS all_unstaffed,
                   count(*) FILTER (WHERE no_chief) AS all_chiefless,
                   count(*) FILTER (WHERE households > :most) AS all_large
            FROM g
        ), matched AS (
            SELECT * FROM g
            WHERE (NOT :unstaffed OR no_worker) AND (NOT :chiefless OR no_chief)
              AND (NOT :large OR households > :most)
              AND (CAST(:needle AS text) IS NULL OR starts_with(code, :needle)
                   OR strpos(normalize(name, NFKC), :needle) > 0)
        ), page AS (
            SELECT *, row_number() OVER (ORDER BY {_ORDER_SQL[order]}) AS pos FROM matched
            ORDER BY {_ORDER_SQL[order]} LIMIT :limit OFFSET :offset
        )
        -- one row at least (the totals), with none of the page past its end
        SELECT t.*, (SELECT count(*) FROM matched) AS matching, p.*
        FROM totals t LEFT JOIN page p ON true
        ORDER BY p.pos
    """),
        scope.params()
        | {
            "first_day": recent.first,
            "since": recent.bounds()[0],
            "patrols": patrols,
            "most": households_max,
            "unstaffed": unstaffed,
            "chiefless": chiefless,
            "large": large,
            "needle": needle,
            "code": code,
            "limit": limit,
            "offset": offset,
        },
    ).all()
    first = rows[0]
    grids = [
        GridRow(
            r.code, r.name, r.village_code, r.village, r.township, r.households,
            r.population, float(r.area_km2), int(r.version), r.valid_from,
            list(zip(r.worker_codes, r.worker_names, r.worker_roles, strict=True)),
            int(r.open_cases), int(r.overdue), int(r.recent),
            None if r.patrol_days is None else int(r.patrol_days),
            r.households is not None and r.households > households_max,
        )
        for r in rows
        if r.code is not None
    ]  # fmt: skip
    return Ledger(
        grids,
        matching=int(first.matching),
        total=int(first.total),
        households=int(first.all_households),
        population=int(first.all_population),
        area_km2=float(first.all_area),
        unstaffed=int(first.all_unstaffed),
        chiefless=int(first.all_chiefless),
        large=int(first.all_large),
        households_max=households_max,
    )


@dataclass(frozen=True)
class ChildSummary:
    """One region below the ledger's: its current grids, households, people, those without a
    grid worker and those of many households, and the open cases in its grids."""

    code: str
    name: str
    grids: int
    households: int
    population: int
    unstaffed: int
    large: int
    open_cases: int


def children(
    session: Session, scope: Scope, households_max: int = HOUSEHOLDS_MAX
) -> list[ChildSummary]:
    """The regions right below ``scope``'s (the top regions for the whole deployment), each with
    its grids' counts (``large``: of more than ``households_max`` households), by code; none
    below a village."""
    rows = session.execute(
        text(f"""
        WITH child AS (
            SELECT r.id, r.code, r.name FROM region r
            WHERE r.parent_id IS NOT DISTINCT FROM CAST(:scope_region_id AS integer)
        )
        SELECT child.code, child.name, count(g.id) AS grids,
               coalesce(sum(g.households), 0) AS households,
               coalesce(sum(g.population), 0) AS population,
               count(g.id) FILTER (WHERE NOT EXISTS (
                   SELECT 1 FROM worker_grid wg WHERE wg.grid_code = g.code)) AS unstaffed,
               count(g.id) FILTER (WHERE g.households > :most) AS large,
               coalesce(sum((SELECT count(*) FROM cases c
                             WHERE c.grid_code = g.code AND {open_sql("c")}
                               AND {scope.case_condition("c")})), 0) AS open_cases
        FROM child
        LEFT JOIN region v ON child.id = ANY(v.path) AND v.level = 'village'
        LEFT JOIN grid g ON g.village_id = v.id AND g.valid_to IS NULL
        GROUP BY child.code, child.name
        ORDER BY child.code
    """),
        scope.params() | {"most": households_max},
    ).all()
    return [
        ChildSummary(r.code, r.name, int(r.grids), int(r.households), int(r.population),
                     int(r.unstaffed), int(r.large), int(r.open_cases))
        for r in rows
    ]  # fmt: skip


@dataclass(frozen=True)
class GridVersion:
    """One version of a grid (or of a grid its land came from or went to): its time in force,
    its size, the edit set that drew it, and its outline as SVG path data (metres, web
    Mercator, y downward)."""

    code: str
    version: int
    name: str
    village: str
    valid_from: datetime
    valid_to: datetime | None
    households: int | None
    population: int | None
    area_km2: float
    edit_title: str | None  # the committed edit set that drew it (None: as first loaded)
    edited_by: str | None  # the planner's account …
    edited_by_name: str | None  # … and name
    derived_from: list[tuple[str, int]]  # (code, version) of other grids its land came from
    taken_over_by: list[tuple[str, int]]  # (code, version) of other grids that took its land
    cases: int  # the cases assigned to this version (received while it was in force)
    svg: str

    @property
    def current(self) -> bool:
        return self.valid_to is None


@dataclass(frozen=True)
class GridRecord:
    """网格档案: a grid as it is now (None once retired) and every version of it, oldest first;
    ``related``: the versions of other grids its land came from or went to; ``view_box``: the
    SVG view box around them all."""

    code: str
    now: GridRow | None
    versions: list[GridVersion]
    related: list[GridVersion]
    view_box: tuple[float, float, float, float]
    phones: dict[str, str]  # the current grid workers' phones, by worker code
    #: of the codes its versions' land came from or went to, those the caller may open (a
    #: grid of another jurisdiction is named, not linked: its record would answer 404)
    reachable: frozenset[str] = frozenset()


def grid_record(
    session: Session,
    scope: Scope,
    code: str,
    *,
    patrols: bool = False,
    households_max: int = HOUSEHOLDS_MAX,
) -> GridRecord | None:
    """Grid ``code`` in ``scope``: now (as a row of the ledger, ``households_max`` its rule
    for many households) and its history; None if no version of it lies in ``scope``."""
    rows = session.execute(
        text(f"""
        WITH mine AS (
            SELECT g.* FROM grid g JOIN region v ON v.id = g.village_id
            WHERE g.code = :code AND {scope.region_condition("v")}
        ), related AS (  -- the other grids' versions its land came from or went to
            SELECT DISTINCT o.* FROM mine m
            JOIN grid o ON o.code <> m.code
                       AND (o.id = ANY(m.lineage) OR o.lineage @> ARRAY[m.id])
            JOIN region v ON v.id = o.village_id
            WHERE {scope.region_condition("v")}
        ), shown AS (
            SELECT true AS own, * FROM mine UNION ALL SELECT false, * FROM related
        )
        SELECT s.own, s.code, s.version, s.name, v.name AS village, s.valid_from, s.valid_to,
               s.households, s.population, s.area_m2 / 1e6 AS area_km2,
               e.title AS edit_title, e.created_by AS edited_by,
               u.display_name AS edited_by_name,
               (SELECT coalesce(array_agg(p.code || '@' || p.version ORDER BY p.code), '{{}}')
                FROM grid p WHERE p.id = ANY(s.lineage) AND p.code <> s.code) AS derived_from,
               (SELECT coalesce(array_agg(t.code || '@' || t.version ORDER BY t.code), '{{}}')
                FROM grid t WHERE t.lineage @> ARRAY[s.id] AND t.code <> s.code) AS taken_over_by,
               (SELECT count(*) FROM cases c
                WHERE c.grid_code = s.code AND c.grid_id = s.id  -- (by the code's index)
                  AND {scope.case_condition("c")}) AS cases,
               ST_AsSVG(ST_Transform(s.geom, 3857), 0, 1) AS svg,
               ST_XMin(x.box) AS x0, ST_YMin(x.box) AS y0, ST_XMax(x.box) AS x1,
               ST_YMax(x.box) AS y1
        FROM shown s JOIN region v ON v.id = s.village_id
        LEFT JOIN grid_edit e ON e.id = s.edit_id
        LEFT JOIN app_user u ON u.username = e.created_by
        CROSS JOIN (SELECT ST_Extent(ST_Transform(geom, 3857)) AS box FROM shown) x
        ORDER BY s.own DESC, s.code, s.version
    """),
        scope.params() | {"code": code},
    ).all()
    own = [r for r in rows if r.own]
    if not own:
        return None

    def pairs(tags: list[str]) -> list[tuple[str, int]]:
        return [(t.split("@")[0], int(t.split("@")[1])) for t in tags]

    def version(r) -> GridVersion:  # type: ignore[no-untyped-def]
        return GridVersion(
            r.code, int(r.version), r.name, r.village, r.valid_from, r.valid_to, r.households,
            r.population, float(r.area_km2), r.edit_title, r.edited_by, r.edited_by_name,
            pairs(r.derived_from),
            pairs(r.taken_over_by), int(r.cases), r.svg,
        )  # fmt: skip

    first = rows[0]
    pad = max(first.x1 - first.x0, first.y1 - first.y0) * 0.05
    view_box = (first.x0 - pad, -first.y1 - pad, first.x1 - first.x0 + 2 * pad,
                first.y1 - first.y0 + 2 * pad)  # fmt: skip
    now = None
    phones: dict[str, str] = {}
    if any(r.valid_to is None for r in own):
        found = ledger(
            session, scope, code=code, patrols=patrols, limit=1, households_max=households_max
        )
        now = found.grids[0] if found.grids else None
        phones = dict(
            session.execute(
                text("""SELECT w.code, w.phone FROM worker_grid wg
                        JOIN worker w ON w.id = wg.worker_id
                        WHERE wg.grid_code = :code AND w.phone IS NOT NULL"""),
                {"code": code},
            ).all()
        )
    named = sorted({t.split("@")[0] for r in own for t in (*r.derived_from, *r.taken_over_by)})
    reachable = frozenset(
        session.execute(
            text(f"""SELECT DISTINCT g.code FROM grid g JOIN region v ON v.id = g.village_id
                     WHERE g.code = ANY(CAST(:codes AS text[]))
                       AND {scope.region_condition("v")}"""),
            scope.params() | {"codes": named},
        ).scalars()
        if named
        else ()
    )
    return GridRecord(
        code,
        now,
        [version(r) for r in own],
        [version(r) for r in rows if not r.own],
        view_box,
        phones,
        reachable,
    )


@dataclass(frozen=True)
class CommittedEdit:
    """A committed edit set (网格调整): what it was called, who drew it, when it took effect and
    the grids it added, changed and retired (their codes, each with a record)."""

    id: int
    title: str
    by: str  # the planner's account
    by_name: str | None  # … and name (None: the account is gone)
    at: datetime
    added: list[str]
    changed: list[str]
    retired: list[str]


def recent_edits(session: Session, scope: Scope, limit: int = 10) -> list[CommittedEdit]:
    """The last ``limit`` edit sets committed on grids of ``scope``'s region, newest first."""
    rows = session.execute(
        text(f"""
        SELECT e.id, e.title, e.created_by, u.display_name,
               coalesce(e.closed_at, e.updated_at) AS at,
               coalesce(e.result -> 'grids', '{{}}') AS grids
        FROM grid_edit e LEFT JOIN app_user u ON u.username = e.created_by
        WHERE e.status = 'committed' AND EXISTS (
            SELECT 1 FROM grid g JOIN region v ON v.id = g.village_id
            WHERE g.edit_id = e.id AND {scope.region_condition("v")})
        ORDER BY at DESC, e.id DESC LIMIT :limit
    """),
        scope.params() | {"limit": limit},
    ).all()
    return [
        CommittedEdit(
            r.id, r.title, r.created_by, r.display_name, r.at, list(r.grids.get("added", [])),
            list(r.grids.get("changed", [])), list(r.grids.get("retired", [])),
        )
        for r in rows
    ]  # fmt: skip


#: the most grid workers one grid may be given (a team: 一主任三大员 and a few more)
MAX_WORKERS = 12


@dataclass(frozen=True)
class Staffing:
    """A grid's workers before and after a change (codes, by code), with their roles."""

    code: str
    before: list[str]
    after: list[str]
    roles_before: dict[str, str]
    roles: dict[str, str]  # the role of each of ``after`` in the grid's team (GRID_ROLES)


def set_grid_workers(
    session: Session,
    scope: Scope,
    code: str,
    workers: list[str],
    roles: dict[str, str] | None = None,
) -> Staffing:
    """网格员配备: make ``workers`` (their codes) the grid workers of current grid ``code``, in
    place of those it had.  The grid and every worker must lie in ``scope``'s region; an empty
    list leaves the grid without one (the ledger marks it).  ``roles`` gives a worker's part in
    the team (:data:`gis.roles.GRID_ROLES`); a worker it does not name keeps the part they
    had in the grid, and a newcomer is the chief if the team has none, else a manager.  A grid
    has one chief at most."""
    wanted = sorted(set(workers))
    roles = dict(roles or {})
    if len(wanted) > MAX_WORKERS:
        raise InvalidInput(
            f"一个网格最多配备 {MAX_WORKERS} 名网格员，收到 {len(wanted)} 名。",
            f"A grid takes at most {MAX_WORKERS} grid workers; {len(wanted)} were given.",
            field="workers",
        )
    check_roles(wanted, roles)
    grid = session.execute(
        text(f"""SELECT g.code FROM grid g JOIN region v ON v.id = g.village_id
                 WHERE g.code = :code AND g.valid_to IS NULL AND {scope.region_condition("v")}
                 FOR UPDATE OF g"""),
        scope.params() | {"code": code},
    ).one_or_none()
    if grid is None:
        raise NotFound(
            f"没有编码为 {code} 的现行网格，或不在您的管辖范围内。",
            f"No current grid {code} in your jurisdiction.",
        )
    found: dict[str, int] = dict(
        session.execute(
            text(f"""SELECT w.code, w.id FROM worker w JOIN region v ON v.id = w.region_id
                     WHERE w.code = ANY(:codes) AND {scope.region_condition("v")}"""),
            scope.params() | {"codes": wanted},
        ).all()
    )
    unknown = [c for c in wanted if c not in found]
    if unknown:
        listed = "、".join(unknown[:10])
        raise InvalidInput(
            f"没有这些网格员，或不在您的管辖范围内：{listed}。请按网格员名册中的工号填写。",
            f"No such grid workers in your jurisdiction: {', '.join(unknown[:10])}. Use the "
            "codes of the grid workers' roster.",
            field="workers",
        )
    had: dict[str, str] = dict(
        session.execute(
            text("""SELECT w.code, wg.role FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                    WHERE wg.grid_code = :code ORDER BY w.code"""),
            {"code": code},
        ).all()
    )
    for w in wanted:
        if w not in roles and w in had:
            roles[w] = had[w]
    for w in wanted:  # newcomers: the chief if the team has none
        if w not in roles:
            roles[w] = "manager" if "chief" in roles.values() else "chief"
    check_roles(wanted, roles)  # (one chief, with the parts kept)
    session.execute(
        text("""DELETE FROM worker_grid
                WHERE grid_code = :code AND NOT worker_id = ANY(CAST(:ids AS integer[]))"""),
        {"code": code, "ids": [found[c] for c in wanted]},
    )
    session.execute(
        text("""INSERT INTO worker_grid (worker_id, grid_code, role)
                SELECT unnest(CAST(:ids AS integer[])), :code, unnest(CAST(:roles AS text[]))
                ON CONFLICT (worker_id, grid_code) DO UPDATE SET role = EXCLUDED.role
                WHERE worker_grid.role IS DISTINCT FROM EXCLUDED.role"""),
        {"code": code, "ids": [found[c] for c in wanted], "roles": [roles[c] for c in wanted]},
    )
    return Staffing(code, sorted(had), wanted, had, {w: roles[w] for w in wanted})


@dataclass(frozen=True)
class WorkerChoice:
    """A grid worker who may be given the grid: of its village, or one of its own already."""

    code: str
    name: str
    phone: str | None
    assigned: bool  # one of the grid's workers now
    grids: int  # how many grids they have now
    role: str | None = None  # their part in this grid's team now (GRID_ROLES), if assigned


def worker_choices(session: Session, scope: Scope, code: str) -> list[WorkerChoice]:
    """The grid workers of current grid ``code``'s village and those it has now, by code."""
    rows = session.execute(
        text(f"""
        WITH g AS (SELECT g.code, g.village_id FROM grid g JOIN region v ON v.id = g.village_id
                   WHERE g.code = :code AND g.valid_to IS NULL AND {scope.region_condition("v")})
        SELECT w.code, w.name, w.phone,
               (SELECT wg.role FROM worker_grid wg
                WHERE wg.worker_id = w.id AND wg.grid_code = g.code) AS role,
               (SELECT count(*) FROM worker_grid wg WHERE wg.worker_id = w.id) AS grids
        FROM g JOIN worker w ON w.region_id = g.village_id OR EXISTS (
            SELECT 1 FROM worker_grid wg WHERE wg.worker_id = w.id AND wg.grid_code = g.code)
        ORDER BY w.code
    """),
        scope.params() | {"code": code},
    ).all()
    return [
        WorkerChoice(r.code, r.name, r.phone, r.role is not None, int(r.grids), r.role)
        for r in rows
    ]


@dataclass(frozen=True)
class VillageWorker:
    """A grid worker the planner may give a grid of the village, with the grids they have now."""

    code: str
    name: str
    grids: dict[str, str]  # grid code → their part in its team (GRID_ROLES)


def village_workers(session: Session, scope: Scope, village: str) -> list[VillageWorker]:
    """The grid workers of ``village`` (in the caller's area) and those of its current grids, by
    code, each with their grids and parts now: the planner's choices for staffing a grid of the
    village in an edit set (``assign``)."""
    rows = session.execute(
        text(f"""
        WITH v AS (SELECT v.id FROM region v WHERE v.code = :village AND v.level = 'village'
                     AND {scope.region_condition("v")}),
        w AS (SELECT w.id, w.code, w.name FROM worker w, v WHERE w.region_id = v.id
              UNION
              SELECT w.id, w.code, w.name FROM worker w
              JOIN worker_grid wg ON wg.worker_id = w.id
              JOIN grid g ON g.code = wg.grid_code AND g.valid_to IS NULL
              JOIN v ON v.id = g.village_id)
        SELECT w.code, w.name,
               coalesce(jsonb_object_agg(wg.grid_code, wg.role)
                        FILTER (WHERE wg.grid_code IS NOT NULL), '{{}}') AS grids
        FROM w LEFT JOIN worker_grid wg ON wg.worker_id = w.id
        GROUP BY w.code, w.name
        ORDER BY w.code
    """),
        scope.params() | {"village": village},
    ).all()
    return [VillageWorker(r.code, r.name, dict(r.grids)) for r in rows]
