"""A redraw moves a case to its new grid, not back from the center the workflow gave it.

``wangge_edit_regrid`` (migration 0015) gave every open case of a changed grid the center of
its new grid's chain.  A case the workflow had moved — escalated to the township or the city
(by an operator, or by the clock's supervision), or transferred — went back to the village's
station at the next commit that touched its grid, even when its grid stayed the same: a race
of planners and operators showed "网格调整：990102001001001 → 990102001001001；责任中心：示例市
综治中心 → 兴沙社区综治服务站" on a case the supervision clock had just escalated to the city.

Grid edits change grids within one village, so a case that stays in its village keeps its
center, whichever the workflow made it; a case that changes village (a new grid on land no
grid covered, a grid re-parented by an import) goes to its new village's center, as before.

The function text is 0015's with those changes, each checked.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-04
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None

# (0015's text, the new one), in this order
CHANGES = (
    ("CREATE FUNCTION wangge_edit_regrid(", "CREATE OR REPLACE FUNCTION wangge_edit_regrid("),
    (
        "c.grid_id AS old_grid_id, c.assign_method AS old_method\n",
        "c.grid_id AS old_grid_id, c.assign_method AS old_method,\n"
        "               c.village_code AS old_village\n",
    ),
    (
        "l.city_code, l.center_id,\n           l.method, l.distance_m,",
        "l.city_code, f.center_id,\n           l.method, l.distance_m,",
    ),
    (
        "    FROM cand k JOIN located l ON l.id = k.id\n"
        "    WHERE k.old_grid_id IS DISTINCT FROM l.grid_id OR k.old_center IS DISTINCT FROM "
        "l.center_id\n",
        "    FROM cand k JOIN located l ON l.id = k.id\n"
        "    -- in the same village the case keeps the center the workflow gave it (escalated,\n"
        "    -- transferred); in another it goes to that village's\n"
        "    CROSS JOIN LATERAL (\n"
        "        SELECT CASE WHEN l.village_code IS NOT DISTINCT FROM k.old_village\n"
        "                    THEN k.old_center ELSE l.center_id END AS center_id) f\n"
        "    WHERE k.old_grid_id IS DISTINCT FROM l.grid_id OR k.old_center IS DISTINCT FROM "
        "f.center_id\n",
    ),
)


def _regrid_sql(new: bool) -> str:
    upgrade = _migration("0015_edit_plans.py").UPGRADE
    start = upgrade.index("CREATE FUNCTION wangge_edit_regrid(")
    sql = upgrade[start : upgrade.index("$$;\n", start) + 4]
    for before, after in CHANGES if new else CHANGES[:1]:
        assert sql.count(before) == 1, before
        sql = sql.replace(before, after)
    return sql


def upgrade() -> None:
    op.execute(_regrid_sql(new=True))


def downgrade() -> None:
    op.execute(_regrid_sql(new=False))
