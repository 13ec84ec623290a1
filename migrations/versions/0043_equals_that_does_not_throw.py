"""``wangge_equals(a, b)``: ST_Equals that does not throw on valid shapes.

PostGIS's ``ST_Equals`` (GEOS 3.11) threw 'TopologyException: side location conflict' on a
valid grid redrawn in a race of planners and the version it was drawn on
(``tests/data/equals_throws.json``).  The grid edits now compare shapes in Python
(``gis.geo.equal``); the boundary importers compare them set-based in SQL (a re-import of grids,
regions or centers: unchanged, redrawn or moved), and use this function.

Equal vertex for vertex (``=``) is equal; different bounding boxes (``~=``) are not; otherwise
``ST_Equals``, and if GEOS throws, whether the symmetric difference snap-rounded to 1e-9°
(0.1 mm, as ``gis.geo.SNAP_GRID_DEG``) is empty.  The exception block costs a subtransaction,
entered only for shapes with the same bounding box that are not identical.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-04
"""

from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE FUNCTION wangge_equals(a geometry, b geometry) RETURNS boolean
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


def downgrade() -> None:
    op.execute("DROP FUNCTION wangge_equals(geometry, geometry)")
