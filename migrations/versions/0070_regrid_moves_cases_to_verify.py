"""A redraw moves the resolved cases waiting to be verified too, with the open ones.

A case resolved just before its grid was split kept the old grid (a redraw moved open cases
only).  Its verification (现场核查) then belonged to no grid worker: those of the new grids
could neither see it on their phones (listed by grid) nor verify it (their own grids only), for
the 3 working days it waits (``verify_due``, migration 0069) and after.  Now a resolved case
with a verification due is moved as an open one is (a ``regrid`` event; it keeps the center
the workflow gave it in its village, or one above that still covers it: migrations 0042 and
0046).  Cases verified, closed or suspended, and those imported resolved (no ``verify_due``),
keep the version they were handled under.

The resolved ones are found apart (``status = 'resolved'``: few, through ``cases_status``), so
that the open ones are still read through their partial indexes.

The function text is 0046's with that change.

Revision ID: 0070
Revises: 0069
Create Date: 2026-12-05
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0070"
down_revision = "0069"
branch_labels = None
depends_on = None

_BEFORE = """        FROM cases c
        WHERE c.status NOT IN ('resolved', 'verified', 'closed', 'suspended')
          AND (c.grid_code = ANY(p_codes)
               OR c.village_code = ANY(p_villages) AND c.assign_method <> 'covers')
    ),"""
_AFTER = """        FROM cases c
        WHERE c.status NOT IN ('resolved', 'verified', 'closed', 'suspended')
          AND (c.grid_code = ANY(p_codes)
               OR c.village_code = ANY(p_villages) AND c.assign_method <> 'covers')
        UNION ALL  -- resolved, to be verified (migration 0070)
        SELECT c.id, c.code, c.status, c.geom, c.grid_code, c.center_id, c.grid_id,
               c.assign_method, c.village_code
        FROM cases c
        WHERE c.status = 'resolved' AND c.verify_due IS NOT NULL
          AND (c.grid_code = ANY(p_codes)
               OR c.village_code = ANY(p_villages) AND c.assign_method <> 'covers')
    ),"""


def _regrid_sql(new: bool) -> str:
    sql = _migration("0046_regrid_keeps_an_escalation_that_still_covers.py")._regrid_sql(new=True)
    if new:
        assert sql.count(_BEFORE) == 1
        sql = sql.replace(_BEFORE, _AFTER)
    return sql


def upgrade() -> None:
    op.execute(_regrid_sql(new=True))


def downgrade() -> None:
    op.execute(_regrid_sql(new=False))
