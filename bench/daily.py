"""The daily roll-up (每日一汇总) at city scale: the page a leader opens, over 12 weeks of many
cases.

Adds ``--cases`` copies of the demo city's cases received over the last 84 days (in a
transaction rolled back at the end: the bench database stays as it was), then times, median of
``--runs``, for the city and for its busiest township:

* the whole roll-up of yesterday (``gis.report.daily``: the day, the last 30 days, the trend of
  the last 12 weeks, the safety index, the warnings, the grid workers);
* of it, the trend alone (``gis.stats.weekly``: 84 days of cases, week by week) and the last
  30 days alone (``gis.stats.stats``);
* 统计排名 of the year so far (``gis.ranking.ranking``: the roll-up of the year's first day to
  yesterday, every child region ranked by the on-time rate), the page a leader opens for an
  assessment;
* the bare baseline in the same run: one ``count(*)`` per week of the 84 days' cases.

Run: ``.venv/bin/python bench/daily.py [--cases 200000] [--runs 5]``
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from datetime import time as clock
from functools import partial

from _common import (
    add_settled_cases,
    bench_settings,
    median_of,
    prepare_bench_database,
    timed,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import make_engine
from gis.figures import mark_all, refresh_all
from gis.ranking import RANKS, ranking
from gis.report import daily
from gis.scope import Scope, bind_scope
from gis.stats import TREND_WEEKS, stats, weekly
from gis.worktime import SHANGHAI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000, help="cases added in 84 days")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = make_engine(prepare_bench_database(bench_settings()))
    day = datetime.now(SHANGHAI).date() - timedelta(days=1)
    end = datetime.combine(day, clock(0), SHANGHAI) + timedelta(days=1)
    start = end - timedelta(weeks=TREND_WEEKS)
    scope = Scope.everything()
    with Session(engine) as session:
        bind_scope(session, scope)
        have = add_settled_cases(session, "DAILYBENCH", args.cases, 84 * 24 * 60 - 60)
        print(f"added {args.cases:,} cases over the last 84 days to the {have:,} stored")
        window = session.execute(
            text("SELECT count(*) FROM cases WHERE received_at >= :s AND received_at < :e"),
            {"s": start, "e": end},
        ).scalar_one()
        city, township = session.execute(
            text("""SELECT (SELECT code FROM region WHERE parent_id IS NULL ORDER BY code
                            LIMIT 1),
                           (SELECT township_code FROM cases WHERE received_at >= :s
                            GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)"""),
            {"s": start},
        ).one()
        in_town = session.execute(
            text("""SELECT count(*) FROM cases WHERE township_code = :t
                    AND received_at >= :s AND received_at < :e"""),
            {"t": township, "s": start, "e": end},
        ).scalar_one()
        print(f"{window:,} cases in the 12 weeks ending {day} ({in_town:,} in township {township})")
        bare_sql = text("""SELECT floor(extract(epoch FROM CAST(:e AS timestamptz) - received_at)
                                        / 604800), count(*)
                           FROM cases WHERE city_code = :r AND received_at >= :s
                             AND received_at < :e GROUP BY 1""")
        figures: dict[str, list[float]] = {}
        # the figures counted from every case (each day and place marked, as if the clock had
        # never run), then from those kept per day and place once the clock counted them all
        mark_all(session)
        for way in [""] * args.runs + ["kept: "] * args.runs:
            if way and not figures.get("kept: count"):
                figures["kept: count"] = [timed(partial(refresh_all, session))]
            figures.setdefault("bare", []).append(
                timed(lambda: session.execute(bare_sql, {"r": city, "s": start, "e": end}).all())
            )
            for name, region in ((f"{way}city", city), (f"{way}township", township)):
                figures.setdefault(f"{name} roll-up", []).append(
                    timed(partial(daily, session, scope, region, day))
                )
                figures.setdefault(f"{name} trend", []).append(
                    timed(partial(weekly, session, scope, region, end))
                )
                figures.setdefault(f"{name} 30 days", []).append(
                    timed(partial(stats, session, scope, region, end - timedelta(days=30), end))
                )
                figures.setdefault(f"{name} ranking of the year", []).append(
                    timed(
                        partial(
                            ranking, session, scope, region, day.replace(month=1, day=1), day,
                            RANKS["on_time_rate"],
                        )
                    )
                )  # fmt: skip
        b = median_of(figures.pop("bare"))
        count = figures.pop("kept: count")[0]
        print(f"the clock's count of every day and place (once): {count:.1f} s")
        print(f"median of {args.runs} runs each way:")
        print(f"  bare count per week (city):            {b * 1000:8.1f} ms")
        for label, runs in figures.items():
            m = median_of(runs)
            print(f"  {label:<38} {m * 1000:8.1f} ms  ({m / b:6.1f}× the bare count)")
        session.rollback()
    engine.dispose()


if __name__ == "__main__":
    main()
