"""Bulk loading of historical cases: indexes, checks and map roll-ups done once, not row by row.

``wangge import cases FILE --commit --bulk``, for a city's first load of years of history.  The
import's transaction locks ``cases``, its events and its two roll-ups exclusively (reports, case
lists and maps wait until it commits) and the tables they refer to against writes (grids,
centers, categories, users).  It then drops their indexes and foreign keys, inserts with the
roll-up trigger off (into new files of ``cases`` and its events where that pays off, so
without WAL: :func:`rewrite_pays_off`), and afterwards counts the roll-ups again from the cases
(``wangge_rollup_rebuild``, migration 0020), builds each index once by sorting and checks each
foreign key once with a join.  Everything is in the import's transaction: a failure, or a dry
run, leaves tables, indexes, constraints and trigger as they were.

Primary keys and unique constraints come back as the same constraints (checked again as they
are built), except where a foreign key leans on one (``cases``' own key stays).  Partial indexes
stay: they hold open cases only, which history seldom adds (and PostgreSQL would print their
predicates back in another, equivalent spelling).

The normal path keeps everything current row by row and locks only the rows it writes: use it
for the daily trickle.  A ``--bulk`` import that adds little to what is stored takes the normal
path too (:func:`pays_off`), and says so in its report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gis.errors import Conflict
from gis.figures import mark_all, refresh_all
from importers.core import Both

#: the tables a bulk import writes and rebuilds (the roll-ups are counted from ``cases``)
TABLES = ("cases", "case_event", "case_heat", "case_grid_day")
#: how long to wait for other sessions to let go of the tables before giving up
LOCK_TIMEOUT = "5s"
#: sort memory for building each index (the session's usual one is for queries)
MAINTENANCE_WORK_MEM = "512MB"
#: the least share of the stored cases a file must add for --bulk to be worth it.  The rebuild
#: works over every stored case (about 40 µs each); a new case costs about 75 µs in bulk and
#: 250 µs or more row by row.  Measured into 1,040,000 stored cases: 100,000 took 23–27 s the
#: normal way and 49 s in bulk, 300,000 took 85 s and 64 s — even at about a fifth; above it
#: bulk is faster, but reports and maps wait all along, so a quarter.
MIN_SHARE = 1 / 4

_TABLES = "CAST(:tables AS regclass[])"
# the tables that TABLES refer to: nobody may change them while the references are unchecked
_REFERENCED = text(f"""
    SELECT DISTINCT confrelid::regclass::text FROM pg_constraint
    WHERE contype = 'f' AND conrelid = ANY({_TABLES}) AND NOT confrelid = ANY({_TABLES})
    ORDER BY 1
""")
# what is dropped, in this order, and put back in the reverse order: foreign keys; primary keys
# and unique constraints that no foreign key leans on; plain indexes
_DROPPED = text(f"""
    SELECT 1 AS step, c.conrelid::regclass::text AS tab, c.conname AS name,
           pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c
    WHERE c.conrelid = ANY({_TABLES}) AND c.contype = 'f'
    UNION ALL
    SELECT 2, c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
    FROM pg_constraint c
    WHERE c.conrelid = ANY({_TABLES}) AND c.contype IN ('p', 'u')
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                      WHERE f.contype = 'f' AND f.conindid = c.conindid
                        AND NOT f.conrelid = ANY({_TABLES}))
    UNION ALL
    SELECT 3, i.indrelid::regclass::text, i.indexrelid::regclass::text,
           pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = ANY({_TABLES})
      AND i.indpred IS NULL  -- partial ones are of open cases: history passes them by
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    ORDER BY 1, 2, 3
""")


def stored_cases(session: Session) -> int:
    """How many cases are stored (all of them: the importer sees every jurisdiction)."""
    return int(session.execute(text("SELECT count(*) FROM cases")).scalar_one())


def pays_off(stored: int, new: int) -> bool:
    """Whether rebuilding over ``stored`` cases beats adding ``new`` ones row by row."""
    return new > 0 and new >= MIN_SHARE * stored


def declined(stored: int, new: int) -> Both:
    """The report's warning when --bulk was asked for and the normal path taken."""
    return Both(
        f"未按 --bulk 导入：案件表已有 {stored:,} 件，本次新增至多 {new:,} 件，逐行写入更快，"
        "且不锁表",
        f"--bulk not used: {new:,} new cases at most into {stored:,} stored are faster row by "
        "row, and the tables stay usable",
    )


def lock_case_tables(session: Session) -> None:
    """Take the case tables for this transaction, or refuse at once (409) if others use them."""
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    referenced = session.execute(_REFERENCED, {"tables": list(TABLES)}).scalars().all()
    try:
        session.execute(text(f"LOCK TABLE {', '.join(TABLES)} IN ACCESS EXCLUSIVE MODE"))
        if referenced:
            tables = ", ".join(referenced)
            session.execute(text(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE"))
    except OperationalError as e:
        if not isinstance(e.orig, psycopg.errors.LockNotAvailable):
            raise
        raise Conflict(
            f"--bulk 需要独占案件表，但 {LOCK_TIMEOUT} 内仍有其他会话在使用（上报、地图、网格编辑"
            "或另一次导入）。请在维护时段重试，或去掉 --bulk 按常规方式导入（较慢，但不影响在线"
            "使用）。",
            f"--bulk needs the case tables to itself, and other sessions (reports, maps, grid "
            f"edits, another import) still used them after {LOCK_TIMEOUT}. Retry in a quiet "
            "period, or import without --bulk (slower, but the system stays usable).",
            field="bulk",
        ) from None
    session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def rewrite_pays_off(session: Session, stored: int, new: int) -> bool:
    """Whether to rewrite the case tables into new files before inserting ``new`` cases.

    With ``wal_level = minimal`` (the embedded cluster's, :mod:`gis.embedded`), rows written
    into a file that the same transaction created need no WAL: the file is synced to disk at
    commit instead.  ``CLUSTER`` gives ``cases`` and ``case_event`` new files, copying the stored
    rows; the million new cases and their events then go in without a WAL record each.
    Measured: a plain insert of 1,012,000 cases took 8.0 s with their WAL and 5.9 s without; in
    the benchmark's import, the insert stage took about 1 s less (of 14).  The copy costs about
    3.4 µs per stored case, the WAL about 2 µs per new one: worth it for a first load into a
    young database, not for a large addition to a large one."""
    level = session.execute(text("SELECT current_setting('wal_level')")).scalar_one()
    return level == "minimal" and REWRITE_SHARE * new >= stored


#: the most stored cases, as a share of the new ones, that a rewrite (above) still pays off for
REWRITE_SHARE = 1 / 2
# the tables the insert adds rows to (the roll-ups are emptied and counted again anyway), each
# rewritten in the order of its primary key
_REWRITTEN = ("cases", "case_event")
_PRIMARY_KEY = text("""
    SELECT conindid::regclass::text FROM pg_constraint
    WHERE conrelid = CAST(:table AS regclass) AND contype = 'p'
""")


@contextmanager
def rebuilt_after(session: Session, rewrite: bool = False) -> Iterator[None]:
    """Inside: the case tables without their foreign keys and indexes (but those that stay, see
    above), and no roll-up trigger on insert.  After: the roll-ups counted again, then every
    index and constraint built and checked again from its own definition.  ``rewrite``: the
    tables the insert adds to get new files first (:func:`rewrite_pays_off`).  Call
    :func:`lock_case_tables` first."""
    restore: list[str] = []  # the statements that put them back

    def drop(step: int, table: str, name: str, definition: str) -> None:
        if step == 3:
            session.execute(text(f"DROP INDEX {name}"))
            restore.append(definition)
        else:
            session.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
            restore.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")

    dropped = session.execute(_DROPPED, {"tables": list(TABLES)}).all()
    for step, table, name, definition in dropped:  # foreign keys and plain indexes
        if step != 2:
            drop(step, table, name, definition)
    if rewrite:  # before the keys go: it orders by them, and copies only the indexes left
        _rewrite(session)
    for step, table, name, definition in dropped:  # primary keys, unique constraints
        if step == 2:
            drop(step, table, name, definition)
    # migration 0013's trigger; the roll-ups are counted once below instead
    session.execute(text("ALTER TABLE cases DISABLE TRIGGER cases_rollup_insert"))
    yield
    session.execute(text("ALTER TABLE cases ENABLE TRIGGER cases_rollup_insert"))
    session.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
    # the cases' statistics first: counted from the empty or small table of before, the
    # roll-ups' groups were taken for seven times as many, sorted instead of hashed, and a million
    # cases took 12 s instead of 8 (the indexes built after need no other statistics)
    session.execute(text("ANALYZE cases"))
    session.execute(text("SELECT wangge_rollup_rebuild()"))
    for statement in reversed(restore):  # keys, indexes, then the references to the keys
        session.connection().exec_driver_sql(statement)
    for table in TABLES:
        if table != "cases":
            session.execute(text(f"ANALYZE {table}"))


def _rewrite(session: Session) -> None:
    """Copy each table the insert adds to into a new file, in the order of its primary key."""
    for table in _REWRITTEN:
        key = session.execute(_PRIMARY_KEY, {"table": table}).scalar_one()
        session.execute(text(f"CLUSTER {table} USING {key}"))
        session.execute(text(f"ALTER TABLE {table} SET WITHOUT CLUSTER"))  # as it was


def recount(session: Session) -> int:
    """Count again what the triggers keep as cases come and go, from the cases themselves: the
    map roll-ups (``wangge_rollup_rebuild``, migration 0020), the in-tray's counts per state
    (``wangge_state_count_rebuild``, migration 0083) and each case's handling
    (``wangge_case_handled_refresh``, migration 0064).  For after a repair by hand that passed
    the triggers by (a restore of one table, an SQL fix with the triggers off).  Holds the case
    tables as a bulk import does (:func:`lock_case_tables`: 409 if others use them); the caller
    commits.  Returns how many cases' handling was corrected."""
    lock_case_tables(session)
    session.execute(text("SELECT wangge_rollup_rebuild()"))
    session.execute(text("SELECT wangge_state_count_rebuild()"))
    mark_all(session)  # the roll-up's figures: every day's counted again
    refresh_all(session)
    return int(session.execute(text("SELECT wangge_case_handled_refresh()")).scalar_one())
