"""``wangge_equals(a, b)``: equal also when they differ by less than 1e-9° (0.1 mm) everywhere.

A GIS team works in its own projection (a CGCS2000 Gauss–Krüger zone, EPSG:4547 …): a layer
exported from wangge, opened there and saved again, comes back with every coordinate moved by
the round trip through the projection, by 1e-12° or so.  Compared exactly, each such grid was
"redrawn" (a new version, its open cases moved onto it) and each region or center "updated":
re-importing an unchanged file through a projection rewrote the whole layout.  Now shapes with
as many points, whose bounding boxes are within the tolerance and whose (discrete) Hausdorff
distance is at most 1e-9° (``gis.geo.SNAP_GRID_DEG``, 0.1 mm), are equal; a planner's change
moves a vertex by metres.  Otherwise as migration 0043: exactly equal, else ``ST_Equals``, and
if GEOS throws, whether the snap-rounded symmetric difference is empty.

Revision ID: 0056
Revises: 0055
Create Date: 2026-12-05
"""

from alembic import op

revision = "0056"
down_revision = "0055"
branch_labels = None
depends_on = None

TOLERANCE = "1e-9"


def upgrade() -> None:
    op.execute(f"""
CREATE OR REPLACE FUNCTION wangge_equals(a geometry, b geometry) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF a = b THEN
        RETURN true;
    END IF;
    IF NOT (ST_Expand(box2d(a), {TOLERANCE}) ~ box2d(b)
            AND ST_Expand(box2d(b), {TOLERANCE}) ~ box2d(a)) THEN
        RETURN false;
    END IF;
    IF ST_GeometryType(a) = ST_GeometryType(b) AND ST_NPoints(a) = ST_NPoints(b)
       AND ST_HausdorffDistance(a, b) <= {TOLERANCE} THEN
        RETURN true;  -- the same shape, moved by a projection's round trip
    END IF;
    IF NOT a ~= b THEN
        RETURN false;
    END IF;
    BEGIN
        RETURN ST_Equals(a, b);
    EXCEPTION WHEN internal_error THEN  -- GEOS' TopologyException
        RETURN ST_IsEmpty(ST_SymDifference(a, b, 1e-9));
    END;
END
$$;
""")


def downgrade() -> None:
    op.execute("""
CREATE OR REPLACE FUNCTION wangge_equals(a geometry, b geometry) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF a = b THEN
        RETURN true;
    END IF;
    IF NOT a ~= b THEN
        RETURN false;
    END IF;
    BEGIN
        RETURN ST_Equals(a, b);
    EXCEPTION WHEN internal_error THEN  -- GEOS' TopologyException
        RETURN ST_IsEmpty(ST_SymDifference(a, b, 1e-9));
    END;
END
$$;
""")
