"""A second way to the edit set's findings, for when GEOS throws: every overlay snap-rounded.

``wangge_edit_findings`` (migrations 0038, 0039) computes unions, intersections and
differences in floating point.  PostGIS 3.3 on GEOS 3.11 threw on one of them for a fuzzed edit
set (``ST_Union`` of its declared gaps: ``TopologyException: found non-noded intersection``), and
the validation, preview and commit were a 500.  ``wangge_edit_findings_snapped`` is the same
function with each union, intersection and difference given a grid of 1e-9° (0.1 mm): GEOS'
overlay then snap-rounds, which is robust by construction.  It is called only when the first
one throws (``gis.edits._validate``): the coordinates it works on move by up to 0.1 mm, a
thousandth of the tolerance, so its findings are the same but for that.

The function text is 0039's (itself 0038's with three changes), each change checked.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-04
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

GRID = "1e-9"


# (0039's text, the snapped one), in this order
CHANGES = (
    ("FUNCTION wangge_edit_findings(", "FUNCTION wangge_edit_findings_snapped("),
    ("ST_Union(w.geom)", f"ST_Union(w.geom, {GRID})"),
    (
        "ST_Union(ST_Difference(c.geom, v.geom))",
        f"ST_Union(ST_Difference(c.geom, v.geom, {GRID}), {GRID})",
    ),
    (
        "ST_Intersection(a.geom, b.geom), 3)), p_tol)",
        f"ST_Intersection(a.geom, b.geom, {GRID}), 3), {GRID}), p_tol)",
    ),
    (
        "ST_Difference(v.geom, coalesce(wangge_valid(ST_Union(c.geom)), empty))",
        f"ST_Difference(v.geom, coalesce(wangge_valid(ST_Union(c.geom, {GRID})), empty), {GRID})",
    ),
    ("ST_Union(geom), p_tol)", f"ST_Union(geom, {GRID}), p_tol)"),
    ("ST_Intersection(a.geom, b.geom), 3),\n", f"ST_Intersection(a.geom, b.geom, {GRID}), 3),\n"),
    ("ST_Intersection(piece, excused)", f"ST_Intersection(piece, excused, {GRID})"),
    ("ST_Intersection(p.piece, p.excused)", f"ST_Intersection(p.piece, p.excused, {GRID})"),
    ("ST_Difference(w.geom, v.geom)", f"ST_Difference(w.geom, v.geom, {GRID})"),
    ("ST_Difference(v.geom, cv.geom)", f"ST_Difference(v.geom, cv.geom, {GRID})"),
    (
        "ST_Difference(wangge_valid(r.piece), r.before)",
        f"ST_Difference(wangge_valid(r.piece), r.before, {GRID})",
    ),
    ("ST_Difference(p.piece, p.excused)", f"ST_Difference(p.piece, p.excused, {GRID})"),
)


def snapped_sql() -> str:
    sql = _migration("0039_edit_findings_valid_unions.py").findings_sql()
    for before, after in CHANGES:
        assert sql.count(before) == 1, before
        sql = sql.replace(before, after)
    # every overlay of the function has its grid now: 5 unions, 4 intersections, 6 differences
    assert sql.count(f", {GRID})") == 15
    return sql


def upgrade() -> None:
    op.execute(snapped_sql())


def downgrade() -> None:
    op.execute("DROP FUNCTION wangge_edit_findings_snapped(integer, double precision)")
