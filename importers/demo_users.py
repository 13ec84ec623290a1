"""Demo accounts: one per role and level, so a newcomer can log in and see the difference.

All share :data:`DEMO_PASSWORD` (documented in README).  They exist only in a database the demo
city was loaded into — never in a real deployment's data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from uuid import NAMESPACE_URL, uuid5

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

import shapely

from gis.cases import NewReport
from gis.intake import BatchItem, accept_reports
from gis.models import CaseKind
from gis.patrols import TRACK_MAX_KMH
from gis.permissions import Role
from gis.pii import PiiCipher
from gis.scope import Scope
from gis.users import add_user
from gis.workflow import ActionRequest, Actor, act

DEMO_PASSWORD = "Wangge#Demo2026"


def _first(session: Session, level: str, under: str | None = None, skip: int = 0) -> str:
    return str(
        session.execute(
            text("""
        SELECT r.code FROM region r LEFT JOIN region p ON p.id = r.parent_id
        WHERE r.level = CAST(:level AS region_level)
          AND (CAST(:under AS text) IS NULL OR p.code = :under)
        ORDER BY r.code OFFSET :skip LIMIT 1
    """),
            {"level": level, "under": under, "skip": skip},
        ).scalar_one()
    )


def add_demo_users(session: Session) -> list[str]:
    """Create the demo accounts; returns their user names."""
    city = _first(session, "city")
    district = _first(session, "district", city)
    other_district = _first(session, "district", city, skip=1)
    township = _first(session, "township", district)
    other_township = _first(session, "township", other_district)
    village = _first(session, "village", township)
    worker = session.execute(
        text(
            "SELECT w.code FROM worker w JOIN region r ON r.id = w.region_id "
            "WHERE r.code = :village ORDER BY w.code LIMIT 1"
        ),
        {"village": village},
    ).scalar_one()
    accounts = [
        ("admin", Role.admin, None, None, "系统管理员"),
        ("city_commander", Role.commander, city, None, "市指挥中心"),
        ("city_operator", Role.operator, city, None, "市综治中心"),
        ("district_operator", Role.operator, district, None, "区综治中心"),
        ("district_planner", Role.planner, district, None, "区网格规划员"),
        ("township_operator", Role.operator, township, None, "街道综治中心"),
        ("township_operator_b", Role.operator, other_township, None, "另一区的街道综治中心"),
        ("village_operator", Role.operator, village, None, "社区综治服务站"),
        ("grid_worker", Role.grid_worker, None, worker, "网格员"),
    ]
    for username, role, region, worker_code, display in accounts:
        add_user(
            session,
            username,
            role,
            DEMO_PASSWORD,
            region_code=region,
            worker_code=worker_code,
            display_name=f"示例·{display}",
            actor="demo",
        )
    add_demo_patrols(session)
    add_demo_reports(session)
    return [a[0] for a in accounts]


# the demo grid worker's own reports (我的上报 on the phone page): the cases of their grids that
# came from a grid worker were theirs
_DEMO_REPORTS = text("""
    UPDATE cases c SET reporter_id = u.id
    FROM app_user u JOIN worker_grid wg ON wg.worker_id = u.worker_id
    WHERE u.username = 'grid_worker' AND c.grid_code = wg.grid_code
      AND c.source = 'grid_worker' AND c.reporter_id IS NULL
""")


def add_demo_reports(session: Session) -> int:
    """Make the demo grid worker the reporter of their grids' grid-worker cases; how many."""
    return session.connection().execute(_DEMO_REPORTS).rowcount


# the demo grid worker's last four weeks on patrol (巡查打卡): most days two to four check-ins
# in office hours at places in their own grids, some days none, none today (for the phone page to
# start its day with); each under a key of its own, as a phone would have sent them, with the
# route walked to it (巡查轨迹: five places of the grid within 150 m, in the quarter hour
# before, three minutes apart: a walk of about 3 km/h)
_DEMO_PATROLS = text("""
    INSERT INTO patrol (user_id, worker_id, idempotency_key, fingerprint, checked_at, received_at,
                        datum, received_lon, received_lat, geom, accuracy_m, grid_code,
                        assign_method, own_grid, note, village_code, township_code,
                        district_code, city_code, track, track_m, track_fast)
    SELECT u.id, u.worker_id, gen_random_uuid(), '\\x00', t.at, t.at + interval '3 seconds',
           'wgs84', ST_X(p.pt), ST_Y(p.pt), p.pt, 5 + (d * 7 + k * 3) % 20, g.code, 'covers',
           true, (ARRAY['巡查正常', '沿街商铺消防通道畅通', '出租屋走访，未见异常',
                        '提醒商户规范堆放货物', '河道巡查，护栏完好'])[1 + (d + k) % 5],
           ch.village_code, ch.township_code, ch.district_code, ch.city_code,
           r.line, wangge_track_walked(r.line, :max_mps), wangge_track_fast(r.line, :max_mps)
    FROM app_user u
    JOIN worker_grid wg ON wg.worker_id = u.worker_id
    JOIN grid g ON g.code = wg.grid_code AND g.valid_to IS NULL
    CROSS JOIN LATERAL wangge_village_chain(g.village_id) ch
    CROSS JOIN generate_series(1, 28) d
    CROSS JOIN LATERAL generate_series(1, 2 + d % 3) k
    CROSS JOIN LATERAL (
        SELECT (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') - make_interval(days => d)
                + make_interval(hours => 7 + 2 * k, mins => (d * 7 + k * 13) % 60))
               AT TIME ZONE 'Asia/Shanghai' AS at) t
    CROSS JOIN LATERAL (
        SELECT (ST_Dump(ST_GeneratePoints(g.geom, 1, d * 10 + k))).geom AS pt) p
    CROSS JOIN LATERAL (  -- (the places nearer and nearer the check-in: a walk towards it)
        SELECT ST_SetSRID(ST_MakeLine(
                   array_agg(ST_MakePointM(ST_X(w.geom), ST_Y(w.geom),
                                           date_part('epoch', t.at) - (6 - w.n) * 180)
                             ORDER BY w.n)
                   || ST_MakePointM(ST_X(p.pt), ST_Y(p.pt), date_part('epoch', t.at))), 4326)
               AS line
        FROM (SELECT q.geom, row_number() OVER (ORDER BY ST_Distance(q.geom, p.pt) DESC) AS n
              FROM ST_Dump(ST_GeneratePoints(
                  ST_Intersection(g.geom,
                                  CAST(ST_Buffer(CAST(p.pt AS geography), 150) AS geometry)),
                  5, d * 10 + k + 1000)) q) w) r
    WHERE u.username = 'grid_worker' AND d % 6 <> 5
""")


def add_demo_patrols(session: Session) -> int:
    """The demo grid worker's patrol check-ins of the last four weeks; returns how many."""
    return session.connection().execute(_DEMO_PATROLS, {"max_mps": TRACK_MAX_KMH / 3.6}).rowcount


class DayCase(NamedTuple):
    """One of the day's demo cases: who registered it, its channel, kind, category, what was
    said; ``done``: what the desk did, for the one it has already resolved (for the worker to
    verify on the spot, 现场核查); ``ago``: minutes before the load it was reported; ``near``:
    metres (east, north) from the first case's point, for those reported again at its place."""

    user: str
    source: str
    kind: str
    category: str
    said: str
    ago: int
    done: str | None = None
    near: tuple[float, float] | None = None


# the day's cases in the demo grid worker's first grid: what the phone's 我的网格待办 and the
# community station's in-tray start with (the demo's history left both empty).  The last two
# come from the first one's building: a resident walking in about the same charging cables (a
# possible duplicate, 疑似重复, for the desk to confirm or unlink) and a quarrel there, its third
# case in a month (a repeat warning, 高频线索) — so that both show before anyone reports.
DEMO_DAY_CASES = (
    DayCase("township_operator", "hotline", "hazard", "rental_housing",
            "12345热线转办：出租屋楼道内电动车飞线充电，杂物堆放堵住通道，邻居担心起火。", 180),
    DayCase("village_operator", "walk_in", "dispute", "property_mgmt",
            "居民来访：小区物业上调停车费，业主与物业公司多次争执，要求社区出面协调。", 137),
    DayCase("grid_worker", "grid_worker", "hazard", "small_venues",
            "巡查发现：沿街小餐馆后厨液化气瓶与明火距离过近，未配灭火器，已口头提醒。", 94),
    DayCase("township_operator", "hotline", "hazard", "fire",
            "12345热线转办：小区消防通道被私家车长期占用，消防车无法进入。", 51,
            done="已联系物业施划禁停标线、设置隔离桩，占道车辆已挪走。"),
    DayCase("village_operator", "walk_in", "hazard", "rental_housing",
            "居民来访：隔壁出租屋有人从二楼窗户拉电线下来给电动车充电，晚上不敢睡，要求处理。", 40,
            near=(18.0, 12.0)),
    DayCase("township_operator", "hotline", "dispute", "neighbour",
            "12345热线转办：出租屋租客与楼下住户因楼道停放电动车、夜间噪音多次争吵，要求调解。", 22,
            near=(-14.0, 16.0)),
)  # fmt: skip
#: how far (metres) from the grid's inner point, where the tests report, the fresh cases lie: their
#: duplicate (100 m) and repeat (50 m) checks then find only the tests' own cases
_FRESH_AWAY_M = 250.0


def _fresh_points(session: Session, n: int) -> list[tuple[float, float]]:
    """``n`` points of the demo grid worker's first grid, at least :data:`_FRESH_AWAY_M` from its
    inner point, 30 m inside its edge and 120 m from each other (deterministic)."""
    wkb, lon0, lat0 = session.execute(
        text("""
        SELECT ST_AsBinary(g.geom), ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))
        FROM app_user u JOIN worker_grid wg ON wg.worker_id = u.worker_id
        JOIN grid g ON g.code = wg.grid_code AND g.valid_to IS NULL
        WHERE u.username = 'grid_worker' ORDER BY g.code LIMIT 1
    """)
    ).one()
    grid = shapely.from_wkb(bytes(wkb))
    kx, ky = 111_320 * np.cos(np.radians(lat0)), 110_574.0  # metres per degree, here
    inside = grid.buffer(-30 / ky)
    rng = np.random.default_rng(2026)
    minx, miny, maxx, maxy = grid.bounds
    chosen: list[tuple[float, float]] = []
    for x, y in zip(rng.uniform(minx, maxx, 2000), rng.uniform(miny, maxy, 2000), strict=True):
        far = np.hypot((x - lon0) * kx, (y - lat0) * ky) >= _FRESH_AWAY_M
        apart = all(np.hypot((x - a) * kx, (y - b) * ky) >= 120 for a, b in chosen)
        if far and apart and inside.contains(shapely.Point(x, y)):
            chosen.append((float(x), float(y)))
            if len(chosen) == n:
                break
    return chosen


def add_demo_day_cases(session: Session, cipher: PiiCipher) -> list[str]:
    """The day's cases in the demo grid worker's grid, each taken in as its desk or the worker
    would have (:func:`gis.intake.accept_reports`), and the one resolved taken there by its
    desk (:func:`gis.workflow.act`); their codes."""
    users: dict[str, int] = dict(
        session.execute(
            text("SELECT username, id FROM app_user WHERE username = ANY(:u)"),
            {"u": [f[0] for f in DEMO_DAY_CASES]},
        ).all()
    )
    now = datetime.now(UTC)
    codes = []
    points = iter(_fresh_points(session, sum(c.near is None for c in DEMO_DAY_CASES)))
    first: tuple[float, float] | None = None
    for i, c in enumerate(DEMO_DAY_CASES):
        if c.near is None:
            lon, lat = next(points)
            first = first or (lon, lat)
        else:  # (a few metres: 30 m inside the grid's edge, as the first case is)
            assert first is not None
            lon = first[0] + c.near[0] / (111_320 * np.cos(np.radians(first[1])))
            lat = first[1] + c.near[1] / 110_574.0
        report = NewReport(
            kind=CaseKind(c.kind),
            category=c.category,
            description=c.said,
            lon=lon,
            lat=lat,
            reported_at=now - timedelta(minutes=c.ago),
            accuracy_m=10,
            reporter=c.user,
            source=c.source,
        )
        key = uuid5(NAMESPACE_URL, f"wangge-demo:{i}:{lon}:{lat}")
        (result,) = accept_reports(
            session, Scope.everything(), users[c.user],
            [BatchItem(0, key, report, c.said.encode())], cipher,
        )  # fmt: skip
        if result.case is None:
            raise RuntimeError(f"demo case {i} not taken in: {result.error}")
        codes.append(result.case.code)
        if c.done:
            desk = Actor(c.user, Scope.everything(), True)
            for action in ("accept", "start", "resolve"):
                note = c.done if action == "resolve" else None
                act(session, desk, result.case.code, ActionRequest(action, note=note))
    return codes


def ensure_demo_users(session: Session) -> bool:
    """Give a demo-city database from before accounts existed its demo users.

    True if it created them; False if there are users already or the data is not the demo's.
    """
    if session.execute(text("SELECT EXISTS (SELECT 1 FROM app_user)")).scalar():
        return False
    top = session.execute(
        text("SELECT name FROM region WHERE parent_id IS NULL ORDER BY code LIMIT 1")
    ).scalar()
    if top != "示例市":
        return False
    add_demo_users(session)
    return True
