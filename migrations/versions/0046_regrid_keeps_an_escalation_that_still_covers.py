"""A case moved into another village keeps the center the workflow gave it while that center
still covers the new place.

Migration 0042 let a case keep its center (escalated, transferred) when a commit moved it within
its village, and sent one that changed village to its new village's center.  A case changes
village when a new grid covers land that had none (the case was assigned to the nearest grid,
in the next village) or when a grid import re-parents a grid.  A case escalated to the township
then went back down to the new village's station, undoing the escalation.

Now a case that changes village keeps its center when the workflow had moved it there — its
center is not the one its old village's chain gives — and that center's region is the new
village or one of its ancestors (a township, district or city center above it).  Otherwise it
goes to the new village's center, as before: a case its old village's station held by default,
and one transferred to a center that does not cover its new place.

The function text is 0042's with that change.

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-04
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None

BEFORE = (
    "    -- in the same village the case keeps the center the workflow gave it (escalated,\n"
    "    -- transferred); in another it goes to that village's\n"
    "    CROSS JOIN LATERAL (\n"
    "        SELECT CASE WHEN l.village_code IS NOT DISTINCT FROM k.old_village\n"
    "                    THEN k.old_center ELSE l.center_id END AS center_id) f\n"
)
AFTER = """\
    -- the case keeps the center the workflow gave it (escalated, transferred) in the same
    -- village, and in another while that center covers the new place; else (and a case its
    -- old village's chain gave its center by default) it goes to the new village's
    CROSS JOIN LATERAL (
        SELECT CASE WHEN l.village_code IS NOT DISTINCT FROM k.old_village
                      OR k.old_center IS DISTINCT FROM (
                             SELECT ch.center_id FROM region ov
                             CROSS JOIN LATERAL wangge_village_chain(ov.id) ch
                             WHERE ov.code = k.old_village AND ov.level = 'village')
                         AND EXISTS (
                             SELECT 1 FROM center oc JOIN region r ON r.id = oc.region_id
                             WHERE oc.id = k.old_center
                               AND r.code IN (l.village_code, l.township_code,
                                              l.district_code, l.city_code))
                    THEN k.old_center ELSE l.center_id END AS center_id) f
"""


def _regrid_sql(new: bool) -> str:
    sql = _migration("0042_regrid_keeps_the_workflows_center.py")._regrid_sql(new=True)
    if new:
        assert sql.count(BEFORE) == 1
        sql = sql.replace(BEFORE, AFTER)
    return sql


def upgrade() -> None:
    op.execute(_regrid_sql(new=True))


def downgrade() -> None:
    op.execute(_regrid_sql(new=False))
