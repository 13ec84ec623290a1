"""Benchmark: planners redraw 200 grids of a district holding 100,000 open cases.  Prints figures.

    .venv/bin/python bench/redraw.py [--open 100000] [--grids 200] [--runs 3] [--single 30]

On the bench database (the demo city; district 990102 topped up to ``--open`` open cases with
copies of its own cases), as the district planner through the app role (row-level security on):

* an edit set of ``--grids`` redraws, each moving the edge a grid shares with its neighbour by
  about 20 m into the neighbour (200 disjoint pairs: 400 grids change);
* the time to validate (the whole coverage of every village touched), to preview (findings, grids,
  open cases whose grid or center would change, workers) and to commit (new versions, worker
  links, re-assignment of the open cases — and of the resolved ones still to be verified — through
  ``wangge_assign`` with a case event each);
* next to the raw time of the equivalent single ``UPDATE … FROM`` re-assignment of the same
  cases on the same new layout (no events, no checks) in the same run;
* and a one-grid redraw of a grid that, with its neighbours, holds about 10 open cases (the
  redraw changes it and one neighbour; their open cases move to the new versions), committed
  ``--single`` times after a few warm-up runs: p50 and p90 of the commit, without and with the
  final COMMIT.

Each run of the 200-grid edit works inside a transaction that is rolled back, so every run does the
same work (the final COMMIT, a few ms of WAL flush, is therefore not in its figures).  Medians of
``--runs``.  The one-grid runs commit for real (see below).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import bench_settings, clone_cases_sql, median_of, prepare_bench_database
from sqlalchemy import text
from sqlalchemy.orm import Session

import shapely
from shapely.geometry import mapping

from gis import edits
from gis.db import make_engine, resolve_app_database_url
from gis.scope import Scope, bind_scope

DISTRICT = "990102"
_OPEN = "status NOT IN ('resolved', 'verified', 'closed', 'suspended')"


def _moved(alias: str) -> str:
    """SQL: the cases a commit moves: open, or resolved and still to be verified (0070)."""
    return f"({alias}.{_OPEN} OR {alias}.status = 'resolved' AND {alias}.verify_due IS NOT NULL)"


_TOP_UP = clone_cases_sql(
    "RDRW",
    ["registered", "accepted", "dispatched", "in_progress"],
    43200,
    where=f"WHERE district_code = '{DISTRICT}' AND grid_code IS NOT NULL",
)
_RAW_REASSIGN = f"""
    UPDATE cases c SET grid_id = a.grid_id, grid_code = a.grid_code,
        village_code = a.village_code, township_code = a.township_code,
        district_code = a.district_code, city_code = a.city_code, center_id = a.center_id,
        assign_method = a.method, assign_distance_m = a.distance_m
    FROM cases x CROSS JOIN LATERAL wangge_assign(x.geom) a
    WHERE c.id = x.id AND {_moved("x")} AND x.grid_code = ANY(:codes)
      AND c.grid_id IS DISTINCT FROM a.grid_id
      AND a.district_code = '990102'  -- the planner's jurisdiction, as the commit
"""


def _pairs(session: Session, n: int) -> list[tuple[str, dict]]:
    """``n`` disjoint (grid, new geometry) redraws: each grid takes a ~20 m strip of the
    neighbour it shares its longest edge with."""
    rows = session.execute(
        text(f"""
        SELECT a.code, b.code AS other, ST_AsBinary(a.geom) AS ga, ST_AsBinary(b.geom) AS gb,
               ST_AsBinary(ST_CollectionExtract(ST_Intersection(ST_Boundary(a.geom),
                                                                ST_Boundary(b.geom)), 2)) AS edge
        FROM grid a JOIN grid b ON a.village_id = b.village_id AND a.code < b.code
             AND ST_Intersects(a.geom, b.geom)
        WHERE a.valid_to IS NULL AND b.valid_to IS NULL AND a.code LIKE '{DISTRICT}%'
        ORDER BY ST_Length(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom))) DESC
    """)
    ).all()
    used: set[str] = set()
    out = []
    for r in rows:
        if r.code in used or r.other in used:
            continue
        edge = shapely.from_wkb(bytes(r.edge))
        if edge.length < 0.002:  # ~200 m of shared edge at least
            continue
        ga, gb = shapely.from_wkb(bytes(r.ga)), shapely.from_wkb(bytes(r.gb))
        strip = gb.intersection(edge.buffer(0.0002))
        if strip.is_empty or not gb.difference(strip).buffer(-0.0002).area:
            continue
        used |= {r.code, r.other}
        out.append((r.code, mapping(ga.union(strip))))
        if len(out) == n:
            break
    return out


def _planner(session: Session) -> edits.Actor:
    row = session.execute(
        text("SELECT id, code, level::text, name FROM region WHERE code = :c"), {"c": DISTRICT}
    ).one()
    return edits.Actor("district_planner", Scope(row[0], row[1], row[2], row[3]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--grids", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--single", type=int, default=30)
    args = parser.parse_args()
    settings = bench_settings()
    owner = make_engine(prepare_bench_database(settings))
    with Session(owner) as session:
        have = session.execute(
            text(f"SELECT count(*) FROM cases WHERE district_code = :d AND {_OPEN}"),
            {"d": DISTRICT},
        ).scalar_one()
        if have < args.open:
            print(f"topping district {DISTRICT} up from {have:,} to {args.open:,} open cases …")
            started = time.perf_counter()
            source = session.execute(
                text("SELECT count(*) FROM cases WHERE district_code = :d "
                     "AND grid_code IS NOT NULL"), {"d": DISTRICT},
            ).scalar_one()  # fmt: skip
            session.execute(text(_TOP_UP), {"n": args.open - have, "have": source})
            session.commit()
            session.execute(text("ANALYZE cases"))
            session.commit()
            print(f"  done in {time.perf_counter() - started:.1f} s")
        open_cases = session.execute(
            text(f"SELECT count(*) FROM cases WHERE district_code = :d AND {_OPEN}"),
            {"d": DISTRICT},
        ).scalar_one()
        pairs = _pairs(session, args.grids)
        # a grid that, with all the neighbours of its village it touches, holds about 10 open
        # cases (the redraw changes it and one of them; each open case of both gets the new
        # version)
        single, single_pair = session.execute(
            text(f"""
            WITH open AS (SELECT grid_code, count(*) AS n FROM cases WHERE {_OPEN}
                          GROUP BY grid_code),
            around AS (
                SELECT g.code, coalesce(max(o.n), 0)
                       + coalesce((SELECT sum(q.n) FROM grid h JOIN open q ON q.grid_code = h.code
                                   WHERE h.valid_to IS NULL AND h.village_id = g.village_id
                                     AND h.id <> g.id AND ST_Intersects(h.geom, g.geom)), 0)
                       AS n
                FROM grid g LEFT JOIN open o ON o.grid_code = g.code
                WHERE g.valid_to IS NULL AND g.code NOT LIKE '{DISTRICT}%'
                GROUP BY g.id, g.code, g.village_id, g.geom)
            SELECT code, n FROM around ORDER BY abs(n - 10), code LIMIT 1
        """)
        ).one()
    app = make_engine(resolve_app_database_url(settings))
    t_ops, t_val, t_pre, t_com, t_raw = [], [], [], [], []
    moved = events = 0
    candidates = 0
    for _ in range(args.runs):
        with Session(app) as session:
            actor = _planner(session)
            bind_scope(session, actor.scope)
            edit = edits.create_edit(session, actor, "bench")["id"]
            started = time.perf_counter()
            for code, geometry in pairs:
                edits.add_operation(
                    session, actor, edit, "redraw", {"grid": code, "geometry": geometry}
                )
            t_ops.append(time.perf_counter() - started)
            started = time.perf_counter()
            v = edits.validate(session, actor, edit)
            t_val.append(time.perf_counter() - started)
            assert v["ok"], v["findings"][:3]
            started = time.perf_counter()
            p = edits.preview(session, actor, edit)
            t_pre.append(time.perf_counter() - started)
            # the raw re-assignment of the same open cases on the same new layout
            st = edits._states(session, edit)
            params = edits._reassign_params(st, actor, edit, None)
            with session.begin_nested() as sp:
                edits._apply(session, edit, st)
                started = time.perf_counter()
                session.execute(text(_RAW_REASSIGN), {"codes": params["codes"]})
                t_raw.append(time.perf_counter() - started)
                sp.rollback()
            started = time.perf_counter()
            result = edits.commit(session, actor, edit)
            session.flush()
            t_com.append(time.perf_counter() - started)
            moved, events = result["cases_reassigned"], result["case_events"]
            candidates = session.execute(
                text(f"SELECT count(*) FROM cases c WHERE {_moved('c')} AND grid_code = ANY(:c)"),
                {"c": params["codes"]},
            ).scalar_one()
            assert p["cases"]["count"] == events, (p["cases"]["count"], events)
            session.rollback()
    # the one-grid redraw commits for real, as a server does (a rollback would also drop the
    # connection's prepared statements, which no commit request causes): runs alternate between
    # shrinking the grid by ~20 m (its neighbour takes the ring) and putting it back, so the
    # layout ends as it began, with two more versions of both grids per run in its history
    with Session(app) as session:
        bind_scope(session, Scope.everything())
        original = shapely.from_wkb(bytes(session.execute(
            text("SELECT ST_AsBinary(geom) FROM grid WHERE code = :c AND valid_to IS NULL"),
            {"c": single},
        ).scalar_one()))  # fmt: skip
    singles, durable = [], []
    warm = 5
    total = args.single + warm + (args.single + warm) % 2  # even: the last run puts it back
    for run in range(total):
        with Session(app) as session:
            actor = edits.Actor("admin", Scope.everything(), True)
            bind_scope(session, actor.scope)
            shape = original.buffer(-0.0002) if run % 2 == 0 else original
            edit = edits.create_edit(session, actor, "bench one")["id"]
            edits.add_operation(
                session, actor, edit, "redraw", {"grid": single, "geometry": mapping(shape)}
            )
            session.commit()
            started = time.perf_counter()
            result = edits.commit(session, actor, edit)
            session.flush()
            done = time.perf_counter()
            session.commit()
            if warm <= run < warm + args.single:
                singles.append((done - started) * 1000)
                durable.append((time.perf_counter() - started) * 1000)
    single_moved = result["cases_reassigned"]
    owner.dispose()
    app.dispose()
    ops, val, pre, com, raw = (median_of(x) for x in (t_ops, t_val, t_pre, t_com, t_raw))
    print(
        f"redraw {len(pairs)} grids (each moving a ~20 m edge into its neighbour: "
        f"{2 * len(pairs)} grids change) in district {DISTRICT} with {open_cases:,} open cases; "
        f"median of {args.runs} runs, app role (row-level security on)"
    )
    print(f"  drafting the {len(pairs)} operations: {ops:8.2f} s  ({ops / len(pairs) * 1000:.0f} "
          "ms per operation)")  # fmt: skip
    print(f"  validate:                {val * 1000:8.0f} ms")
    print(f"  preview:                 {pre * 1000:8.0f} ms  (validate + preview "
          f"{(val + pre):.2f} s; target ≤ 2 s)")  # fmt: skip
    print(f"  commit:                  {com * 1000:8.0f} ms  (target ≤ 5 s): {moved:,} cases "
          f"re-assigned, {events:,} case events, of {candidates:,} cases in the changed grids "
          "(open, or resolved and still to be verified)")  # fmt: skip
    print(f"  raw UPDATE … FROM re-assignment of the same cases: {raw * 1000:8.0f} ms  "
          f"(commit / raw = {com / raw:.2f})")  # fmt: skip
    s, d = np.array(singles), np.array(durable)
    print(
        f"one-grid redraw ({single}: {single_pair} open cases in it and its neighbours; "
        f"{single_moved} re-assigned to the "
        f"new versions), over {args.single} committed runs after {warm} warm-up runs:"
    )
    print(
        f"  commit (validate, version, re-assign, events): p50 {np.percentile(s, 50):.1f} ms, "
        f"p90 {np.percentile(s, 90):.1f} ms (target ≤ 10 ms)"
    )
    print(
        f"  … with the COMMIT (WAL flushed):              p50 {np.percentile(d, 50):.1f} ms, "
        f"p90 {np.percentile(d, 90):.1f} ms"
    )


if __name__ == "__main__":
    main()
