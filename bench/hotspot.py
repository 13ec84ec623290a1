"""Benchmark: a batch of reports into a hot spot.  Prints figures.

    .venv/bin/python bench/hotspot.py [--levels 0,2500,5000,10000] [--rounds 3] [--reuse]

A flood night, a fire, a demolition dispute: hundreds, then thousands of reports pile up within a
few hundred metres in a few days.  Every new report is checked against the cases around it —
possible duplicates (100 m, 72 h, same category, open) and the repeat warning by place (50 m,
30 days) — so the cost of a report must grow with the cases *near it*, not with every case of
its grid.

On a fresh bench database (the demo city), reports of two categories are piled within 600 m of
one grid's inner point, 500-item batches through ``POST /api/reports/batch`` as a phone syncs
them, up to each of ``--levels`` cases.  At each level the figure is the median over
``--rounds`` of one more 500-item batch into the hot spot, next to one 500-item batch spread
over the city's quiet grids in the same round (the baseline: the same request, the same
checks, nothing nearby) — the ratio shows how much the pile costs.
"""

from __future__ import annotations

import argparse
import math
import time
import uuid

import numpy as np
from _common import bench_settings, drop_bench_database, median_of, prepare_bench_database
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from gis.auth import issue_token
from gis.db import make_engine, session_scope

USER = "city_operator"
#: the pile: two categories, as a flood night brings (hazards of the flood, and of houses)
PILE = [("hazard", "flood"), ("hazard", "building_safety")]
SPREAD_M = 600.0


def _setup(owner_url: str, settings) -> tuple[str, tuple[float, float], list[tuple[float, float]]]:  # type: ignore[no-untyped-def]
    """The desk's token, the hot spot (a grid's inner point) and the other grids' inner points."""
    engine = make_engine(owner_url)
    with session_scope(engine) as session:
        uid = session.execute(
            text("SELECT id FROM app_user WHERE username = :u"), {"u": USER}
        ).scalar_one()
        token = issue_token(session, uid, settings)
        points = [
            (float(x), float(y))
            for x, y in session.execute(
                text("""SELECT ST_X(p), ST_Y(p) FROM (
                            SELECT ST_PointOnSurface(geom) AS p, code FROM grid
                            WHERE valid_to IS NULL ORDER BY code) s""")
            ).all()
        ]
    engine.dispose()
    hot = points[len(points) // 2]
    # the quiet grids: more than 2 km from the hot spot
    quiet = [p for p in points if _metres(p, hot) > 2000]
    return token, hot, quiet


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(b[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_574)


def _around(
    hot: tuple[float, float], rng: np.random.Generator, n: int
) -> list[tuple[float, float]]:
    """``n`` points spread evenly over the disc of SPREAD_M around ``hot``."""
    r = SPREAD_M * np.sqrt(rng.uniform(0, 1, n))
    a = rng.uniform(0, 2 * math.pi, n)
    lon = hot[0] + r * np.cos(a) / (111_320 * math.cos(math.radians(hot[1])))
    lat = hot[1] + r * np.sin(a) / 110_574
    return list(zip(lon.tolist(), lat.tolist(), strict=True))


def _batch(points: list[tuple[float, float]], tag: str) -> dict:
    reports = []
    for i, (lon, lat) in enumerate(points):
        kind, category = PILE[i % len(PILE)]
        reports.append(
            {
                "kind": kind,
                "category": category,
                "description": f"热点基准 {tag} {i}",
                "location": {"lon": lon, "lat": lat, "datum": "wgs84", "accuracy_m": 10},
                "reported_at": "2026-11-21T21:00:00+08:00",
                "idempotency_key": str(uuid.uuid4()),
            }
        )
    return {"reports": reports}


def _post(client: TestClient, body: dict) -> float:
    started = time.perf_counter()
    r = client.post("/api/reports/batch", json=body, headers={"Prefer": "return=minimal"})
    took = time.perf_counter() - started
    assert r.status_code == 200, r.text[:300]
    assert r.json()["created"] == len(body["reports"]), r.text[:300]
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="0,2500,5000,10000", help="cases piled before measuring")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="keep the bench database as it is")
    args = ap.parse_args()
    levels = sorted(int(x) for x in args.levels.split(","))

    settings = bench_settings()
    if not args.reuse:
        drop_bench_database(settings)
    owner_url = prepare_bench_database(settings)
    token, hot, quiet = _setup(owner_url, settings)
    rng = np.random.default_rng(2026)
    print(
        f"hot spot at {hot[0]:.5f}, {hot[1]:.5f}; reports of {len(PILE)} categories within "
        f"{SPREAD_M:.0f} m; {len(quiet)} quiet grids for the baseline; 500-item batches"
    )
    heads = ("cases piled", "hot batch s", "quiet batch s", "ratio", "ms/report")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (12, 12, 14, 7, 10), strict=True)))
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        piled = 0
        for level in levels:
            while piled < level:
                n = min(500, level - piled)
                _post(client, _batch(_around(hot, rng, n), f"pile {piled}"))
                piled += n
            hot_s: list[float] = []
            quiet_s: list[float] = []
            for r in range(args.rounds):
                picks = rng.choice(len(quiet), 500, replace=len(quiet) < 500)
                quiet_s.append(_post(client, _batch([quiet[i] for i in picks], f"quiet {r}")))
                hot_s.append(_post(client, _batch(_around(hot, rng, 500), f"hot {level} {r}")))
                piled += 500
            h, q = median_of(hot_s), median_of(quiet_s)
            print(f"{level:>12,} {h:>12.3f} {q:>14.3f} {h / q:>7.2f} {h * 1000 / 500:>10.2f}")


if __name__ == "__main__":
    main()
