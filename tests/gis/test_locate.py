"""The locate spine on hand-made geometries far from the demo city (around 100°E, 30°N).

Layout, in units of U = 1/128° (exact in binary, so points on edges are exactly on them):

    y=2 +-----+-----+          +-----------+          +-----------+
        |  C  |  D  |          | E  +---+  |          | G  +---+  |
    y=1 +-----A-----+          |    | F |  |          |    |   |  |  (G's hole is empty)
        |  A  |  B  |          |    +---+  |          |    +---+  |
    y=0 +-----+-----+          +-----------+          +-----------+
        x=0   1     2          3    4   5  6          7    8   9  10

All grids sit in village V = [0,10]×[0,3]; V in township T = [-6,16]×[-6,9]; T directly under
city K (no district: a level may be missing).  Centers: V's station and T's center.
"""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from shapely.geometry import Polygon, box

from gis.locate import locate_point
from gis.models import AssignMethod

X0, Y0, U = 100.0, 30.0, 1 / 128
VILLAGE, TOWNSHIP, CITY = "980100101201", "980100101", "980100"


def sq(x1: float, y1: float, x2: float, y2: float) -> Polygon:
    return box(X0 + x1 * U, Y0 + y1 * U, X0 + x2 * U, Y0 + y2 * U)


def with_hole(outer: Polygon, hole: Polygon) -> Polygon:
    return Polygon(outer.exterior.coords, [hole.exterior.coords])


GRIDS = {
    "A": (f"{VILLAGE}001", sq(0, 0, 1, 1)),
    "B": (f"{VILLAGE}002", sq(1, 0, 2, 1)),
    "C": (f"{VILLAGE}003", sq(0, 1, 1, 2)),
    "D": (f"{VILLAGE}004", sq(1, 1, 2, 2)),
    "E": (f"{VILLAGE}005", with_hole(sq(3, 0, 6, 3), sq(4, 1, 5, 2))),
    "F": (f"{VILLAGE}006", sq(4, 1, 5, 2)),
    "G": (f"{VILLAGE}007", with_hole(sq(7, 0, 10, 3), sq(8, 1, 9, 2))),
}


def pt(x: float, y: float) -> tuple[float, float]:
    return X0 + x * U, Y0 + y * U


def metres_east(lon: float, lat: float, metres: float) -> float:
    return lon + metres / (111_320 * math.cos(math.radians(lat)))


def _insert(db: Session, order: list[str]) -> None:
    def region(code: str, name: str, level: str, parent: str | None, geom: Polygon) -> None:
        db.execute(
            text("""
            INSERT INTO region (code, name, level, parent_id, geom)
            VALUES (:code, :name, CAST(:level AS region_level),
                    (SELECT id FROM region WHERE code = :parent),
                    ST_Multi(ST_GeomFromText(:wkt, 4326)))
        """),
            {"code": code, "name": name, "level": level, "parent": parent, "wkt": geom.wkt},
        )

    region(CITY, "测试市", "city", None, sq(-20, -20, 30, 30))
    region(TOWNSHIP, "测试镇", "township", CITY, sq(-6, -6, 16, 9))
    region(VILLAGE, "测试村", "village", TOWNSHIP, sq(0, 0, 10, 3))
    for name in order:
        code, geom = GRIDS[name]
        db.execute(
            text("""
            INSERT INTO grid (code, name, village_id, geom)
            VALUES (:code, :name, (SELECT id FROM region WHERE code = :village),
                    ST_Multi(ST_GeomFromText(:wkt, 4326)))
        """),
            {"code": code, "name": f"网格{name}", "village": VILLAGE, "wkt": geom.wkt},
        )
    for code, name, (x, y) in (
        (VILLAGE, "测试村综治服务站", (0.5, 0.5)),
        (TOWNSHIP, "测试镇综治中心", (-3, -3)),
    ):
        db.execute(
            text("""
            INSERT INTO center (name, region_id, geom)
            VALUES (:name, (SELECT id FROM region WHERE code = :code), ST_Point(:x, :y, 4326))
        """),
            {"name": name, "code": code, "x": pt(x, y)[0], "y": pt(x, y)[1]},
        )
    db.flush()


@pytest.fixture(params=["forward", "reverse"])
def handmade(request: pytest.FixtureRequest, db: Session) -> Session:
    """The layout above, inserted in code order and in reverse (the owner must not change)."""
    order = sorted(GRIDS)
    _insert(db, order if request.param == "forward" else order[::-1])
    return db


def owner(db: Session, x: float, y: float) -> str | None:
    loc = locate_point(db, *pt(x, y))
    return loc.grid.code[-3:] if loc.grid else None


def test_interior_point_belongs_to_its_grid(handmade: Session) -> None:
    loc = locate_point(handmade, *pt(1.5, 0.5))
    assert loc.method is AssignMethod.covers
    assert loc.grid is not None and loc.grid.code == GRIDS["B"][0]
    assert loc.distance_m == 0


def test_point_on_shared_edge_goes_to_lowest_code(handmade: Session) -> None:
    assert owner(handmade, 1, 0.5) == "001"  # A|B
    assert owner(handmade, 1.5, 1) == "002"  # B|D
    assert owner(handmade, 0.5, 1) == "001"  # A|C


def test_point_on_vertex_shared_by_four_grids_goes_to_lowest_code(handmade: Session) -> None:
    loc = locate_point(handmade, *pt(1, 1))
    assert loc.method is AssignMethod.covers
    assert loc.grid is not None and loc.grid.code == GRIDS["A"][0]


def test_point_on_outer_edge_is_covered(handmade: Session) -> None:
    loc = locate_point(handmade, *pt(2, 0.5))  # B's east edge, nobody else's
    assert loc.method is AssignMethod.covers and loc.grid is not None
    assert loc.grid.code == GRIDS["B"][0]


def test_point_in_filled_hole_belongs_to_the_filler(handmade: Session) -> None:
    assert owner(handmade, 4.5, 1.5) == "006"


def test_point_on_hole_boundary_goes_to_lowest_code(handmade: Session) -> None:
    assert owner(handmade, 4, 1.5) == "005"  # E's hole edge is F's edge: E has the lower code


def test_point_in_empty_hole_is_nobodys_grid(handmade: Session) -> None:
    # the middle of G's empty hole is ~375 m from G: beyond the 50 m tolerance
    loc = locate_point(handmade, *pt(8.5, 1.5))
    assert loc.grid is None
    assert loc.method is AssignMethod.region
    assert loc.village is not None and loc.village.code == VILLAGE
    assert loc.center is not None and loc.center.name == "测试村综治服务站"


def test_point_just_outside_goes_to_nearest_grid_within_50m(handmade: Session) -> None:
    lon, lat = pt(2, 0.5)
    loc = locate_point(handmade, metres_east(lon, lat, 30), lat)
    assert loc.method is AssignMethod.nearest
    assert loc.grid is not None and loc.grid.code == GRIDS["B"][0]
    assert loc.distance_m is not None and 29 < loc.distance_m < 31


def test_point_60m_outside_is_not_snapped(handmade: Session) -> None:
    lon, lat = pt(2, 0.5)
    loc = locate_point(handmade, metres_east(lon, lat, 60), lat)
    assert loc.grid is None
    assert loc.method is AssignMethod.region  # still inside the village: its queue
    assert loc.village is not None and loc.village.code == VILLAGE


def test_point_far_outside_grids_falls_to_smallest_region(handmade: Session) -> None:
    loc = locate_point(handmade, *pt(-3, -3))
    assert loc.method is AssignMethod.region
    assert loc.grid is None and loc.village is None
    assert loc.township is not None and loc.township.code == TOWNSHIP
    assert loc.district is None  # the city has no districts
    assert loc.city is not None and loc.city.code == CITY
    assert loc.center is not None and loc.center.name == "测试镇综治中心"


def test_point_outside_everything_is_unassigned(handmade: Session) -> None:
    loc = locate_point(handmade, *pt(-300, -300))
    assert loc.method is AssignMethod.unassigned
    assert (loc.grid, loc.village, loc.township, loc.city, loc.center) == (None,) * 5


def test_chain_and_center_of_a_covered_point(handmade: Session) -> None:
    loc = locate_point(handmade, *pt(0.5, 0.5))
    assert loc.village is not None and loc.village.name == "测试村"
    assert loc.township is not None and loc.township.code == TOWNSHIP
    assert loc.city is not None and loc.city.code == CITY
    assert loc.center is not None and loc.center.level == "village"


def test_retired_grid_versions_are_ignored(handmade: Session) -> None:
    handmade.execute(
        text("UPDATE grid SET valid_to = valid_from + interval '1 second' WHERE code = :code"),
        {"code": GRIDS["A"][0]},
    )
    assert owner(handmade, 1, 0.5) == "002"  # A retired: B owns the shared edge now
