"""The heat roll-up keeps its 400 m and 1.6 km levels only; the 100 m level is read from the cases.

Migration 0013 counted every case at three levels of the heat pyramid, each per day, category
and township.  At 100 m that level hardly aggregates anything: on the benchmark's 1,000,000
cases a year it held about 0.94 rows per case, so the maps read as many rows from it as from
``cases`` itself, while every report paid for one more upsert into three indexes and a bulk
import for a third of the roll-up's rows and index builds.  The heat at street zoom (z14 and
closer, ``gis.mapdata.heat``) now bins the view's cases directly, as a village desk's heat
always did: a street view holds few cases, and ``cases`` has the spatial index.

The cases in a view used to be read by the app role, under row-level security: the policy is
checked first, and the box of the view (PostGIS's ``&&`` is not leakproof) only on the rows
that pass it, so a city desk's street view read every case of the city in the period — for the
raw heat 0.6 s for 30 days and 1.7 s for a year, for the hotspots 1.1 s and 2.5 s, on a million
cases.  ``wangge_cases_in_view`` reads them as the owner, with the policy's own condition
written into its query: the planner may then start from the spatial index, or from the
jurisdiction's or the period's, whichever is narrower, and the caller still gets only the cases
the policy lets them see — their category and place, all that heat and hotspots need.

Downgrade counts the 100 m level again from the cases.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def _cells(levels: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION wangge_heat_cells(geom geometry)
RETURNS TABLE (res smallint, cx integer, cy integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT r.res::smallint, floor(ST_X(m) / r.size)::integer, floor(ST_Y(m) / r.size)::integer
    FROM ST_Transform(geom, 3857) AS m,
         (VALUES {levels}) AS r(res, size)
$$;
"""


SIGNATURE = """wangge_cases_in_view(float8, float8, float8, float8, timestamptz, timestamptz,
    text, text, text, text, text[], boolean, boolean, integer)"""
IN_VIEW = rf"""
CREATE FUNCTION wangge_cases_in_view(
    p_west float8, p_south float8, p_east float8, p_north float8,
    p_t0 timestamptz, p_t1 timestamptz,
    p_scope_column text, p_scope_code text,
    p_kind text, p_category text, p_open_states text[], p_overdue boolean,
    p_street boolean, p_limit integer)
RETURNS TABLE (category varchar, m geometry)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    -- the policy cases_in_scope (migrations 0002, 0006) for the caller's session, the period,
    -- the jurisdiction and the filters
    wanted text := '(current_setting(''wangge.scope'', true) = ''*''
                     OR wangge_in_scope(VARIADIC ARRAY[c.city_code, c.district_code,
                                                       c.township_code, c.village_code]))
                    AND c.received_at >= $5 AND c.received_at < $6';
BEGIN
    IF p_scope_column IS NOT NULL AND p_scope_column NOT IN
            ('city_code', 'district_code', 'township_code', 'village_code') THEN
        RAISE EXCEPTION 'wangge_cases_in_view: no scope column %', p_scope_column;
    END IF;
    IF p_scope_column IS NOT NULL THEN
        wanted := wanted || format(' AND c.%I = %L', p_scope_column, p_scope_code);
    END IF;
    IF p_kind IS NOT NULL THEN
        wanted := wanted || format(' AND c.kind = CAST(%L AS case_kind)', p_kind);
    END IF;
    IF p_category IS NOT NULL THEN
        wanted := wanted || format(' AND c.category = %L', p_category);
    END IF;
    IF p_open_states IS NOT NULL THEN
        wanted := wanted || format(' AND c.status = ANY(CAST(%L AS varchar[]))', p_open_states);
        IF p_overdue THEN
            wanted := wanted || ' AND c.deadline < now()';
        END IF;
    END IF;
    -- planned at each call, with its values.  A street view's box holds a few hundred cases:
    -- the spatial index finds them and everything else is checked on them (left to itself the
    -- planner ANDs in the index of the period, the township or the status too: ~180,000,
    -- ~65,000 rows on a million cases a year, 75 ms of 110; the spatial index alone, ~1 ms).
    -- A larger view leaves the planner free to start from the jurisdiction or the period.
    RETURN QUERY EXECUTE format(
        CASE WHEN p_street THEN $q$
            WITH c AS MATERIALIZED (
                SELECT * FROM cases c
                WHERE ST_Intersects(c.geom, ST_MakeEnvelope($1, $2, $3, $4, 4326)))
            SELECT c.category, ST_Transform(c.geom, 3857) FROM c WHERE %s LIMIT $7 $q$
        ELSE $q$
            SELECT c.category, ST_Transform(c.geom, 3857) FROM cases c
            WHERE ST_Intersects(c.geom, ST_MakeEnvelope($1, $2, $3, $4, 4326)) AND %s
            LIMIT $7 $q$ END,
        wanted)
    USING p_west, p_south, p_east, p_north, p_t0, p_t1, p_limit;
END $$;
REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {SIGNATURE} TO wangge_app;
"""


def upgrade() -> None:
    op.execute(_cells("(1, 400.0), (2, 1600.0)"))
    op.execute("DELETE FROM case_heat WHERE res = 0")
    op.execute(IN_VIEW)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(_cells("(0, 100.0), (1, 400.0), (2, 1600.0)"))
    op.execute("""
        INSERT INTO case_heat (res, cx, cy, township_code, district_code, city_code, day, kind,
                               category, n)
        SELECT 0, floor(ST_X(m) / 100.0)::integer, floor(ST_Y(m) / 100.0)::integer,
               coalesce(c.township_code, ''), coalesce(c.district_code, ''),
               coalesce(c.city_code, ''), (c.received_at AT TIME ZONE 'Asia/Shanghai')::date,
               c.kind, c.category, count(*)
        FROM cases c, ST_Transform(c.geom, 3857) AS m
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    """)
