"""An edit set's staffing may give each worker a part in the grid's team.

``grid_edit_item.roles`` (``{worker code: role}``, :data:`gis.roles.GRID_ROLES`): what an
``assign`` (or a ``create`` with workers) of the edit set said of the workers' parts.  At the
commit a worker it names gets that part; the others keep theirs, as on the grid's record
(``PUT /api/grids/{code}/workers``).  NULL: it named none.

Revision ID: 0063
Revises: 0062
Create Date: 2026-12-05
"""

from alembic import op

revision = "0063"
down_revision = "0062"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE grid_edit_item ADD COLUMN roles jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE grid_edit_item DROP COLUMN roles")
