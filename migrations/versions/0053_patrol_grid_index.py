"""巡查覆盖: check-ins by the grid they were made in, for the command map's patrol days per grid;
accounts by their grid worker, for the daily roll-up's 未巡查.

The map asks, for the grids in view, on how many days of the period someone checked in there:
a range of each grid's check-ins in time order.  The roll-up asks, for each grid worker of a
region, whether they have an account (only those can check in): a lookup by worker.

Revision ID: 0053
Revises: 0052
Create Date: 2026-12-05
"""

from alembic import op

revision = "0053"
down_revision = "0052"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX patrol_grid_at ON patrol (grid_code, checked_at)")
    op.execute("CREATE INDEX app_user_worker ON app_user (worker_id) WHERE worker_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX app_user_worker")
    op.execute("DROP INDEX patrol_grid_at")
