"""Benchmark: the deadline clock over a city's open cases.  Prints figures.

    .venv/bin/python bench/workflow.py [--cases 100000] [--runs 3]

On the bench database (the demo city, topped up to ``--cases`` cases with copies of its own
cases spread over the last 60 days), ``tick`` runs over every open case — reminders, supervision
letters with escalation, notices — inside a transaction that is rolled back, so every run does
the same work.  Median of ``--runs``; per 10,000 open cases; and the ratio to a bare baseline in
the same run: one ``SELECT`` reading the same due (case, stage) pairs.

Then ``GET /api/stats`` for the whole city over 180 days (the city operator's, through the app
in-process): median latency of ``--runs``, against a bare ``count(*)`` of the same cases.
"""

from __future__ import annotations

import argparse
import time

from _common import bench_settings, clone_cases_sql, median_of, prepare_bench_database
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import make_engine
from gis.scope import Scope, bind_scope
from gis.supervision import tick

_TOP_UP = clone_cases_sql(
    "BENCH", ["registered", "accepted", "dispatched", "in_progress", "closed"], 86400
)
_DEADLINES = """
    UPDATE cases c SET remind_at = wangge_work_at(x.clock + 0.8 * c.allowed_hours),
                       deadline = wangge_work_at(x.clock + c.allowed_hours),
                       notice_at = wangge_work_at(x.clock + 2 * c.allowed_hours)
    FROM (SELECT id, wangge_work_clock(received_at) AS clock FROM cases
          WHERE code LIKE 'BENCH%' AND deadline IS NULL) x
    WHERE c.id = x.id
"""
_OPEN = "status NOT IN ('resolved', 'verified', 'closed', 'suspended')"
_BASELINE = f"""
    SELECT count(*) FROM cases c
    CROSS JOIN LATERAL (VALUES ('reminder', c.remind_at), ('supervision', c.deadline),
                               ('notice', c.notice_at)) AS s(stage, at)
    WHERE c.{_OPEN} AND c.remind_at <= now() AND s.at <= now()
"""


def _stats_latency(settings, owner_url: str, runs: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis.auth import issue_token

    engine = make_engine(owner_url)
    with Session(engine) as session:
        uid = session.execute(
            text("SELECT id FROM app_user WHERE username = 'city_operator'")
        ).scalar_one()
        token = issue_token(session, uid, settings)
        session.commit()
    app = create_app(settings.model_copy(update={"clock_interval_s": 0}))
    out, bases = [], []
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        query = "/api/stats?region=990100&start={}&end={}"
        from datetime import date, timedelta

        end = date.today()
        url = query.format(end - timedelta(days=179), end)
        client.get(url, headers=headers)  # warm
        for _ in range(runs):
            started = time.perf_counter()
            r = client.get(url, headers=headers)
            out.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text[:300]
            with Session(engine) as session:
                started = time.perf_counter()
                session.execute(
                    text(
                        "SELECT count(*) FROM cases WHERE city_code = '990100' "
                        "AND received_at >= now() - interval '180 days'"
                    )
                ).scalar_one()
                bases.append(time.perf_counter() - started)
        print(f"  (the city's last 180 days: {r.json()['figures']['cases']:,} cases)")
    engine.dispose()
    return out, bases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = bench_settings()
    owner_url = prepare_bench_database(settings)
    engine = make_engine(owner_url)
    with Session(engine) as session:
        bind_scope(session, Scope.everything())
        have = session.execute(text("SELECT count(*) FROM cases")).scalar_one()
        if have < args.cases:
            print(f"topping the bench database up from {have:,} to {args.cases:,} cases …")
            started = time.perf_counter()
            session.execute(text(_TOP_UP), {"n": args.cases - have, "have": have})
            session.execute(text(_DEADLINES))
            session.commit()
            print(f"  done in {time.perf_counter() - started:.1f} s")
        total, open_ = session.execute(
            text(f"SELECT count(*), count(*) FILTER (WHERE {_OPEN}) FROM cases")
        ).one()
    runs, bases, report = [], [], None
    for _ in range(args.runs):
        with Session(engine) as session:
            bind_scope(session, Scope.everything())
            started = time.perf_counter()
            session.execute(text(_BASELINE)).scalar_one()
            bases.append(time.perf_counter() - started)
            started = time.perf_counter()
            report = tick(session)
            runs.append(time.perf_counter() - started)
            session.rollback()  # the same work for the next run
    stats_runs, stats_bases = _stats_latency(settings, owner_url, args.runs)
    engine.dispose()
    assert report is not None
    t, b = median_of(runs), median_of(bases)
    print(f"deadline clock over {total:,} cases ({open_:,} open); median of {args.runs} runs")
    print(
        f"  tick: {t * 1000:8.1f} ms  = {t * 1000 / (open_ / 10_000):.1f} ms per 10,000 open "
        f"cases   ({report.summary()})"
    )
    print(f"  bare SELECT of the due (case, stage) pairs: {b * 1000:.1f} ms   ratio {t / b:.1f}×")
    s, sb = median_of(stats_runs), median_of(stats_bases)
    print(
        f"  GET /api/stats (city, 180 days): {s * 1000:8.1f} ms median   bare count(*) of the "
        f"same cases {sb * 1000:.1f} ms   ratio {s / sb:.1f}×"
    )


if __name__ == "__main__":
    main()
