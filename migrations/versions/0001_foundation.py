"""Foundation: PostGIS, regions, grids, centers, workers, categories, cases, case events,
and the locate spine (``wangge_assign``).

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TYPE region_level AS ENUM ('city', 'district', 'township', 'village');
CREATE TYPE case_kind AS ENUM ('dispute', 'hazard');
CREATE TYPE case_severity AS ENUM ('minor', 'normal', 'major', 'critical');
CREATE TYPE assign_method AS ENUM ('covers', 'nearest', 'region', 'unassigned');

-- Administrative units.  Code lengths follow the statistical division codes:
-- 6 digits for city and district/county, 9 for township/street, 12 for village/community.
CREATE TABLE region (
    id        serial PRIMARY KEY,
    code      varchar(12) NOT NULL UNIQUE,
    name      text NOT NULL CHECK (name <> ''),
    level     region_level NOT NULL,
    parent_id integer REFERENCES region (id),
    geom      geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT region_code_digits CHECK (code ~ '^[0-9]+$'),
    CONSTRAINT region_code_length CHECK (
        length(code) = CASE level WHEN 'city' THEN 6 WHEN 'district' THEN 6
                                  WHEN 'township' THEN 9 ELSE 12 END),
    CONSTRAINT region_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
);
CREATE INDEX region_geom_gist ON region USING gist (geom);
CREATE INDEX region_parent ON region (parent_id);
CREATE INDEX region_level_idx ON region (level);

-- Grid cells, versioned in time: the current layout is valid_to IS NULL.
CREATE TABLE grid (
    id         serial PRIMARY KEY,
    code       varchar(15) NOT NULL,
    version    integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    name       text NOT NULL,
    village_id integer NOT NULL REFERENCES region (id),
    geom       geometry(MultiPolygon, 4326) NOT NULL,
    households integer CHECK (households >= 0),
    population integer CHECK (population >= 0),
    valid_from timestamptz NOT NULL DEFAULT now(),
    valid_to   timestamptz,
    UNIQUE (code, version),
    CONSTRAINT grid_code_digits CHECK (code ~ '^[0-9]{15}$'),
    CONSTRAINT grid_validity CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT grid_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
);
CREATE UNIQUE INDEX grid_current_code ON grid (code) WHERE valid_to IS NULL;
CREATE INDEX grid_current_geom_gist ON grid USING gist (geom) WHERE valid_to IS NULL;
CREATE INDEX grid_geom_gist ON grid USING gist (geom);
CREATE INDEX grid_village ON grid (village_id);

-- Governance centers (综治中心) and village service stations: one per region at most.
CREATE TABLE center (
    id        serial PRIMARY KEY,
    name      text NOT NULL,
    region_id integer NOT NULL UNIQUE REFERENCES region (id),
    geom      geometry(Point, 4326) NOT NULL,
    phone     text,
    address   text
);
CREATE INDEX center_geom_gist ON center USING gist (geom);

CREATE TABLE worker (
    id        serial PRIMARY KEY,
    code      varchar(20) NOT NULL UNIQUE,
    name      text NOT NULL,
    phone     text,
    region_id integer REFERENCES region (id)
);
CREATE TABLE worker_grid (
    worker_id integer NOT NULL REFERENCES worker (id) ON DELETE CASCADE,
    grid_code varchar(15) NOT NULL,
    role      varchar(16) NOT NULL DEFAULT 'chief',
    PRIMARY KEY (worker_id, grid_code)
);
CREATE INDEX worker_grid_code ON worker_grid (grid_code);

CREATE TABLE category (
    code             varchar(32) PRIMARY KEY,
    kind             case_kind NOT NULL,
    name_zh          text NOT NULL,
    name_en          text NOT NULL,
    default_severity case_severity NOT NULL DEFAULT 'normal'
);

CREATE SEQUENCE case_code_seq;

-- 一案一码: WG + date received (Asia/Shanghai) + sequence, e.g. WG26112100000042.
CREATE FUNCTION wangge_case_code(received timestamptz) RETURNS varchar
LANGUAGE sql VOLATILE AS $$
    SELECT 'WG' || to_char(received AT TIME ZONE 'Asia/Shanghai', 'YYMMDD')
           || lpad(n::text, greatest(8, length(n::text)), '0')
    FROM (SELECT nextval('case_code_seq') AS n) s
$$;

CREATE TABLE cases (
    id                bigserial PRIMARY KEY,
    code              varchar(20) NOT NULL UNIQUE,
    kind              case_kind NOT NULL,
    category          varchar(32) NOT NULL REFERENCES category (code),
    severity          case_severity NOT NULL,
    description       text NOT NULL,
    datum             varchar(10) NOT NULL DEFAULT 'wgs84'
                      CHECK (datum IN ('wgs84', 'cgcs2000', 'gcj02', 'bd09')),
    received_lon      double precision NOT NULL,
    received_lat      double precision NOT NULL,
    geom              geometry(Point, 4326) NOT NULL,
    accuracy_m        double precision CHECK (accuracy_m >= 0),
    reported_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    grid_id           integer REFERENCES grid (id),
    grid_code         varchar(15),
    village_code      varchar(12),
    township_code     varchar(12),
    district_code     varchar(12),
    city_code         varchar(12),
    center_id         integer REFERENCES center (id),
    assign_method     assign_method NOT NULL,
    assign_distance_m double precision,
    status            varchar(16) NOT NULL DEFAULT 'registered' CHECK (status IN (
        'registered', 'accepted', 'dispatched', 'in_progress', 'resolved', 'verified', 'closed',
        'returned', 'transferred', 'escalated', 'suspended', 'reopened'))
);
CREATE INDEX cases_geom_gist ON cases USING gist (geom);
CREATE INDEX cases_received_at ON cases (received_at);
CREATE INDEX cases_status ON cases (status);
CREATE INDEX cases_grid_code ON cases (grid_code);
CREATE INDEX cases_center ON cases (center_id);

CREATE TABLE case_event (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES cases (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text,
    action      varchar(32) NOT NULL,
    from_status varchar(16),
    to_status   varchar(16),
    note        text,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_event_case ON case_event (case_id, at);

CREATE FUNCTION case_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_event is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER case_event_no_update BEFORE UPDATE OR DELETE ON case_event
    FOR EACH ROW EXECUTE FUNCTION case_event_append_only();
CREATE TRIGGER case_event_no_truncate BEFORE TRUNCATE ON case_event
    FOR EACH STATEMENT EXECUTE FUNCTION case_event_append_only();

-- The locate spine.  Whose is this point (WGS 84)?  Rules, in order:
--  1. covers:  current grids that cover the point (edges and vertices included); of several
--              (a point on a shared edge or vertex) the one with the lowest code wins.
--  2. nearest: else the nearest current grid within tolerance_m metres (geodesic);
--              ties: lowest code.
--  3. region:  else the smallest region (village < township < district < city) covering it.
--  4. unassigned.
-- The chain (village … city) is walked up from the grid's village or the containing region; the
-- responsible center is the lowest center on that chain.  Single lookups, batch sync, bulk import
-- and re-assignment after a redraw all call this one function.
CREATE FUNCTION wangge_assign(pt geometry, tolerance_m double precision DEFAULT 50)
RETURNS TABLE (
    grid_id integer, grid_code varchar, village_code varchar, township_code varchar,
    district_code varchar, city_code varchar, center_id integer,
    method assign_method, distance_m double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH RECURSIVE
covering AS (
    SELECT g.id, g.code, g.village_id FROM grid g
    WHERE g.valid_to IS NULL AND ST_Covers(g.geom, pt)
    ORDER BY g.code LIMIT 1
),
nearby AS (
    SELECT n.id, n.code, n.village_id, n.d FROM (
        SELECT g.id, g.code, g.village_id, ST_Distance(g.geom::geography, pt::geography) AS d
        FROM grid g
        WHERE g.valid_to IS NULL
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
chain AS (
    SELECT r.id, r.parent_id, r.code, r.level, 0 AS depth
    FROM region r WHERE r.id = (SELECT region_id FROM start)
    UNION ALL
    SELECT p.id, p.parent_id, p.code, p.level, c.depth + 1
    FROM region p JOIN chain c ON p.id = c.parent_id
    WHERE c.depth < 10
)
SELECT s.grid_id, s.grid_code::varchar,
       (SELECT code FROM chain WHERE level = 'village' LIMIT 1)::varchar,
       (SELECT code FROM chain WHERE level = 'township' LIMIT 1)::varchar,
       (SELECT code FROM chain WHERE level = 'district' LIMIT 1)::varchar,
       (SELECT code FROM chain WHERE level = 'city' LIMIT 1)::varchar,
       (SELECT ce.id FROM chain JOIN center ce ON ce.region_id = chain.id
        ORDER BY chain.depth LIMIT 1),
       coalesce(s.method, 'unassigned'::assign_method),
       s.d
FROM (SELECT 1) AS one LEFT JOIN start s ON true
$$;
"""

CATEGORIES = [
    # disputes (矛盾纠纷)
    ("marriage_family", "dispute", "婚姻家庭纠纷", "Marriage and family", "normal"),
    ("neighbour", "dispute", "邻里纠纷", "Neighbour", "minor"),
    ("housing_homestead", "dispute", "房屋宅基地纠纷", "Housing and homestead", "normal"),
    ("land_forest", "dispute", "山林土地纠纷", "Land and forest", "normal"),
    ("labour_wage", "dispute", "劳资纠纷（欠薪）", "Labour and wage arrears", "major"),
    ("property_mgmt", "dispute", "物业纠纷", "Property management", "normal"),
    ("consumer", "dispute", "消费纠纷", "Consumer", "minor"),
    ("medical", "dispute", "医患纠纷", "Medical", "major"),
    ("traffic_accident", "dispute", "交通事故纠纷", "Traffic accident", "normal"),
    ("land_requisition", "dispute", "征地拆迁纠纷", "Land requisition and demolition", "major"),
    ("contract_debt", "dispute", "合同债务纠纷", "Contract and debt", "normal"),
    ("dispute_other", "dispute", "其他矛盾纠纷", "Other dispute", "normal"),
    # hazards (安全隐患)
    ("fire", "hazard", "消防安全隐患", "Fire safety", "major"),
    ("public_order", "hazard", "治安隐患", "Public order", "normal"),
    ("building_safety", "hazard", "房屋安全隐患", "Building safety", "major"),
    ("gas", "hazard", "燃气安全隐患", "Gas safety", "major"),
    ("traffic_safety", "hazard", "交通安全隐患", "Traffic safety", "normal"),
    ("flood", "hazard", "防汛隐患", "Flood control", "major"),
    ("rental_housing", "hazard", "出租屋隐患", "Rental housing", "normal"),
    ("small_venues", "hazard", "三小场所隐患", "Small shops, eateries and workshops", "normal"),
    ("food_safety", "hazard", "食品安全隐患", "Food safety", "normal"),
    ("hazard_other", "hazard", "其他安全隐患", "Other hazard", "normal"),
]


def upgrade() -> None:
    op.execute(SCHEMA)
    category = sa.table(
        "category",
        *(sa.column(c) for c in ("code", "kind", "name_zh", "name_en", "default_severity")),
    )
    keys = ("code", "kind", "name_zh", "name_en", "default_severity")
    op.bulk_insert(category, [dict(zip(keys, row, strict=True)) for row in CATEGORIES])


def downgrade() -> None:
    op.execute(
        "DROP TABLE IF EXISTS case_event, cases, category, worker_grid, worker, center, grid, "
        "region CASCADE; DROP FUNCTION IF EXISTS wangge_assign, wangge_case_code, "
        "case_event_append_only; DROP SEQUENCE IF EXISTS case_code_seq; "
        "DROP TYPE IF EXISTS assign_method, case_severity, case_kind, region_level"
    )
