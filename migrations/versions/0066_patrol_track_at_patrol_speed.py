"""巡查里程 counts patrol speed only: a stretch of a track faster than an e-bike is not walked.

A phone's track holds what it was given: a stretch ridden by car or bus between two places, and
a position that jumps a few hundred metres for one fix (a building's shade, a tunnel) and back.
Summed whole, either would add kilometres nobody patrolled to the roster's 巡查里程.
``wangge_track_walked(track, max_mps)``: the track's length in metres over those of its stretches
(from one point to the next) no faster than ``max_mps`` — an e-bike's top speed, 25 km/h (GB
17761-2018), in :data:`gis.patrols.TRACK_MAX_KMH`.  A stretch between two points of the same
second counts if it is no longer than one second at that speed.  The line itself is kept as sent.

``track_m`` of the check-ins stored is counted again the same way.

Revision ID: 0066
Revises: 0065
Create Date: 2026-12-05
"""

from alembic import op

revision = "0066"
down_revision = "0065"
branch_labels = None
depends_on = None

#: as gis.patrols.TRACK_MAX_KMH (a migration keeps its own copy of what it stored)
MAX_MPS = 25 / 3.6


def upgrade() -> None:
    op.execute("""
CREATE FUNCTION wangge_track_walked(track geometry, max_mps double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(sum(s.d), 0)
    FROM (SELECT ST_Length(CAST(ST_Force2D(d.geom) AS geography)) AS d,
                 ST_M(ST_EndPoint(d.geom)) - ST_M(ST_StartPoint(d.geom)) AS dt
          FROM ST_DumpSegments(track) d) s
    WHERE s.d <= max_mps * greatest(s.dt, 1)
$$;
""")
    op.execute(
        f"UPDATE patrol SET track_m = wangge_track_walked(track, {MAX_MPS!r}) "
        "WHERE track IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("""
UPDATE patrol SET track_m = ST_Length(CAST(ST_Force2D(track) AS geography))
WHERE track IS NOT NULL;
DROP FUNCTION wangge_track_walked(geometry, double precision);
""")
