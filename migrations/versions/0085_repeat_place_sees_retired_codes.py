"""The repeat warning by place (高频线索) counts the cases of grids retired within its window.

``wangge_repeat_place`` (migrations 0022, 0055) finds the cases within 50 m of a new report in
the last 30 days through the grids around the report (row-level security keeps the spatial
index of ``cases`` out of reach: the cases are found by their indexed ``grid_code``).  It looked
at the current grids only.  A planner's split, merge or recode retires a grid's code, and the
cases that stay behind keep it (closed ones are never moved; open ones go to the new layout):
for 30 days after a redraw, the cases of a changed area were not counted, and trouble that keeps
coming back to one place went unwarned.

Now the grids around the place are those current or retired within the window — any grid a case
of the window can have been given (a case is given a grid valid when it is received, so its
grid's ``valid_to`` lies after the case's own time) — each code once (a redraw that keeps a
code makes a new version of it).

Revision ID: 0085
Revises: 0084
Create Date: 2026-12-06
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0085"
down_revision = "0084"
branch_labels = None
depends_on = None

_CURRENT_ONLY = """\
        FROM grid g JOIN cases o ON o.grid_code = g.code
        WHERE g.valid_to IS NULL AND g.geom && ST_Expand(n.pt, p_repeat_deg)
          AND ST_DWithin(g.geom, n.pt, p_repeat_deg)
"""
_IN_THE_WINDOW = """\
        FROM (SELECT DISTINCT g.code FROM grid g
              WHERE (g.valid_to IS NULL OR g.valid_to > now() - p_repeat_window)
                AND g.geom && ST_Expand(n.pt, p_repeat_deg)
                AND ST_DWithin(g.geom, n.pt, p_repeat_deg)) g
        JOIN cases o ON o.grid_code = g.code
        WHERE true
"""


def _repeat_place(retired: bool) -> str:
    """``wangge_repeat_place`` as migration 0055 made it, or with the retired grids' cases."""
    sql: str = _migration("0055_repeats_count_a_matter_once.py")._repeat_place(matters=True)
    if not retired:
        return sql
    assert sql.count(_CURRENT_ONLY) == 1
    return sql.replace(_CURRENT_ONLY, _IN_THE_WINDOW)


def upgrade() -> None:
    op.execute(_repeat_place(retired=True))


def downgrade() -> None:
    op.execute(_repeat_place(retired=False))
