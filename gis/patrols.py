"""巡查打卡: grid workers' patrol check-ins, exactly once, offline-proof.

A grid worker walking their grids checks in from the phone: the position (any datum the phone
gives, converted to WGS 84 and located by ``wangge_assign``, the same rule as for cases), the
device's time and a line on what they saw.  Without signal the check-in waits on the phone and
goes out in a batch later, under the UUID the phone gave it: as for reports (:mod:`gis.intake`),
the same key with the same content is the same check-in (*replayed*), with other content it is
refused, and the uniqueness of (account, key) is the database's constraint.  One bad item never
fails the rest.

A check-in belongs to the worker's own jurisdiction (migration 0052): where it was made is kept
as its grid and whether that grid is one of the worker's own (``own_grid``).  A check-in outside
one's own grids is kept, not refused: it happened, and the desk sees it marked.  The
plausibility rules of reports apply to the position ((0, 0), more than 20 km outside the
coverage, swapped longitude and latitude), and a far-off device time or a poor fix is flagged.

The leaders' use: how often each worker patrols (the roster, :mod:`gis.workers`) and where they
went on a day (the worker's patrol map).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases import SHANGHAI
from gis.datum import to_wgs84
from gis.db import execute_arrays
from gis.errors import InvalidInput, NotFound, WanggeError
from gis.pii import PiiCipher, mask_text
from gis.plausibility import check_location, device_point, flags_for
from gis.scope import Scope

#: the most check-ins one batch may carry (as for reports)
MAX_BATCH = 500
#: the longest note (巡查情况) a check-in may carry
NOTE_MAX = 500
#: the most check-ins one list returns (a worker checks in some tens of times a day)
LIST_MAX = 2000
#: a check-in's time as the figures count it: not more than a day ahead (a phone whose clock ran
#: years fast is neither a worker's last patrol nor a day on patrol; its year 9999 was shown in
#: Beijing time, year 10000, and the pages answered 500); ``p`` is the patrol table's alias
NOT_AHEAD_SQL = "p.checked_at < now() + interval '1 day'"
#: 巡查轨迹: the most points one check-in's track may carry (a point every 10 m: 20 km walked)
TRACK_MAX_POINTS = 2000
#: how long before its check-in a track may begin (a working day's patrol)
TRACK_MAX_HOURS = 12
#: how far past its check-in's time a track's last point may be (the phone's clock is the same)
TRACK_AFTER_S = 300
#: 巡查里程 counts the stretches of a track no faster than this (an e-bike's top speed, GB
#: 17761-2018): faster is a ride by car or bus, or the position jumping (migration 0066)
TRACK_MAX_KMH = 25
PatrolStatus = Literal["created", "replayed", "conflict", "rejected"]


@dataclass(frozen=True)
class NewPatrol:
    """A check-in as the phone sent it: ``lon``/``lat`` in ``datum``, the device's time."""

    lon: float
    lat: float
    datum: str
    checked_at: datetime
    accuracy_m: float | None = None
    note: str | None = None
    #: 巡查轨迹: the way walked since the last check-in, each point (lon, lat, unix seconds) in
    #: ``datum``, oldest first
    track: tuple[tuple[float, float, float], ...] | None = None


@dataclass(frozen=True)
class PatrolItem:
    """One check-in to take in: its key, the check-in (None if it failed validation) and its
    canonical content (for telling a replay from other content under the same key)."""

    index: int
    key: UUID | None
    patrol: NewPatrol | None
    content: bytes = b""
    error: WanggeError | None = None


@dataclass(frozen=True)
class PatrolView:
    id: int
    username: str
    worker_code: str | None
    worker_name: str | None
    checked_at: datetime
    received_at: datetime
    lon: float
    lat: float
    accuracy_m: float | None
    grid_code: str | None
    grid_name: str | None  # (its name now)
    #: whether the grid it lies in is one of the worker's own (None: an account without grids)
    own_grid: bool | None
    assign_method: str
    village_code: str | None
    village: str | None
    note: str | None
    flags: dict[str, Any]
    photo_ids: list[int] = field(default_factory=list)  # 巡查照片, in the order added
    #: 巡查轨迹: the way walked to it, [lon, lat] in WGS 84 (None: no track), and its length
    track: list[list[float]] | None = None
    track_m: float | None = None
    #: the stretches of the track (``i``: from point i to point i + 1, from 0) that 巡查里程 left
    #: out, faster than TRACK_MAX_KMH: a ride, or the position jumping (kept with the check-in,
    #: migration 0068)
    track_fast: list[int] | None = None

    @property
    def photos(self) -> list[dict[str, Any]]:
        """Each photo's id and where it is served (and its thumbnail)."""
        return photo_links(self.photo_ids)


def photo_links(ids: Sequence[int]) -> list[dict[str, Any]]:
    """巡查照片 ``ids`` as the API gives them: id, url and thumb_url."""
    return [
        {"id": i, "url": f"/api/patrol-photos/{i}", "thumb_url": f"/api/patrol-photos/{i}/thumb"}
        for i in ids
    ]


@dataclass(frozen=True)
class PatrolResult:
    index: int
    status: PatrolStatus
    http_status: int
    patrol: PatrolView | None = None
    error: WanggeError | None = None


def key_reused() -> InvalidInput:
    return InvalidInput(
        "该 Idempotency-Key 已用于另一次内容不同的巡查打卡；新的打卡请使用新的 UUID。",
        "This Idempotency-Key was used for a different check-in; use a new UUID for a new one.",
        field="Idempotency-Key",
    )


# Every accepted check-in in one statement: located (``wangge_assign``), given the account's
# jurisdiction (migration 0052; below the account's own level, where it was made, if that lies
# under it), and inserted unless its key is taken (``ON CONFLICT``: a parallel retry of the same
# key waits for the first to commit, then finds its key taken and is judged a replay).
_INSERT = """
    WITH i AS (
        SELECT * FROM unnest(
            CAST(:idx AS int[]), CAST(:key AS uuid[]), CAST(:fingerprint AS bytea[]),
            CAST(:checked_at AS timestamptz[]), CAST(:datum AS text[]),
            CAST(:received_lon AS float8[]), CAST(:received_lat AS float8[]),
            CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:accuracy_m AS float8[]),
            CAST(:flags AS text[]), CAST(:note AS text[]), CAST(:track AS text[]))
            AS i(idx, key, fingerprint, checked_at, datum, received_lon, received_lat, lon, lat,
                 accuracy_m, flags, note, track)
    ),
    u AS (SELECT id, worker_id, region_id FROM app_user WHERE id = :user),
    own AS (SELECT ch.*, coalesce(ch.village_code, ch.township_code, ch.district_code,
                                  ch.city_code) AS lowest
            FROM u CROSS JOIN LATERAL wangge_village_chain(u.region_id) ch)
    INSERT INTO patrol (user_id, worker_id, idempotency_key, fingerprint, checked_at, datum,
                        received_lon, received_lat, geom, accuracy_m, flags, grid_code,
                        assign_method, own_grid, note, village_code, township_code,
                        district_code, city_code, track, track_m, track_fast)
    SELECT u.id, u.worker_id, i.key, i.fingerprint, i.checked_at, i.datum, i.received_lon,
           i.received_lat, ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326), i.accuracy_m,
           CAST(i.flags AS jsonb), a.grid_code, coalesce(a.method, 'unassigned'),
           CASE WHEN CAST(:grids AS text[]) IS NOT NULL
                THEN coalesce(a.grid_code = ANY(CAST(:grids AS text[])), false) END,
           i.note,
           CASE WHEN own.lowest IS NULL THEN a.village_code
                ELSE coalesce(own.village_code, CASE WHEN under.it THEN a.village_code END) END,
           CASE WHEN own.lowest IS NULL THEN a.township_code
                ELSE coalesce(own.township_code, CASE WHEN under.it THEN a.township_code END) END,
           CASE WHEN own.lowest IS NULL THEN a.district_code
                ELSE coalesce(own.district_code, CASE WHEN under.it THEN a.district_code END) END,
           CASE WHEN own.lowest IS NULL THEN a.city_code
                ELSE coalesce(own.city_code, CASE WHEN under.it THEN a.city_code END) END,
           t.line, wangge_track_walked(t.line, CAST(:max_mps AS float8)),
           wangge_track_fast(t.line, CAST(:max_mps AS float8))
    FROM i CROSS JOIN u
    CROSS JOIN LATERAL (SELECT ST_GeomFromText(i.track, 4326) AS line) t
    LEFT JOIN own ON true
    LEFT JOIN LATERAL wangge_assign(ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326)) a ON true
    CROSS JOIN LATERAL (SELECT own.lowest IN (a.village_code, a.township_code, a.district_code,
                                              a.city_code) AS it) under
    ORDER BY i.idx
    ON CONFLICT ON CONSTRAINT patrol_key DO NOTHING
    RETURNING id, idempotency_key
"""
# the keys the insert found taken: their check-ins, for a replay or a refusal
_KNOWN = text("""
    SELECT p.idempotency_key, p.id, p.fingerprint FROM patrol p
    WHERE p.user_id = :user AND p.idempotency_key = ANY(CAST(:keys AS uuid[]))
""")
# points that are not inside the coverage (those are judged one by one: far off, or swapped)
_OUTSIDE = """
    SELECT i.idx FROM unnest(CAST(:idx AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]))
        AS i(idx, lon, lat)
    WHERE EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL)
      AND NOT EXISTS (SELECT 1 FROM region r WHERE r.parent_id IS NULL
                      AND ST_Covers(r.geom, ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326)))
"""

_VIEW_COLUMNS = """
    p.id, u.username, w.code AS worker_code, w.name AS worker_name, p.checked_at, p.received_at,
    ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.accuracy_m, p.grid_code, g.name AS grid_name,
    p.own_grid,
    p.assign_method::text AS assign_method, p.village_code, v.name AS village, p.note, p.flags,
    coalesce((SELECT array_agg(ph.id ORDER BY ph.id) FROM patrol_photo ph
              WHERE ph.patrol_id = p.id), '{}') AS photo_ids,
    ST_AsGeoJSON(ST_Force2D(p.track), 6) AS track, p.track_m, p.track_fast
"""
_VIEW_FROM = """
    FROM patrol p JOIN app_user u ON u.id = p.user_id
    LEFT JOIN worker w ON w.id = p.worker_id
    LEFT JOIN region v ON v.code = p.village_code
    LEFT JOIN grid g ON g.code = p.grid_code AND g.valid_to IS NULL
"""


@dataclass
class _Work:
    item: PatrolItem
    patrol: NewPatrol
    key: UUID
    fingerprint: bytes
    lon: float = 0.0
    lat: float = 0.0
    flags: str = "{}"
    track: str | None = None  # its track as WKT in WGS 84 (track_wkt)
    id: int | None = None


def record_patrols(
    session: Session,
    scope: Scope,
    user_id: int,
    items: Sequence[PatrolItem],
    cipher: PiiCipher,
    *,
    batch: bool = False,
) -> list[PatrolResult]:
    """Take in ``items``: each created, replayed, or refused on its own (a key used for other
    content: 422, or in a ``batch`` a per-item conflict, 409, as for reports).  Results in item
    order."""
    results: dict[int, PatrolResult] = {}
    first_of_key: dict[UUID, _Work] = {}
    repeats: list[_Work] = []
    work: list[_Work] = []
    now = datetime.now(UTC)
    for item in items:
        if item.error is not None or item.patrol is None or item.key is None:
            error = item.error or InvalidInput("缺少打卡内容。", "Missing check-in.")
            results[item.index] = PatrolResult(item.index, "rejected", error.status, error=error)
            continue
        w = _Work(item, item.patrol, item.key, cipher.fingerprint(item.content))
        if w.key in first_of_key:
            repeats.append(w)
            continue
        first_of_key[w.key] = w
        try:
            w.lon, w.lat = device_point(session, w.patrol.lon, w.patrol.lat, w.patrol.datum)
        except WanggeError as e:
            results[item.index] = PatrolResult(item.index, "rejected", e.status, error=e)
            continue
        try:
            w.track = track_wkt(w.patrol)
        except WanggeError as e:
            results[item.index] = PatrolResult(item.index, "rejected", e.status, error=e)
            continue
        w.flags = json.dumps(flags_for(w.patrol.accuracy_m, w.patrol.checked_at, now))
        work.append(w)
    if work:  # far outside the coverage, or swapped: refused with the reports' own words
        far = {
            row.idx
            for row in execute_arrays(
                session,
                _OUTSIDE,
                {
                    "idx": [w.item.index for w in work],
                    "lon": [w.lon for w in work],
                    "lat": [w.lat for w in work],
                },
            )
        }
        kept = []
        for w in work:
            try:
                if w.item.index in far:
                    check_location(session, w.lon, w.lat)
                kept.append(w)
            except WanggeError as e:
                results[w.item.index] = PatrolResult(w.item.index, "rejected", e.status, error=e)
        work = kept
    if work:
        _insert(session, scope, user_id, work)
    taken = [w for w in work if w.id is None]
    replays: list[_Work] = []
    if taken:
        known = {
            row.idempotency_key: row
            for row in session.execute(_KNOWN, {"user": user_id, "keys": [w.key for w in taken]})
        }
        for w in taken:
            found = known.get(w.key)
            if found is None or bytes(found.fingerprint) != w.fingerprint:
                # (not found: the key's check-in is no longer visible to the account)
                results[w.item.index] = _reused(w, batch)
            else:
                w.id = int(found.id)
                replays.append(w)
    created = [w for w in work if w.id is not None and w not in replays]
    views = {v.id: v for v in _views(session, [w.id for w in work if w.id is not None])}
    for w in created:
        results[w.item.index] = PatrolResult(w.item.index, "created", 201, views[w.id or 0])
    for w in replays:
        results[w.item.index] = PatrolResult(w.item.index, "replayed", 200, views[w.id or 0])
    for w in repeats:
        first = first_of_key[w.key]
        done = results[first.item.index]
        if w.fingerprint != first.fingerprint:
            results[w.item.index] = _reused(w, batch)
        elif done.patrol is not None:
            results[w.item.index] = PatrolResult(w.item.index, "replayed", 200, done.patrol)
        else:
            results[w.item.index] = PatrolResult(
                w.item.index, done.status, done.http_status, error=done.error
            )
    return [results[i.index] for i in items]


def _reused(w: _Work, batch: bool) -> PatrolResult:
    if batch:
        return PatrolResult(w.item.index, "conflict", 409, error=key_reused())
    return PatrolResult(w.item.index, "rejected", 422, error=key_reused())


def track_wkt(patrol: NewPatrol) -> str | None:
    """``patrol``'s track as a WKT ``LINESTRING M`` in WGS 84 (M: unix seconds), or None; 422
    unless it is two points or more, oldest first, in the hours before the check-in."""
    if patrol.track is None:
        return None
    points = np.array(patrol.track, dtype=float).reshape(-1, 3)
    at = patrol.checked_at.timestamp()
    problem = None
    if not 2 <= len(points) <= TRACK_MAX_POINTS:
        problem = (
            f"轨迹须有 2 至 {TRACK_MAX_POINTS} 个点，收到 {len(points)} 个。",
            f"A track has 2 to {TRACK_MAX_POINTS} points; {len(points)} were given.",
        )
    elif (
        not np.isfinite(points).all()
        or (np.abs(points[:, 0]) > 180).any()
        or (np.abs(points[:, 1]) > 90).any()
    ):
        problem = (
            "轨迹中有无效坐标（经度 −180 至 180，纬度 −90 至 90）。",
            "A track point has an invalid position (longitude −180 to 180, latitude −90 to 90).",
        )
    elif (np.diff(points[:, 2]) < 0).any():
        problem = (
            "轨迹的点须按时间先后排列。",
            "A track's points must be in time order, oldest first.",
        )
    elif points[0, 2] < at - TRACK_MAX_HOURS * 3600 or points[-1, 2] > at + TRACK_AFTER_S:
        problem = (
            f"轨迹须在打卡前 {TRACK_MAX_HOURS} 小时内（时间为秒，自 1970 年起）。",
            f"A track lies in the {TRACK_MAX_HOURS} hours before its check-in (times in "
            "seconds since 1970).",
        )
    if problem:
        raise InvalidInput(*problem, field="track")
    lon, lat = to_wgs84(points[:, 0], points[:, 1], patrol.datum)
    return (
        "LINESTRING M ("
        + ", ".join(
            f"{x!r} {y!r} {m!r}"
            for x, y, m in zip(lon.tolist(), lat.tolist(), points[:, 2].tolist(), strict=True)
        )
        + ")"
    )


def _insert(session: Session, scope: Scope, user_id: int, work: list[_Work]) -> None:
    patrols = [w.patrol for w in work]
    params = {
        "user": user_id,
        "grids": None if scope.grid_codes is None else sorted(scope.grid_codes),
        "idx": [w.item.index for w in work],
        "key": [w.key for w in work],
        "fingerprint": [w.fingerprint for w in work],
        "checked_at": [p.checked_at for p in patrols],
        "datum": [p.datum for p in patrols],
        "received_lon": [p.lon for p in patrols],
        "received_lat": [p.lat for p in patrols],
        "lon": [w.lon for w in work],
        "lat": [w.lat for w in work],
        "accuracy_m": [p.accuracy_m for p in patrols],
        "flags": [w.flags for w in work],
        "note": [p.note for p in patrols],
        "track": [w.track for w in work],
        "max_mps": TRACK_MAX_KMH / 3.6,
    }
    by_key = {w.key: w for w in work}
    for row in execute_arrays(session, _INSERT, params):
        by_key[row.idempotency_key].id = int(row.id)


def _view(row: Any, unmask: bool = False) -> PatrolView:
    """A check-in as shown: the phone and ID-card numbers typed into its note masked (as a
    case's description is), unless ``unmask`` (the caller checks ``pii:read`` and audits it)."""
    fields = dict(row._mapping)  # (the columns of _VIEW_COLUMNS are its fields)
    if fields["note"] and not unmask:
        fields["note"] = mask_text(fields["note"])
    line = fields.pop("track")
    track = json.loads(line)["coordinates"] if line else None
    return PatrolView(**fields, track=track)


def _views(session: Session, ids: list[int]) -> list[PatrolView]:
    if not ids:
        return []
    rows = session.execute(
        text(f"SELECT {_VIEW_COLUMNS} {_VIEW_FROM} WHERE p.id = ANY(CAST(:ids AS bigint[]))"),
        {"ids": ids},
    )
    return [_view(r) for r in rows]


def day_bounds(first: date, days: int = 1) -> tuple[datetime, datetime]:
    """The start of day ``first`` and the end of ``days`` days from it, in China Standard Time
    (the workers' day).  Days off Python's calendar are refused (422, field ``day``)."""
    try:
        start = datetime(first.year, first.month, first.day, tzinfo=SHANGHAI)
        return start, start + timedelta(days=days)
    except OverflowError:
        raise day_out_of_range(first) from None


def day_out_of_range(day: date) -> InvalidInput:
    return InvalidInput(
        f"日期 {day} 超出可用范围，请选一个近期的日期。",
        f"The day {day} is out of range; choose a recent day.",
        field="day",
    )


def list_patrols(
    session: Session,
    scope: Scope,
    *,
    since: datetime,
    until: datetime,
    user_id: int | None = None,
    worker_id: int | None = None,
    grid_code: str | None = None,
    limit: int = LIST_MAX,
    unmask: bool = False,
) -> list[PatrolView]:
    """The check-ins in ``scope`` made (device time) from ``since`` until before ``until``, in
    time order: of one account (``user_id``), one worker (``worker_id``: :func:`patrol_worker`)
    or one grid (where they were made), or all of them.  Their notes are masked unless
    ``unmask`` (:func:`_view`)."""
    conditions = [scope.case_condition("p"), "p.checked_at >= :since", "p.checked_at < :until"]
    params: dict[str, Any] = {"since": since, "until": until, "limit": limit}
    if user_id is not None:
        conditions.append("p.user_id = :user")
        params["user"] = user_id
    if worker_id is not None:
        conditions.append("p.worker_id = :worker")
        params["worker"] = worker_id
    if grid_code is not None:
        conditions.append("p.grid_code = :grid")
        params["grid"] = grid_code
    rows = session.execute(
        text(f"""SELECT {_VIEW_COLUMNS} {_VIEW_FROM}
                 WHERE {" AND ".join(conditions)}
                 ORDER BY p.checked_at, p.id LIMIT :limit"""),
        params,
    )
    return [_view(r, unmask) for r in rows]


def patrols_geojson(views: Sequence[PatrolView]) -> dict[str, Any]:
    """``views`` as a GeoJSON FeatureCollection of points (times in ISO 8601)."""
    features = []
    for view in views:
        props = {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in vars(view).items()
            if k not in ("lon", "lat", "photo_ids")
        } | {"photos": view.photos}
        features.append(
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [view.lon, view.lat]},
             "properties": props}
        )  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


@dataclass(frozen=True)
class PatrolWorker:
    """A grid worker as the patrol map shows them: their grids and where those lie."""

    id: int
    code: str
    name: str
    village: str | None
    user_ids: list[int]  # their accounts
    grids: list[str]
    #: west, south, east, north of their grids (of their village without grids; None: neither)
    bounds: tuple[float, float, float, float] | None


def patrol_worker(session: Session, scope: Scope, code: str) -> PatrolWorker | None:
    """The grid worker ``code`` in ``scope``'s region, or None."""
    row = session.execute(
        text(f"""
        SELECT x.*, ST_XMin(x.box) AS west, ST_YMin(x.box) AS south, ST_XMax(x.box) AS east,
               ST_YMax(x.box) AS north
        FROM (
            SELECT w.id, w.code, w.name, v.name AS village,
                   coalesce((SELECT array_agg(a.id ORDER BY a.id) FROM app_user a
                             WHERE a.worker_id = w.id), '{{}}') AS user_ids,
                   coalesce((SELECT array_agg(g.grid_code ORDER BY g.grid_code) FROM worker_grid g
                             WHERE g.worker_id = w.id), '{{}}') AS grids,
                   coalesce((SELECT ST_Extent(gr.geom) FROM worker_grid g
                             JOIN grid gr ON gr.code = g.grid_code AND gr.valid_to IS NULL
                             WHERE g.worker_id = w.id), ST_Extent(v.geom)) AS box
            FROM worker w JOIN region v ON v.id = w.region_id
            WHERE w.code = :code AND {scope.region_condition("v")}
            GROUP BY w.id, v.id
        ) x
    """),
        {"code": code},
    ).one_or_none()
    if row is None:
        return None
    bounds = None
    if row.box is not None:
        bounds = (float(row.west), float(row.south), float(row.east), float(row.north))
    return PatrolWorker(
        row.id, row.code, row.name, row.village, list(row.user_ids), list(row.grids), bounds
    )


def unknown_worker(code: str) -> NotFound:
    return NotFound(
        f"您的管辖范围内没有编号为 {code} 的网格员。",
        f"No grid worker {code} in your jurisdiction.",
        field="worker",
    )
