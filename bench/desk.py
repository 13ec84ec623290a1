"""Benchmark: the desks' pages over a year of a big city's cases.  Prints figures.

    .venv/bin/python bench/desk.py [--cases 1000000] [--runs 9]

The command map has ``bench/maps.py``; this is the rest of a working day, the pages operators,
grid workers and leaders open again and again, with a year of history behind them.  The bench
database (the full demo city) is topped up to ``--cases`` with copies of its own cases moved up
to ~150 m and received over the last 365 days, stored in the order they came in (as a live
system and an import of a ledger store them): those older than 30 days closed, the recent ones
in every state (about one in three open), each due 5 to 35 days after it came in, so that an
in-tray has overdue cases and cases in time; one in 26 has a possible duplicate nobody confirmed
or unlinked.  The copies keep the original's assignment (this
measures reading, not locating).  Through the app in-process, as the city's and a township's
desks, a village station and a grid worker, median and p95 of ``--runs`` and the ratio to a bare
``/api/health`` round trip in the same run:

* the in-tray (待办案件): its page, its JSON, the chips (overdue, flagged, without a point,
  follow-ups late) and the city desk's view of every center below, and its Excel export;
* finding a case (案件查询): by code, by a county's day (12 digits), by words;
* a case's page and its JSON;
* the grid workers' roster (网格员名册) of the city and of a township, and its export;
* the grid worker's phone: my reports, my grids' open cases, the cases without a point;
* a township's cases in a map view, and 统计排名 of this month for the city.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from _common import bench_settings, prepare_bench_database, time_get, top_up_cases
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import make_engine
from gis.scope import Scope, bind_scope
from gis.worktime import SHANGHAI

PREFIX = "DESK"
# a copy's state by its age: a month's cases in every state (4 in 12 open), the older ones closed
_RECENT = "registered accepted in_progress resolved verified closed closed closed closed closed"
_RECENT_STATES = ", ".join(f"'{s}'" for s in (_RECENT + " dispatched closed").split())
_TOP_UP = f"""
    INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                       received_lat, geom, accuracy_m, reported_at, received_at, grid_id,
                       grid_code, village_code, township_code, district_code, city_code,
                       center_id, assign_method, assign_distance_m, status, allowed_hours,
                       deadline, closed_at, verify_due, source, on_site)
    SELECT '{PREFIX}' || lpad(nextval('case_code_seq')::text, 12, '0'), c.kind, c.category,
           c.severity, c.description, c.datum, ST_X(p), ST_Y(p), p, c.accuracy_m, t, t,
           c.grid_id, c.grid_code, c.village_code, c.township_code, c.district_code, c.city_code,
           c.center_id, c.assign_method, c.assign_distance_m, s, c.allowed_hours,
           t + (5 + g % 31) * interval '1 day',
           CASE WHEN s = 'closed' THEN t + interval '2 days' END,
           CASE WHEN s = 'resolved' THEN t + interval '8 days' END, c.source, c.on_site
    FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) g
    JOIN (SELECT row_number() OVER (ORDER BY id) AS rn, * FROM cases
          WHERE code NOT LIKE '{PREFIX}%' AND geom IS NOT NULL AND reporter_id IS NULL) c
      ON c.rn = 1 + g % :have
    CROSS JOIN LATERAL (
        SELECT ST_Translate(c.geom, ((g * 7919) % 301 - 150) * 0.00001,
                            ((g * 104729) % 301 - 150) * 0.00001) AS p,
               now() - (CAST(:n AS bigint) - g) * (31536000.0 / :n) * interval '1 second'
               - (g * 7919 % 600) * interval '1 second' AS t) x
    CROSS JOIN LATERAL (
        SELECT CASE WHEN t < now() - interval '30 days' THEN 'closed'
                    ELSE (ARRAY[{_RECENT_STATES}])[1 + g % 12] END AS s) y
"""
_LINKS = """
    INSERT INTO case_link (case_id, other_case_id, kind, status, distance_m)
    SELECT id, id - 1, 'possible_duplicate', 'suggested', 40 FROM cases
    WHERE code LIKE :prefix AND id % 26 = 0
    ON CONFLICT DO NOTHING
"""
_HTML = {"Accept": "text/html"}
USERS = ("city_operator", "township_operator", "village_operator", "grid_worker")


def _top_up(session: Session, target: int) -> None:
    originals = f"code NOT LIKE '{PREFIX}%' AND geom IS NOT NULL AND reporter_id IS NULL"
    if top_up_cases(session, target, _TOP_UP, originals):
        # possible duplicates nobody confirmed or unlinked, as they pile up where desks leave
        # them: one case in 26 (the in-tray's 预警 reads them)
        session.execute(text(_LINKS), {"prefix": f"{PREFIX}%"})
        session.execute(text("ANALYZE case_link"))
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    settings = bench_settings()
    owner_url = prepare_bench_database(settings)
    engine = make_engine(owner_url)
    with Session(engine) as session:
        bind_scope(session, Scope.everything())
        _top_up(session, args.cases)
        total, recent, open_ = session.execute(
            text("""SELECT count(*), count(*) FILTER (WHERE received_at > now() - interval '30 d'),
                           count(*) FILTER (WHERE status NOT IN ('resolved', 'verified', 'closed',
                                                                 'suspended'))
                    FROM cases""")
        ).one()
        tsp, grid_code = session.execute(
            text("""SELECT (SELECT r.code FROM region r JOIN app_user u ON u.region_id = r.id
                            WHERE u.username = 'township_operator'),
                           (SELECT min(wg.grid_code) FROM worker_grid wg
                            JOIN app_user u ON u.worker_id = wg.worker_id
                            WHERE u.username = 'grid_worker')""")
        ).one()
        ext = session.execute(
            text("""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM
                    (SELECT ST_Extent(geom) e FROM region WHERE code = :c) s"""),
            {"c": tsp},
        ).one()
        open_case = session.execute(
            text("""SELECT code FROM cases WHERE township_code = :t AND status = 'in_progress'
                    ORDER BY received_at DESC LIMIT 1"""),
            {"t": tsp},
        ).scalar_one()
    print(
        f"the desks' pages on {total:,} cases ({recent:,} in the last 30 days, {open_:,} open); "
        f"median / p95 of {args.runs} runs, in-process app"
    )

    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis.auth import issue_token

    with Session(engine) as session:
        tokens = {}
        for user in USERS:
            uid = session.execute(
                text("SELECT id FROM app_user WHERE username = :u"), {"u": user}
            ).scalar_one()
            tokens[user] = {"Authorization": f"Bearer {issue_token(session, uid, settings)}"}
        session.commit()
    app = create_app(settings.model_copy(update={"clock_interval_s": 0}))
    cop, op = tokens["city_operator"], tokens["township_operator"]
    vop, gw = tokens["village_operator"], tokens["grid_worker"]
    bbox = ",".join(f"{v:.5f}" for v in ext)
    today = datetime.now(SHANGHAI).date()
    requests = [
        ("bare GET /api/health (baseline)", "/api/health", {}),
        # 待办案件
        ("in-tray page, township", "/queue", op | _HTML),
        ("in-tray JSON, township", "/api/queue", op),
        ("in-tray, township, overdue", "/api/queue?overdue=true", op),
        ("in-tray, township, flagged", "/api/queue?flagged=true", op),
        ("in-tray, township, without a point", "/api/queue?unplaced=true", op),
        ("in-tray, township, follow-ups late", "/api/queue?status=resolved&overdue=true", op),
        ("in-tray page, village station", "/queue", vop | _HTML),
        ("in-tray page, city, all below", "/queue?below=true", cop | _HTML),
        ("in-tray, city, all below, overdue", "/api/queue?below=true&overdue=true", cop),
        ("in-tray, city, all below, flagged", "/api/queue?below=true&flagged=true", cop),
        ("in-tray export, township, all below", "/queue.xlsx?below=true", op),
        # 案件查询
        ("find by code (opens the case)", f"/find?q={open_case}", op | _HTML),
        ("find a county's day (12 digits)", f"/find?q={open_case[:12]}", op | _HTML),
        ("find by words, city", "/find?q=燃气", cop | _HTML),
        ("find by two words, city", "/find?q=燃气%20泄漏", cop | _HTML),
        # one case
        ("a case's page", f"/cases/{open_case}", op | _HTML),
        ("a case's JSON", f"/api/cases/{open_case}", op),
        # 网格员名册
        ("roster page, city", "/workers", cop | _HTML),
        ("roster page, township", "/workers", op | _HTML),
        ("roster export, city", "/workers.xlsx", cop),
        # the phone
        ("phone: my reports", "/api/cases?mine=true&limit=50", gw),
        ("phone: my grids' open cases", f"/api/cases?status=open&grid={grid_code}", gw),
        ("phone: without a point", "/api/cases?status=open&unplaced=true", gw),
        # a map view and a leader's table
        ("township's cases in view", f"/api/cases?bbox={bbox}&limit=500", op),
        ("统计排名, city, this month", f"/reports/period?start={today:%Y-%m-01}", cop | _HTML),
    ]
    with TestClient(app, follow_redirects=True) as client:
        rows = [(name, time_get(client, url, who, args.runs)) for name, url, who in requests]
    health = rows[0][1][0]
    for name, (med, p95, size) in rows:
        print(
            f"  {name:<38} {med:8.1f} ms  p95 {p95:8.1f} ms  {size / 1024:8.1f} KiB"
            f"  ×{med / health:6.1f}"
        )
    print(f"  (×: the median over the bare round trip's, {health:.2f} ms, in the same run)")
    slowest = max(rows[1:], key=lambda r: r[1][0])
    print(f"  slowest: {slowest[0]} ({slowest[1][0]:.0f} ms median)")
    engine.dispose()


if __name__ == "__main__":
    main()
