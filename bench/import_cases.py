"""Benchmark: importing historical cases (CSV) into the demo city.  Prints figures.

    .venv/bin/python bench/import_cases.py [--rows 1000000] [--runs 1] [--reuse]

A synthetic CSV with Chinese headers (points around the grids, half of them in GCJ-02, times over
the last year, mixed kinds and categories) is generated once and kept under
``<data_dir>/bench/``.  It goes into a fresh demo city (``--reuse``: the bench database as an
earlier benchmark left it).  Each run imports it completely — read, convert, stage, locate,
insert cases and events — in a transaction that is rolled back at the end (so every run does the
same work and the bench database stays as it was; a ``VACUUM FULL`` of the tables it writes,
before each run and not timed, gives every run the same compact files).  Printed: rows/s end to
end, the share of each stage, and the raw ``COPY`` of the same file into a plain table in the
same run (the ceiling).
Target: ≤ 10 s for 1,000,000 rows (stretch 6 s).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import bench_settings, drop_bench_database, median_of, prepare_bench_database
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.datum import wgs84_to_gcj02
from gis.db import make_engine
from importers.cases import CaseOptions, import_cases

KINDS = [("矛盾纠纷", "邻里纠纷"), ("纠纷", "劳资"), ("安全隐患", "消防"), ("隐患", "燃气"),
         ("dispute", "property_mgmt"), ("hazard", "rental_housing")]  # fmt: skip


def synthetic_csv(path: Path, rows: int, anchors: np.ndarray) -> None:
    """Cases where cases happen: around the grids' inner points (±~300 m), a few outside."""
    rng = np.random.default_rng(2026)
    pick = anchors[rng.integers(0, len(anchors), rows)]
    lon = pick[:, 0] + rng.normal(0, 0.003, rows)
    lat = pick[:, 1] + rng.normal(0, 0.003, rows)
    gcj = rng.random(rows) < 0.5
    glon, glat = wgs84_to_gcj02(lon[gcj], lat[gcj])
    lon[gcj], lat[gcj] = glon, glat
    # the demo's grids are valid since 400 days ago: a year of history falls in them
    seconds = rng.integers(0, 365 * 86400, rows)
    at = pd.Timestamp.now().floor("D") - pd.to_timedelta(seconds, unit="s")
    k = rng.integers(0, len(KINDS), rows)
    frame = pd.DataFrame(
        {
            "编号": [f"SYN{i:08d}" for i in range(rows)],
            "上报时间": at.strftime("%Y-%m-%d %H:%M:%S"),
            "经度": np.round(lon, 7),
            "纬度": np.round(lat, 7),
            "坐标系": np.where(gcj, "GCJ02", "WGS84"),
            "类型": [KINDS[j][0] for j in k],
            "类别": [KINDS[j][1] for j in k],
            "描述": "历史案件（合成数据）",
        }
    )
    frame.to_csv(path, index=False)


def raw_copy(engine, path: Path) -> float:  # type: ignore[no-untyped-def]
    """The ceiling: COPY the same file into a plain table of text columns, then roll back."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        started = time.perf_counter()
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE copy_only (a text, b text, c text, d text, e text, "
                        "f text, g text, h text)")  # fmt: skip
            with cur.copy("COPY copy_only FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(path.read_bytes())
        took = time.perf_counter() - started
        raw.rollback()
        # closed, not pooled: the import that follows gets a session without temporary tables,
        # as a command-line import has (it then sizes their cache, importers.cases.TEMP_BUFFERS)
        conn.invalidate()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--mode",
        choices=("normal", "bulk", "both"),
        default="both",
        help="normal: roll-ups and indexes kept row by row; bulk: --bulk (tables locked, both "
        "rebuilt once after)",
    )
    parser.add_argument(
        "--reuse",
        dest="fresh",
        action="store_false",
        help="import into the bench database as an earlier benchmark left it (default: a fresh "
        "demo city, so runs compare: a million cases left by bench/desk.py or bench/maps.py "
        "make the rebuild of the indexes take twice as long)",
    )
    args = parser.parse_args()
    settings = bench_settings()
    if args.fresh:
        drop_bench_database(settings)
    owner_url = prepare_bench_database(settings)
    engine = make_engine(owner_url)
    with Session(engine) as session:
        anchors: np.ndarray = np.array(
            session.execute(
                text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p
                        FROM grid WHERE valid_to IS NULL) s""")
            ).all()
        )
        grids = session.execute(
            text("SELECT count(*) FROM grid WHERE valid_to IS NULL")
        ).scalar_one()
    folder = settings.data_dir / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"cases_v3_{args.rows}.csv"
    if not path.exists():
        print(f"generating {args.rows:,} synthetic cases → {path} …", flush=True)
        synthetic_csv(path, args.rows, anchors)
    size_mb = path.stat().st_size / 1e6
    print(
        f"historical cases: {args.rows:,} rows ({size_mb:.0f} MB CSV) against {grids:,} grids; "
        f"median of {args.runs} run(s) per path"
    )
    modes = ("normal", "bulk") if args.mode == "both" else (args.mode,)
    for mode in modes:
        totals, copies, last = [], [], None
        for _ in range(args.runs):
            # a rolled-back run leaves a million dead rows in cases and the roll-ups, and files
            # full of holes that the next run would fill page by page: every run starts from the
            # same compact tables (untimed; the bench database is the only user)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM FULL cases, case_event, case_heat, case_grid_day"))
            copies.append(raw_copy(engine, path))
            with Session(engine) as session:
                started = time.perf_counter()
                last = import_cases(session, path, CaseOptions(commit=True, bulk=mode == "bulk"))
                totals.append(time.perf_counter() - started)
                session.rollback()  # the same work for the next run; the bench database unchanged
        assert last is not None
        t, c = median_of(totals), median_of(copies)
        print(
            f"  {mode} path{' (--bulk)' if mode == 'bulk' else ''}: {t:6.1f} s = "
            f"{args.rows / t:10,.0f} rows/s   ({len(last.created):,} created, "
            f"{len(last.rejected):,} rejected)"
        )
        print(
            f"    raw COPY of the file: {c:6.1f} s = {args.rows / c:10,.0f} rows/s   "
            f"ratio {t / c:.1f}×"
        )
        total = sum(last.stages.values())
        for stage, seconds in last.stages.items():
            print(f"      {stage:<56} {seconds:6.2f} s  {seconds / total:6.1%}")
        print(f"    assigned: {last.assigned}")
        for warning in last.warnings:
            if "--bulk not used" in warning:  # a small file into many stored cases
                print(f"    note: {warning}")
    engine.dispose()
    print("  target: ≤ 10 s for 1,000,000 rows (stretch 6 s)")


if __name__ == "__main__":
    main()
