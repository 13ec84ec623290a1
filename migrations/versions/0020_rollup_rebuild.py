"""The map roll-ups rebuilt from the cases in one pass, for bulk imports.

The roll-ups of migration 0013 are kept by statement-level triggers.  For a big first load of
history that is the slowest part of the import: a million imported cases make about 2.7 million
new ``case_heat`` rows, each one an ``INSERT … ON CONFLICT`` into three indexes.  A bulk import
(``wangge import cases --bulk``) locks the case tables, turns the insert trigger off, and
afterwards calls ``wangge_rollup_rebuild()``: both roll-ups emptied and counted again from
``cases`` (the bulk import drops their indexes first and builds them after), the same counts
0013's first fill makes.  ``ROLLUP_MISMATCH`` (``tests/api/test_command.py``) checks them
against the cases.

Only the owner may call it (it empties two tables).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-22
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE FUNCTION wangge_rollup_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE case_heat, case_grid_day;
    INSERT INTO case_heat (res, cx, cy, township_code, district_code, city_code, day, kind,
                           category, n)
    SELECT cell.res, cell.cx, cell.cy, coalesce(c.township_code, ''),
           coalesce(c.district_code, ''), coalesce(c.city_code, ''),
           (c.received_at AT TIME ZONE 'Asia/Shanghai')::date, c.kind, c.category, count(*)
    FROM cases c, wangge_heat_cells(c.geom) cell
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
    INSERT INTO case_grid_day (grid_code, day, kind, category, n)
    SELECT c.grid_code, (c.received_at AT TIME ZONE 'Asia/Shanghai')::date, c.kind, c.category,
           count(*)
    FROM cases c WHERE c.grid_code IS NOT NULL
    GROUP BY 1, 2, 3, 4;
END $$;
REVOKE EXECUTE ON FUNCTION wangge_rollup_rebuild() FROM PUBLIC;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP FUNCTION wangge_rollup_rebuild()")
