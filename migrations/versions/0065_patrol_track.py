"""巡查轨迹: the way a grid worker walked to a check-in.

The phone keeps its positions while the patrol page is open (a fix of 50 m or better, a point
every 10 m walked) and sends those since the last check-in with the next one.  ``track``: those
points as a line in WGS 84, each with its time (M, seconds since 1970); ``track_m``: its length
in metres.  NULL: a check-in without a track (as all before).

Revision ID: 0065
Revises: 0064
Create Date: 2026-12-05
"""

from alembic import op

revision = "0065"
down_revision = "0064"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE patrol ADD COLUMN track geometry(LineStringM, 4326),
                   ADD COLUMN track_m double precision;
""")


def downgrade() -> None:
    op.execute("ALTER TABLE patrol DROP COLUMN track, DROP COLUMN track_m")
