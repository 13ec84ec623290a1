"""Big updates of cases and the map roll-ups' update trigger (migration 0037).  Prints figures.

Adds ``--cases`` copies of the demo city's cases (in a transaction rolled back at the end: the
bench database stays as it was), then times, median of ``--runs``, each in a savepoint rolled
back after it:

* an update of all the copies' deadlines: nothing the roll-ups count moves (the clock's kind
  of update, at a size no product path reaches in one statement);
* an update moving every copy to another grid of its village (a redraw's kind of update);

each with the roll-up trigger ``cases_rollup_update`` on and, as the bare baseline in the same
run, off.  The ratio is the trigger's cost.  Before 0037 the trigger joined the statement's old
and new rows: 150,000 deadlines took 16.6 s, 250,000 had not ended after ten minutes.

Run: ``.venv/bin/python bench/rollup_update.py [--cases 250000] [--runs 3]``
"""

from __future__ import annotations

import argparse
import time

from _common import bench_settings, clone_cases_sql, median_of, prepare_bench_database
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import make_engine
from gis.scope import Scope, bind_scope

UPDATES = {
    "deadlines (nothing counted moves)": """
        UPDATE cases SET deadline = received_at + interval '3 days'
        WHERE code LIKE 'ROLLBENCH%'""",
    # each copy into its village's grid of the lowest code (the copies in that grid stay)
    "grids (a redraw's move)": """
        UPDATE cases c SET grid_code = g.code, grid_id = g.id
        FROM (SELECT DISTINCT ON (v.code) v.code AS village_code, g.code, g.id
              FROM grid g JOIN region v ON v.id = g.village_id
              WHERE g.valid_to IS NULL ORDER BY v.code, g.code) g
        WHERE c.code LIKE 'ROLLBENCH%' AND g.village_code = c.village_code""",
}
TRIGGER = "ALTER TABLE cases {} TRIGGER cases_rollup_update"


def timed(session: Session, sql: str, trigger: bool) -> float:
    """One update in a savepoint rolled back after it, with the trigger on or off."""
    savepoint = session.begin_nested()
    if not trigger:
        session.execute(text(TRIGGER.format("DISABLE")))
    started = time.perf_counter()
    session.execute(text(sql))
    took = time.perf_counter() - started
    savepoint.rollback()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=250_000, help="copies updated at once")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    engine = make_engine(prepare_bench_database(bench_settings()))
    with Session(engine) as session:
        bind_scope(session, Scope.everything())
        have = session.execute(text("SELECT count(*) FROM cases")).scalar_one()
        print(f"adding {args.cases:,} copies of the {have:,} stored cases …")
        session.execute(
            text(clone_cases_sql("ROLLBENCH", ["in_progress"], 365 * 24 * 60)),
            {"n": args.cases, "have": have},
        )
        session.execute(text("ANALYZE cases"))
        # the first call plans the trigger's statements for the connection (PL/pgSQL keeps the
        # plans): one case, as a workflow step would, before the big ones
        session.execute(text("UPDATE cases SET version = version WHERE id = (SELECT min(id) "
                             "FROM cases)"))  # fmt: skip
        print(f"one UPDATE of {args.cases:,} cases, median of {args.runs} runs:")
        for label, sql in UPDATES.items():
            on: list[float] = []
            off: list[float] = []
            for i in range(args.runs):  # alternated: the rolled-back rows' dead tuples grow
                for trigger in (True, False) if i % 2 == 0 else (False, True):
                    (on if trigger else off).append(timed(session, sql, trigger))
            a, b = median_of(on), median_of(off)
            print(f"  {label:<36} trigger on {a:7.2f} s   off {b:7.2f} s   ({a / b:4.2f}×)")
        session.rollback()
    engine.dispose()


if __name__ == "__main__":
    main()
