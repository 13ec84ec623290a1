"""Nearby cases by grid *and* time: ``cases (grid_code, received_at)`` replaces ``(grid_code)``.

The duplicate (72 h) and repeat (30 days) checks of every new report look up the cases of the grids
around it; a grid collects years of cases, and with the time in the index only the recent ones are
read.  The new index serves every lookup by grid code alone as well.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX cases_grid_recent ON cases (grid_code, received_at)")
    op.execute("DROP INDEX cases_grid_code")


def downgrade() -> None:
    op.execute("CREATE INDEX cases_grid_code ON cases (grid_code)")
    op.execute("DROP INDEX cases_grid_recent")
