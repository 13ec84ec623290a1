"""The edit set's findings from overlays only, never from a relate predicate between polygons.

``wangge_edit_findings`` (migration 0015) chose the pairs of grids to compare with
``ST_Intersects(a, b) AND NOT ST_Touches(a, b)`` and the grids sticking out of their village with
``NOT ST_CoveredBy(grid, village)``.  Those predicates go through GEOS' relate graph, which in
GEOS 3.11 (Debian 12's, under PostGIS 3.3) is not robust: two valid grids whose edges run a
hair's breadth apart can make it throw ``TopologyException: side location conflict``.  Seen
when redrawn grids were snapped next to their neighbours: the preview, the validation and the
commit of the edit set all failed with a 500, and the planner could not get past it.

The overlays (``ST_Intersection``, ``ST_Difference``: OverlayNG since GEOS 3.9) are robust, and
the findings were taken from them already.  So the pairs are now those whose boxes meet
(``&&``), and a pair overlaps when their intersection has an area part
(``ST_CollectionExtract(…, 3)`` is empty for neighbours that only share an edge); a grid sticks
out when its difference with the village is not empty (the pieces were filtered so already);
and a piece is excused when its intersection with the declared gaps is not empty (the same as
``ST_Intersects``).  The findings are the same; only the failure is gone.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-03
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


UPGRADE = r"""
CREATE OR REPLACE FUNCTION wangge_edit_findings(p_edit integer, p_tol double precision)
RETURNS TABLE (kind text, grids text[], village varchar, blocking boolean,
               area_m2 double precision, lon double precision, lat double precision,
               geometry json)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    empty CONSTANT geometry := ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, 4326);
BEGIN
    RETURN QUERY
    WITH items AS MATERIALIZED (SELECT * FROM grid_edit_item WHERE edit_id = p_edit),
    -- every problem the edit set can add lies in land a drafted grid covers before or after it (a
    -- new gap was covered before, a new overlap or overhang is covered after): the village coverage
    -- is checked inside that zone, with a margin, which finds the same as checking all of it
    zone AS MATERIALIZED (
        SELECT i.village_id AS id,
               ST_SetSRID(CAST(ST_Expand(ST_Extent(x.geom), 4 * p_tol) AS geometry), 4326) AS box
        FROM items i LEFT JOIN grid g ON g.id = i.from_id,
             LATERAL (VALUES (i.geom), (g.geom)) x(geom)
        GROUP BY 1),
    vill AS MATERIALIZED (SELECT r.id, r.code, wangge_clip(r.geom, z.box) AS geom, z.box
             FROM region r JOIN zone z ON z.id = r.id),
    cur AS MATERIALIZED (SELECT g.id, g.code, g.village_id, wangge_clip(g.geom, v.box) AS geom
            FROM grid g JOIN vill v ON v.id = g.village_id
            WHERE g.valid_to IS NULL AND g.geom && v.box),
    work AS MATERIALIZED (
        SELECT c.code, c.village_id, c.geom, false AS touched FROM cur c
        WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.from_id = c.id)
        UNION ALL
        SELECT i.code, i.village_id, wangge_clip(i.geom, v.box), true
        FROM items i JOIN vill v ON v.id = i.village_id WHERE i.geom IS NOT NULL
    ),
    covered AS MATERIALIZED (SELECT v.id, coalesce(ST_Union(w.geom), empty) AS geom
                FROM vill v LEFT JOIN work w ON w.village_id = v.id GROUP BY v.id),
    -- what the current layout already gets wrong: a finding there is not the edit set's doing
    cur_out AS MATERIALIZED (SELECT c.village_id AS id,
                       ST_Buffer(ST_Union(ST_Difference(c.geom, v.geom)), p_tol) AS geom
                FROM cur c JOIN vill v ON v.id = c.village_id GROUP BY 1),
    cur_overlap AS MATERIALIZED (SELECT a.village_id AS id,
                           ST_Buffer(ST_Union(ST_CollectionExtract(
                               ST_Intersection(a.geom, b.geom), 3)), p_tol) AS geom
                    FROM cur a JOIN cur b ON b.village_id = a.village_id AND a.code < b.code
                     AND a.geom && b.geom
                    GROUP BY 1),
    cur_gap AS MATERIALIZED (SELECT v.id,
                       ST_Buffer(ST_Difference(v.geom, coalesce(ST_Union(c.geom), empty)), p_tol)
                       AS geom
                FROM vill v LEFT JOIN cur c ON c.village_id = v.id GROUP BY v.id, v.geom),
    declared AS MATERIALIZED (
        SELECT village_id AS id, ST_Buffer(ST_Union(geom), p_tol) AS geom FROM grid_edit_gap
        WHERE edit_id = p_edit GROUP BY 1),
    raw AS (
        SELECT 'outside' AS kind, ARRAY[w.code]::text[] AS grids, v.code AS village,
               ST_Difference(w.geom, v.geom) AS piece,
               coalesce(co.geom, empty) AS before, empty AS excused
        FROM work w JOIN vill v ON v.id = w.village_id LEFT JOIN cur_out co ON co.id = v.id
        WHERE w.touched
        UNION ALL
        SELECT 'overlap', ARRAY[least(a.code, b.code), greatest(a.code, b.code)]::text[], v.code,
               ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3),
               coalesce(co.geom, empty), empty
        FROM work a JOIN work b ON b.village_id = a.village_id AND a.code <> b.code
             AND (a.code < b.code OR NOT b.touched) AND a.geom && b.geom
        JOIN vill v ON v.id = a.village_id LEFT JOIN cur_overlap co ON co.id = v.id
        WHERE a.touched
        UNION ALL
        SELECT 'gap', ARRAY[]::text[], v.code,
               ST_Difference(v.geom, cv.geom), coalesce(cg.geom, empty), coalesce(d.geom, empty)
        FROM vill v JOIN covered cv ON cv.id = v.id LEFT JOIN cur_gap cg ON cg.id = v.id
        LEFT JOIN declared d ON d.id = v.id
    ),
    pieces AS (
        SELECT r.kind, r.grids, r.village, d.geom AS piece, r.excused,
               NOT ST_IsEmpty(ST_Buffer(d.geom, -p_tol / 2)) AS wide
        FROM raw r,
             ST_Dump(ST_CollectionExtract(ST_Difference(r.piece, r.before), 3)) d
        WHERE NOT ST_IsEmpty(r.piece)
    ),
    found AS (
        SELECT kind, grids, village, piece, ST_IsEmpty(ST_Intersection(piece, excused))
               AS blocking
        FROM pieces WHERE wide AND kind <> 'gap'
        UNION ALL  -- a gap: blocking where not declared uncovered, reported where declared
        SELECT 'gap', grids, village, g.geom, true FROM pieces p,
               ST_Dump(ST_CollectionExtract(ST_Difference(p.piece, p.excused), 3)) g
        WHERE p.kind = 'gap' AND p.wide AND NOT ST_IsEmpty(ST_Buffer(g.geom, -p_tol / 2))
        UNION ALL
        SELECT 'declared_gap', grids, village, g.geom, false FROM pieces p,
               ST_Dump(ST_CollectionExtract(ST_Intersection(p.piece, p.excused), 3)) g
        WHERE p.kind = 'gap' AND p.wide AND NOT ST_IsEmpty(ST_Buffer(g.geom, -p_tol / 2))
        UNION ALL
        SELECT 'sliver', ARRAY[i.code]::text[], v.code, i.geom, true
        FROM items i JOIN vill v ON v.id = i.village_id
        WHERE i.geom IS NOT NULL AND ST_IsEmpty(ST_Buffer(i.geom, -p_tol / 2))
        UNION ALL
        SELECT 'code_format', ARRAY[i.code]::text[], v.code, i.geom, true
        FROM items i JOIN vill v ON v.id = i.village_id
        WHERE i.geom IS NOT NULL AND (i.code !~ '^[0-9]{15}$' OR left(i.code, 12) <> v.code)
        UNION ALL
        SELECT 'code_taken', ARRAY[i.code]::text[], v.code, i.geom, true
        FROM items i JOIN vill v ON v.id = i.village_id
        WHERE i.geom IS NOT NULL AND (
            EXISTS (SELECT 1 FROM items j WHERE j.code = i.code AND j.id < i.id
                    AND j.geom IS NOT NULL)
            OR EXISTS (SELECT 1 FROM grid g WHERE g.code = i.code AND g.valid_to IS NULL
                       AND NOT EXISTS (SELECT 1 FROM items k WHERE k.from_id = g.id)))
    )
    SELECT kind, grids, village, blocking,
           ST_Area(piece::geography) AS area_m2,
           ST_X(ST_PointOnSurface(piece)) AS lon, ST_Y(ST_PointOnSurface(piece)) AS lat,
           ST_AsGeoJSON(piece, 7)::json AS geometry
    FROM found ORDER BY blocking DESC, kind, village, grids;
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    before = _migration("0015_edit_plans.py").UPGRADE
    start = before.index("CREATE FUNCTION wangge_edit_findings")
    op.execute("CREATE OR REPLACE " + before[start + len("CREATE ") :])
