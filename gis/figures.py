"""The roll-up's figures kept per day and place (``case_figure_day``, migration 0084).

A change to cases marks the (day received in Beijing, township) pairs it touched in
``case_figure_dirty``; :func:`refresh` counts the marked pairs again from their cases, with the
roll-up's own definitions (:data:`gis.stats.PER_CASE`), and takes their marks away.  Readers
(:func:`gis.stats.stats`, :func:`gis.stats.weekly`) add the kept figures of the pairs not marked
to those counted from the cases of the marked ones: exact whether or not the clock has run.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.scope import Scope
from gis.stats import PER_CASE, SPLITS, SUMS, base_sql

#: the pairs counted again at most in one call (a bulk import marks thousands: a few seconds
#: each, one call a minute, readers reading its days from the cases meanwhile)
BATCH = 1000
#: one refresh at a time: two would each insert a pair's figures, counted twice
_LOCK = 0x66696775_7265  # "figure"
_PLACE = ("day", "city_code", "district_code", "township_code")
# the marks taken (the oldest first); the figures of their pairs removed, then counted again
# from the cases of the pairs (read after the marks went: a change committed meanwhile is
# counted, and its own mark stays for the next call)
_TAKE = text("""
    WITH taken AS (
        DELETE FROM case_figure_dirty
        WHERE id IN (SELECT id FROM case_figure_dirty ORDER BY id LIMIT :n)
        RETURNING day, township_code
    ), pairs AS (SELECT DISTINCT day, township_code FROM taken)
    SELECT array_agg(day) AS days, array_agg(township_code) AS townships FROM pairs
""")
_CLEAR = [
    text(f"""
    DELETE FROM {table} k
    USING unnest(CAST(:days AS date[]), CAST(:townships AS varchar[])) AS p(day, township_code)
    WHERE k.day = p.day AND k.township_code = p.township_code
""")
    for table in ("case_figure_day", "case_figure_split")
]
_KEY = ", ".join((*_PLACE, "village_code"))
_SPLIT = " UNION ALL ".join(
    f"SELECT {', '.join(_PLACE)}, '{d}' AS dim, CAST({d} AS varchar) AS key FROM pc" for d in SPLITS
)
# each pair's figures per village, and its cases per state, kind, category and source
_COUNT = f"""
    , counted AS (
        INSERT INTO case_figure_day ({_KEY}, {", ".join(SUMS)})
        SELECT {_KEY}, {", ".join(f"sum({f})" for f in SUMS)} FROM pc GROUP BY {_KEY}
    )
    INSERT INTO case_figure_split ({", ".join(_PLACE)}, dim, key, n)
    SELECT {", ".join(_PLACE)}, dim, key, count(*) FROM ({_SPLIT}) s
    GROUP BY {", ".join(_PLACE)}, dim, key
"""
# the pairs taken, as rows
_GIVEN = """(SELECT * FROM unnest(CAST(:days AS date[]), CAST(:townships AS varchar[]))
            AS p(day, township_code))"""


def refresh(session: Session, batch: int = BATCH) -> int:
    """Count again the figures of the pairs of up to ``batch`` marks; how many pairs.  The
    session must see every case (scope ``*``); the caller commits."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    taken = session.execute(_TAKE, {"n": batch}).one()
    if not taken.days:
        return 0
    params = {"days": list(taken.days), "townships": list(taken.townships)}
    for clear in _CLEAR:
        session.execute(clear, params)
    base = base_sql(Scope.everything(), None, pairs=_GIVEN)
    session.execute(text(base + f", pc AS MATERIALIZED ({PER_CASE}) " + _COUNT), params)
    return len(params["days"])


def refresh_all(session: Session) -> int:
    """Count again every marked pair, a batch at a time; how many pairs."""
    done = 0
    while n := refresh(session):
        done += n
    return done


def mark_all(session: Session) -> None:
    """Mark every pair of the cases stored (after the working calendar changed: the handling
    hours count working time).  Sees every case for the rest of the transaction."""
    session.execute(text("SELECT set_config('wangge.scope', '*', true)"))
    session.execute(
        text("""
        INSERT INTO case_figure_dirty (day, township_code)
        SELECT DISTINCT CAST(received_at AT TIME ZONE 'Asia/Shanghai' AS date),
               coalesce(township_code, '')
        FROM cases
    """)
    )
