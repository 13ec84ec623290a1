"""Benchmark: the locate spine and the report endpoint on the demo city.  Prints figures.

    .venv/bin/python bench/locate.py [--points 10000] [--requests 2000] [--runs 3]

Uses the embedded cluster's database ``wangge_bench`` (created and filled with the full demo city
on first use) unless DATABASE_URL is set, in which case that database must hold a city.  Every
figure is the median over ``--runs`` runs, next to a bare baseline measured in the same run: the
machine is shared and noisy, so ratios travel better than milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable

import numpy as np
import psycopg
from _common import bench_settings, prepare_bench_database
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session

import shapely

from gis.auth import issue_token
from gis.db import libpq_url, make_engine, session_scope
from gis.locate import _LOCATE_SQL, locate_point
from gis.settings import Settings


def random_points(session: Session, n: int, seed: int) -> np.ndarray:
    """``n`` uniform points inside the top region (the city)."""
    wkb = session.execute(
        text("SELECT ST_AsBinary(geom) FROM region WHERE parent_id IS NULL ORDER BY code LIMIT 1")
    ).scalar_one()
    city = shapely.from_wkb(bytes(wkb))
    west, south, east, north = city.bounds
    rng = np.random.default_rng(seed)
    out = np.empty((0, 2))
    while len(out) < n:
        xy = rng.uniform((west, south), (east, north), size=(2 * n, 2))
        out = np.vstack((out, xy[shapely.contains_xy(city, xy[:, 0], xy[:, 1])]))
    return out[:n]


def timed(fn: Callable[[float, float], object], points: np.ndarray) -> np.ndarray:
    """Milliseconds per call."""
    for lon, lat in points[:50]:  # warm up: caches, prepared statements
        fn(float(lon), float(lat))
    out = np.empty(len(points))
    for i, (lon, lat) in enumerate(points):
        t = time.perf_counter()
        fn(float(lon), float(lat))
        out[i] = (time.perf_counter() - t) * 1000
    return out


def summarise(name: str, runs: list[np.ndarray], base: list[np.ndarray] | None = None) -> None:
    p50 = statistics.median(float(np.percentile(r, 50)) for r in runs)
    p99 = statistics.median(float(np.percentile(r, 99)) for r in runs)
    line = f"{name:<46} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"
    if base is not None:
        b50 = statistics.median(float(np.percentile(r, 50)) for r in base)
        b99 = statistics.median(float(np.percentile(r, 99)) for r in base)
        line += f"   ×{p50 / b50:5.2f} / ×{p99 / b99:5.2f} of baseline"
    print(line, flush=True)


def bench_locate(url: str, n: int, runs: int) -> None:
    libpq = libpq_url(url)
    engine = make_engine(url)
    select1, raw_pip, raw_locate, orm_locate = [], [], [], []
    with psycopg.connect(libpq, autocommit=True) as conn, Session(engine) as session:
        sql_locate = (
            str(_LOCATE_SQL)
            .replace(":lon", "%(lon)s")
            .replace(":lat", "%(lat)s")
            .replace(":tolerance", "%(tolerance)s")
        )
        for run in range(runs):
            points = random_points(session, n, seed=run)
            select1.append(timed(lambda lon, lat: conn.execute("SELECT 1").fetchone(), points))
            raw_pip.append(
                timed(
                    lambda lon, lat: conn.execute(
                        "SELECT id FROM grid WHERE valid_to IS NULL AND "
                        "ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) LIMIT 1",
                        (lon, lat),
                    ).fetchone(),
                    points,
                )
            )
            raw_locate.append(
                timed(
                    lambda lon, lat: conn.execute(
                        sql_locate, {"lon": lon, "lat": lat, "tolerance": 50.0}
                    ).fetchone(),
                    points,
                )
            )
            orm_locate.append(timed(lambda lon, lat: locate_point(session, lon, lat), points))
    engine.dispose()
    print(f"\nlocate over {n} random points in the city, median of {runs} runs")
    summarise("SELECT 1 round trip (psycopg)            [base]", select1)
    summarise("raw GIST point-in-polygon (psycopg)", raw_pip, select1)
    summarise("locate chain, wangge_assign + joins (psycopg)", raw_locate, select1)
    summarise("gis.locate_point() (SQLAlchemy session)", orm_locate, select1)


def bench_reports(owner_url: str, settings: Settings, n: int, runs: int) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    engine = make_engine(owner_url)
    with session_scope(engine) as session:
        points = random_points(session, n * runs, seed=99)
        admin = session.execute(text("SELECT id FROM app_user WHERE username = 'admin'"))
        token = issue_token(session, int(admin.scalar_one()), settings)
    engine.dispose()
    base, posts = [], []
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for run in range(runs):
            chunk = points[run * n : (run + 1) * n]
            base.append(timed(lambda lon, lat: client.get("/api/categories"), chunk))

            def post(lon: float, lat: float) -> None:
                r = client.post(
                    "/api/reports",
                    json={
                        "kind": "hazard",
                        "category": "fire",
                        "description": "基准测试：消防通道堵塞",
                        "location": {"lon": lon, "lat": lat, "datum": "wgs84", "accuracy_m": 8},
                        "reported_at": "2026-11-21T09:00:00+08:00",
                    },
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                assert r.status_code == 201, r.text

            posts.append(timed(post, chunk))
    print(f"\nPOST /api/reports in-process, logged in, over {n} requests, median of {runs} runs")
    summarise("GET /api/categories (auth + one small query) [base]", base)
    summarise("POST /api/reports (locate + insert + event + audit)", posts, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = bench_settings()
    url = prepare_bench_database(settings)
    print(f"machine: {os.cpu_count()} cores; database: {make_url(url).render_as_string()}")
    bench_locate(url, args.points, args.runs)
    bench_reports(url, settings, args.requests, args.runs)


if __name__ == "__main__":
    main()
