"""Locating a point — the spine of wangge.

:func:`locate_point` answers "whose is this point?" with the owning grid, its village, township,
district and city, and the responsible center, in one indexed query.  The rules live in one
database function, ``wangge_assign`` (migrations 0001 and 0009), so single submissions, batch
sync, bulk import and re-assignment after a redraw share them exactly:

1. **covers** — current grids that cover the point, edges and vertices included.  A point on an
   edge shared by two grids, or on a vertex shared by several, belongs to the grid with the
   *lowest code*: deterministic, independent of load order, and stable across redraws of others.
   A point in a hole belongs to the grid that fills the hole, if any.
2. **nearest** — else the nearest current grid within ``tolerance_m`` (50 m, geodesic metres);
   ties go to the lowest code.  This absorbs GPS noise at the edge of the coverage.
3. **region** — else the smallest region (village, then township, district, city) covering the
   point: the case goes to that region's center queue.
4. **unassigned** — the point is outside the deployment.

Coordinates are WGS 84 longitude/latitude in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.models import AssignMethod

DEFAULT_TOLERANCE_M = 50.0


@dataclass(frozen=True, slots=True)
class RegionRef:
    code: str
    name: str
    level: str


@dataclass(frozen=True, slots=True)
class GridRef:
    id: int
    code: str
    name: str
    version: int


@dataclass(frozen=True, slots=True)
class CenterRef:
    id: int
    name: str
    level: str
    region_code: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class Location:
    """The owner chain of a point, and how it was decided."""

    method: AssignMethod
    distance_m: float | None
    grid: GridRef | None
    village: RegionRef | None
    township: RegionRef | None
    district: RegionRef | None
    city: RegionRef | None
    center: CenterRef | None


# Joins an assignment row ``a`` (grid_id, *_code, center_id, method, distance_m) to names.
# Shared by locate_point and by everything that shows a stored assignment.
CHAIN_COLUMNS = """
    a.method, a.distance_m,
    g.id AS grid_id, g.code AS grid_code, g.name AS grid_name, g.version AS grid_version,
    v.code AS village_code, v.name AS village_name,
    t.code AS township_code, t.name AS township_name,
    d.code AS district_code, d.name AS district_name,
    ci.code AS city_code, ci.name AS city_name,
    ce.id AS center_id, ce.name AS center_name, cr.level AS center_level,
    cr.code AS center_region_code, ce.phone AS center_phone
"""
CHAIN_JOINS = """
    LEFT JOIN grid g ON g.id = a.grid_id
    LEFT JOIN region v ON v.code = a.village_code
    LEFT JOIN region t ON t.code = a.township_code
    LEFT JOIN region d ON d.code = a.district_code
    LEFT JOIN region ci ON ci.code = a.city_code
    LEFT JOIN center ce ON ce.id = a.center_id
    LEFT JOIN region cr ON cr.id = ce.region_id
"""

_LOCATE_SQL = text(
    f"""
    SELECT {CHAIN_COLUMNS}
    FROM wangge_assign(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :tolerance) AS a
    {CHAIN_JOINS}
    """
)


def _region(row: dict, prefix: str, level: str) -> RegionRef | None:
    code = row[f"{prefix}_code"]
    return RegionRef(code, row[f"{prefix}_name"], level) if code else None


def location_from_row(row: dict) -> Location:
    """Build a :class:`Location` from a row selected with ``CHAIN_COLUMNS``."""
    grid = (
        GridRef(row["grid_id"], row["grid_code"], row["grid_name"], row["grid_version"])
        if row["grid_id"] is not None
        else None
    )
    center = (
        CenterRef(
            row["center_id"],
            row["center_name"],
            str(row["center_level"]),
            row["center_region_code"],
            row["center_phone"],
        )
        if row["center_id"] is not None
        else None
    )
    return Location(
        method=AssignMethod(row["method"]),
        distance_m=row["distance_m"],
        grid=grid,
        village=_region(row, "village", "village"),
        township=_region(row, "township", "township"),
        district=_region(row, "district", "district"),
        city=_region(row, "city", "city"),
        center=center,
    )


def locate_point(
    session: Session, lon: float, lat: float, tolerance_m: float = DEFAULT_TOLERANCE_M
) -> Location:
    """Whose is the WGS 84 point (``lon``, ``lat``)?  See the module docstring for the rules."""
    row = (
        session.execute(_LOCATE_SQL, {"lon": lon, "lat": lat, "tolerance": tolerance_m})
        .mappings()
        .one()
    )
    return location_from_row(dict(row))
