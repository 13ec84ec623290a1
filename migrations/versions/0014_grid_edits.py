"""Planner edits: edit sets of grid operations, validated and previewed, committed as new versions.

* ``grid_edit``: one planner's edit set (open → committed | discarded), with the result of its
  commit.
* ``grid_edit_op``: the operations in the order they were added (split, merge, redraw, create,
  retire, recode, assign), as sent.
* ``grid_edit_item``: the draft — one row for every grid the edit set touches: its proposed code,
  name, geometry (NULL when retired), households, workers (NULL: unchanged), the current version
  it replaces (``from_id``/``from_version``: the optimistic lock) and the versions whose area it
  took (``lineage``).
* ``grid_edit_gap``: land the planner declared uncovered (retired or released with
  ``to: "uncovered"``): gaps there do not block the commit.
* ``grid.edit_id`` and ``grid.lineage``: which edit set made a version and which versions its area
  came from (history across splits and merges).
* The app role may now write grids (new versions, ``valid_to`` of old ones) and worker links.
* A partial index of open cases by grid code: the cases a redraw may re-assign.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-21
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE grid_edit (
    id           serial PRIMARY KEY,
    title        text NOT NULL DEFAULT '',
    created_by   varchar(64) NOT NULL,
    region_id    integer REFERENCES region (id),  -- the creator's jurisdiction (NULL: everything)
    status       varchar(10) NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'committed', 'discarded')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz,
    result       jsonb
);
CREATE INDEX grid_edit_open ON grid_edit (created_by) WHERE status = 'open';

CREATE TABLE grid_edit_op (
    edit_id integer NOT NULL REFERENCES grid_edit (id) ON DELETE CASCADE,
    seq     integer NOT NULL,
    op      varchar(10) NOT NULL,
    body    jsonb NOT NULL,
    summary jsonb NOT NULL DEFAULT '{}',
    at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (edit_id, seq)
);

CREATE TABLE grid_edit_item (
    id           serial PRIMARY KEY,
    edit_id      integer NOT NULL REFERENCES grid_edit (id) ON DELETE CASCADE,
    code         varchar(15) NOT NULL,           -- proposed code
    from_id      integer REFERENCES grid (id),   -- the current version it replaces; NULL: new
    from_version integer,
    name         text NOT NULL,
    village_id   integer NOT NULL REFERENCES region (id),
    geom         geometry(MultiPolygon, 4326),   -- NULL: retired
    households   integer,
    population   integer,
    workers      text[],                         -- worker codes; NULL: as they are
    lineage      integer[] NOT NULL DEFAULT '{}',
    CONSTRAINT grid_edit_item_geom_valid CHECK (geom IS NULL OR ST_IsValid(geom))
);
CREATE UNIQUE INDEX grid_edit_item_from ON grid_edit_item (edit_id, from_id);
CREATE INDEX grid_edit_item_edit ON grid_edit_item (edit_id);

CREATE TABLE grid_edit_gap (
    edit_id    integer NOT NULL REFERENCES grid_edit (id) ON DELETE CASCADE,
    village_id integer NOT NULL REFERENCES region (id),
    geom       geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX grid_edit_gap_edit ON grid_edit_gap (edit_id);

ALTER TABLE grid ADD COLUMN edit_id integer REFERENCES grid_edit (id);
ALTER TABLE grid ADD COLUMN lineage integer[] NOT NULL DEFAULT '{}';
CREATE INDEX grid_lineage ON grid USING gin (lineage);

CREATE INDEX cases_open_grid ON cases (grid_code)
    WHERE status NOT IN ('resolved', 'verified', 'closed', 'suspended');

-- The chain of a village (its codes by level and the center of the lowest region that has one),
-- exactly as wangge_assign walks it: the set-based locates (a redraw's re-assignment, the case
-- importer) ask it once per village instead of once per case.
CREATE FUNCTION wangge_village_chain(village integer)
RETURNS TABLE (village_code varchar, township_code varchar, district_code varchar,
               city_code varchar, center_id integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT max(r.code) FILTER (WHERE r.level = 'village')::varchar,
           max(r.code) FILTER (WHERE r.level = 'township')::varchar,
           max(r.code) FILTER (WHERE r.level = 'district')::varchar,
           max(r.code) FILTER (WHERE r.level = 'city')::varchar,
           (SELECT ce.id FROM center ce WHERE ce.region_id = ANY(v.path)
            ORDER BY array_position(v.path, ce.region_id) DESC LIMIT 1)
    FROM region v JOIN region r ON r.id = ANY(v.path)
    WHERE v.id = village
    GROUP BY v.id, v.path
$$;

GRANT SELECT, INSERT, UPDATE ON grid_edit, grid_edit_op TO wangge_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON grid_edit_item, grid_edit_gap TO wangge_app;
GRANT USAGE ON SEQUENCE grid_edit_id_seq, grid_edit_item_id_seq, grid_id_seq TO wangge_app;
GRANT INSERT ON grid TO wangge_app;
GRANT UPDATE (valid_to) ON grid TO wangge_app;
GRANT INSERT, UPDATE, DELETE ON worker_grid TO wangge_app;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("""
        REVOKE INSERT, UPDATE, DELETE ON worker_grid FROM wangge_app;
        REVOKE INSERT, UPDATE ON grid FROM wangge_app;
        DROP INDEX cases_open_grid;
        DROP INDEX grid_lineage;
        ALTER TABLE grid DROP COLUMN lineage;
        ALTER TABLE grid DROP COLUMN edit_id;
        DROP TABLE grid_edit_gap, grid_edit_item, grid_edit_op, grid_edit;
        DROP FUNCTION wangge_village_chain(integer);
    """)
