"""Benchmark: what authentication and jurisdiction cost on a case list.  Prints figures.

    .venv/bin/python bench/auth_overhead.py [--requests 300] [--rounds 5]

Two ways to get the same cases (the township_operator's street) over real HTTP (uvicorn on
127.0.0.1, one keep-alive client, requests in sequence):

* bare — ``/bench/cases-bare``: no login, the owner's connection (no row-level security), the
  same ``gis.cases.cases_geojson`` query with the same jurisdiction condition;
* full — ``GET /api/cases`` with a bearer token: session lookup, permission check, scope bound
  with SET LOCAL, row-level security, the query layer's filter.

Rounds alternate bare/full so drift on this shared machine hits both; figures are medians of the
rounds.  The ratio full/bare (requests per second) is the figure: aim ≥ 0.9.
"""

import argparse
import threading
import time
from typing import Annotated

import httpx
import uvicorn
from _common import (
    bench_routes_first,
    bench_settings,
    free_port,
    median_of,
    prepare_bench_database,
)
from fastapi import Depends, Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from gis import cases
from gis.auth import issue_token
from gis.db import make_engine, make_sessionmaker, session_scope
from gis.scope import Scope

USER = "township_operator"


def _scope_and_token(owner_url: str, settings) -> tuple[Scope, str]:  # type: ignore[no-untyped-def]
    with session_scope(make_engine(owner_url)) as session:
        row = session.execute(
            text(
                "SELECT u.id, r.id, r.code, r.level::text, r.name FROM app_user u "
                "JOIN region r ON r.id = u.region_id WHERE u.username = :u"
            ),
            {"u": USER},
        ).one()
        token = issue_token(session, row[0], settings)
    return Scope(row[1], row[2], row[3], row[4]), token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = bench_settings()
    owner_url = prepare_bench_database(settings)
    scope, token = _scope_and_token(owner_url, settings)
    owner_sessions = make_sessionmaker(make_engine(owner_url))

    def owner_session():  # type: ignore[no-untyped-def]
        with owner_sessions() as session:
            yield session

    app = create_app(settings)

    @app.get("/bench/cases-bare")
    def bare(session: Annotated[Session, Depends(owner_session)], limit: int = 200) -> Response:
        return Response(
            cases.cases_geojson(session, scope, limit=limit), media_type="application/geo+json"
        )

    bench_routes_first(app)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    print(
        f"case list of {USER} ({scope.region_name}), {args.requests} requests × "
        f"{args.rounds} rounds, median of rounds; 2 cores shared by client and server"
    )
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for limit in (200, 5000):
                bare_n = client.get(f"/bench/cases-bare?limit={limit}").json()["features"]
                full_n = client.get(f"/api/cases?limit={limit}", headers=auth).json()["features"]
                assert [f["id"] for f in bare_n] == [f["id"] for f in full_n], "not the same cases"
                rps: dict[str, list[float]] = {"bare": [], "full": []}
                for _ in range(args.rounds):
                    for name, path, headers in (
                        ("bare", f"/bench/cases-bare?limit={limit}", {}),
                        ("full", f"/api/cases?limit={limit}", auth),
                    ):
                        for _ in range(10):  # warm up
                            client.get(path, headers=headers)
                        started = time.perf_counter()
                        for _ in range(args.requests):
                            r = client.get(path, headers=headers)
                            assert r.status_code == 200
                        rps[name].append(args.requests / (time.perf_counter() - started))
                b, f = median_of(rps["bare"]), median_of(rps["full"])
                print(
                    f"  {len(full_n):5d} cases/response: bare {b:7.1f} req/s   "
                    f"authenticated + scoped {f:7.1f} req/s   ratio {f / b:.3f}"
                )
    finally:
        server.should_exit = True


if __name__ == "__main__":
    main()
