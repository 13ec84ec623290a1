"""Safety index (平安指数) at city scale: computing every region's index for a day, and one
region's page, over a 30-day window holding many cases.

Adds ``--cases`` copies of the demo city's cases received over the last 30 days (in a
transaction rolled back at the end: the bench database stays as it was), then times, median of
``--runs``:

* every region's index for yesterday (what the clock publishes once a day);
* the city's index with its districts, and a township's with its villages (a page, not
  published: computed as it is asked for — the slow case; a published day is a read);
* the bare baseline in the same run: one ``count(*)`` of the window's cases per township.

Run: ``.venv/bin/python bench/safety.py [--cases 200000] [--runs 5]``
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from _common import (
    add_settled_cases,
    bench_settings,
    median_of,
    prepare_bench_database,
    timed,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import safety
from gis.db import make_engine
from gis.scope import Scope, bind_scope
from gis.worktime import SHANGHAI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000, help="cases added in the window")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = make_engine(prepare_bench_database(bench_settings()))
    day = datetime.now(SHANGHAI).date() - timedelta(days=1)
    start, end = safety.window(day)
    with Session(engine) as session:
        bind_scope(session, Scope.everything())
        have = add_settled_cases(session, "SAFETYBENCH", args.cases, 30 * 24 * 60 - 60)
        print(f"added {args.cases:,} cases over the last 30 days to the {have:,} stored")
        window = session.execute(
            text("SELECT count(*) FROM cases WHERE received_at >= :s AND received_at < :e"),
            {"s": start, "e": end},
        ).scalar_one()
        regions = session.execute(text("SELECT count(*) FROM region")).scalar_one()
        city, township = session.execute(
            text("""SELECT (SELECT code FROM region WHERE parent_id IS NULL ORDER BY code
                            LIMIT 1),
                           (SELECT township_code FROM cases WHERE received_at >= :s
                            GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)"""),
            {"s": start},
        ).one()
        print(f"{window:,} cases in the window ({start:%Y-%m-%d} – {day}), {regions} regions")
        bare, every, city_t, town_t = [], [], [], []
        for _ in range(args.runs):
            bare.append(
                timed(
                    lambda: session.execute(
                        text("""SELECT township_code, count(*) FROM cases
                                WHERE received_at >= :s AND received_at < :e GROUP BY 1"""),
                        {"s": start, "e": end},
                    ).all()
                )
            )
            every.append(timed(lambda: safety.compute(session, day)))
            city_t.append(
                timed(lambda: safety.safety_index(session, Scope.everything(), city, day))
            )
            town_t.append(
                timed(lambda: safety.safety_index(session, Scope.everything(), township, day))
            )
        b = median_of(bare)
        print(f"median of {args.runs} runs:")
        print(f"  bare count per township:            {b * 1000:8.1f} ms")
        for label, runs in (
            ("every region's index (published)", every),
            ("the city's page (computed, + week)", city_t),
            ("a township's page (computed, + week)", town_t),
        ):
            m = median_of(runs)
            print(f"  {label:<36} {m * 1000:8.1f} ms  ({m / b:5.1f}× the bare count)")
        session.rollback()
    engine.dispose()


if __name__ == "__main__":
    main()
