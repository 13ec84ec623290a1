"""The spine against an independent in-memory answer, and single vs. set-based lookups."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

import shapely

from gis.locate import locate_point
from importers.demo import DemoCity


def _random_points(city: DemoCity, n: int, seed: int = 1) -> np.ndarray:
    west, south, east, north = city.regions[0].geom.bounds
    pad = 0.002
    rng = np.random.default_rng(seed)
    return rng.uniform((west - pad, south - pad), (east + pad, north + pad), size=(n, 2))


def test_covered_points_match_an_in_memory_strtree(db: Session, demo_city: DemoCity) -> None:
    """Point-in-polygon by shapely (covers, lowest code wins) agrees with the database."""
    grids = sorted(demo_city.grids, key=lambda g: g.code)
    tree = shapely.STRtree([g.geom for g in grids])
    points = _random_points(demo_city, 400)
    checked = 0
    for lon, lat in points:
        hits = [i for i in tree.query(shapely.Point(lon, lat), predicate="covered_by")]
        expected = grids[min(hits)].code if hits else None
        loc = locate_point(db, float(lon), float(lat))
        if expected is not None:
            checked += 1
            assert loc.method == "covers"
            assert loc.grid is not None and loc.grid.code == expected
        else:
            assert loc.method != "covers"
    assert checked > 200  # most random points in the extent fall inside the city


def test_set_based_assignment_equals_single_lookups(db: Session, demo_city: DemoCity) -> None:
    """What bulk work (one statement over many points) assigns is exactly what locate_point says."""
    points = _random_points(demo_city, 300, seed=2)
    rows = db.execute(
        text("""
        SELECT p.i, a.grid_code, a.method::text, a.center_id, a.village_code, a.township_code
        FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]))
             WITH ORDINALITY AS p(lon, lat, i)
        CROSS JOIN LATERAL wangge_assign(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)) a
        ORDER BY p.i
    """),
        {"lons": points[:, 0].tolist(), "lats": points[:, 1].tolist()},
    ).all()
    assert len(rows) == len(points)
    for (lon, lat), row in zip(points, rows, strict=True):
        loc = locate_point(db, float(lon), float(lat))
        assert row.grid_code == (loc.grid.code if loc.grid else None)
        assert row.method == loc.method.value
        assert row.center_id == (loc.center.id if loc.center else None)
        assert row.village_code == (loc.village.code if loc.village else None)
        assert row.township_code == (loc.township.code if loc.township else None)


def test_demo_cases_were_assigned_by_the_same_rules(db: Session) -> None:
    """By today's layout for the cases received under it; by the layout of their own time for
    those received before the demo's redraw (the version before of the grid it split)."""
    sample = db.execute(
        text(
            "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, grid_code, assign_method::text AS method "
            "FROM cases WHERE received_at >= (SELECT max(valid_from) FROM grid) "
            "ORDER BY id LIMIT 100"
        )
    ).all()
    assert len(sample) == 100
    for case in sample:
        loc = locate_point(db, case.lon, case.lat)
        assert (loc.grid.code if loc.grid else None) == case.grid_code
        assert loc.method.value == case.method
    before = db.execute(
        text("""SELECT c.grid_id, a.grid_id, g.valid_to IS NOT NULL AS retired FROM cases c
                JOIN grid g ON g.id = c.grid_id
                CROSS JOIN LATERAL wangge_assign_at(c.geom, c.received_at) a
                WHERE c.received_at < (SELECT max(valid_from) FROM grid)
                  AND (c.id % 20 = 0 OR g.valid_to IS NOT NULL)""")
    ).all()
    assert any(r.retired for r in before)  # (the split grid's cases of before are there)
    assert all(stored == then for stored, then, _ in before)
