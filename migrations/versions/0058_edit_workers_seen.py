"""网格员配备 in an edit set: what a drafted worker list was drawn from.

``grid_edit_item.workers_seen``: with ``workers`` (an explicit list drawn by an assign, a merge
or a new grid), the worker links the list was drawn from, by the current grid code they were
read on (``{"990102001004001": ["W001", "W002"]}``; ``{}`` for a new grid).  The commit applies
the drafted list as a change to those links, so a staffing change made on the grid's record
after the edit set was drawn is kept instead of being silently overwritten.  NULL on items
drawn before this column: their list replaces the grid's, as before.

Revision ID: 0058
Revises: 0057
Create Date: 2026-12-05
"""

from alembic import op

revision = "0058"
down_revision = "0057"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE grid_edit_item ADD COLUMN workers_seen jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE grid_edit_item DROP COLUMN workers_seen")
