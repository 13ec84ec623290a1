"""Write a generated demo city to the database: COPY into staging tables, then set-based inserts.

Cases are assigned in one statement through ``wangge_assign`` — the same rules as a single
``locate_point`` — never by a Python loop over rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

import shapely
from shapely.geometry.base import BaseGeometry

from gis import WGS84
from gis.db import HANDLED_LATER, HANDLED_NOW, is_empty
from gis.errors import Conflict
from gis.pii import PiiCipher
from gis.scope import Scope, bind_scope
from gis.workflow import VERIFY_WITHIN_HOURS
from importers.demo import DemoCity
from importers.demo_users import add_demo_day_cases, add_demo_users

_STAGING = """
CREATE TEMP TABLE demo_region (code text, name text, level region_level, parent_code text,
                               geom geometry) ON COMMIT DROP;
CREATE TEMP TABLE demo_grid (code text, name text, village_code text, geom geometry,
                             households int, population int) ON COMMIT DROP;
CREATE TEMP TABLE demo_center (name text, region_code text, geom geometry, phone text,
                               address text) ON COMMIT DROP;
CREATE TEMP TABLE demo_worker (code text, name text, phone text, village_code text,
                               grid_codes text[], role text) ON COMMIT DROP;
CREATE TEMP TABLE demo_case (id bigint, kind case_kind, category text, severity case_severity,
                             description text, lon float8, lat float8, reported_at timestamptz,
                             received_at timestamptz, status text, source text)
                             ON COMMIT DROP;
"""

_INSERT_REGION_LEVEL = text("""
    INSERT INTO region (code, name, level, parent_id, geom)
    SELECT d.code, d.name, d.level, p.id, ST_Multi(d.geom)
    FROM demo_region d LEFT JOIN region p ON p.code = d.parent_code
    WHERE d.level = CAST(:level AS region_level)
    ORDER BY d.code
""")

# (the history's events are written by 'demo', gis.cases.DEMO_ACTOR: 示例数据 on the case page)
_INSERT_REST = """
INSERT INTO grid (code, name, village_id, geom, households, population, valid_from)
SELECT d.code, d.name, v.id, ST_Multi(d.geom), d.households, d.population,
       now() - interval '400 days'
FROM demo_grid d JOIN region v ON v.code = d.village_code ORDER BY d.code;

-- grids that have grown since they were drawn: about one in a hundred, all urban, now above
-- the 300–500 households a city grid is drawn for (网格台账 marks them 户数偏多: to be split)
UPDATE grid SET households = households + 90 + CAST(code AS bigint) % 150,
                population = population + round((90 + CAST(code AS bigint) % 150) * 2.9)
WHERE households >= 450 AND CAST(code AS bigint) % 37 = 0;

-- 网格拆分, a redraw with a history (网格档案, /grids/{code}): 120 days ago the district's
-- planner split a grid of the community 990102001004 in two (an edit set of the planner's
-- district, as one opened on the editor is).  Its version before covered both
-- (and keeps the cases of its time, below); both grids now in force came from it, in one
-- committed edit set
CREATE TEMP TABLE demo_split ON COMMIT DROP AS
SELECT a.id AS a_id, b.id AS b_id, a.code AS a_code, a.village_id,
       (SELECT d.id FROM region d WHERE d.code = left(v.code, 6)) AS district_id,
       date_trunc('day', now() - interval '120 days') + interval '10 hours' AS at
FROM grid a JOIN grid b ON b.village_id = a.village_id AND b.code > a.code
JOIN region v ON v.id = a.village_id
WHERE v.code = '990102001004' AND ST_Relate(a.geom, b.geom, 'F***1****')
ORDER BY a.code, b.code LIMIT 1;

INSERT INTO grid_edit (title, created_by, region_id, status, created_at, updated_at, closed_at,
                       result)
SELECT a.name || '（' || (a.households + b.households) || ' 户）拆分为两个网格，新增' || b.name,
       'district_planner', s.district_id, 'committed', s.at - interval '2 days', s.at, s.at,
       jsonb_build_object('status', 'committed', 'at', s.at,
                          'grids', jsonb_build_object('added', jsonb_build_array(b.code),
                                                      'changed', jsonb_build_array(a.code),
                                                      'retired', jsonb_build_array()))
FROM demo_split s JOIN grid a ON a.id = s.a_id JOIN grid b ON b.id = s.b_id;

UPDATE grid SET version = 2 FROM demo_split s WHERE grid.id = s.a_id;

INSERT INTO grid (code, version, name, village_id, geom, households, population, valid_from,
                  valid_to)
SELECT a.code, 1, a.name, a.village_id, ST_Multi(ST_Union(a.geom, b.geom)),
       a.households + b.households, a.population + b.population, a.valid_from, s.at
FROM demo_split s JOIN grid a ON a.id = s.a_id JOIN grid b ON b.id = s.b_id;

UPDATE grid g SET valid_from = s.at, edit_id = e.id, lineage = ARRAY[o.id]
FROM demo_split s
JOIN grid o ON o.code = s.a_code AND o.version = 1
JOIN grid_edit e ON e.region_id = s.district_id AND e.created_by = 'district_planner'
WHERE g.id IN (s.a_id, s.b_id);

INSERT INTO center (name, region_id, geom, phone, address)
SELECT d.name, r.id, d.geom, d.phone, d.address
FROM demo_center d JOIN region r ON r.code = d.region_code ORDER BY r.code;

INSERT INTO worker (code, name, phone, region_id)
SELECT d.code, d.name, d.phone, r.id FROM demo_worker d JOIN region r ON r.code = d.village_code
ORDER BY d.code;

INSERT INTO worker_grid (worker_id, grid_code, role)
SELECT w.id, unnest(d.grid_codes), d.role FROM demo_worker d JOIN worker w ON w.code = d.code;

INSERT INTO cases (id, code, kind, category, severity, description, datum, received_lon,
                   received_lat, geom, accuracy_m, reported_at, received_at, grid_id, grid_code,
                   village_code, township_code, district_code, city_code, center_id,
                   assign_method, assign_distance_m, status, source)
SELECT s.id, wangge_case_code(s.received_at, a.district_code), s.kind, s.category,
       s.severity, s.description, 'wgs84',
       s.lon, s.lat, s.pt, 10, s.reported_at, s.received_at, a.grid_id, a.grid_code,
       a.village_code, a.township_code, a.district_code, a.city_code, a.center_id, a.method,
       a.distance_m, s.status, CAST(s.source AS case_source)
FROM (SELECT *, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt
      FROM demo_case ORDER BY received_at) s
CROSS JOIN LATERAL wangge_assign(s.pt) a;

-- the split grid's cases of before the split belong to the version of their time
UPDATE cases c SET grid_id = o.id, grid_code = o.code
FROM demo_split s JOIN grid o ON o.code = s.a_code AND o.version = 1
WHERE c.grid_id IN (s.a_id, s.b_id) AND c.received_at < s.at;

UPDATE cases c SET allowed_hours = r.work_hours,
       remind_at = wangge_work_at(x.clock + 0.8 * r.work_hours),
       deadline = wangge_work_at(x.clock + r.work_hours),
       notice_at = wangge_work_at(x.clock + 2 * r.work_hours)
FROM deadline_rule r, (SELECT id, wangge_work_clock(received_at) AS clock FROM cases) x
WHERE r.category = c.category AND r.severity = c.severity AND x.id = c.id;

-- 延期: one in 25 of the cases being handled with a day or more allowed asked for more time
-- halfway to its deadline, and the center above granted half as much again (at least 8
-- working hours); its clock runs to the new deadline from then on
INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, note, data)
SELECT id, received_at + (deadline - received_at) * 0.5, 'demo', 'extend', 'in_progress',
       'in_progress', '示例数据：涉及多方，需协调后办理，申请延期',
       jsonb_build_object('extra_hours', greatest(8, allowed_hours / 2), 'old_deadline', deadline)
FROM cases
WHERE status IN ('in_progress', 'closed') AND allowed_hours >= 24
  AND id * 37 % 100 < 4 AND received_at + (deadline - received_at) * 0.5 < now()
  AND NOT (source = 'grid_worker' AND severity IN ('minor', 'normal') AND id % 10 < 3);

UPDATE cases c SET allowed_hours = c.allowed_hours + x.h,
       remind_at = wangge_work_add(c.remind_at, x.h), deadline = wangge_work_add(c.deadline, x.h),
       notice_at = wangge_work_add(c.notice_at, x.h)
FROM (SELECT case_id, CAST(data ->> 'extra_hours' AS float8) AS h
      FROM case_event WHERE action = 'extend') x
WHERE x.case_id = c.id;

-- desks that keep up: of the cases the ages above left open past their deadline, one in
-- twenty-five still is (the clock reminds, supervises and escalates those: the in-trays show
-- a few red rows, not a wall of them); the rest were closed before it.  A settled case waits
-- a few days for its follow-up call (回访), not months
UPDATE cases SET status = 'closed'
WHERE status IN ('registered', 'accepted', 'dispatched', 'in_progress')
  AND deadline < now() AND id % 25 <> 0;
UPDATE cases SET status = 'closed'
WHERE status IN ('resolved', 'verified') AND received_at < now() - interval '10 days'
  AND id % 25 <> 0;

-- … and is verified within 3 working days of its resolution (an hour after it came in, or on
-- the spot): one in twenty-five still waits past them (the clock reminds: 核查提醒)
UPDATE cases SET status = 'verified'
WHERE status = 'resolved' AND wangge_work_hours(received_at, now()) > {verify_hours}
  AND id % 25 <> 0;
-- closed at some point of the time allowed, one in twelve late (by up to a third of it again);
-- an extended case in the last quarter of its new time, after its extension; not after now (a
-- case of the last hour)
UPDATE cases c SET closed_at = least(
    received_at + (deadline - received_at) * CASE
        WHEN EXISTS (SELECT 1 FROM case_event x WHERE x.case_id = c.id AND x.action = 'extend')
            THEN 0.75 + (id % 5) * 0.05
        WHEN id % 12 = 0 THEN 1.05 + (id % 7) * 0.05
        ELSE 0.15 + (id * 7 % 10) * 0.08 END,
    now())
WHERE status = 'closed';

INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, note)
SELECT c.id, c.received_at, 'demo', 'register', NULL, 'registered', '示例数据：' || n.name
FROM cases c
JOIN (VALUES ('grid_worker', '网格员上报'), ('hotline', '12345热线'), ('walk_in', '群众来访'),
             ('police_diversion', '110非警务警情分流'), ('petition', '信访'),
             ('online', '网上反映')) AS n(source, name) ON n.source = c.source::text;

-- 就地化解: three in ten of the grid workers' minor and normal reports that are settled were
-- settled on the spot, registered resolved; the rest of their history from there
INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, note)
SELECT id, received_at, 'demo', 'on_site', 'registered', 'resolved', '示例数据：网格员现场化解'
FROM cases
WHERE source = 'grid_worker' AND severity IN ('minor', 'normal')
  AND status IN ('resolved', 'verified', 'closed') AND id % 10 < 3;

-- 返工: one closed case in 50 (neither settled on the spot nor extended) was found not settled
-- when the center checked it halfway to its closing (核查未通过), reopened and done again
CREATE TEMP TABLE demo_rework ON COMMIT DROP AS
SELECT c.id, c.received_at + (c.closed_at - c.received_at) * 0.5 AS first_done,
       c.received_at + (c.closed_at - c.received_at) * 0.6 AS reopened_at
FROM cases c
WHERE c.status = 'closed' AND c.id * 53 % 100 < 2
  AND NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id
                  AND e.action IN ('on_site', 'extend'));

INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, note)
SELECT id, first_done, 'demo', 'history', 'registered', 'resolved', '示例数据：历史流转从略'
FROM demo_rework
UNION ALL
SELECT id, reopened_at, 'demo', 'reopen', 'resolved', 'reopened', '示例数据：核查未通过，返工重办'
FROM demo_rework;

INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, note)
SELECT c.id, coalesce(c.closed_at, least(c.received_at + interval '1 hour', now())), 'demo',
       'history',
       CASE WHEN s.id IS NOT NULL THEN 'resolved'
            WHEN x.id IS NOT NULL AND c.closed_at IS NOT NULL THEN 'in_progress'
            WHEN r.id IS NOT NULL THEN 'reopened' ELSE 'registered' END, c.status,
       '示例数据：历史流转从略'
FROM cases c
LEFT JOIN case_event s ON s.case_id = c.id AND s.action = 'on_site'
LEFT JOIN case_event x ON x.case_id = c.id AND x.action = 'extend'
LEFT JOIN demo_rework r ON r.id = c.id
WHERE c.status <> 'registered' AND (s.id IS NULL OR c.status <> 'resolved');

-- when the resolved ones are to be verified by (a trigger says it as a case moves to resolved;
-- these came in resolved): 3 working days after their resolution
UPDATE cases c SET verify_due = wangge_work_add(e.at, {verify_hours})
FROM (SELECT case_id, max(at) AS at FROM case_event WHERE to_status = 'resolved'
      GROUP BY case_id) e
WHERE e.case_id = c.id AND c.status = 'resolved';

-- the residents' ratings (群众评价), the loop's last step: three in five closed cases, a few
-- hours to two days after closing; most satisfied, some only fairly (3).  None poor: a poor
-- rating reopens its case (the reopened cases above were the center's own check)
INSERT INTO case_rating (case_id, score, resolved, at)
SELECT id, (ARRAY[5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 3, 3, 3])[1 + id * 7 % 20],
       true, least(closed_at + (2 + id % 46) * interval '1 hour', now())
FROM cases WHERE status = 'closed' AND id % 5 < 3;

INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, data)
SELECT case_id, at, '群众', 'rate', 'closed', 'closed',
       jsonb_build_object('score', score, 'resolved', resolved)
FROM case_rating;
""".replace("{verify_hours}", repr(VERIFY_WITHIN_HOURS))


@dataclass(frozen=True)
class LoadReport:
    regions: int
    grids: int
    centers: int
    workers: int
    cases: int
    parties: int
    users: int
    seconds: float

    def summary(self, lang: str = "zh") -> str:
        if lang == "en":
            return (
                f"Demo city loaded: {self.regions} regions, {self.grids} grids, {self.centers} "
                f"centers and village stations, {self.workers} grid workers, {self.cases} past "
                f"cases ({self.parties} parties, encrypted), {self.users} demo accounts, in "
                f"{self.seconds:.1f} s."
            )
        return (
            f"示例市已载入：{self.regions} 个行政区划、{self.grids} 个网格、"
            f"{self.centers} 个综治中心/服务站、{self.workers} 名网格员、"
            f"{self.cases} 件历史案件（{self.parties} 名当事人，已加密）、"
            f"{self.users} 个示例账号，用时 {self.seconds:.1f} 秒。"
        )


def _ewkb(geom: BaseGeometry) -> str:
    return shapely.to_wkb(shapely.set_srid(geom, WGS84), hex=True, include_srid=True)


def _copy(session: Session, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """COPY ``rows`` into a staging table on the session's own connection (same transaction)."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


_CASE_COLUMNS = (
    "id",
    "kind",
    "category",
    "severity",
    "description",
    "lon",
    "lat",
    "reported_at",
    "received_at",
    "status",
    "source",
)
_PARTY_COLUMNS = ("case_id", "role", "name_enc", "phone_enc", "id_card_enc", "phone_index")


def load_demo_city(session: Session, city: DemoCity, cipher: PiiCipher) -> LoadReport:
    """Insert ``city`` into an empty database, with its parties (encrypted with ``cipher``) and
    demo users (flushes; the caller commits).  Runs as the owner, with the whole deployment in
    scope.

    Raises :class:`~gis.errors.Conflict` if the database already holds regions: the demo never
    mixes with real data.
    """
    bind_scope(session, Scope.everything())
    if not is_empty(session):
        raise Conflict(
            "数据库中已有行政区划数据，示例数据只能载入空数据库。",
            "The database already holds regions; the demo city loads only into an empty database.",
        )
    started = time.perf_counter()
    # the cases' handling (migration 0062) counted once at the end, not an update an event
    session.execute(text(HANDLED_LATER))
    for statement in _STAGING.strip().split(";\n"):
        session.execute(text(statement))
    _copy(
        session,
        "demo_region",
        ("code", "name", "level", "parent_code", "geom"),
        ((r.code, r.name, r.level, r.parent_code, _ewkb(r.geom)) for r in city.regions),
    )
    _copy(
        session,
        "demo_grid",
        ("code", "name", "village_code", "geom", "households", "population"),
        (
            (g.code, g.name, g.village_code, _ewkb(g.geom), g.households, g.population)
            for g in city.grids
        ),
    )
    _copy(
        session,
        "demo_center",
        ("name", "region_code", "geom", "phone", "address"),
        ((c.name, c.region_code, _ewkb(c.point), c.phone, c.address) for c in city.centers),
    )
    _copy(
        session,
        "demo_worker",
        ("code", "name", "phone", "village_code", "grid_codes", "role"),
        ((w.code, w.name, w.phone, w.village_code, w.grid_codes, w.role) for w in city.workers),
    )
    # case ids are taken up front so each party's ciphertext can be bound to its case
    ids = (
        session.execute(
            text("SELECT nextval('cases_id_seq') FROM generate_series(1, :n)"),
            {"n": len(city.cases)},
        )
        .scalars()
        .all()
    )
    _copy(
        session,
        "demo_case",
        _CASE_COLUMNS,
        (
            (
                i,
                c.kind,
                c.category,
                c.severity,
                c.description,
                c.lon,
                c.lat,
                c.reported_at,
                c.received_at,
                c.status,
                c.source,
            )
            for i, c in zip(ids, city.cases, strict=True)
        ),
    )
    for level in ("city", "district", "township", "village"):
        session.execute(_INSERT_REGION_LEVEL, {"level": level})
    for statement in _INSERT_REST.strip().split(";\n\n"):
        session.execute(text(statement))
    _copy(
        session,
        "case_party",
        _PARTY_COLUMNS,
        (
            (
                i,
                role,
                cipher.encrypt(name, f"{i}:name"),
                cipher.encrypt(phone, f"{i}:phone"),
                cipher.encrypt(id_card, f"{i}:id_card"),
                cipher.phone_index(phone),
            )
            for i, c in zip(ids, city.cases, strict=True)
            for role, name, phone, id_card in c.parties
        ),
    )
    users = add_demo_users(session)
    session.execute(text("SELECT wangge_case_handled_refresh()"))
    session.execute(text("ANALYZE region; ANALYZE grid; ANALYZE cases; ANALYZE center"))
    session.execute(text(HANDLED_NOW))  # (the day's cases are taken in as any report is)
    add_demo_day_cases(session, cipher)
    session.flush()
    return LoadReport(
        regions=len(city.regions),
        grids=len(city.grids),
        centers=len(city.centers),
        workers=len(city.workers),
        cases=len(city.cases),
        parties=sum(len(c.parties) for c in city.cases),
        users=len(users),
        seconds=time.perf_counter() - started,
    )
