"""Regions, grids and centers as GeoJSON, built in the database (``ST_AsGeoJSON``).

Each function returns a FeatureCollection as JSON text (RFC 7946, WGS 84 lon/lat, 6 decimals ≈
0.1 m), ready to send: large layers are never parsed and re-serialised in Python.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, NotFound
from gis.geo import BBOX_SQL, BBox, feature_collection
from gis.models import RegionLevel
from gis.scope import Scope
from gis.worktime import SHANGHAI, plausible_day

LEVEL_NAME_SQL = (
    "CASE {col} WHEN 'city' THEN '市' WHEN 'district' THEN '区/县' "
    "WHEN 'township' THEN '乡镇/街道' ELSE '村/社区' END"
)
LEVEL_NAME_SQL_EN = (
    "CASE {col} WHEN 'city' THEN 'city' WHEN 'district' THEN 'district' "
    "WHEN 'township' THEN 'township' ELSE 'village/community' END"
)


def _level_name(col: str, lang: str) -> str:
    """The SQL naming a region level, in ``lang`` (``zh`` or ``en``)."""
    return (LEVEL_NAME_SQL_EN if lang == "en" else LEVEL_NAME_SQL).format(col=col)


def as_of_moment(value: str) -> datetime:
    """``as_of`` → the instant whose layout is wanted: a date means the end of that day
    (Asia/Shanghai), i.e. with that day's changes; an ISO 8601 time is taken as it is."""
    try:
        if len(value) == 10:
            day = plausible_day(date.fromisoformat(value), "as_of")
            return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI) - timedelta(
                microseconds=1
            )
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"as_of 应为日期（如 2026-10-01）或 ISO 8601 时间，收到 {value!r}",
            f"as_of must be a date (e.g. 2026-10-01) or an ISO 8601 time; got {value!r}",
            field="as_of",
        ) from None
    plausible_day(moment.date(), "as_of")
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


#: SQL: grid ``g`` was the layout at ``:as_of`` (or is current when no moment is bound)
VALID_AT = "g.valid_from <= :as_of AND (g.valid_to IS NULL OR g.valid_to > :as_of)"


def grids_geojson(
    session: Session, scope: Scope, bbox: BBox | None = None, as_of: datetime | None = None
) -> str:
    """Grids in ``scope`` — the current ones, or those valid at ``as_of`` — with village,
    version, validity, households, population and (current layout) workers."""
    validity = "g.valid_to IS NULL" if as_of is None else VALID_AT
    where = f"{validity} AND {scope.region_condition('v')}"
    params = scope.params() | ({"as_of": as_of} if as_of is not None else {})
    if bbox:
        where += f" AND {BBOX_SQL.format(col='g.geom')}"
        params.update(bbox.params())
    features = f"""
        SELECT g.code AS f_order, json_build_object(
            'type', 'Feature', 'id', g.code,
            'geometry', ST_AsGeoJSON(g.geom, 6)::json,
            'properties', json_build_object(
                'code', g.code, 'name', g.name, 'version', g.version,
                'village_code', v.code, 'village_name', v.name,
                'households', g.households, 'population', g.population,
                'valid_from', g.valid_from, 'valid_to', g.valid_to,
                'workers', CASE WHEN g.valid_to IS NULL THEN
                           (SELECT coalesce(json_agg(w.name ORDER BY w.code), '[]'::json)
                            FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                            WHERE wg.grid_code = g.code) END)) AS f
        FROM grid g JOIN region v ON v.id = g.village_id
        WHERE {where}
    """
    return feature_collection(session, features, params)


def regions_geojson(
    session: Session,
    scope: Scope,
    level: RegionLevel | None = None,
    bbox: BBox | None = None,
    lang: str = "zh",
) -> str:
    """Regions of one level (or all) in ``scope``, with their parent's code; ``level_name`` in
    ``lang``."""
    conditions = [scope.region_condition("r")]
    params: dict = scope.params()
    if level is not None:
        conditions.append("r.level = CAST(:level AS region_level)")
        params["level"] = level.value
    if bbox is not None:
        conditions.append(BBOX_SQL.format(col="r.geom"))
        params.update(bbox.params())
    features = f"""
        SELECT r.code AS f_order, json_build_object(
            'type', 'Feature', 'id', r.code,
            'geometry', ST_AsGeoJSON(r.geom, 6)::json,
            'properties', json_build_object(
                'code', r.code, 'name', r.name, 'level', r.level,
                'level_name', {_level_name("r.level", lang)}, 'parent_code', p.code)) AS f
        FROM region r LEFT JOIN region p ON p.id = r.parent_id
        WHERE {" AND ".join(conditions)}
    """
    return feature_collection(session, features, params)


def centers_geojson(
    session: Session,
    scope: Scope,
    bbox: BBox | None = None,
    levels: list[RegionLevel] | None = None,
    lang: str = "zh",
) -> str:
    """Governance centers and village service stations in ``scope``, with the region each serves.

    ``levels`` keeps the centers serving regions of those levels (all when None or empty);
    ``level_name`` in ``lang``.
    """
    conditions = [scope.region_condition("r")]
    params: dict = scope.params()
    if bbox is not None:
        conditions.append(BBOX_SQL.format(col="c.geom"))
        params.update(bbox.params())
    if levels:
        conditions.append("r.level::text = ANY(:levels)")
        params["levels"] = [level.value for level in levels]
    features = f"""
        SELECT r.level::text || r.code AS f_order, json_build_object(
            'type', 'Feature', 'id', c.id,
            'geometry', ST_AsGeoJSON(c.geom, 6)::json,
            'properties', json_build_object(
                'id', c.id, 'name', c.name, 'level', r.level,
                'level_name', {_level_name("r.level", lang)}, 'region_code', r.code,
                'region_name', r.name, 'phone', c.phone, 'address', c.address)) AS f
        FROM center c JOIN region r ON r.id = c.region_id
        WHERE {" AND ".join(conditions)}
    """
    return feature_collection(session, features, params)


def scope_extent(session: Session, scope: Scope) -> BBox | None:
    """The extent of the caller's region (of everything for the whole deployment)."""
    where = "parent_id IS NULL" if scope.is_everything else "id = :scope_region_id"
    row = session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            f"FROM (SELECT ST_Extent(geom) AS e FROM region WHERE {where}) s"
        ),
        scope.params(),
    ).one()
    return None if row[0] is None else BBox(*row)


def scope_name(session: Session, scope: Scope) -> str | None:
    """The name of the caller's region, or of the deployment's top region."""
    if not scope.is_everything:
        return scope.region_name
    return session.execute(
        text("SELECT name FROM region WHERE parent_id IS NULL ORDER BY level, code LIMIT 1")
    ).scalar()


@dataclass(frozen=True, slots=True)
class VillageEntry:
    """A village (community) in a list to pick from, with the region above it."""

    code: str
    name: str
    parent_code: str | None  # the township's, or the level above where a level is missing
    parent_name: str | None
    grids: int  # current grids


def villages(session: Session, scope: Scope) -> list[VillageEntry]:
    """The villages (communities) in ``scope``, by the region above them, then by code."""
    rows = session.execute(
        text(f"""
        SELECT v.code, v.name, p.code AS parent_code, p.name AS parent_name,
               (SELECT count(*) FROM grid g
                WHERE g.village_id = v.id AND g.valid_to IS NULL)::integer AS grids
        FROM region v LEFT JOIN region p ON p.id = v.parent_id
        WHERE v.level = 'village' AND {scope.region_condition("v")}
        ORDER BY p.code NULLS FIRST, v.code
    """),
        scope.params(),
    ).all()
    return [VillageEntry(*row) for row in rows]


@dataclass(frozen=True)
class Overview:
    """The villages of an area drawn as SVG paths (``ST_AsSVG``: x = longitude, y = −latitude),
    simplified for a picture of the whole area, with the box they fill."""

    paths: dict[str, str]  # village code → path data
    points: dict[str, tuple[float, float]]  # village code → a point inside it (lon, lat)
    west: float
    south: float
    east: float
    north: float


def village_overview(session: Session, scope: Scope) -> Overview | None:
    """Each village's outline in ``scope``, simplified to about a 600th of the area's size (a
    picture some 600 pixels wide loses nothing it could show).  None: no village."""
    rows = session.execute(
        text(f"""
        WITH v AS (SELECT code, geom FROM region v
                   WHERE v.level = 'village' AND {scope.region_condition("v")}),
             box AS (SELECT ST_Extent(geom) AS b FROM v)
        SELECT v.code,
               ST_AsSVG(ST_SimplifyPreserveTopology(
                   v.geom, greatest(ST_XMax(b) - ST_XMin(b), ST_YMax(b) - ST_YMin(b)) / 600),
                   0, 5) AS d,
               ST_X(ST_PointOnSurface(v.geom)), ST_Y(ST_PointOnSurface(v.geom)),
               ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
        FROM v, box
        ORDER BY v.code
    """),
        scope.params(),
    ).all()
    if not rows:
        return None
    *_, west, south, east, north = rows[0]
    return Overview(
        {r[0]: r[1] for r in rows}, {r[0]: (r[2], r[3]) for r in rows}, west, south, east, north
    )


def narrow_scope(session: Session, scope: Scope, region_code: str | None) -> Scope:
    """``scope`` narrowed to one region the caller may see (``NotFound`` for any other)."""
    if not region_code:
        return scope
    row = session.execute(
        text(f"""
        SELECT r.id, r.code, r.level::text AS level, r.name FROM region r
        WHERE r.code = :code AND {scope.region_condition("r")}
    """),
        scope.params() | {"code": region_code},
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"没有编码为 {region_code} 的行政区划，或不在您的管辖范围内。",
            f"No region {region_code} in your jurisdiction.",
        )
    return Scope(row.id, row.code, row.level, row.name, scope.grid_codes)


def grid_names(session: Session, codes: list[str]) -> dict[str, str]:
    """The names of the current grids ``codes`` (兴沙社区第1网格), by code."""
    rows = session.execute(
        text(
            "SELECT code, name FROM grid WHERE code = ANY(CAST(:codes AS text[])) "
            "AND valid_to IS NULL"
        ),
        {"codes": codes},
    )
    return {code: name for code, name in rows}


def grid_extent(
    session: Session, scope: Scope, code: str
) -> tuple[str, tuple[float, float, float, float]] | None:
    """A current grid's name and extent (west, south, east, north), if in ``scope``."""
    row = session.execute(
        text(f"""
        SELECT g.name, ST_XMin(g.geom), ST_YMin(g.geom), ST_XMax(g.geom), ST_YMax(g.geom)
        FROM grid g JOIN region v ON v.id = g.village_id
        WHERE g.code = :code AND g.valid_to IS NULL AND {scope.region_condition("v")}
    """),
        scope.params() | {"code": code},
    ).one_or_none()
    if row is None:
        return None
    return str(row[0]), (float(row[1]), float(row[2]), float(row[3]), float(row[4]))


def grid_history(session: Session, scope: Scope, code: str) -> str:
    """Every version of grid ``code`` in ``scope``, oldest first: validity, area, households, the
    edit set that made it, the versions its land came from and the grids that took it over."""
    features = f"""
        SELECT g.version AS f_order, json_build_object(
            'type', 'Feature', 'id', g.code || '@' || g.version,
            'geometry', ST_AsGeoJSON(g.geom, 6)::json,
            'properties', json_build_object(
                'code', g.code, 'version', g.version, 'name', g.name,
                'village_code', v.code, 'village_name', v.name,
                'valid_from', g.valid_from, 'valid_to', g.valid_to,
                'current', g.valid_to IS NULL,
                'area_m2', round(g.area_m2::numeric, 1),
                'households', g.households, 'population', g.population,
                'edit_id', g.edit_id, 'edit_title', e.title, 'edited_by', e.created_by,
                'derived_from', (SELECT coalesce(json_agg(json_build_object(
                                     'code', p.code, 'version', p.version) ORDER BY p.code), '[]')
                                 FROM grid p WHERE p.id = ANY(g.lineage) AND p.code <> g.code),
                'taken_over_by', (SELECT coalesce(json_agg(json_build_object(
                                      'code', s.code, 'version', s.version) ORDER BY s.code), '[]')
                                  FROM grid s WHERE s.lineage @> ARRAY[g.id]
                                    AND s.code <> g.code))) AS f
        FROM grid g JOIN region v ON v.id = g.village_id LEFT JOIN grid_edit e ON e.id = g.edit_id
        WHERE g.code = :code AND {scope.region_condition("v")}
    """
    result = feature_collection(session, features, scope.params() | {"code": code})
    if not json.loads(result)["features"]:
        raise NotFound(
            f"没有编码为 {code} 的网格（任何版本），或不在您的管辖范围内。",
            f"No grid {code} (any version) in your jurisdiction.",
        )
    return result


@dataclass(frozen=True)
class Place:
    """A region or current grid found by :func:`find_places`."""

    kind: str  # the region level, or "grid"
    kind_name: str
    code: str
    name: str
    context: str  # the regions above it, nearest first, below the scope's: "桥园镇 · 南江区"
    bbox: tuple[float, float, float, float]  # west, south, east, north
    outline: dict  # GeoJSON geometry, simplified to about 10 m (to draw, not to measure)


#: longest search text: longer than any place's name
PLACE_QUERY_MAX = 40
#: how far a found place's outline may stray from its boundary (degrees: about 10 m)
OUTLINE_TOLERANCE_DEG = 0.0001
# Regions and current grids in scope whose name contains the words, or whose code starts with
# them; the best first: the name itself, then names that start with it, higher levels before
# lower, shorter names before longer.  Their extents are read for the few kept only.
_PLACES = """
    WITH hit AS (
        SELECT r.level::text AS kind, r.code, r.name, r.name_key, r.id AS region_id, r.path,
               0 AS is_grid,
               array_position(ARRAY['city', 'district', 'township', 'village'], r.level::text)
                   AS rank
        FROM region r
        WHERE {in_region} AND (r.name_key ILIKE :contains ESCAPE '\\' OR r.code LIKE :starts)
        UNION ALL
        SELECT 'grid', g.code, g.name, g.name_key, NULL, v.path, 1, 5
        FROM grid g JOIN region v ON v.id = g.village_id
        WHERE g.valid_to IS NULL AND {in_village}
          AND (g.name_key ILIKE :contains ESCAPE '\\' OR g.code LIKE :starts)
    ), best AS (
        SELECT *, row_number() OVER (ORDER BY lower(name_key) = lower(:words) DESC,
                                              name_key ILIKE :begins ESCAPE '\\' DESC,
                                              rank, length(name), code) AS place
        FROM hit ORDER BY place LIMIT :limit
    )
    SELECT b.kind, {kind_name} AS kind_name, b.code, b.name,
           (SELECT string_agg(p.name, ' · ' ORDER BY array_position(b.path, p.id) DESC)
            FROM region p
            WHERE p.id = ANY(b.path) AND p.id IS DISTINCT FROM b.region_id
              AND p.id <> ALL(coalesce((SELECT s.path FROM region s
                                        WHERE s.id = :scope_region_id), '{{}}'))) AS context,
           ST_XMin(e.geom) AS west, ST_YMin(e.geom) AS south, ST_XMax(e.geom) AS east,
           ST_YMax(e.geom) AS north,
           ST_AsGeoJSON(ST_SimplifyPreserveTopology(e.geom, :simplify), 6) AS outline
    FROM best b
    CROSS JOIN LATERAL (
        SELECT coalesce((SELECT r.geom FROM region r WHERE r.code = b.code AND b.is_grid = 0),
                        (SELECT g.geom FROM grid g
                         WHERE g.code = b.code AND g.valid_to IS NULL AND b.is_grid = 1)) AS geom
    ) e
    ORDER BY b.place
"""


def find_places(
    session: Session, scope: Scope, words: str, lang: str = "zh", limit: int = 10
) -> list[Place]:
    """Regions (city to village) and current grids in ``scope`` by name or code: what a desk
    types to find a village on the map ("东坪", "东坪社区第2网格", "990102001").  Names are
    compared in NFKC (full-width digits and letters as ASCII: 第２网格 is 第2网格), as stored in
    ``name_key`` (migration 0048); so is a code typed in full-width (９９０１０２)."""
    words = " ".join(unicodedata.normalize("NFKC", words).split())
    if not words:
        raise InvalidInput(
            "请输入要查找的地名或代码（村/社区、乡镇/街道、网格）。",
            "Type a place's name or code to look for (village, township, grid).",
            field="q",
        )
    if len(words) > PLACE_QUERY_MAX:
        raise InvalidInput(
            f"查找的文字太长（{len(words)} 个字符，最多 {PLACE_QUERY_MAX} 个）。",
            f"The search text is too long ({len(words)} characters, at most {PLACE_QUERY_MAX}).",
            field="q",
        )
    like = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    grid_name = "'grid'" if lang == "en" else "'网格'"
    sql = _PLACES.format(
        in_region=scope.region_condition("r"),
        in_village=scope.region_condition("v"),
        kind_name=f"CASE b.kind WHEN 'grid' THEN {grid_name} ELSE "
        f"{_level_name('b.kind', lang)} END",
    )
    rows = session.execute(
        text(sql),
        scope.params()
        | {
            "words": words,
            "contains": f"%{like}%",
            "begins": f"{like}%",
            "starts": f"{words}%" if words.isdigit() and words.isascii() else "",
            "limit": limit,
            "simplify": OUTLINE_TOLERANCE_DEG,
        },
    ).all()
    return [
        Place(
            r.kind,
            r.kind_name,
            r.code,
            r.name,
            r.context or "",
            (r.west, r.south, r.east, r.north),
            json.loads(r.outline),
        )
        for r in rows
    ]
