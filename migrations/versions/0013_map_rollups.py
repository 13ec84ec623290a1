"""Map roll-ups kept current as cases arrive: heat cells and cases per grid per day.

A command screen over a city with a million cases cannot scan every point per request (binning the
whole city from raw points takes about a second).  Two small tables answer instead:

* ``case_heat``: cases counted per square cell of a pyramid (``res`` 0/1/2 = 100 m / 400 m /
  1.6 km in Web-Mercator metres, ``cx, cy`` = floor(x / size), floor(y / size)), per township,
  day (Asia/Shanghai), kind and category.  Region codes of the township's district and city are
  carried (they follow from the township, so they add no rows) so that any scope from city to
  township is one equality.
* ``case_grid_day``: cases per grid per day, kind and category — the grid choropleth.

Statement-level triggers with transition tables keep both current in the statement that inserts,
deletes or moves cases (a bulk import adds its million rows in one aggregated upsert).

Also a partial index of open cases by center, for the centers' open / overdue counts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-21
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: cell sizes of the pyramid, metres (Web Mercator)
CELL_SIZES = (100, 400, 1600)

UPGRADE = r"""
CREATE TABLE case_heat (
    res           smallint NOT NULL,
    cx            integer NOT NULL,
    cy            integer NOT NULL,
    township_code varchar(12) NOT NULL,
    district_code varchar(12) NOT NULL,
    city_code     varchar(12) NOT NULL,
    day           date NOT NULL,
    kind          case_kind NOT NULL,
    category      varchar(32) NOT NULL,
    n             integer NOT NULL,
    PRIMARY KEY (res, township_code, day, cx, cy, kind, category)
);
CREATE INDEX case_heat_city ON case_heat (res, city_code, day);
CREATE INDEX case_heat_district ON case_heat (res, district_code, day);

CREATE TABLE case_grid_day (
    grid_code varchar(15) NOT NULL,
    day       date NOT NULL,
    kind      case_kind NOT NULL,
    category  varchar(32) NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (grid_code, day, kind, category)
);
CREATE INDEX case_grid_day_day ON case_grid_day (day);

-- the cells of one point at every level of the pyramid
CREATE FUNCTION wangge_heat_cells(geom geometry)
RETURNS TABLE (res smallint, cx integer, cy integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT r.res::smallint, floor(ST_X(m) / r.size)::integer, floor(ST_Y(m) / r.size)::integer
    FROM ST_Transform(geom, 3857) AS m,
         (VALUES (0, 100.0), (1, 400.0), (2, 1600.0)) AS r(res, size)
$$;

"""

#: the upsert into both roll-ups of the rows of CTE ``changed`` (sign +1 added, -1 removed)
APPLY = r"""
    heat AS (
        INSERT INTO case_heat AS h (res, cx, cy, township_code, district_code, city_code, day,
                                    kind, category, n)
        SELECT cell.res, cell.cx, cell.cy, coalesce(c.township_code, ''),
               coalesce(c.district_code, ''), coalesce(c.city_code, ''),
               (c.received_at AT TIME ZONE 'Asia/Shanghai')::date, c.kind, c.category,
               sum(c.sign)
        FROM changed c, wangge_heat_cells(c.geom) cell
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        HAVING sum(c.sign) <> 0
        -- key order, so that two statements never lock the same rows in opposite orders
        ORDER BY 1, 4, 7, 2, 3, 8, 9
        ON CONFLICT (res, township_code, day, cx, cy, kind, category)
        DO UPDATE SET n = h.n + excluded.n
        RETURNING 1
    )
    INSERT INTO case_grid_day AS d (grid_code, day, kind, category, n)
    SELECT c.grid_code, (c.received_at AT TIME ZONE 'Asia/Shanghai')::date, c.kind, c.category,
           sum(c.sign)
    FROM changed c WHERE c.grid_code IS NOT NULL
    GROUP BY 1, 2, 3, 4
    HAVING sum(c.sign) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (grid_code, day, kind, category) DO UPDATE SET n = d.n + excluded.n;
"""
COLUMNS = "geom, township_code, district_code, city_code, received_at, kind, category, grid_code"

TRIGGERS = rf"""
CREATE FUNCTION wangge_rollup_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (SELECT 1 AS sign, {COLUMNS} FROM new_rows),
    {APPLY}
    RETURN NULL;
END $$;

CREATE FUNCTION wangge_rollup_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (SELECT -1 AS sign, {COLUMNS} FROM old_rows),
    {APPLY}
    RETURN NULL;
END $$;

-- updates: only rows whose place, time, kind or category moved count (a status change does not)
CREATE FUNCTION wangge_rollup_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH moved AS (
        SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.township_code, o.district_code, o.city_code, o.received_at, o.kind,
               o.category, o.grid_code)
              IS DISTINCT FROM (n.township_code, n.district_code, n.city_code, n.received_at,
                                n.kind, n.category, n.grid_code)
           OR NOT ST_Equals(o.geom, n.geom)
    ),
    changed AS (
        SELECT 1 AS sign, {COLUMNS} FROM new_rows WHERE id IN (SELECT id FROM moved)
        UNION ALL
        SELECT -1 AS sign, {COLUMNS} FROM old_rows WHERE id IN (SELECT id FROM moved)
    ),
    {APPLY}
    RETURN NULL;
END $$;

CREATE TRIGGER cases_rollup_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_rollup_inserted();
CREATE TRIGGER cases_rollup_delete AFTER DELETE ON cases
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_rollup_deleted();
CREATE TRIGGER cases_rollup_update AFTER UPDATE ON cases
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_rollup_moved();

-- fill from the cases already there
INSERT INTO case_heat (res, cx, cy, township_code, district_code, city_code, day, kind,
                       category, n)
SELECT cell.res, cell.cx, cell.cy, coalesce(c.township_code, ''), coalesce(c.district_code, ''),
       coalesce(c.city_code, ''), (c.received_at AT TIME ZONE 'Asia/Shanghai')::date, c.kind,
       c.category, count(*)
FROM cases c, wangge_heat_cells(c.geom) cell
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
INSERT INTO case_grid_day (grid_code, day, kind, category, n)
SELECT c.grid_code, (c.received_at AT TIME ZONE 'Asia/Shanghai')::date, c.kind, c.category,
       count(*)
FROM cases c WHERE c.grid_code IS NOT NULL
GROUP BY 1, 2, 3, 4;
ANALYZE case_heat;
ANALYZE case_grid_day;

CREATE INDEX cases_open_center ON cases (center_id, deadline)
    WHERE status NOT IN ('resolved', 'verified', 'closed', 'suspended');

GRANT SELECT, INSERT, UPDATE ON case_heat, case_grid_day TO wangge_app;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute("""
        DROP TRIGGER cases_rollup_insert ON cases;
        DROP TRIGGER cases_rollup_delete ON cases;
        DROP TRIGGER cases_rollup_update ON cases;
        DROP FUNCTION wangge_rollup_inserted();
        DROP FUNCTION wangge_rollup_deleted();
        DROP FUNCTION wangge_rollup_moved();
        DROP FUNCTION wangge_heat_cells(geometry);
        DROP INDEX cases_open_center;
        DROP TABLE case_heat, case_grid_day;
    """)
