"""The edit set's findings survive a union GEOS 3.11 makes invalid.

``wangge_edit_findings`` (migration 0038) unions each village's working grids (``covered``) and
its current grids (in ``cur_gap``), and takes the village less that union for the gaps.  PostGIS
3.3 on GEOS 3.11 (Debian 12's) returned, for 39 valid grids a fuzzed planner session had
redrawn, a MultiPolygon with one shell inside another ("nested shells"), and the next
``ST_Difference`` threw ``TopologyException: Input geom 1 is invalid``: the validation, the
preview and the commit of that edit set failed with a 500.

Such a union is now made valid by ``wangge_valid`` (new): with ``ST_MakeValid``'s ``structure``
method, which keeps the land of every shell, as a union must (the default method, by linework,
would have made the inner shell a hole, that is a false gap of 18,454 m² here); a valid geometry
passes unchanged.  An overlay's piece is passed through it too before its own difference.  The
rest of the function is 0038's, unchanged (its text is taken from there, each change checked).

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-04
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


VALID = r"""
CREATE FUNCTION wangge_valid(g geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN g IS NULL OR ST_IsValid(g) THEN g
                ELSE ST_CollectionExtract(ST_MakeValid(g, 'method=structure'), 3) END
$$;
"""

# (0038's text, the change)
CHANGES = (
    ("coalesce(ST_Union(w.geom), empty)", "coalesce(wangge_valid(ST_Union(w.geom)), empty)"),
    ("coalesce(ST_Union(c.geom), empty)", "coalesce(wangge_valid(ST_Union(c.geom)), empty)"),
    ("ST_Difference(r.piece, r.before)", "ST_Difference(wangge_valid(r.piece), r.before)"),
)


def findings_sql() -> str:
    sql = _migration("0038_edit_findings_by_overlay.py").UPGRADE
    for before, after in CHANGES:
        assert sql.count(before) == 1, before
        sql = sql.replace(before, after)
    return sql


def upgrade() -> None:
    op.execute(VALID)
    op.execute(findings_sql())


def downgrade() -> None:
    op.execute(_migration("0038_edit_findings_by_overlay.py").UPGRADE)
    op.execute("DROP FUNCTION wangge_valid(geometry)")
