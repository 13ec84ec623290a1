"""Which grid covers each point, worked out in memory for a whole import at once.

The historical-cases importer locates most of its points here: a million points against the demo
city's 2,617 grids take about a second, where the same join in PostGIS (a GIST index built on the
staged points, then each grid probing it) took about 9 s.  The answer must be exactly that of
``locate_point``: the grid valid at the case's own time whose geometry covers the point, the
lowest code where several do.

PostGIS and GEOS (which shapely calls) agree on every point that is not extremely close to a
grid's edge, but not always on a point lying on it or within rounding of it: PostGIS tests a
point against a polygon with its own arithmetic, GEOS with exact orientation tests.  So a point
is decided here only if it is inside a grid shrunk by :data:`EPS` or outside that grid grown by
it, for every grid around it.  The others (on an edge or a vertex, or within 0.1 mm of one), the
points no grid covers and those whose time pandas did not read are left undecided (0) for
``wangge_assign_at``, which applies ``locate_point``'s own rules in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

import shapely

#: the margin, in degrees (about 0.1 mm), around each grid's boundary within which a point is left
#: to PostGIS.  Its arithmetic and GEOS's can differ only within rounding of the boundary, some
#: 1e-13 degrees at China's longitudes
EPS = 1e-9
#: "no end" for a grid still valid, and "not read" for a time (as ``importers.cases`` marks one):
#: PostgreSQL's ``'infinity'`` in binary ``timestamptz``
NEVER = np.iinfo(np.int64).max
#: 2000-01-01 UTC, PostgreSQL's zero time, in Unix microseconds
PG_EPOCH_US = 946_684_800_000_000


@dataclass
class Grids:
    """Grid versions: ids, their codes' rank in PostgreSQL's own order, validity as binary
    ``timestamptz`` (µs since 2000; :data:`NEVER` for no end) and geometries."""

    ids: np.ndarray
    rank: np.ndarray
    valid_from: np.ndarray
    valid_to: np.ndarray
    geoms: np.ndarray


def load_grids(session: Session, bounds: tuple[float, float, float, float]) -> Grids:
    """Every version of every grid whose box meets ``bounds`` (lon/lat: x0, y0, x1, y1)."""
    rows = session.execute(
        text("""
        SELECT id, rank() OVER (ORDER BY code) AS rank,
               CAST(extract(epoch FROM valid_from) * 1000000 AS int8) AS valid_from,
               CAST(extract(epoch FROM valid_to) * 1000000 AS int8) AS valid_to,
               ST_AsBinary(geom) AS wkb
        FROM grid WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
    """),
        dict(zip(("x0", "y0", "x1", "y1"), bounds, strict=True)),
    ).all()
    return Grids(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        rank=np.array([r.rank for r in rows], dtype=np.int64),
        valid_from=np.array([r.valid_from - PG_EPOCH_US for r in rows], dtype=np.int64),
        valid_to=np.array(
            [NEVER if r.valid_to is None else r.valid_to - PG_EPOCH_US for r in rows],
            dtype=np.int64,
        ),
        geoms=shapely.from_wkb([bytes(r.wkb) for r in rows]),
    )


def covering_grids(x: np.ndarray, y: np.ndarray, at: np.ndarray, grids: Grids) -> np.ndarray:
    """For each point (WGS 84 ``x``, ``y``; ``at`` as binary ``timestamptz``, :data:`NEVER` if
    unknown): the id of the grid that covers it at its time, the lowest code among several; 0
    where that is left to SQL (see the module docstring)."""
    n = len(x)
    best_rank = np.full(n, NEVER, dtype=np.int64)
    best_id = np.zeros(n, dtype=np.int64)
    near = np.zeros(n, dtype=bool)
    known = np.flatnonzero(np.isfinite(x) & np.isfinite(y) & (at != NEVER))
    if not len(known) or not len(grids.ids):
        return best_id
    order = known[np.argsort(x[known], kind="stable")]  # candidates by longitude, then latitude
    xs, ys = x[order], y[order]
    grown = shapely.buffer(grids.geoms, EPS, join_style="mitre")
    shrunk = shapely.buffer(grids.geoms, -EPS, join_style="mitre")
    shapely.prepare(grown)
    shapely.prepare(shrunk)
    for k, (x0, y0, x1, y1) in enumerate(shapely.bounds(grown)):
        lo, hi = np.searchsorted(xs, x0, side="left"), np.searchsorted(xs, x1, side="right")
        box = np.flatnonzero((ys[lo:hi] >= y0) & (ys[lo:hi] <= y1)) + lo
        if not len(box):
            continue
        box = box[shapely.intersects_xy(grown[k], xs[box], ys[box])]
        inside = shapely.contains_xy(shrunk[k], xs[box], ys[box])
        near[order[box[~inside]]] = True
        points = order[box[inside]]
        points = points[(grids.valid_from[k] <= at[points]) & (at[points] < grids.valid_to[k])]
        better = points[grids.rank[k] < best_rank[points]]
        best_rank[better] = grids.rank[k]
        best_id[better] = grids.ids[k]
    best_id[near] = 0
    return best_id
