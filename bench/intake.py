"""Benchmark: field intake over HTTP.  Prints figures.

    .venv/bin/python bench/intake.py [--seconds 20] [--clients 32] [--rounds 3] [--batches 6]
                                     [--reuse]

The app runs in its own process (uvicorn, 1 worker) on the bench database; the load comes from
one asyncio client process speaking raw HTTP/1.1 over keep-alive connections (``_http.py``: a few
per cent of a core, where httpx took a whole core and became the bare baseline's bottleneck).
In the same run:

* throughput — ``POST /api/reports`` (logged in, located, assigned, audited, one Idempotency-Key
  per report) vs a bare endpoint inserting one row, each with ``--clients`` concurrent clients
  for ``--seconds``; the ratio is the figure (target ≥ 0.5).  The two loads alternate for
  ``--rounds`` rounds: this machine's share of its host's CPU changes from minute to minute, so
  each round's ratio compares two loads run a few seconds apart, and the figure is the median
  of the rounds' ratios.  The load generator's own CPU use is printed, to show that the server,
  not the client, sets both figures;
* unloaded latency — p50/p99 of single reports sent one at a time (target p50 ≤ 3 ms), timed
  by the client around each request (building it, sending it, reading the whole response):
  first on the demo city as loaded, before the throughput runs, then again after them (where
  the duplicate and repeat checks find the thousands of reports the runs left nearby);
* batch sync — reports/s in 500-item ``/api/reports/batch`` requests (target ≥ 5,000/s): from
  one device sending its batches one after the other, then from ``--devices`` devices at once
  (one request uses one core of the database; several use both); each with the answer the
  phone page asks for (``Prefer: return=minimal``: each case brief) and with whole cases.

Every request accepts a compressed answer (``Accept-Encoding: gzip``), as a phone's browser does:
the app compresses a report's answer and a batch's (1 kB and more), and the figures include it.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from _common import (
    bench_settings,
    drop_bench_database,
    free_port,
    median_of,
    prepare_bench_database,
)
from _http import Connection
from sqlalchemy import text

from gis.auth import issue_token
from gis.db import make_engine, session_scope

HERE = Path(__file__).resolve().parent
# The city center's desk: reports from all over the city (2,617 grids), so the cases of a 20 s run
# do not pile onto a few dozen grids — the duplicate and repeat checks then see realistic density.
USER = "city_operator"
#: what a phone's browser sends with every request
PHONE = {"Accept-Encoding": "gzip, deflate"}
#: what the phone page adds when it syncs its queue (each case of the answer brief)
BRIEF = {"Prefer": "return=minimal"}


def _setup(owner_url: str, settings) -> tuple[str, list[tuple[float, float]]]:  # type: ignore[no-untyped-def]
    engine = make_engine(owner_url)
    with session_scope(engine) as session:
        session.execute(
            text(
                "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, "
                "at timestamptz NOT NULL DEFAULT now())"
            )
        )
        session.execute(text("GRANT INSERT ON bench_insert TO wangge_app"))
        session.execute(text("GRANT USAGE ON SEQUENCE bench_insert_id_seq TO wangge_app"))
        uid, region = session.execute(
            text("SELECT u.id, u.region_id FROM app_user u WHERE username = :u"), {"u": USER}
        ).one()
        token = issue_token(session, uid, settings)
        points = session.execute(
            text("""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT ST_PointOnSurface(g.geom) AS p FROM grid g
                JOIN region v ON v.id = g.village_id
                WHERE g.valid_to IS NULL AND :region = ANY(v.path)) s
        """),
            {"region": region},
        ).all()
    engine.dispose()
    return token, [(float(x), float(y)) for x, y in points]


CATEGORIES = [
    ("hazard", "fire"),
    ("dispute", "neighbour"),
    ("hazard", "gas"),
    ("dispute", "property_mgmt"),
    ("hazard", "rental_housing"),
    ("dispute", "consumer"),
    ("hazard", "public_order"),
    ("dispute", "labour_wage"),
]


def _report(points: list[tuple[float, float]], i: int) -> dict:
    """Varied like real intake: a grid's inner point jittered by up to ~30 m, rotating
    categories (so reports do not all pile onto the same spot and category)."""
    rng = np.random.default_rng(i)
    lon, lat = points[i % len(points)]
    lon, lat = lon + rng.uniform(-0.0003, 0.0003), lat + rng.uniform(-0.0003, 0.0003)
    kind, category = CATEGORIES[i % len(CATEGORIES)]
    return {
        "kind": kind,
        "category": category,
        "description": f"基准测试 {i}",
        "location": {"lon": lon, "lat": lat, "datum": "wgs84", "accuracy_m": 8},
        "reported_at": "2026-11-21T09:00:00+08:00",
    }


async def _load(
    port: int, path: str, body_for, headers: dict, clients: int, seconds: float
) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    done = errors = 0
    stop = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal done, errors
        i = n
        async with Connection("127.0.0.1", port, headers) as c:
            while time.perf_counter() < stop:
                status, _ = await c.post(path, body_for(i), {"Idempotency-Key": str(uuid.uuid4())})
                if status >= 300:
                    errors += 1
                done += 1
                i += clients

    await asyncio.gather(*(worker(n) for n in range(clients)))
    return done, errors


async def _latency(port: int, headers: dict, points, n: int, first: int = 0) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Milliseconds per single report sent one at a time (the first 20 are warm-up).  Reports
    are numbered from ``first`` (see :func:`_batches`)."""
    out = []
    async with Connection("127.0.0.1", port, headers) as c:
        for i in range(first, first + n):
            t = time.perf_counter()
            status, _ = await c.post(
                "/api/reports", _report(points, i), {"Idempotency-Key": str(uuid.uuid4())}
            )
            if status == 201:  # a jittered point may leave the township: not counted
                out.append((time.perf_counter() - t) * 1000)
    return np.array(out[20:])


async def _bare_latency(port: int, headers: dict, n: int) -> np.ndarray:  # type: ignore[type-arg]
    """Milliseconds per bare one-row insert sent one at a time (the first 20 are warm-up): the
    floor of a request's round trip through the same app, client and database, for the single
    report's p50 to be read against."""
    out = []
    async with Connection("127.0.0.1", port, headers) as c:
        for _ in range(n):
            t = time.perf_counter()
            status, _ = await c.post("/bench/bare-insert", {})
            assert status == 200
            out.append((time.perf_counter() - t) * 1000)
    return np.array(out[20:])


async def _batches(  # type: ignore[no-untyped-def]
    port: int, headers: dict, points, batches: int, devices: int = 1, first: int = 10_000_000
) -> tuple[int, float]:
    """Reports created by ``devices`` phones syncing at once, each sending ``batches`` 500-item
    batches one after the other (the batches are built before the clock starts).  Reports are
    numbered from ``first``: jittered points of their own, not those of earlier phases.  Returns
    the reports created and the seconds taken."""
    work = [
        [
            [
                _report(points, first + ((d * batches + b) * 500 + i))
                | {"idempotency_key": str(uuid.uuid4())}
                for i in range(500)
            ]
            for b in range(batches)
        ]
        for d in range(devices)
    ]

    async def device(batches_of_one: list) -> int:  # type: ignore[type-arg]
        created = 0
        async with Connection("127.0.0.1", port, headers) as c:
            for items in batches_of_one:
                status, body = await c.post("/api/reports/batch", {"reports": items})
                assert status == 200, body[:300]
                created += json.loads(body)["created"]
        return created

    started = time.perf_counter()
    total = sum(await asyncio.gather(*(device(w) for w in work)))
    return total, time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _database_cpu(data_dir: Path) -> float:
    """CPU time used by the cluster's client backends (those of the app and the bench), not by
    its background work (autovacuum, checkpoints, WAL writing), which runs when it will."""
    postmaster = int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            title = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == postmaster and b"127.0.0.1(" in title:  # a TCP client's backend
            total += _cpu_seconds(int(stat.parent.name))
    return total


class _Busy:
    """The app's and the database's CPU time over a load, per request (ms).  The database's is
    its backends' (the pool keeps them: none ends during a load, see ``_sessions``)."""

    def __init__(self, app_pid: int, data_dir: Path) -> None:
        self.app_pid, self.data_dir = app_pid, data_dir

    def __enter__(self) -> "_Busy":
        self.app = _cpu_seconds(self.app_pid)
        self.db = _database_cpu(self.data_dir)
        return self

    def __exit__(self, *exc: object) -> None:
        self.app = _cpu_seconds(self.app_pid) - self.app
        self.db = _database_cpu(self.data_dir) - self.db

    def per_request(self, requests: int) -> str:
        n = max(requests, 1)
        return f"app {self.app / n * 1000:.2f} + database {self.db / n * 1000:.2f} ms CPU"


def _sessions(owner_url: str) -> int:
    """PostgreSQL sessions opened on the bench database so far."""
    engine = make_engine(owner_url)
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
    engine.dispose()
    return int(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=3, help="bare and real loads, alternating (median ratio)"
    )
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument(
        "--devices",
        type=int,
        default=4,
        help="phones syncing their batches at once, for the second batch figure",
    )
    parser.add_argument(
        "--reuse",
        dest="fresh",
        action="store_false",
        help="keep the bench database of an earlier run (default: a fresh one, so runs compare)",
    )
    args = parser.parse_args()
    settings = bench_settings()
    if args.fresh:
        drop_bench_database(settings)
    owner_url = prepare_bench_database(settings)
    token, points = _setup(owner_url, settings)
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": settings.database_url or "",
        "WANGGE_APP_DB_PASSWORD": settings.app_db_password or "",
        "WANGGE_DATA_DIR": str(settings.data_dir),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(HERE),
            "_intake_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/api/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        # every request accepts a compressed answer, as a phone's browser does (the app
        # compresses those of 1 kB and more: a report's answer, a batch's)
        auth = {"Authorization": f"Bearer {token}"} | PHONE
        print(
            f"intake over HTTP, {args.clients} clients × {args.seconds:g} s; "
            f"app: 1 uvicorn worker; 2 cores shared with the load generator"
        )
        # on the demo city as loaded (a year of history): reports of their own
        with _Busy(server.pid, settings.data_dir) as quiet_busy:
            quiet = asyncio.run(_latency(port, auth, points, 320, first=30_000_000))
        floor = asyncio.run(_bare_latency(port, PHONE, 320))
        sessions = _sessions(owner_url)
        bares, reals, ratios, clients = [], [], [], []
        for n in range(args.rounds):
            cpu = time.process_time()
            with _Busy(server.pid, settings.data_dir) as bare_busy:
                bare, bare_err = asyncio.run(
                    _load(
                        port, "/bench/bare-insert", lambda i: {}, PHONE, args.clients, args.seconds
                    )
                )
            bare_client = (time.process_time() - cpu) / args.seconds
            cpu = time.process_time()
            with _Busy(server.pid, settings.data_dir) as real_busy:
                real, real_err = asyncio.run(
                    _load(
                        port,
                        "/api/reports",
                        lambda i, n=n: _report(points, n * 1_000_000 + i),
                        auth,
                        args.clients,
                        args.seconds,
                    )
                )
            real_client = (time.process_time() - cpu) / args.seconds
            b, r = bare / args.seconds, real / args.seconds
            bares.append(b)
            reals.append(r)
            ratios.append(r / b)
            clients.append(bare_client)
            print(
                f"  round {n + 1}: bare insert {b:7.1f} req/s ({bare_err} errors), "
                f"POST /api/reports {r:7.1f} req/s ({real_err} errors)   ratio {r / b:.3f}   "
                f"(load generator busy {bare_client:.0%} / {real_client:.0%} of a core)\n"
                f"           a request: bare {bare_busy.per_request(bare)}, "
                f"report {real_busy.per_request(real)}"
            )
        print(
            f"  median of {args.rounds}: bare insert {median_of(bares):7.1f} req/s, "
            f"POST /api/reports {median_of(reals):7.1f} req/s, ratio {median_of(ratios):.3f} "
            "(the median of the rounds' ratios)"
        )
        print(
            f"  database sessions opened during the loads: {_sessions(owner_url) - sessions - 1} "
            "(the app's pool keeps its connections: each new one costs a login and a cold plan "
            "cache)"
        )
        if max(clients) > 0.5:
            print(
                "  note: the load generator was busy for over half a core during the bare run; "
                "the machine may be shared, and the bare figure may be low"
            )
        # again after the loads, at the points of the load's first reports: the duplicate and
        # repeat checks now find thousands more cases nearby (the figure of earlier runs)
        lat = asyncio.run(_latency(port, auth, points, 320))
        print(
            f"  unloaded single report: p50 {np.percentile(quiet, 50):.2f} ms   "
            f"p99 {np.percentile(quiet, 99):.2f} ms (300 in sequence, before the loads: "
            f"{quiet_busy.per_request(320)} a report); "
            f"after them: p50 {np.percentile(lat, 50):.2f} ms   p99 {np.percentile(lat, 99):.2f} ms"
        )
        bare_p50 = float(np.percentile(floor, 50))
        print(
            f"  unloaded bare insert (the same app, client and database, one at a time): "
            f"p50 {bare_p50:.2f} ms   p99 {np.percentile(floor, 99):.2f} ms; a single report's "
            f"p50 is {np.percentile(quiet, 50) / bare_p50:.1f}× it"
        )
        first = 10_000_000  # (each run's reports at points of their own)
        for devices in (1, args.devices):
            for answer, headers in (("brief", auth | BRIEF), ("whole", auth)):
                with _Busy(server.pid, settings.data_dir) as busy:
                    created, took = asyncio.run(
                        _batches(port, headers, points, args.batches, devices, first=first)
                    )
                first += 10_000_000
                who = "one device" if devices == 1 else f"{devices} devices at once"
                print(
                    f"  batch sync, {who}, {answer} cases: {created / took:8.1f} reports/s in "
                    f"500-item batches ({args.batches} batches each; a report: "
                    f"{busy.per_request(created)})"
                )
        print(
            "  (brief: Prefer: return=minimal, as the phone page sends it; whole: every case "
            "as a single report's answer gives it)"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
