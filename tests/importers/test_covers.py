"""The importer's in-memory covers test decides exactly as PostGIS, or leaves the point to it."""

from __future__ import annotations

import itertools

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

import shapely

from importers.covers import NEVER, PG_EPOCH_US, covering_grids, load_grids
from importers.demo import DemoCity


def _now_us(db: Session) -> int:
    return int(
        db.execute(text("SELECT CAST(extract(epoch FROM now()) * 1000000 AS int8)")).scalar_one()
        - PG_EPOCH_US
    )


def _postgis(db: Session, x: np.ndarray, y: np.ndarray, at_us: int) -> np.ndarray:
    """``locate_point``'s covering grid for each point (0: none), by ST_Covers in PostGIS."""
    rows = db.execute(
        text("""
        SELECT coalesce((SELECT g.id FROM grid g
                         WHERE ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))
                           AND g.valid_from <= p.at AND (g.valid_to IS NULL OR g.valid_to > p.at)
                         ORDER BY g.code LIMIT 1), 0)
        FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS p0(x, y, k)
        CROSS JOIN LATERAL (SELECT p0.x, p0.y,
                                   timestamptz '2000-01-01 00:00:00+00'
                                   + CAST(:at AS int8) * interval '1 microsecond' AS at) p
        ORDER BY p0.k
    """),
        {"x": x.tolist(), "y": y.tolist(), "at": at_us},
    ).scalars()
    return np.array(list(rows), dtype=np.int64)


def _points(demo_city: DemoCity) -> dict[str, np.ndarray]:
    """Inner points; vertices and the middles of edges, on them and 1e-10° off them (left to
    PostGIS); 5e-9° off them (decided here); points all over the city."""
    inner, on, off_near, off_far = [], [], [], []
    for g in demo_city.grids[:80]:
        p = g.geom.representative_point()
        inner.append((p.x, p.y))
        coords = shapely.get_coordinates(shapely.get_exterior_ring(shapely.get_geometry(g.geom, 0)))
        for a, b in itertools.pairwise(coords):
            mid = (a + b) / 2
            normal = np.array([a[1] - b[1], b[0] - a[0]]) / np.hypot(*(b - a))
            on += [tuple(a), tuple(mid)]
            off_near += [tuple(mid + normal * 1e-10), tuple(mid - normal * 1e-10)]
            off_far += [tuple(mid + normal * 5e-9), tuple(mid - normal * 5e-9)]
    x0, y0, x1, y1 = shapely.total_bounds([g.geom for g in demo_city.grids])
    rng = np.random.default_rng(7)
    spread = np.column_stack([rng.uniform(x0, x1, 3000), rng.uniform(y0, y1, 3000)])
    return {
        "inner": np.array(inner),
        "on": np.array(on),
        "off_near": np.array(off_near),
        "off_far": np.array(off_far),
        "spread": spread,
    }


def test_decided_points_have_postgis_owner_and_edges_are_left_to_it(
    db: Session, demo_city: DemoCity
) -> None:
    now = _now_us(db)
    grids = load_grids(db, (-180.0, -90.0, 180.0, 90.0))
    for name, pts in _points(demo_city).items():
        x, y = pts[:, 0].copy(), pts[:, 1].copy()
        got = covering_grids(x, y, np.full(len(x), now), grids)
        expected = _postgis(db, x, y, now)
        decided = got != 0
        assert (got[decided] == expected[decided]).all(), name
        if name in ("inner", "off_far"):  # decided here, every one a grid covers
            assert (decided == (expected != 0)).all() and decided.sum() > len(x) / 2, name
        elif name in ("on", "off_near"):  # on an edge, or within rounding of it: PostGIS's call
            assert not decided.any(), name
        else:  # all over the city: inside a grid, decided here, unless near an edge
            assert decided.sum() >= 0.95 * (expected != 0).sum() > 0


def test_a_point_before_its_grid_existed_or_of_unknown_time_is_left_to_sql(
    db: Session, demo_city: DemoCity
) -> None:
    grids = load_grids(db, (-180.0, -90.0, 180.0, 90.0))
    inner = _points(demo_city)["inner"]
    x, y = inner[:, 0].copy(), inner[:, 1].copy()
    long_ago = _now_us(db) - 3 * 365 * 86_400_000_000  # the demo's grids are 400 days old
    assert not covering_grids(x, y, np.full(len(x), long_ago), grids).any()
    assert (_postgis(db, x, y, long_ago) == 0).all()
    assert not covering_grids(x, y, np.full(len(x), NEVER), grids).any()
    nan = np.full(len(x), np.nan)
    assert not covering_grids(nan, y, np.full(len(x), _now_us(db)), grids).any()


def test_a_point_on_one_grids_edge_inside_an_overlapping_grid_is_left_to_sql(
    db: Session, demo_city: DemoCity
) -> None:
    """Overlapping grids (a planner's mistake, reported but possible): a vertex of the first grid
    lies deep inside a wider one with a higher code.  PostGIS counts it as the first grid's (it
    covers its own vertices, and its code is lower); here it is near the first grid's edge, so
    it is left to SQL, whatever the wider grid says."""
    first = demo_city.grids[0]
    db.execute(
        text("""INSERT INTO grid (code, name, village_id, geom, valid_from)
                SELECT '999999999999999', '重叠网格', village_id,
                       ST_Multi(ST_Buffer(geom, 0.001)), valid_from
                FROM grid WHERE code = :code AND valid_to IS NULL"""),
        {"code": first.code},
    )
    coords = shapely.get_coordinates(first.geom)
    x, y = coords[:, 0].copy(), coords[:, 1].copy()
    now = _now_us(db)
    grids = load_grids(db, (-180.0, -90.0, 180.0, 90.0))
    expected = _postgis(db, x, y, now)
    first_id = db.execute(
        text("SELECT id FROM grid WHERE code = :code AND valid_to IS NULL"), {"code": first.code}
    ).scalar_one()
    assert (expected == first_id).all()
    assert not covering_grids(x, y, np.full(len(x), now), grids).any()
