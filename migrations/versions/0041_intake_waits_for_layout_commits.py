"""A report is located either before a planner's commit or after it, never in between.

A report is located and inserted by one statement of ``wangge_intake_insert``, on that
statement's snapshot.  A planner's commit (``gis.edits.commit``) closes grid versions, opens new
ones and moves the open cases of the changed area to them, on its own snapshots.  When a commit
committed while a report's statement ran, the report had been located on the old layout, and
the commit had moved the cases it could see, not the one still being inserted: the case stayed
open on a closed grid version.  A race of two planners committing redraws of two grids while
two devices sent batches there left 200 of about 2,500 reports so.  (Locking the grid rows would
not do: a foreign-key check only waits for a commit to end, then finds the closed version.)

Now the two take one advisory lock (:data:`gis.edits.LAYOUT_LOCK`): the intake shared — it
never waits for another report — and the commit exclusive, before either reads the layout.  The
intake takes it in a statement of its own, before the one that locates, so that statement's
snapshot holds the commit's result if it had to wait for one; and a commit that starts later
waits for the reports already being located, then moves them with the rest.  Reports wait while
a commit runs: a few milliseconds for one grid, seconds for a redraw of a whole town.

The function text is 0034's with the one statement added.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-04
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

#: the layout lock, as in gis.edits.LAYOUT_LOCK (a migration keeps its own copy: it must stay
#: as it was written)
LAYOUT_LOCK = (74111, 0)
_BEFORE = "    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);\n"
_AFTER = (
    _BEFORE
    + "    -- a planner's commit of the layout, if one is running: wait for it, then locate on\n"
    + "    -- what it made (the next statement's snapshot); a commit waits for this one\n"
    + f"    PERFORM pg_advisory_xact_lock_shared{LAYOUT_LOCK};\n"
)


def _insert_sql(locked: bool) -> str:
    sql = _migration("0034_case_source.py").NEW_INSERT_SQL
    assert sql.count(_BEFORE) == 1
    return sql.replace(_BEFORE, _AFTER) if locked else sql


def upgrade() -> None:
    op.execute(_insert_sql(locked=True))


def downgrade() -> None:
    op.execute(_insert_sql(locked=False))
