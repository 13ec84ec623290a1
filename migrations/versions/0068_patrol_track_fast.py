"""The stretches of a patrol track that 巡查里程 leaves out, kept with the check-in.

``track_fast``: for a check-in's track, the stretches (``i``: from point i to point i + 1, from 0)
faster than an e-bike, which ``track_m`` leaves out (migration 0066) and the maps draw apart.
Worked out once, as the check-in goes in (``wangge_track_fast``), not at every list: a
township's day of routes is some hundred thousand stretches, 2 µs each.  NULL: no track.

Revision ID: 0068
Revises: 0067
Create Date: 2026-12-05
"""

from alembic import op

revision = "0068"
down_revision = "0067"
branch_labels = None
depends_on = None

#: as gis.patrols.TRACK_MAX_KMH (a migration keeps its own copy of what it stored)
MAX_MPS = 25 / 3.6


def upgrade() -> None:
    op.execute("""
CREATE FUNCTION wangge_track_fast(track geometry, max_mps double precision)
RETURNS integer[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT ARRAY(
        SELECT d.path[1] - 1 FROM ST_DumpSegments(track) d
        WHERE ST_Length(CAST(ST_Force2D(d.geom) AS geography))
              > max_mps * greatest(ST_M(ST_EndPoint(d.geom)) - ST_M(ST_StartPoint(d.geom)), 1)
        ORDER BY 1)
$$;
ALTER TABLE patrol ADD COLUMN track_fast integer[];
""")
    op.execute(
        f"UPDATE patrol SET track_fast = wangge_track_fast(track, {MAX_MPS!r}) "
        "WHERE track IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("""
ALTER TABLE patrol DROP COLUMN track_fast;
DROP FUNCTION wangge_track_fast(geometry, double precision);
""")
