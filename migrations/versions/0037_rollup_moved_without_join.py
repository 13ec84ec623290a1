"""The update roll-up trigger compares the old and new rows as multisets, never by a join.

``wangge_rollup_moved`` (migrations 0013 and 0019) found the updated rows whose place, time,
kind or category changed by joining the statement's two transition tables on ``id``, first in
``IF NOT EXISTS (…)``.  An ``EXISTS`` is planned for its first row, and PL/pgSQL keeps the plan
for the connection: a nested loop that scans ``new_rows`` once for every old row.  Over a few
thousand rows that is nothing; once the transition tables no longer fit in ``work_mem`` each
scan reads them back from a temporary file.  Measured on the bench database: an ``UPDATE`` of
150,000 cases' deadlines took 16.6 s, one of 250,000 had not ended after ten minutes (the
server was found re-reading the spilled table, ``tuplestore_gettupleslot`` under
``ExecSetParamPlan``).

What the roll-ups count of a row is its counted columns only (``COLUMNS`` of 0013: the point,
the jurisdiction, the time, the kind, the category, the grid), so what an update changes in
them is the difference of two multisets: the new rows' counted columns less the old rows', each
with sign +1, and the old rows' less the new rows', with sign -1 (``EXCEPT ALL``).  That is a
sort or a hash of each side, never a rescan, whatever the plan; rows that did not move cancel
out, and so do two cases that swapped places.  An update that moves nothing still returns at
once (the first difference is empty).  Geometries compare exactly (``=``): a point rewritten in
another but equal form is counted out and back in, and nets to nothing in the upsert.

Measured on the bench database in the same session (rolled back): the 250,000 deadlines in
29 s, with the trigger's share included.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-03
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def _upgrade_sql() -> str:
    m = _migration("0013_map_rollups.py")
    new_less_old = f"SELECT {m.COLUMNS} FROM new_rows EXCEPT ALL SELECT {m.COLUMNS} FROM old_rows"
    old_less_new = f"SELECT {m.COLUMNS} FROM old_rows EXCEPT ALL SELECT {m.COLUMNS} FROM new_rows"
    return rf"""
CREATE OR REPLACE FUNCTION wangge_rollup_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- as many old rows as new ones: when the new are among the old, nothing moved
    IF NOT EXISTS ({new_less_old}) THEN
        RETURN NULL;  -- a status, a deadline, flags …: nothing the roll-ups count
    END IF;
    WITH changed AS (
        SELECT 1 AS sign, {m.COLUMNS} FROM ({new_less_old}) added
        UNION ALL
        SELECT -1 AS sign, {m.COLUMNS} FROM ({old_less_new}) removed
    ),
    {m.APPLY}
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(_upgrade_sql())


def downgrade() -> None:
    op.execute(_migration("0019_rollup_early_exit.py")._upgrade_sql())
