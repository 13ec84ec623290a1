"""Bulk loading of historical cases: indexes and map roll-ups rebuilt once, not row by row.

``wangge import cases FILE --commit --bulk``, for a city's first load of years of history.  The
import's transaction locks ``cases`` and its two roll-ups exclusively (reports, case lists and
maps wait until it commits), drops their indexes, inserts with the roll-up trigger off,
then builds each index once by sorting and counts the roll-ups again from the cases
(``wangge_rollup_rebuild``, migration 0020).  Everything is in the import's transaction: a
failure, or a dry run, leaves tables, indexes and trigger as they were.

Primary keys and unique constraints go too, and come back as the same constraints (checked
again as they are built), except where a foreign key leans on one (``cases``' own key).  Partial
indexes stay: they hold open cases only, which history seldom adds (and PostgreSQL would print
their predicates back in another, equivalent spelling).

The normal path keeps everything current row by row and locks only the rows it writes: use it
for the daily trickle.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gis.errors import Conflict

#: the tables a bulk import rebuilds (the roll-ups are counted from ``cases``)
TABLES = ("cases", "case_heat", "case_grid_day")
#: how long to wait for other sessions to let go of the tables before giving up
LOCK_TIMEOUT = "5s"
#: sort memory for building each index (the session's usual one is for queries)
MAINTENANCE_WORK_MEM = "512MB"

_PLAIN_INDEXES = text("""
    SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i
    WHERE i.indrelid = CAST(:table AS regclass)
      AND i.indpred IS NULL  -- partial ones are of open cases: history passes them by
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    ORDER BY 1
""")
# primary keys and unique constraints that no foreign key leans on (all but ``cases``' own key)
_FREE_CONSTRAINTS = text("""
    SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c
    WHERE c.conrelid = CAST(:table AS regclass) AND c.contype IN ('p', 'u')
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                      WHERE f.contype = 'f' AND f.conindid = c.conindid)
    ORDER BY 1
""")


def lock_case_tables(session: Session) -> None:
    """Take the case tables for this transaction, or refuse at once (409) if others use them."""
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    try:
        session.execute(text(f"LOCK TABLE {', '.join(TABLES)} IN ACCESS EXCLUSIVE MODE"))
    except OperationalError as e:
        if not isinstance(e.orig, psycopg.errors.LockNotAvailable):
            raise
        raise Conflict(
            f"--bulk 需要独占案件表，但 {LOCK_TIMEOUT} 内仍有其他会话在使用（上报、地图或另一次"
            "导入）。请在维护时段重试，或去掉 --bulk 按常规方式导入（较慢，但不影响在线使用）。",
            f"--bulk needs the case tables to itself, and other sessions (reports, maps, another "
            f"import) still used them after {LOCK_TIMEOUT}. Retry in a quiet period, or import "
            "without --bulk (slower, but the system stays usable).",
            field="bulk",
        ) from None
    session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


@contextmanager
def rebuilt_after(session: Session) -> Iterator[None]:
    """Inside: the case tables without their indexes (but the ones that stay, see above), and
    no roll-up trigger on insert.  After: the roll-ups counted again, then every index and
    constraint built again from its own definition.  Call :func:`lock_case_tables` first."""
    restore: list[str] = []  # the statements that put them back, each from its own definition
    for table in TABLES:
        for name, definition in session.execute(_FREE_CONSTRAINTS, {"table": table}).all():
            session.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
            restore.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for name, definition in session.execute(_PLAIN_INDEXES, {"table": table}).all():
            session.execute(text(f"DROP INDEX {name}"))
            restore.append(definition)
    # migration 0013's trigger; the roll-ups are counted once below instead
    session.execute(text("ALTER TABLE cases DISABLE TRIGGER cases_rollup_insert"))
    yield
    session.execute(text("ALTER TABLE cases ENABLE TRIGGER cases_rollup_insert"))
    session.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
    session.execute(text("SELECT wangge_rollup_rebuild()"))
    for statement in restore:
        session.connection().exec_driver_sql(statement)
    for table in TABLES:
        session.execute(text(f"ANALYZE {table}"))
