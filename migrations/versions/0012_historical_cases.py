"""Historical cases: located by the grid layout valid at their own time; their source ids.

* ``wangge_assign_at(pt, at)``: the rules of ``wangge_assign`` (0001, 0009) with the grids valid at
  ``at`` (``valid_from <= at < valid_to``) instead of the current ones.  The bulk importer locates
  most points with one set-based join and asks this function for the rest; a property test
  checks that both give the same owner as ``locate_point`` for the current layout.
* ``cases.source_id``: the id a case had in the system it came from (编号); unique, so importing the
  same file twice adds nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ASSIGN_AT = r"""
CREATE FUNCTION wangge_assign_at(pt geometry, at timestamptz,
                                 tolerance_m double precision DEFAULT 50)
RETURNS TABLE (
    grid_id integer, grid_code varchar, village_code varchar, township_code varchar,
    district_code varchar, city_code varchar, center_id integer,
    method assign_method, distance_m double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH covering AS (
    SELECT g.id, g.code, g.village_id FROM grid g
    WHERE g.valid_from <= at AND (g.valid_to IS NULL OR g.valid_to > at) AND ST_Covers(g.geom, pt)
    ORDER BY g.code LIMIT 1
),
nearby AS (
    SELECT n.id, n.code, n.village_id, n.d FROM (
        SELECT g.id, g.code, g.village_id, ST_Distance(g.geom::geography, pt::geography) AS d
        FROM grid g
        WHERE g.valid_from <= at AND (g.valid_to IS NULL OR g.valid_to > at)
          AND NOT EXISTS (SELECT 1 FROM covering)
          -- degrees that surely span tolerance_m in any direction; exact metres below
          AND ST_DWithin(g.geom, pt,
                         tolerance_m / (110574.0 * greatest(cos(radians(ST_Y(pt))), 0.01)))
    ) n
    WHERE n.d <= tolerance_m
    ORDER BY n.d, n.code LIMIT 1
),
owner AS (
    SELECT id, code, village_id AS region_id, 'covers'::assign_method AS method, 0::float8 AS d
    FROM covering
    UNION ALL
    SELECT id, code, village_id, 'nearest'::assign_method, d FROM nearby
),
container AS (
    SELECT r.id FROM region r
    WHERE NOT EXISTS (SELECT 1 FROM owner) AND ST_Covers(r.geom, pt)
    ORDER BY r.level DESC, r.code LIMIT 1
),
start AS (
    SELECT id AS grid_id, code AS grid_code, region_id, method, d FROM owner
    UNION ALL
    SELECT NULL::integer, NULL::varchar, id, 'region'::assign_method, NULL::float8 FROM container
),
chain AS MATERIALIZED (
    SELECT r.id, r.code, r.level, cardinality(s.path) - array_position(s.path, r.id) AS depth
    FROM (SELECT path FROM region WHERE id = (SELECT region_id FROM start)) s
    CROSS JOIN LATERAL unnest(s.path) AS a(id)
    CROSS JOIN LATERAL (SELECT r.id, r.code, r.level FROM region r WHERE r.id = a.id OFFSET 0) r
)
SELECT s.grid_id, s.grid_code::varchar,
       (SELECT code FROM chain WHERE level = 'village' LIMIT 1)::varchar,
       (SELECT code FROM chain WHERE level = 'township' LIMIT 1)::varchar,
       (SELECT code FROM chain WHERE level = 'district' LIMIT 1)::varchar,
       (SELECT code FROM chain WHERE level = 'city' LIMIT 1)::varchar,
       (SELECT ce.id FROM chain CROSS JOIN LATERAL
            (SELECT c2.id FROM center c2 WHERE c2.region_id = chain.id OFFSET 0) ce
        ORDER BY chain.depth LIMIT 1),
       coalesce(s.method, 'unassigned'::assign_method),
       s.d
FROM (SELECT 1) AS one LEFT JOIN start s ON true
$$;
"""


def upgrade() -> None:
    op.execute(ASSIGN_AT)
    op.execute("ALTER TABLE cases ADD COLUMN source_id varchar(64)")
    op.execute("CREATE UNIQUE INDEX cases_source_id ON cases (source_id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS cases_source_id")
    op.execute("ALTER TABLE cases DROP COLUMN IF EXISTS source_id")
    op.execute("DROP FUNCTION IF EXISTS wangge_assign_at(geometry, timestamptz, double precision)")
