"""Planned once per connection: the validation and the re-assignment of a planner's edit set.

A one-grid commit spent a third of its time planning two large statements (the validation of the
village coverage and the re-assignment, into which ``wangge_assign`` is inlined), at every call:
psycopg's prepared statements do not survive a rollback on the connection, and a server handles
many of those between two commits.  PL/pgSQL keeps the plans of its statements for the life of
the connection, whatever the client does.

* ``wangge_edit_findings(p_edit, p_tol)``: the findings of an edit set's working layout (moved
  here from ``gis/edits.py``; the Python side names and words them).
* ``wangge_edit_regrid(p_codes, p_villages, p_scope_column, p_scope_code)``: where the open cases
  of the changed grids go on the layout as it now stands (moved here from ``gis/edits.py``; the
  preview lists them).
* ``wangge_edit_reassign(...)``: the commit's half of it — moves the cases, writes their events
  and closes the edit set with its result.
* ``cases_open_uncovered``: open cases located without a covering grid, by village — the other
  half of what a redraw re-assigns, without reading every case the village ever had.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-21
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Where a redraw puts open cases: the open cases of the changed grids (and those of the villages
-- that no grid covered) located again on the layout as it now stands — the locate spine,
-- set-based: a point covered by current grids goes to the lowest code (one GiST join; each
-- village's chain asked once), the rest through wangge_assign itself.  Returns the cases whose
-- grid version, center or method would change, with ``in_scope``: whether the new owner lies in
-- the caller's jurisdiction (``p_scope_column`` = ``p_scope_code``; NULL column: everywhere).  A
-- case outside it is not the planner's to move: the caller keeps and reports it.
CREATE FUNCTION wangge_edit_regrid(p_codes text[], p_villages text[], p_scope_column text,
                                   p_scope_code text)
RETURNS TABLE (id bigint, code varchar, status varchar, old_grid varchar, old_center integer,
               grid_id integer, grid_code varchar, village_code varchar, township_code varchar,
               district_code varchar, city_code varchar, center_id integer,
               method assign_method, distance_m double precision, in_scope boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH cand AS MATERIALIZED (
        SELECT c.id, c.code, c.status, c.geom, c.grid_code AS old_grid,
               c.center_id AS old_center, c.grid_id AS old_grid_id, c.assign_method AS old_method
        FROM cases c
        WHERE c.status NOT IN ('resolved', 'verified', 'closed', 'suspended')
          AND (c.grid_code = ANY(p_codes)
               OR c.village_code = ANY(p_villages) AND c.assign_method <> 'covers')
    ),
    covered AS MATERIALIZED (
        SELECT DISTINCT ON (k.id) k.id, g.id AS grid_id, g.code AS grid_code, g.village_id
        FROM cand k JOIN grid g ON g.valid_to IS NULL AND ST_Covers(g.geom, k.geom)
        ORDER BY k.id, g.code
    ),
    chains AS MATERIALIZED (
        SELECT v.village_id, ch.* FROM (SELECT DISTINCT village_id FROM covered) v,
             wangge_village_chain(v.village_id) ch
    ),
    located AS (
        SELECT cv.id, cv.grid_id, CAST(cv.grid_code AS varchar) AS grid_code, ch.village_code,
               ch.township_code, ch.district_code, ch.city_code, ch.center_id,
               CAST('covers' AS assign_method) AS method, CAST(0 AS float8) AS distance_m
        FROM covered cv JOIN chains ch ON ch.village_id = cv.village_id
        UNION ALL
        SELECT k.id, a.* FROM cand k CROSS JOIN LATERAL wangge_assign(k.geom) a
        WHERE NOT EXISTS (SELECT 1 FROM covered cv WHERE cv.id = k.id)
    )
    SELECT k.id, k.code, k.status, k.old_grid, k.old_center, l.grid_id, l.grid_code,
           l.village_code, l.township_code, l.district_code, l.city_code, l.center_id,
           l.method, l.distance_m,
           p_scope_column IS NULL OR CASE p_scope_column
               WHEN 'city_code' THEN l.city_code WHEN 'district_code' THEN l.district_code
               WHEN 'township_code' THEN l.township_code WHEN 'village_code' THEN l.village_code
           END = p_scope_code
    FROM cand k JOIN located l ON l.id = k.id
    WHERE k.old_grid_id IS DISTINCT FROM l.grid_id OR k.old_center IS DISTINCT FROM l.center_id
       OR k.old_method IS DISTINCT FROM l.method;
END
$$;

-- The commit of an edit set, for the cases: those wangge_edit_regrid moves within the caller's
-- jurisdiction get their new owner (a new version of the row) and, where the grid code or the
-- center changes, a 'regrid' event "网格调整：A → B；责任中心：…"; those whose new owner lies
-- outside it keep theirs and are counted.  The edit set is closed with ``p_result`` completed by
-- the counts.
CREATE FUNCTION wangge_edit_reassign(p_edit integer, p_codes text[], p_villages text[],
                                     p_scope_column text, p_scope_code text, p_actor text,
                                     p_at timestamptz, p_result jsonb)
RETURNS TABLE (updated bigint, events bigint, kept bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH changed AS MATERIALIZED (
        SELECT * FROM wangge_edit_regrid(p_codes, p_villages, p_scope_column, p_scope_code)
    ),
    upd AS (
        UPDATE cases c SET grid_id = m.grid_id, grid_code = m.grid_code,
            village_code = m.village_code, township_code = m.township_code,
            district_code = m.district_code, city_code = m.city_code, center_id = m.center_id,
            assign_method = m.method, assign_distance_m = m.distance_m, version = c.version + 1
        FROM changed m WHERE c.id = m.id AND m.in_scope
        RETURNING c.id
    ),
    ev AS (
        INSERT INTO case_event (case_id, at, actor, action, note, data)
        SELECT m.id, p_at, p_actor, 'regrid',
               '网格调整：' || coalesce(m.old_grid, '无') || ' → ' || coalesce(m.grid_code, '无')
               || CASE WHEN m.old_center IS DISTINCT FROM m.center_id
                       THEN '；责任中心：' || coalesce(oc.name, '无') || ' → '
                            || coalesce(nc.name, '无')
                       ELSE '' END,
               jsonb_build_object('edit_id', p_edit, 'from_grid', m.old_grid,
                                  'to_grid', m.grid_code, 'from_center', m.old_center,
                                  'to_center', m.center_id)
        FROM changed m LEFT JOIN center oc ON oc.id = m.old_center
        LEFT JOIN center nc ON nc.id = m.center_id
        WHERE m.in_scope
          AND (m.old_grid IS DISTINCT FROM m.grid_code
               OR m.old_center IS DISTINCT FROM m.center_id)
        RETURNING case_id
    ),
    counted AS MATERIALIZED (
        SELECT (SELECT count(*) FROM upd) AS updated, (SELECT count(*) FROM ev) AS events,
               (SELECT count(*) FROM changed WHERE NOT in_scope) AS kept
    ),
    done AS (
        UPDATE grid_edit SET status = 'committed', closed_at = p_at, updated_at = p_at,
            result = p_result || (
                SELECT jsonb_build_object('cases_reassigned', updated, 'case_events', events,
                                          'cases_outside_jurisdiction', kept) FROM counted)
        WHERE id = p_edit
        RETURNING 1
    )
    SELECT updated, events, kept FROM counted WHERE (SELECT count(*) FROM done) >= 0;
END
$$;

-- The open cases a redraw may re-assign because no grid covered them (located to the nearest
-- grid or only to a region), by village.
CREATE INDEX cases_open_uncovered ON cases (village_code)
    WHERE status NOT IN ('resolved', 'verified', 'closed', 'suspended')
      AND assign_method <> 'covers';

-- A polygon cut to a rectangle, valid and polygonal (an overlay can, rarely, round a cut into a
-- self-touching ring, which the predicates then refuse); unchanged when it lies inside.
CREATE FUNCTION wangge_clip(g geometry, box geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN g @ box THEN g
                WHEN ST_IsValid(x) THEN x
                ELSE ST_CollectionExtract(ST_MakeValid(x), 3) END
    FROM (SELECT ST_CollectionExtract(ST_Intersection(g, box), 3) AS x) s
$$;

-- The findings of an edit set's working layout, village by village: grids outside their village,
-- overlaps, gaps (declared ones reported, not blocking), slivers, code format and duplicates.
-- A problem the current layout already has is not the edit set's doing: only what it adds is
-- found.  Runs with the caller's rights (row-level security applies).
CREATE FUNCTION wangge_edit_findings(p_edit integer, p_tol double precision)
RETURNS TABLE (kind text, grids text[], village varchar, blocking boolean,
               area_m2 double precision, lon double precision, lat double precision,
               geometry json)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
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
                FROM cur c JOIN vill v ON v.id = c.village_id
                WHERE NOT ST_CoveredBy(c.geom, v.geom) GROUP BY 1),
    cur_overlap AS MATERIALIZED (SELECT a.village_id AS id,
                           ST_Buffer(ST_Union(ST_Intersection(a.geom, b.geom)), p_tol) AS geom
                    FROM cur a JOIN cur b ON b.village_id = a.village_id AND a.code < b.code
                     AND ST_Intersects(a.geom, b.geom) AND NOT ST_Touches(a.geom, b.geom)
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
        WHERE w.touched AND NOT ST_CoveredBy(w.geom, v.geom)
        UNION ALL
        SELECT 'overlap', ARRAY[least(a.code, b.code), greatest(a.code, b.code)]::text[], v.code,
               ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3),
               coalesce(co.geom, empty), empty
        FROM work a JOIN work b ON b.village_id = a.village_id AND a.code <> b.code
             AND (a.code < b.code OR NOT b.touched) AND ST_Intersects(a.geom, b.geom)
             AND NOT ST_Touches(a.geom, b.geom)
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
        SELECT kind, grids, village, piece, NOT ST_Intersects(piece, excused) AS blocking
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
    op.execute("""
        DROP FUNCTION wangge_edit_findings(integer, double precision);
        DROP FUNCTION wangge_clip(geometry, geometry);
        DROP INDEX cases_open_uncovered;
        DROP FUNCTION wangge_edit_reassign(integer, text[], text[], text, text, text, timestamptz,
                                           jsonb);
        DROP FUNCTION wangge_edit_regrid(text[], text[], text, text);
    """)
