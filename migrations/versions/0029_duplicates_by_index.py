"""A new report's possible duplicates are looked up by grid *and* time in the index.

``wangge_intake_register`` (migration 0022) finds the open cases of the same category within
100 m and 72 h of each new case, grid by grid through ``cases_grid_recent`` (grid code,
received at).  Its time condition, ``o.received_at >= near.received_at - p_duplicate_window``,
applies a function that is not leakproof (``timestamptz - interval``) to a column, and the cases'
row-level security lets no such condition run before the policy: so the index was searched by
grid code only, and every case the grid ever had was read and its policy checked, to keep those
of the last 72 hours.  With a year of history (1,000,000 cases in the benchmark's city, about 400
a grid) that was ~650 cases read for each new report, 1.3 of its ~7 ms in the database.  The
threshold is now computed with the new case (``since``, in a materialized CTE: inlined, the
planner would put the expression back), and the condition compares two timestamps (leakproof):
the index finds the grid's last 72 hours directly.  Same links.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent
_CHANGES = (
    (  # materialized: else the planner puts the expression back into the join condition
        "    ), near AS (  -- the grids around each new case, one row each, with the case's"
        " columns\n",
        "    ), near AS MATERIALIZED (  -- the grids around each new case, one row each, with the"
        " case's\n        -- columns and the time from which its possible duplicates count\n",
    ),
    (
        "        SELECT n.id, n.geom, n.category, n.received_at, g.code\n",
        "        SELECT n.id, n.geom, n.category, n.received_at - p_duplicate_window AS since,"
        " g.code\n",
    ),
    (
        "         AND o.received_at >= near.received_at - p_duplicate_window\n",
        "         AND o.received_at >= near.since  -- leakproof: the index's, before the policy\n",
    ),
)


def _register_0022() -> str:
    """``wangge_intake_register`` as migration 0022 made it, to be created or replaced."""
    spec = importlib.util.spec_from_file_location(
        "wangge_migration_0022", HERE / "0022_repeat_place_at_insert.py"
    )
    assert spec is not None and spec.loader is not None
    m22: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m22)
    upgrade: str = m22.UPGRADE
    start = upgrade.index("CREATE FUNCTION wangge_intake_register(")
    end = upgrade.index("$$;", start) + len("$$;")
    return upgrade[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    text = _register_0022()
    for old, new in _CHANGES:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    op.execute(text)


def downgrade() -> None:
    op.execute(_register_0022())
