"""Field intake: idempotent reports, flags, deadlines, public tracking tokens.

* ``cases.reporter_id`` + ``idempotency_key`` are unique together: a device retrying the same
  report can never create a second case, however the retries interleave.  ``request_fingerprint``
  (a keyed hash of the submitted content) tells a replay from a different report under a reused key.
* ``public_token``: an unguessable 128-bit token for the public tracking page ``/t/{token}``.
* ``category.deadline_hours``: the default time allowed (calendar hours for now; working time
  arrives with the workflow).
* ``wangge_public_case(token)``: what the public page may show — status and steps, no personal
  data, no exact location — readable by the app role without a scope (SECURITY DEFINER, with the
  scope set only for the function's own duration).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = r"""
ALTER TABLE cases
    ADD COLUMN reporter_id integer REFERENCES app_user (id),
    ADD COLUMN idempotency_key uuid,
    ADD COLUMN request_fingerprint bytea,
    ADD COLUMN flags jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN deadline timestamptz,
    ADD COLUMN public_token varchar(32) NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '');
ALTER TABLE cases ADD CONSTRAINT cases_reporter_key UNIQUE (reporter_id, idempotency_key);
ALTER TABLE cases ADD CONSTRAINT cases_public_token UNIQUE (public_token);

ALTER TABLE category ADD COLUMN deadline_hours integer NOT NULL DEFAULT 168
    CHECK (deadline_hours > 0);
UPDATE category SET deadline_hours = CASE code
    WHEN 'neighbour' THEN 24 WHEN 'consumer' THEN 72 WHEN 'marriage_family' THEN 72
    WHEN 'labour_wage' THEN 72 WHEN 'medical' THEN 72 WHEN 'land_requisition' THEN 480
    WHEN 'land_forest' THEN 480 WHEN 'housing_homestead' THEN 240
    WHEN 'fire' THEN 4 WHEN 'gas' THEN 4 WHEN 'building_safety' THEN 24 WHEN 'flood' THEN 12
    WHEN 'public_order' THEN 24 WHEN 'traffic_safety' THEN 48
    ELSE 168 END;

UPDATE cases c SET deadline = c.received_at + make_interval(hours => k.deadline_hours)
FROM category k WHERE k.code = c.category AND c.deadline IS NULL;

CREATE FUNCTION wangge_public_case(token varchar)
RETURNS TABLE (code varchar, category_name text, kind case_kind, status varchar,
               received_at timestamptz, deadline timestamptz, place text, events jsonb)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET wangge.scope = '*'
AS $$
    SELECT c.code, k.name_zh, c.kind, c.status, c.received_at, c.deadline,
           coalesce(v.name, t.name, d.name, '（未落入网格）'),
           (SELECT coalesce(jsonb_agg(jsonb_build_object('at', e.at, 'action', e.action,
                                                         'to', e.to_status) ORDER BY e.at, e.id),
                            '[]')
            FROM case_event e WHERE e.case_id = c.id)
    FROM cases c
    JOIN category k ON k.code = c.category
    LEFT JOIN region v ON v.code = c.village_code
    LEFT JOIN region t ON t.code = c.township_code
    LEFT JOIN region d ON d.code = c.district_code
    WHERE c.public_token = token
$$;
REVOKE ALL ON FUNCTION wangge_public_case(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wangge_public_case(varchar) TO wangge_app;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS wangge_public_case(varchar); "
        "ALTER TABLE category DROP COLUMN IF EXISTS deadline_hours; "
        "ALTER TABLE cases DROP CONSTRAINT IF EXISTS cases_public_token, "
        "DROP CONSTRAINT IF EXISTS cases_reporter_key, DROP COLUMN IF EXISTS public_token, "
        "DROP COLUMN IF EXISTS deadline, DROP COLUMN IF EXISTS flags, "
        "DROP COLUMN IF EXISTS request_fingerprint, DROP COLUMN IF EXISTS idempotency_key, "
        "DROP COLUMN IF EXISTS reporter_id"
    )
