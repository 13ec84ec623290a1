"""巡查打卡: grid workers' patrol check-ins.

A grid worker walks their grids and checks in from the phone: where (as the device gave it, and
in WGS 84), when (the device's time: a check-in made without signal is sent later), and what they
saw (a line, optional).  Like a report, each check-in carries the UUID the phone gave it, unique
per account: sent again after a lost answer, it is the same check-in.

A check-in belongs to the worker's own jurisdiction (the account's region, the village for a grid
worker), not to where it was made: a worker who crosses into the next village's street is still
their own village's worker, and their desk sees it.  Where it was made is kept too: the grid it
lies in (``wangge_assign``'s owner, the same rule as for cases) and whether that grid is one of
the worker's own.  Row-level security as for cases (the condition of migration 0031).

Revision ID: 0052
Revises: 0051
Create Date: 2026-12-05
"""

from alembic import op

revision = "0052"
down_revision = "0051"
branch_labels = None
depends_on = None


SCOPE = "(SELECT current_setting('wangge.scope', true))"
POLICY = f"{SCOPE} = '*' OR {SCOPE} IN (city_code, district_code, township_code, village_code)"


def upgrade() -> None:
    op.execute(f"""
CREATE TABLE patrol (
    id              bigserial PRIMARY KEY,
    user_id         integer NOT NULL REFERENCES app_user (id),
    worker_id       integer REFERENCES worker (id),
    idempotency_key uuid NOT NULL,
    fingerprint     bytea NOT NULL,
    checked_at      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    datum           varchar(10) NOT NULL
                    CHECK (datum IN ('wgs84', 'cgcs2000', 'gcj02', 'bd09')),
    received_lon    double precision NOT NULL,
    received_lat    double precision NOT NULL,
    geom            geometry(Point, 4326) NOT NULL,
    accuracy_m      double precision CHECK (accuracy_m >= 0),
    flags           jsonb NOT NULL DEFAULT '{{}}',
    grid_code       varchar(15),
    assign_method   assign_method NOT NULL,
    own_grid        boolean,
    note            text CHECK (length(note) <= 500),
    village_code    varchar(12),
    township_code   varchar(12),
    district_code   varchar(12),
    city_code       varchar(12),
    CONSTRAINT patrol_key UNIQUE (user_id, idempotency_key)
);
CREATE INDEX patrol_worker_at ON patrol (worker_id, checked_at);
CREATE INDEX patrol_user_at ON patrol (user_id, checked_at);
CREATE INDEX patrol_village_at ON patrol (village_code, checked_at);
CREATE INDEX patrol_township_at ON patrol (township_code, checked_at);

ALTER TABLE patrol ENABLE ROW LEVEL SECURITY;
ALTER TABLE patrol FORCE ROW LEVEL SECURITY;
CREATE POLICY patrol_in_scope ON patrol
    USING ({POLICY}) WITH CHECK ({POLICY});

GRANT SELECT, INSERT ON patrol TO wangge_app;
GRANT USAGE ON SEQUENCE patrol_id_seq TO wangge_app;
""")


def downgrade() -> None:
    op.execute("DROP TABLE patrol")
