"""Benchmark: the command map on the demo city with 1,000,000 cases.  Prints figures.

    .venv/bin/python bench/maps.py [--cases 1000000] [--runs 15] [--no-browser]

The bench database (the full demo city) is topped up to ``--cases`` with copies of its own cases
moved up to ~150 m and spread over the last 180 days (the copies keep the original's assignment:
this measures reading, not locating; the roll-ups are kept current by the same triggers as any
insert).  Through the app (in-process, as the city operator and a township operator), median and
p95 of ``--runs``:

* heat bins for the whole city (zoom 10), a township view (zoom 13) and a street view (zoom 15),
  next to binning the same raw points per request (what the roll-ups replace) and a bare
  ``/api/health`` round trip;
* a grid tile at z12 and z15 and a cases tile at z10 (cells) and z15 (points), with their sizes;
* the bbox GeoJSON of a township's grids, its grid counts and its hotspots (30 days), and the
  hotspots of a street view for the city's desk (a year);
* the grid ledger (网格台账) of the city and of a township, and a grid's record;
* the daily roll-up page (每日一汇总) of yesterday, for the city and a township;

then in headless Chromium (Debian's ``chromium``): time until the command page has drawn its
heat and grids, bytes shipped, and the submit-to-visible latency of the live layer.
"""

from __future__ import annotations

import argparse
import math
import threading
import time
import uuid
from datetime import datetime, timedelta

from _common import (
    bench_settings,
    free_port,
    median_of,
    prepare_bench_database,
    time_get,
    top_up_cases,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import make_engine
from gis.scope import Scope, bind_scope
from gis.worktime import SHANGHAI

_TOP_UP = """
    INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                       received_lat, geom, accuracy_m, reported_at, received_at, grid_id,
                       grid_code, village_code, township_code, district_code, city_code,
                       center_id, assign_method, assign_distance_m, status, deadline)
    SELECT 'MAPB' || lpad(nextval('case_code_seq')::text, 12, '0'), c.kind, c.category,
           c.severity, c.description, c.datum, ST_X(p), ST_Y(p), p, c.accuracy_m, t, t,
           c.grid_id, c.grid_code, c.village_code, c.township_code, c.district_code, c.city_code,
           c.center_id, c.assign_method, c.assign_distance_m,
           (ARRAY['registered', 'accepted', 'in_progress', 'closed', 'closed', 'closed',
                  'closed', 'closed'])[1 + g % 8],
           t + interval '5 days'
    FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) g
    JOIN (SELECT row_number() OVER (ORDER BY id) AS rn, * FROM cases
          WHERE code NOT LIKE 'MAPB%') c ON c.rn = 1 + g % :have
    CROSS JOIN LATERAL (
        SELECT ST_Translate(c.geom, ((g * 7919) % 301 - 150) * 0.00001,
                            ((g * 104729) % 301 - 150) * 0.00001) AS p,
               now() - ((g * 2654435761) % 15552000) * interval '1 second' AS t) x
"""
_RAW_CITY_BINS = """
    SELECT count(*) FROM (
        SELECT floor(ST_X(m) / 1600) AS cx, floor(ST_Y(m) / 1600) AS cy, count(*)
        FROM (SELECT ST_Transform(geom, 3857) AS m FROM cases
              WHERE city_code = :city AND received_at >= now() - interval '30 days') s
        GROUP BY 1, 2) b
"""


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int(
        (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    )


_HTML = {"Accept": "text/html"}


def _browser(settings, runs: int) -> None:  # type: ignore[no-untyped-def]
    import shutil

    import uvicorn
    from playwright.sync_api import Response, sync_playwright

    from api.app import create_app
    from importers.demo_users import DEMO_PASSWORD

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings.model_copy(update={"clock_interval_s": 0})),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        loads, shipped = [], []
        for user in ("city_operator", "township_operator"):
            for _ in range(max(1, runs // 5)):
                context = browser.new_context(viewport={"width": 1600, "height": 900})
                page = context.new_page()
                r = page.request.post(
                    base + "/api/auth/login", data={"username": user, "password": DEMO_PASSWORD}
                )
                assert r.ok, r.text()
                sizes: list[int] = []

                def count(resp: Response, sizes: list[int] = sizes) -> None:
                    sizes.append(int(resp.headers.get("content-length") or 0))

                page.on("response", count)
                started = time.perf_counter()
                page.goto(base + "/maps/command")
                page.wait_for_function(
                    "() => wangge.commandStatus && wangge.commandStatus.heat", timeout=30_000
                )
                loads.append((user, (time.perf_counter() - started) * 1000))
                bins = page.evaluate("wangge.commandStatus.heat.bins")
                shipped.append((user, sum(sizes), bins))
                context.close()
        for user in ("city_operator", "township_operator"):
            ms = [t for u, t in loads if u == user]
            size = [s for u, s, _ in shipped if u == user]
            bins = [b for u, _, b in shipped if u == user]
            print(
                f"  command page ({user}): heat drawn in {median_of(ms):.0f} ms median; "
                f"{max(size) / 1024:.0f} KiB shipped (compressed where gzip applies), "
                f"{max(bins):,} heat bins"
            )
        # live: submit through the API, wait until the open page shows it
        context = browser.new_context(viewport={"width": 1600, "height": 900})
        page = context.new_page()
        page.request.post(
            base + "/api/auth/login",
            data={"username": "township_operator", "password": DEMO_PASSWORD},
        )
        page.goto(base + "/maps/command")
        page.wait_for_function("() => wangge.commandStatus && wangge.commandStatus.heat")
        time.sleep(1.5)
        lon, lat = page.evaluate(
            "(() => { const c = wangge.commandMap.getCenter(); return [c.lng, c.lat]; })()"
        )
        latencies = []
        for i in range(max(3, runs // 3)):
            body = {
                "kind": "hazard",
                "category": "fire",
                "description": f"实时图层测试 {i}",
                "location": {"lon": lon, "lat": lat, "datum": "wgs84"},
                "reported_at": "2026-11-20T09:30:00+08:00",
            }
            started = time.perf_counter()
            r = page.request.post(
                base + "/api/reports", data=body, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            assert r.status == 201, r.text()
            code = r.json()["code"]
            page.wait_for_function(f"() => wangge.liveSeen[{code!r}]", timeout=10_000)
            latencies.append((time.perf_counter() - started) * 1000)
        print(
            f"  live layer: submit → visible {median_of(latencies):.0f} ms median, "
            f"{max(latencies):.0f} ms worst of {len(latencies)} (polling every 1 s)"
        )
        context.close()
        browser.close()
    server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    settings = bench_settings()
    owner_url = prepare_bench_database(settings)
    engine = make_engine(owner_url)
    with Session(engine) as session:
        bind_scope(session, Scope.everything())
        top_up_cases(session, args.cases, _TOP_UP, "code NOT LIKE 'MAPB%'")
        total = session.execute(text("SELECT count(*) FROM cases")).scalar_one()
        rollup = session.execute(text("SELECT count(*) FROM case_heat")).scalar_one()
        city, tsp = session.execute(
            text("""SELECT (SELECT code FROM region WHERE level = 'city' ORDER BY code LIMIT 1),
                           (SELECT r.code FROM region r JOIN app_user u ON u.region_id = r.id
                            WHERE u.username = 'township_operator')""")
        ).one()
        ext = {
            code: session.execute(
                text("""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM
                        (SELECT ST_Extent(geom) e FROM region WHERE code = :c) s"""),
                {"c": code},
            ).one()
            for code in (city, tsp)
        }
        first_grid = session.execute(
            text("""SELECT min(g.code) FROM grid g JOIN region v ON v.id = g.village_id
                    WHERE v.code LIKE :t || '%' AND g.valid_to IS NULL"""),
            {"t": tsp},
        ).scalar_one()
        busy = session.execute(
            text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid
                    WHERE village_id IN (SELECT id FROM region WHERE code LIKE :t || '%')
                      AND valid_to IS NULL ORDER BY code LIMIT 1) s"""),
            {"t": tsp},
        ).one()
        raw = []
        for _ in range(3):
            started = time.perf_counter()
            session.execute(text(_RAW_CITY_BINS), {"city": city}).scalar_one()
            raw.append((time.perf_counter() - started) * 1000)
        last30 = session.execute(
            text("SELECT count(*) FROM cases WHERE received_at >= now() - interval '30 days'")
        ).scalar_one()
    print(
        f"command map on {total:,} cases ({last30:,} in the last 30 days; roll-up "
        f"{rollup:,} rows); median / p95 of {args.runs} runs, in-process app"
    )

    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis.auth import issue_token

    with Session(engine) as session:
        tokens = {}
        for user in ("city_operator", "township_operator"):
            uid = session.execute(
                text("SELECT id FROM app_user WHERE username = :u"), {"u": user}
            ).scalar_one()
            tokens[user] = {"Authorization": f"Bearer {issue_token(session, uid, settings)}"}
        session.commit()
    app = create_app(settings.model_copy(update={"clock_interval_s": 0}))
    city_bbox = ",".join(f"{v:.5f}" for v in ext[city])
    tsp_bbox = ",".join(f"{v:.5f}" for v in ext[tsp])
    # a phone-sized street view at z15 (~1.2 × 0.8 km) around the township's first grid
    street = (
        f"{busy[0] - 0.006:.5f},{busy[1] - 0.004:.5f},{busy[0] + 0.006:.5f},{busy[1] + 0.004:.5f}"
    )
    yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).date().isoformat()
    with TestClient(app) as client:
        op, cop = tokens["township_operator"], tokens["city_operator"]
        tiles = [
            (f"tile {layer} z{z}", f"/tiles/{layer}/{z}/{x}/{y}.mvt", cop)
            for layer, z in (("grids", 12), ("grids", 15), ("cases", 10), ("cases", 15))
            for x, y in [_tile_of(busy[0], busy[1], z)]
        ]
        requests = [
            ("bare GET /api/health (baseline)", "/api/health", {}),
            ("heat, whole city, 30 days (z10)", f"/api/heat?bbox={city_bbox}&zoom=10&days=30", cop),
            (
                "heat, township view, 30 days (z13)",
                f"/api/heat?bbox={tsp_bbox}&zoom=13&days=30",
                op,
            ),
            ("heat, township, one day (slider)", f"/api/heat?bbox={tsp_bbox}&zoom=13&days=1", op),
            ("heat, street view, 30 days (z15)", f"/api/heat?bbox={street}&zoom=15&days=30", op),
            ("heat, street view, a year (z15)", f"/api/heat?bbox={street}&zoom=15&days=365", op),
            (
                "heat, street view, a year (z15, city)",
                f"/api/heat?bbox={street}&zoom=15&days=365",
                cop,
            ),
            *tiles,
            ("grids GeoJSON, township bbox", f"/api/grids?bbox={tsp_bbox}", op),
            ("grid counts, township, 30 days", f"/api/grid-counts?bbox={tsp_bbox}&days=30", op),
            ("hotspots, township, 30 days", f"/api/hotspots?bbox={tsp_bbox}&days=30", op),
            ("hotspots, street view, a year (city)", f"/api/hotspots?bbox={street}&days=365", cop),
            ("centers' load, whole city", "/api/centers/load", cop),
            # 网格台账: every grid of the region counted (open, 30 days, workers) for one page
            ("grid ledger page, whole city", "/grids", cop | _HTML),
            ("grid ledger, city, most open first", "/grids?order=open", cop | _HTML),
            ("grid ledger page, township", "/grids", op | _HTML),
            ("a grid's record", f"/grids/{first_grid}", op | _HTML),
            # 每日一汇总 of yesterday: the day, 30 days by district, the trend, the safety index
            # (not published: the clock is off, so computed)
            ("daily roll-up page, whole city", f"/reports/daily?day={yesterday}", cop | _HTML),
            ("daily roll-up page, township", f"/reports/daily?day={yesterday}", op | _HTML),
        ]
        rows = [(name, time_get(client, url, who, args.runs)) for name, url, who in requests]
    health = rows[0][1]
    for name, (med, p95, size) in rows:
        print(f"  {name:<38} {med:8.1f} ms  p95 {p95:8.1f} ms  {size / 1024:8.1f} KiB")
    heat_city = rows[1][1][0]
    print(
        f"  binning the city's raw points per request instead: {median_of(raw):.0f} ms "
        f"(roll-up answers {median_of(raw) / heat_city:.0f}× faster, "
        f"{heat_city / health[0]:.1f}× a bare round trip)"
    )
    engine.dispose()
    if not args.no_browser:
        _browser(settings, args.runs)


if __name__ == "__main__":
    main()
