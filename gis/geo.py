"""Small geometric value types shared by the services."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class BBox:
    """A lon/lat box in WGS 84 degrees: west, south, east, north."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, value: str, field: str = "bbox") -> BBox:
        """Parse ``"west,south,east,north"``; raise :class:`InvalidInput` naming ``field``."""
        parts = value.split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
            raise InvalidInput(
                f"{field} 应为“西,南,东,北”四个经纬度数字（WGS 84），例如 113.8,22.9,114.0,23.0；"
                f"收到 {value!r}",
                f"{field} must be four numbers 'west,south,east,north' in WGS 84 degrees, e.g. "
                f"113.8,22.9,114.0,23.0; got {value!r}",
                field=field,
            )
        west, south, east, north = numbers
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise InvalidInput(
                f"{field} 超出范围或顺序有误：经度 -180…180、纬度 -90…90，"
                f"且西<东、南<北；收到 {value!r}",
                f"{field} out of range or in the wrong order: longitudes -180…180, latitudes "
                f"-90…90, west < east and south < north; got {value!r}",
                field=field,
            )
        return cls(west, south, east, north)

    def params(self) -> dict[str, float]:
        return {"west": self.west, "south": self.south, "east": self.east, "north": self.north}


#: SQL condition "geom intersects the bbox" for a query with the four BBox.params() bound.
BBOX_SQL = "ST_Intersects({col}, ST_MakeEnvelope(:west, :south, :east, :north, 4326))"


def feature_collection(
    session: Session, features_sql: str, params: dict, order: str = "f_order"
) -> str:
    """A GeoJSON FeatureCollection as JSON text, built in the database.

    ``features_sql`` yields one row per feature: the Feature as json in column ``f``, plus the
    column(s) named in ``order`` to sort the features by.  Large layers are never parsed and
    re-serialised in Python.
    """
    sql = f"""
        SELECT json_build_object(
            'type', 'FeatureCollection',
            'features', coalesce(json_agg(f ORDER BY {order}), '[]'::json))::text
        FROM ({features_sql}) AS features
    """
    return session.execute(text(sql), params).scalar_one()


def area_m2(geom: BaseGeometry) -> float:
    """Area in square metres on the GRS 80 ellipsoid (lon/lat degrees in)."""
    from pyproj import Geod

    return abs(Geod(ellps="GRS80").geometry_area_perimeter(geom)[0])


#: the grid (degrees, about 0.1 mm) an overlay's coordinates are snap-rounded to when GEOS throws
#: on the exact overlay.  Snap-rounding is robust by construction; it moves no point further
#: than this, far below any tolerance of the checks (a square metre and more).
SNAP_GRID_DEG = 1e-9


def intersection(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """``a ∩ b``, snap-rounded to :data:`SNAP_GRID_DEG` if GEOS throws on the exact one.

    GEOS (shapely's 3.14 too) throws on some pairs of valid polygons whose edges nearly
    coincide ('TopologyException: …'): grids redrawn by hand and digitised boundaries are full
    of them."""
    try:
        return shapely.intersection(a, b)
    except shapely.errors.GEOSException:
        return shapely.intersection(a, b, grid_size=SNAP_GRID_DEG)


def equal(a: BaseGeometry, b: BaseGeometry) -> bool:
    """Whether ``a`` and ``b`` cover the same points (topological equality), snap-rounded if
    GEOS throws on the exact test.  PostGIS's ``ST_Equals`` (GEOS 3.11) threw 'side location
    conflict' on a valid redrawn grid and the version it was drawn on
    (``tests/data/equals_throws.json``): the planner's commit was a 500."""
    if a.equals_exact(b, 0):  # the usual case: a draft that kept its shape, vertex for vertex
        return True
    try:
        return bool(a.equals(b))
    except shapely.errors.GEOSException:
        return bool(shapely.symmetric_difference(a, b, grid_size=SNAP_GRID_DEG).is_empty)


def difference(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """``a − b``, snap-rounded if GEOS throws on the exact one (see :func:`intersection`)."""
    try:
        return shapely.difference(a, b)
    except shapely.errors.GEOSException:
        return shapely.difference(a, b, grid_size=SNAP_GRID_DEG)


def union(
    geoms: Sequence[BaseGeometry], right: Callable[[BaseGeometry], bool] | None = None
) -> BaseGeometry:
    """The union of polygonal ``geoms``, snap-rounded if GEOS throws on the exact one (it threw
    'Ring edge missing' on 25 valid polygons, ``tests/data/union_throws.json``), returns an
    invalid one, or one that ``right`` (a further check of it) rejects."""
    try:
        whole = shapely.union_all(geoms)
        if whole.is_valid and (right is None or right(whole)):
            return whole
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(geoms, grid_size=SNAP_GRID_DEG)
