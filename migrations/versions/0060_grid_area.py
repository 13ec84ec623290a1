"""A grid's area, stored: ``grid.area_m2``, generated from its geometry on the ellipsoid.

The ledger (网格台账) shows every grid's area and sums a region's: computing
``ST_Area(geom::geography)`` for each of a city's 2,617 grids on every page took about a third
of the page's time (25 of 72 ms), and would grow with a province's grids.  A generated column is
computed once when a version is written (a redraw writes a new version) and never drifts from
the geometry.

Revision ID: 0060
Revises: 0059
Create Date: 2026-12-05
"""

from alembic import op

revision = "0060"
down_revision = "0059"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE grid ADD COLUMN area_m2 double precision
    GENERATED ALWAYS AS (ST_Area(CAST(geom AS geography))) STORED
""")


def downgrade() -> None:
    op.execute("ALTER TABLE grid DROP COLUMN area_m2")
