"""Shared by the benchmarks: the bench database and small statistics helpers."""

from __future__ import annotations

import importlib
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import is_empty, make_engine, prepare_database, session_scope
from gis.embedded import EmbeddedCluster
from gis.pii import load_cipher
from gis.settings import Settings, get_settings

BENCH_DB = "wangge_bench"
ROOT = Path(__file__).resolve().parent.parent  # the project


def load_map_package() -> None:
    """Import wangge's ``maps`` package before anything asks for it: a benchmark's folder is on
    ``sys.path`` first and holds ``bench/maps.py`` (the map benchmark), which would otherwise be
    found as ``maps``."""
    if "maps" in sys.modules and hasattr(sys.modules["maps"], "__path__"):
        return
    here = Path(__file__).resolve().parent
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        sys.modules.pop("maps", None)
        importlib.import_module("maps")
    finally:
        sys.path[:] = saved


load_map_package()


def bench_settings() -> Settings:
    """Settings for the bench database: ``wangge_bench`` on the embedded cluster (created,
    migrated and filled with the full demo city on first use), unless DATABASE_URL is set."""
    settings = get_settings()
    if settings.database_url:
        return settings
    if settings.data_dir == Path.cwd().absolute() / ".wangge":  # the default, under the cwd
        # run from elsewhere (inside bench/, say): the project's cluster, not a new one there
        settings = settings.model_copy(update={"data_dir": ROOT / ".wangge"})
    cluster = EmbeddedCluster(settings.data_dir)
    cluster.start()
    cluster.create_database(BENCH_DB)
    return settings.model_copy(
        update={
            "database_url": cluster.url(BENCH_DB),
            "app_db_password": cluster.app_password(),
        }
    )


def drop_bench_database(settings: Settings) -> None:
    """Start from scratch: the benchmarks pile cases onto the same places run after run."""
    if settings.database_url and not settings.database_url.rstrip("/").endswith(BENCH_DB):
        return  # never drop a database the operator pointed us at
    engine = make_engine(EmbeddedCluster(settings.data_dir).url("postgres"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
    engine.dispose()
    EmbeddedCluster(settings.data_dir).create_database(BENCH_DB)


def prepare_bench_database(settings: Settings) -> str:
    """Migrate, enable the app role, load the demo city if empty; returns the owner URL."""
    from importers.demo import generate_demo_city
    from importers.demo_load import load_demo_city
    from importers.demo_users import ensure_demo_users

    url = prepare_database(settings)
    engine = make_engine(url)
    with session_scope(engine) as session:
        if is_empty(session):
            print("loading the demo city into the bench database …", flush=True)
            started = time.perf_counter()
            city = generate_demo_city(seed=2026, size="city")
            report = load_demo_city(session, city, load_cipher(settings))
            print(f"  {report.summary()} (with generation: {time.perf_counter() - started:.1f} s)")
        else:
            ensure_demo_users(session)
    engine.dispose()
    return url


def bench_routes_first(app: FastAPI) -> None:
    """Put the app's ``/bench/`` routes (a baseline's) first in its routing order.

    Routing walks the routes in order, router by router: FastAPI 0.165 matches an included
    router's routes one by one, and the chosen router's twice.  Added after the app's own
    routers, a bare endpoint paid about 170 µs a request to be found where ``POST /api/reports``
    pays about 20: a baseline slowed by a tenth of its Python time, and a ratio flattered by as
    much.  First, it pays about 2."""
    routes = app.router.routes
    bench = [r for r in routes if str(getattr(r, "path", "")).startswith("/bench/")]
    routes[:] = bench + [r for r in routes if r not in bench]


def median_of(runs: list[float]) -> float:
    return float(statistics.median(runs))


def percentiles(samples_ms: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(samples_ms, 50)), float(np.percentile(samples_ms, 99))


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a benchmark's own server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clone_cases_sql(
    prefix: str,
    statuses: list[str],
    spread_minutes: int,
    where: str = "",
    extra: dict[str, str] | None = None,
) -> str:
    """``INSERT … SELECT`` of ``:n`` copies of the cases matching ``where`` (``:have`` of them,
    taken in turn): same place, assignment and category, code ``prefix`` + a sequence number,
    received over the last ``spread_minutes`` and given ``statuses`` in turn; ``extra``: more
    columns and their SQL (``t`` is the time received, ``c`` the case copied)."""
    status_array = ", ".join(f"'{s}'" for s in statuses)
    more = extra or {}
    columns = "".join(f", {k}" for k in more)
    values = "".join(f", {v}" for v in more.values())
    return f"""
    INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                       received_lat, geom, accuracy_m, reported_at, received_at, grid_id,
                       grid_code, village_code, township_code, district_code, city_code,
                       center_id, assign_method, assign_distance_m, status, allowed_hours
                       {columns})
    SELECT '{prefix}' || lpad(nextval('case_code_seq')::text, 12, '0'), c.kind, c.category,
           c.severity, c.description, c.datum, c.received_lon, c.received_lat, c.geom,
           c.accuracy_m, t, t, c.grid_id, c.grid_code, c.village_code, c.township_code,
           c.district_code, c.city_code, c.center_id, c.assign_method, c.assign_distance_m,
           (ARRAY[{status_array}])[1 + g % {len(statuses)}],
           c.allowed_hours {values}
    FROM generate_series(1, :n) g
    JOIN (SELECT row_number() OVER (ORDER BY id) AS rn, * FROM cases {where}) c
      ON c.rn = 1 + g % :have
    CROSS JOIN LATERAL (SELECT now() - (g % {spread_minutes}) * interval '1 minute' AS t) x
"""


def timed(fn: Callable[[], object]) -> float:
    """Seconds that ``fn()`` took."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


#: the states of the cases :func:`add_settled_cases` adds, in turn: half closed, some still open
SETTLED_STATUSES = ["closed", "closed", "closed", "in_progress", "registered", "resolved"]


def add_settled_cases(session: Session, prefix: str, n: int, minutes: int) -> int:
    """Add ``n`` copies of the stored cases received over the last ``minutes`` (codes ``prefix``
    + a number; the caller rolls them back): due three days after, closed (when closed) two
    days after, one in six late — what the roll-ups read.  The map roll-ups' trigger is left
    off for them.  Returns how many cases were stored before."""
    have = int(session.execute(text("SELECT count(*) FROM cases")).scalar_one())
    session.execute(text("ALTER TABLE cases DISABLE TRIGGER cases_rollup_insert"))
    extra = {
        "deadline": "t + interval '3 days'",
        "closed_at": "t + CASE WHEN g % 6 = 0 THEN interval '4 days' ELSE interval '2 days' END",
    }
    session.execute(
        text(clone_cases_sql(prefix, SETTLED_STATUSES, minutes, extra=extra)),
        {"n": n, "have": have},
    )
    session.execute(text("ANALYZE cases"))
    return have


def time_get(client, url: str, headers: dict, runs: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """(median ms, p95 ms, bytes of the last answer)."""
    client.get(url, headers=headers)  # warm
    samples, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        r = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        size = len(r.content)
    return median_of(samples), float(np.percentile(samples, 95)), size


def top_up_cases(session: Session, target: int, sql: str, originals: str) -> bool:
    """Top the bench database up to ``target`` cases with ``sql``: an ``INSERT … SELECT`` of the
    copies numbered ``:start`` to ``:stop`` (of ``:n`` to add), each of one of the ``:have`` cases
    that ``originals`` (a condition on ``cases``) selects; a hundred thousand at a time, each
    committed and said, then the tables analysed.  Whether any were added."""
    have = session.execute(text("SELECT count(*) FROM cases")).scalar_one()
    if have >= target:
        return False
    base = session.execute(text(f"SELECT count(*) FROM cases WHERE {originals}")).scalar()
    print(f"topping the bench database up from {have:,} to {target:,} cases …", flush=True)
    started = time.perf_counter()
    step, n = 100_000, target - have
    for start in range(1, n + 1, step):
        stop = min(n, start + step - 1)
        session.execute(text(sql), {"start": start, "stop": stop, "have": base, "n": n})
        session.commit()
        print(f"  {have + stop:,} ({time.perf_counter() - started:.0f} s)", flush=True)
    for table in ("cases", "case_heat", "case_grid_day"):
        session.execute(text(f"ANALYZE {table}"))
    session.commit()
    return True
