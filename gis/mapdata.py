"""Data for the command-center maps, sized by the view and never by the number of cases.

* **heat** — cases counted per cell of a pyramid (100 m / 400 m / 1.6 km, chosen by zoom) for the
  current view: the 400 m cells read from the ``case_heat`` roll-up that the insert keeps
  current (migrations 0013, 0026, 0030), and the 1.6 km ones summed from them, when the viewer's
  scope is a township or larger; binned from the cases in view otherwise (``IN_VIEW_SQL``): at
  street zoom (100 m cells: a street view holds few cases, and a roll-up of them would hold
  about as many rows as cases), for a village (it has few), and when filtering by status
  (statuses move; the roll-up counts arrivals).
* **grid counts** — cases per grid for the period (``case_grid_day``), per 1,000 households too,
  with quantile class breaks for the choropleth.
* **hotspots** — ``ST_ClusterDBSCAN`` in Web-Mercator metres (eps scaled by 1/cos φ so that
  ``eps_m`` is ground metres) over the view's cases of the last ``days`` days (``IN_VIEW_SQL``).
* **centers' load** — open and overdue cases per center (partial index of open cases).
* **live** — cases that arrived after a cursor, for a polling layer.
* **vector tiles** — ``ST_AsMVT`` of grids and cases (points from z12, pyramid cells below).

Everything is filtered by the viewer's scope (and, for cases, by row-level security as well).
Heat, grid counts and hotspots count a matter once, as the daily roll-up does: a case merged
into another (并案) is left out of the roll-ups and of ``IN_VIEW_SQL`` (migration 0054).  Case
points (the tiles, the live layer) show every report where it was made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases import ISO_SHANGHAI
from gis.errors import InvalidInput
from gis.geo import BBOX_SQL, BBox, feature_collection
from gis.patrols import NOT_AHEAD_SQL
from gis.roles import GRID_ROLES, role_rank_sql
from gis.scope import Scope
from gis.workflow import OPEN_STATES, category_name_sql, open_sql

SHANGHAI = ZoneInfo("Asia/Shanghai")
EARTH_R = 6378137.0
#: cell size (Web-Mercator metres) of each level of the heat pyramid (migration 0013)
CELL_SIZES = (100.0, 400.0, 1600.0)
#: the level the ``case_heat`` roll-up keeps (migrations 0026, 0030): finer ones are binned raw,
#: coarser ones summed from its cells (Web-Mercator cells nest: see :func:`_rollup_cells`)
ROLLUP_RES = 1
#: never more points than this to the browser or to DBSCAN
MAX_POINTS = 50_000
_ROLLUP_COLUMN = {"city": "city_code", "district": "district_code", "township": "township_code"}


def res_for_zoom(zoom: int) -> int:
    """The pyramid level for a map zoom: a cell of roughly 10–25 screen pixels."""
    return 2 if zoom <= 10 else 1 if zoom <= 13 else 0


def mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(-85.0, min(85.0, lat))
    return (
        EARTH_R * math.radians(lon),
        EARTH_R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)),
    )


def unmercator(x: float, y: float) -> tuple[float, float]:
    """(lon, lat) of Web-Mercator metres."""
    return math.degrees(x / EARTH_R), math.degrees(
        2 * math.atan(math.exp(y / EARTH_R)) - math.pi / 2
    )


@dataclass(frozen=True)
class Period:
    """Days (Asia/Shanghai) ``first`` … ``last`` inclusive."""

    first: date
    last: date

    @classmethod
    def of(cls, days: int = 30, day: date | None = None, today: date | None = None) -> Period:
        """The last ``days`` days up to today, or the one ``day`` (the time slider)."""
        if day is not None:
            return cls(day, day)
        if not 1 <= days <= 3660:
            raise InvalidInput(
                f"days 须在 1 到 3660 之间，收到 {days}",
                f"days must be 1–3660, got {days}",
                field="days",
            )
        today = today or datetime.now(SHANGHAI).date()
        return cls(today - timedelta(days=days - 1), today)

    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, datetime.min.time(), SHANGHAI)
        return start, datetime.combine(self.last + timedelta(days=1), datetime.min.time(), SHANGHAI)


@dataclass(frozen=True)
class CaseFilter:
    kind: str | None = None
    category: str | None = None
    status: str | None = None  # None | open | overdue

    def sql(self, alias: str = "c", statuses: bool = True) -> tuple[list[str], dict[str, Any]]:
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if self.kind:
            conditions.append(f"{alias}.kind = CAST(:kind AS case_kind)")
            params["kind"] = self.kind
        if self.category:
            conditions.append(f"{alias}.category = :category")
            params["category"] = self.category
        if statuses and self.status in ("open", "overdue"):
            conditions.append(open_sql(alias))
            if self.status == "overdue":
                conditions.append(f"{alias}.deadline < now()")
        return conditions, params


def _uses_rollup(scope: Scope, flt: CaseFilter) -> bool:
    return flt.status is None and (scope.is_everything or str(scope.level) in _ROLLUP_COLUMN)


#: the cases of a view, period and filter that the caller may see (their category and place ``m``
#: in Web-Mercator metres), read as the database's owner within the policy's own condition
#: (migration 0026: under row-level security the box would be checked only after the policy,
#: on every case of the jurisdiction); at most ``:limit`` of them (NULL: all)
IN_VIEW_SQL = """wangge_cases_in_view(
    :west, :south, :east, :north, :t0, :t1, :scope_column, :scope_code, :kind, :category,
    CAST(:open_states AS text[]), :overdue, :street, :limit)"""
#: a view this small (square degrees: about a z13 screen) holds few cases: its box leads
STREET_DEG2 = 0.002


def _serial_for_a_street(session: Session, params: dict[str, Any]) -> None:
    """A street view reads a few hundred cases through the spatial index: no parallel workers
    for it (for the rest of the request).  Once its table is analysed the planner puts its
    ~800 rows behind a Gather, and starting the worker took 15 of the 20 ms it then took (5 ms
    without); a larger view, which may read a city's cases, keeps them."""
    if params.get("street"):
        session.execute(text("SELECT set_config('max_parallel_workers_per_gather', '0', true)"))


def _in_view_params(
    scope: Scope, bbox: BBox, period: Period, flt: CaseFilter, limit: int | None = None
) -> dict[str, Any]:
    start, end = period.bounds()
    return bbox.params() | {
        "t0": start,
        "t1": end,
        "scope_column": scope.case_column(),
        "scope_code": scope.region_code,
        "kind": flt.kind,
        "category": flt.category,
        "open_states": sorted(OPEN_STATES) if flt.status in ("open", "overdue") else None,
        "overdue": flt.status == "overdue",
        "street": (bbox.east - bbox.west) * (bbox.north - bbox.south) <= STREET_DEG2,
        "limit": limit,
    }


def _rollup_cells(res: int) -> tuple[str, int]:
    """How to read level ``res`` (≥ :data:`ROLLUP_RES`) from ``case_heat h``: the SQL of its
    ``cx, cy``, and how many roll-up cells one of its cells spans on a side.  A 1.6 km cell is
    the 4 × 4 cells of 400 m under it, exactly: ``floor(x / 1600) = floor(floor(x / 400) / 4)``
    (migration 0030)."""
    k = round(CELL_SIZES[res] / CELL_SIZES[ROLLUP_RES])
    if k == 1:
        return "h.cx AS cx, h.cy AS cy", 1
    return (
        f"floor(h.cx / {k}.0::float8)::integer AS cx, floor(h.cy / {k}.0::float8)::integer AS cy",
        k,
    )


def _rollup_scope(scope: Scope) -> str:
    if scope.is_everything:
        return "true"
    return f"{_ROLLUP_COLUMN[str(scope.level)]} = '{scope.region_code}'"  # digits (Scope checks)


@dataclass(frozen=True)
class Heat:
    res: int
    cell_m: float
    source: str  # rollup | raw
    bins: list[tuple[float, float, int]]  # (lat, lon, count) at cell centres

    def as_json(self) -> dict[str, Any]:
        return {
            "res": self.res,
            "cell_m": self.cell_m,
            "source": self.source,
            "total": sum(n for _, _, n in self.bins),
            "max": max((n for _, _, n in self.bins), default=0),
            "bins": [list(b) for b in self.bins],
        }


def heat(
    session: Session,
    scope: Scope,
    bbox: BBox,
    zoom: int,
    period: Period,
    flt: CaseFilter = CaseFilter(),
) -> Heat:
    """Cases of the period in the view, counted per pyramid cell (see the module's doc)."""
    res = res_for_zoom(zoom)
    size = CELL_SIZES[res]
    x0, y0 = mercator(bbox.west, bbox.south)
    x1, y1 = mercator(bbox.east, bbox.north)
    params: dict[str, Any] = {
        "res": res,
        "size": size,
        "x0": math.floor(x0 / size),
        "x1": math.floor(x1 / size),
        "y0": math.floor(y0 / size),
        "y1": math.floor(y1 / size),
    }
    if res >= ROLLUP_RES and _uses_rollup(scope, flt):
        source = "rollup"
        conditions, fparams = flt.sql("h", statuses=False)
        cells, k = _rollup_cells(res)
        sql = f"""
            SELECT {cells}, sum(h.n)::integer AS n FROM case_heat h
            WHERE h.res = :rollup_res AND {_rollup_scope(scope)} AND h.day BETWEEN :d0 AND :d1
              AND h.cx BETWEEN :hx0 AND :hx1 AND h.cy BETWEEN :hy0 AND :hy1
              {"".join(" AND " + c for c in conditions)}
            GROUP BY 1, 2 HAVING sum(h.n) > 0
        """
        params |= fparams | {
            "d0": period.first,
            "d1": period.last,
            "rollup_res": ROLLUP_RES,
            "hx0": params["x0"] * k,
            "hx1": params["x1"] * k + k - 1,
            "hy0": params["y0"] * k,
            "hy1": params["y1"] * k + k - 1,
        }
    else:
        source = "raw"
        params |= _in_view_params(scope, bbox, period, flt)
        _serial_for_a_street(session, params)
        sql = f"""
            SELECT floor(ST_X(m) / :size)::integer AS cx, floor(ST_Y(m) / :size)::integer AS cy,
                   count(*)::integer AS n
            FROM {IN_VIEW_SQL} GROUP BY 1, 2
        """
    rows = session.execute(text(sql), params).all()
    bins = []
    for cx, cy, n in rows:
        lon, lat = unmercator((cx + 0.5) * size, (cy + 0.5) * size)
        bins.append((round(lat, 6), round(lon, 6), int(n)))
    bins.sort(key=lambda b: -b[2])
    return Heat(res, size, source, bins[:MAX_POINTS])


def quantile_breaks(values: list[Any], classes: int = 5) -> list[float]:
    """Upper bounds of ``classes`` quantile classes of the non-zero values (distinct, rising).

    Each bound is the first quantile of the values above the bound before, for the classes
    still to fill: without ties these are the usual quantiles; where one value fills several
    quantiles (most grids with 1 case) it takes one class and the rest are split among the
    others — not the 1, 2, 3–141 of three classes, the top one lumping a grid of 3 cases with
    the hotspot's 141."""
    xs = sorted(v for v in values if v > 0)
    breaks: list[float] = []
    while xs and len(breaks) < classes:
        b = xs[math.ceil(len(xs) / (classes - len(breaks))) - 1]
        breaks.append(b)
        xs = [x for x in xs if x > b]
    return breaks


def grid_counts(
    session: Session,
    scope: Scope,
    bbox: BBox | None,
    period: Period,
    flt: CaseFilter = CaseFilter(),
    patrols: bool = False,
) -> dict[str, Any]:
    """Cases per current grid in the view for the period: ``{grids: {code: [n, per_1000]},
    breaks: {count: […], per_1000: […]}}`` — breaks are quantiles of the grids in view.

    ``patrols``: also ``patrol_days`` (巡查覆盖), on how many of the period's days someone
    checked in within each grid (:func:`patrol_days`; grids without a check-in are absent), with
    ``breaks.patrol``: fixed shares of the period's days, not quantiles — a grid walked every
    day is fully covered whatever its neighbours did."""
    conditions, params = flt.sql("d", statuses=False)
    params |= scope.params() | {"d0": period.first, "d1": period.last}
    where = f"g.valid_to IS NULL AND {scope.region_condition('v')}"
    if bbox is not None:
        where += f" AND {BBOX_SQL.format(col='g.geom')}"
        params |= bbox.params()
    rows = session.execute(
        text(f"""
        SELECT g.code, g.households, coalesce(sum(d.n), 0)::integer AS n
        FROM grid g JOIN region v ON v.id = g.village_id
        LEFT JOIN case_grid_day d ON d.grid_code = g.code AND d.day BETWEEN :d0 AND :d1
             {"".join(" AND " + c for c in conditions)}
        WHERE {where}
        GROUP BY g.code, g.households
    """),
        params,
    ).all()
    grids = {}
    for code, households, n in rows:
        per = round(1000 * n / households, 2) if households else None
        grids[code] = [int(n), per]
    out: dict[str, Any] = {
        "first": period.first.isoformat(),
        "last": period.last.isoformat(),
        "grids": grids,
        "breaks": {
            "count": quantile_breaks([v[0] for v in grids.values()]),
            "per_1000": quantile_breaks([v[1] for v in grids.values() if v[1] is not None]),
        },
    }
    if patrols:
        out["days"] = period.days()
        out["patrol_days"] = patrol_days(session, sorted(grids), period)
        out["breaks"]["patrol"] = share_breaks(period.days())
    return out


def patrol_days(session: Session, grid_codes: list[str], period: Period) -> dict[str, int]:
    """On how many days (Asia/Shanghai) of ``period`` someone checked in within each grid, for
    the grids that had a check-in.  Check-ins by grid made (``patrol.grid_code``), whoever's
    worker made them, as far as the session's scope sees them (row-level security)."""
    if not grid_codes:
        return {}
    start, end = period.bounds()
    rows = session.execute(
        text("""
        SELECT p.grid_code,
               count(DISTINCT CAST(p.checked_at AT TIME ZONE 'Asia/Shanghai' AS date))
        FROM patrol p
        WHERE p.grid_code = ANY(CAST(:codes AS text[]))
          AND p.checked_at >= :start AND p.checked_at < :end
        GROUP BY p.grid_code
    """),
        {"codes": grid_codes, "start": start, "end": end},
    ).all()
    return {code: int(n) for code, n in rows}


def share_breaks(days: int) -> list[int]:
    """Upper bounds of the patrol classes of a ``days``-day period: a quarter of the days, half,
    three quarters, all (fewer for short periods; one day: walked or not)."""
    breaks: list[int] = []
    for share in (0.25, 0.5, 0.75, 1.0):
        b = max(1, math.ceil(share * days))
        if not breaks or b > breaks[-1]:
            breaks.append(b)
    return breaks


def hotspots(
    session: Session,
    scope: Scope,
    bbox: BBox,
    period: Period,
    eps_m: float = 100.0,
    min_cases: int = 5,
    flt: CaseFilter = CaseFilter(),
    lang: str = "zh",
) -> dict[str, Any]:
    """Clusters of ≥ ``min_cases`` cases within ``eps_m`` metres (DBSCAN) in the view (their
    main category named in ``lang``)."""
    if not 10 <= eps_m <= 5000 or not 2 <= min_cases <= 1000:
        raise InvalidInput(
            "聚集距离须在 10–5000 米之间，最少案件数须在 2–1000 之间。",
            "eps_m must be 10–5000 m and min_cases 2–1000.",
            field="eps_m",
        )
    mid_lat = (bbox.south + bbox.north) / 2
    params = _in_view_params(scope, bbox, period, flt, limit=MAX_POINTS + 1) | {
        "eps": eps_m / math.cos(math.radians(mid_lat)),
        "min_n": min_cases,
    }
    # one read of the view's cases (up to one more than MAX_POINTS): counted, and clustered
    # only if there are not too many
    _serial_for_a_street(session, params)
    rows = session.execute(
        text(f"""
        WITH pts AS MATERIALIZED (SELECT category, m FROM {IN_VIEW_SQL}),
        total AS (SELECT count(*)::integer AS points FROM pts),
        cl AS (
            SELECT category, m, ST_ClusterDBSCAN(m, eps := :eps, minpoints := :min_n) OVER () AS k
            FROM pts WHERE (SELECT points FROM total) <= :max_points
        )
        SELECT total.points, s.*, {category_name_sql(lang, "cat")} AS category_name
        FROM total LEFT JOIN (
            SELECT count(*)::integer AS n,
                   ST_Y(ST_Transform(ST_Centroid(ST_Collect(m)), 4326)) AS lat,
                   ST_X(ST_Transform(ST_Centroid(ST_Collect(m)), 4326)) AS lon,
                   (ST_MinimumBoundingRadius(ST_Collect(m))).radius AS radius,
                   mode() WITHIN GROUP (ORDER BY category) AS category
            FROM cl WHERE k IS NOT NULL GROUP BY k) s ON true
        LEFT JOIN category cat ON cat.code = s.category
        ORDER BY s.n DESC NULLS LAST LIMIT 500
    """),
        params | {"max_points": MAX_POINTS},
    ).all()
    n = rows[0].points  # total has one row: the answer has at least one
    if n > MAX_POINTS:
        return {"too_many": True, "points": n, "clusters": []}
    clusters = [
        {
            "n": r.n,
            "lat": round(r.lat, 6),
            "lon": round(r.lon, 6),
            "radius_m": round(r.radius * math.cos(math.radians(r.lat)), 1),
            "category": r.category,
            "category_name": r.category_name,
        }
        for r in rows
        if r.n is not None
    ]
    return {"too_many": False, "points": n, "clusters": clusters}


def center_load(session: Session, scope: Scope, bbox: BBox | None = None) -> str:
    """Centers in the scope (and view) as GeoJSON with their open and overdue case counts."""
    params: dict[str, Any] = scope.params()
    where = scope.region_condition("r")
    if bbox is not None:
        where += f" AND {BBOX_SQL.format(col='ce.geom')}"
        params |= bbox.params()
    features = f"""
        SELECT r.code AS f_order, json_build_object(
            'type', 'Feature', 'id', r.code,
            'geometry', ST_AsGeoJSON(ce.geom, 6)::json,
            'properties', json_build_object(
                'name', ce.name, 'region_code', r.code, 'level', r.level,
                'phone', ce.phone, 'open', load.open, 'overdue', load.overdue)) AS f
        FROM center ce JOIN region r ON r.id = ce.region_id
        CROSS JOIN LATERAL (
            SELECT count(*)::integer AS open,
                   count(*) FILTER (WHERE c.deadline < now())::integer AS overdue
            FROM cases c WHERE c.center_id = ce.id AND {open_sql("c")}) load
        WHERE {where}
    """
    return feature_collection(session, features, params)


def live(
    session: Session, scope: Scope, after: int | None, bbox: BBox | None, lang: str = "zh"
) -> dict[str, Any]:
    """Cases that arrived after ``after`` (a cursor from an earlier answer) in the view.

    Ids are taken before commit, so a case may become visible after one with a higher id; the
    answer also repeats the last 30 seconds' arrivals (clients de-duplicate by code) so none is
    ever skipped.  Without ``after`` only the cursor is returned.
    """
    params: dict[str, Any] = scope.params()
    if after is None:
        cursor = session.execute(
            text(f"SELECT coalesce(max(id), 0) FROM cases c WHERE {scope.case_condition('c')}"),
            params,
        ).scalar_one()
        return {"cursor": int(cursor), "features": []}
    where = scope.case_condition("c")
    if bbox is not None:
        where += f" AND {BBOX_SQL.format(col='c.geom')}"
        params |= bbox.params()
    params["after"] = after
    rows = session.execute(
        text(f"""
        SELECT c.id, json_build_object(
            'type', 'Feature', 'id', c.code,
            'geometry', ST_AsGeoJSON(c.geom, 6)::json,
            'properties', json_build_object(
                'code', c.code, 'grid_code', c.grid_code, 'kind', c.kind,
                'category', c.category, 'category_name', {category_name_sql(lang, "cat")},
                'status', c.status,
                'severity', c.severity, 'source', c.source,
                'received_at', to_char(c.received_at AT TIME ZONE 'Asia/Shanghai',
                                       {ISO_SHANGHAI}))) AS f
        FROM cases c JOIN category cat ON cat.code = c.category
        WHERE c.id IN (SELECT id FROM cases WHERE id > :after
                       UNION SELECT id FROM cases WHERE received_at > now() - interval '30 seconds')
          AND {where}
        ORDER BY c.id LIMIT 1000
    """),
        params,
    ).all()
    cursor = max([after, *(r[0] for r in rows)])
    return {"cursor": cursor, "features": [r[1] for r in rows]}


def grid_workers(session: Session, code: str) -> list[tuple[str, str | None]]:
    """The grid workers (网格员) of grid ``code``: (name, phone), the chief first, then by part
    and code — whom a desk calls to look at a case on the spot."""
    rows = session.execute(
        text(f"""
        SELECT w.name, w.phone FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
        WHERE wg.grid_code = :code ORDER BY {role_rank_sql("wg")}, w.code
    """),
        {"code": code},
    ).all()
    return [(r.name, r.phone) for r in rows]


def _role_name_sql(lang: str) -> str:
    """SQL: the name of ``wg.role`` (a grid worker's part, GRID_ROLES) in ``lang``."""
    names = " ".join(
        f"WHEN '{r}' THEN '{en if lang == 'en' else zh}'" for r, (zh, en) in GRID_ROLES.items()
    )
    return f"CASE wg.role {names} ELSE wg.role END"


#: the days a grid's popup counts its patrol check-ins over (as the roster and the roll-up)
PATROL_DAYS = 30


def grid_summary(
    session: Session, scope: Scope, code: str, lang: str = "zh", patrols: bool = False
) -> dict[str, Any] | None:
    """One current grid for its popup: workers, households, and its open cases (newest 20);
    ``patrols``: also ``patrol``, the days of the last :data:`PATROL_DAYS` with a check-in made
    in the grid and the last one (Beijing time, ``YYYY-MM-DD HH:MM``)."""
    row = session.execute(
        text(f"""
        SELECT g.code, g.name, g.households, g.population, v.name AS village,
               (SELECT coalesce(json_agg(json_build_object('name', w.name, 'phone', w.phone,
                                                           'code', w.code, 'role', wg.role,
                                                           'role_name', {_role_name_sql(lang)})
                                         ORDER BY {role_rank_sql("wg")}, w.code), '[]'::json)
                FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                WHERE wg.grid_code = g.code) AS workers
        FROM grid g JOIN region v ON v.id = g.village_id
        WHERE g.code = :code AND g.valid_to IS NULL AND {scope.region_condition("v")}
    """),
        scope.params() | {"code": code},
    ).one_or_none()
    if row is None:
        return None
    open_cases = session.execute(
        text(f"""
        SELECT c.code, c.status, c.kind, {category_name_sql(lang, "cat")} AS category_name,
               c.deadline < now() AS overdue
        FROM cases c JOIN category cat ON cat.code = c.category
        WHERE c.grid_code = :code AND {open_sql("c")} AND {scope.case_condition("c")}
        ORDER BY c.received_at DESC
    """),
        scope.params() | {"code": code},
    ).all()
    patrol = None
    if patrols:  # the days as the command map's 巡查覆盖 counts them (Beijing days to today)
        start, _ = Period.of(PATROL_DAYS).bounds()
        days, last = session.execute(
            text(f"""
            SELECT count(DISTINCT CAST(p.checked_at AT TIME ZONE 'Asia/Shanghai' AS date))
                       FILTER (WHERE p.checked_at >= :start),
                   max(p.checked_at)
            FROM patrol p WHERE p.grid_code = :code AND {NOT_AHEAD_SQL}
        """),
            {"code": code, "start": start},
        ).one()
        patrol = {
            "days": int(days),
            "of_days": PATROL_DAYS,
            "last": None if last is None else f"{last.astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
        }
    return {
        "code": row.code,
        "name": row.name,
        "village": row.village,
        "households": row.households,
        "population": row.population,
        "workers": row.workers,
        "patrol": patrol,
        "open": len(open_cases),
        "overdue": sum(1 for c in open_cases if c.overdue),
        "open_cases": [
            {
                "code": c.code,
                "status": c.status,
                "kind": c.kind,
                "category_name": c.category_name,
                "overdue": bool(c.overdue),
            }
            for c in open_cases[:20]
        ],
    }


def tile(
    session: Session, scope: Scope, layer: str, z: int, x: int, y: int, days: int = 30
) -> bytes:
    """A Mapbox vector tile of ``grids`` or ``cases`` of the last ``days`` days (points from z12,
    pyramid cells below).

    Case points are found through the grids under the tile (``grid`` has no row-level security,
    so its GiST index is used; a spatial condition on ``cases`` is not leakproof and would be
    checked only after the policy, over every case of the jurisdiction) and then each grid's
    recent cases by ``(grid_code, received_at)``; the cases with no grid (from a gap between a
    village's grids, or outside them) by the NULLs of the same index.
    """
    period = Period.of(days)
    start, end = period.bounds()
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidInput(f"瓦片坐标 {z}/{x}/{y} 无效", f"no such tile {z}/{x}/{y}", field="tile")
    params: dict[str, Any] = scope.params() | {
        "z": z, "x": x, "y": y, "t0": start, "t1": end, "d0": period.first, "d1": period.last
    }  # fmt: skip
    if layer == "grids":
        sql = f"""
            WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
            t AS (
                SELECT g.code, g.name, g.households, v.name AS village,
                       ST_AsMVTGeom(ST_Transform(g.geom, 3857), b.env, 4096, 16, true) AS geom
                FROM grid g JOIN region v ON v.id = g.village_id, b
                WHERE g.valid_to IS NULL AND {scope.region_condition("v")}
                  AND g.geom && ST_Transform(b.env, 4326))
            SELECT ST_AsMVT(t, 'grids', 4096, 'geom') FROM t WHERE geom IS NOT NULL
        """
    elif layer == "cases" and (z >= 12 or not _uses_rollup(scope, CaseFilter())):
        point = """c.code, c.kind, c.category, c.status,
                   ST_AsMVTGeom(ST_Transform(c.geom, 3857), b.env, 4096, 0, true) AS geom"""
        wanted = f"""{scope.case_condition("c")} AND c.received_at >= :t0
                     AND c.received_at < :t1 AND c.geom && ST_Transform(b.env, 4326)"""
        sql = f"""
            WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
            -- each code once: a grid redrawn in the period (a version each) holds its cases once
            g AS (
                SELECT DISTINCT gr.code FROM grid gr, b
                WHERE gr.geom && ST_Transform(b.env, 4326)
                  AND gr.valid_from < :t1 AND (gr.valid_to IS NULL OR gr.valid_to > :t0)),
            t AS (
                SELECT {point} FROM g JOIN cases c ON c.grid_code = g.code, b WHERE {wanted}
                UNION ALL  -- and the cases with no grid (few: by the same index's NULLs)
                SELECT {point} FROM cases c, b WHERE c.grid_code IS NULL AND {wanted}
                LIMIT {MAX_POINTS})
            SELECT ST_AsMVT(t, 'cases', 4096, 'geom') FROM t WHERE geom IS NOT NULL
        """
    elif layer == "cases":
        res = max(res_for_zoom(z), ROLLUP_RES)  # 1.6 km cells on a z10 tile: ~10 px each
        cells, k = _rollup_cells(res)
        params |= {"rollup_res": ROLLUP_RES, "size": CELL_SIZES[res], "k": k}
        sql = f"""
            WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
            cells AS (
                SELECT {cells}, sum(h.n)::integer AS n FROM case_heat h, b
                WHERE h.res = :rollup_res AND {_rollup_scope(scope)}
                  AND h.day BETWEEN :d0 AND :d1
                  AND h.cx BETWEEN floor(ST_XMin(b.env) / :size) * :k
                               AND floor(ST_XMax(b.env) / :size) * :k + :k - 1
                  AND h.cy BETWEEN floor(ST_YMin(b.env) / :size) * :k
                               AND floor(ST_YMax(b.env) / :size) * :k + :k - 1
                GROUP BY 1, 2 HAVING sum(h.n) > 0),
            t AS (
                SELECT cells.n, ST_AsMVTGeom(
                    ST_MakePoint((cells.cx + 0.5) * :size, (cells.cy + 0.5) * :size), b.env,
                    4096, 0, true) AS geom
                FROM cells, b)
            SELECT ST_AsMVT(t, 'cases', 4096, 'geom') FROM t WHERE geom IS NOT NULL
        """
    else:
        raise InvalidInput(
            f"没有图层 {layer!r}（可用：grids、cases）",
            f"no layer {layer!r} (grids, cases)",
            field="layer",
        )
    return bytes(session.execute(text(sql), params).scalar_one() or b"")
