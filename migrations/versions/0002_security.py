"""Security: users, sessions, audit log, encrypted case parties, the app role and row-level
security on the case and resident-data tables.

The application connects as ``wangge_app``: not the owner of any table, no BYPASSRLS, and only the
privileges below.  ``wangge.scope`` (set per transaction with ``set_config(…, true)``, i.e. SET
LOCAL) holds the region code the caller may see, or ``*`` for the whole deployment; unset means
nothing is visible.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Each region knows its ancestors (ids from the top down, itself last): jurisdiction in one test.
ALTER TABLE region ADD COLUMN path integer[];
CREATE FUNCTION region_set_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.path := coalesce((SELECT path FROM region WHERE id = NEW.parent_id), '{}') || NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER region_path BEFORE INSERT OR UPDATE OF parent_id ON region
    FOR EACH ROW EXECUTE FUNCTION region_set_path();
WITH RECURSIVE tree AS (
    SELECT id, ARRAY[id] AS path FROM region WHERE parent_id IS NULL
    UNION ALL
    SELECT r.id, tree.path || r.id FROM region r JOIN tree ON r.parent_id = tree.id
)
UPDATE region SET path = tree.path FROM tree WHERE region.id = tree.id;
ALTER TABLE region ALTER COLUMN path SET NOT NULL;
CREATE INDEX region_path_gin ON region USING gin (path);

CREATE TYPE user_role AS ENUM ('grid_worker', 'operator', 'commander', 'planner', 'admin');

CREATE TABLE app_user (
    id                  serial PRIMARY KEY,
    username            varchar(64) NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.-]{2,64}$'),
    display_name        text,
    role                user_role NOT NULL,
    region_id           integer REFERENCES region (id),
    worker_id           integer REFERENCES worker (id),
    password_hash       text NOT NULL,
    disabled            boolean NOT NULL DEFAULT false,
    failed_logins       integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT app_user_region CHECK (role = 'admin' OR region_id IS NOT NULL)
);

-- Bearer tokens: only their SHA-256 is stored.
CREATE TABLE auth_session (
    id           bigserial PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE,
    user_id      integer NOT NULL REFERENCES app_user (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    source_ip    inet
);
CREATE INDEX auth_session_user ON auth_session (user_id);

CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id   integer,
    username  text,
    action    varchar(64) NOT NULL,
    object    text,
    success   boolean NOT NULL,
    source_ip inet,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user ON audit_log (user_id, at);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Residents who are parties to a case.  Personal data is AES-GCM ciphertext (key from settings,
-- never in the database); phone_index is an HMAC of the normalised phone (blind index).
CREATE TABLE case_party (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES cases (id),
    role        varchar(16) NOT NULL DEFAULT 'party'
                CHECK (role IN ('applicant', 'respondent', 'party', 'witness', 'reporter')),
    name_enc    bytea,
    phone_enc   bytea,
    id_card_enc bytea,
    phone_index bytea,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_party_case ON case_party (case_id);
CREATE INDEX case_party_phone ON case_party (phone_index);

-- Row-level security: the second wall behind the query layer's jurisdiction filter.
CREATE FUNCTION wangge_in_scope(VARIADIC codes varchar[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('wangge.scope', true), '') = '*'
        OR current_setting('wangge.scope', true) = ANY(codes)
$$;

ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE cases FORCE ROW LEVEL SECURITY;
CREATE POLICY cases_in_scope ON cases
    USING (wangge_in_scope(city_code, district_code, township_code, village_code))
    WITH CHECK (wangge_in_scope(city_code, district_code, township_code, village_code));

ALTER TABLE case_event ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_event FORCE ROW LEVEL SECURITY;
CREATE POLICY case_event_in_scope ON case_event
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_event.case_id))
    WITH CHECK (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_event.case_id));

ALTER TABLE case_party ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_party FORCE ROW LEVEL SECURITY;
CREATE POLICY case_party_in_scope ON case_party
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_party.case_id))
    WITH CHECK (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_party.case_id));

-- The application's role (cluster-wide; LOGIN and password are set by `wangge migrate`).
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wangge_app') THEN
        CREATE ROLE wangge_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO wangge_app;
GRANT SELECT ON region, grid, center, worker, worker_grid, category, spatial_ref_sys TO wangge_app;
GRANT SELECT, INSERT, UPDATE ON cases TO wangge_app;
GRANT SELECT, INSERT ON case_event, case_party, audit_log TO wangge_app;
GRANT SELECT ON app_user TO wangge_app;
GRANT UPDATE (failed_logins, locked_until) ON app_user TO wangge_app;
GRANT SELECT, INSERT ON auth_session TO wangge_app;
GRANT UPDATE (last_seen_at, revoked_at) ON auth_session TO wangge_app;
GRANT USAGE ON SEQUENCE cases_id_seq, case_event_id_seq, case_party_id_seq, audit_log_id_seq,
    auth_session_id_seq, case_code_seq TO wangge_app;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP POLICY IF EXISTS cases_in_scope ON cases; "
        "ALTER TABLE cases NO FORCE ROW LEVEL SECURITY; "
        "ALTER TABLE cases DISABLE ROW LEVEL SECURITY; "
        "ALTER TABLE case_event NO FORCE ROW LEVEL SECURITY; "
        "ALTER TABLE case_event DISABLE ROW LEVEL SECURITY; "
        "DROP POLICY IF EXISTS case_event_in_scope ON case_event; "
        "DROP TABLE IF EXISTS case_party, audit_log, auth_session, app_user CASCADE; "
        "DROP FUNCTION IF EXISTS wangge_in_scope, audit_log_append_only, region_set_path CASCADE; "
        "DROP TYPE IF EXISTS user_role; "
        "ALTER TABLE region DROP COLUMN IF EXISTS path; "
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM wangge_app; "
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM wangge_app; "
        "REVOKE USAGE ON SCHEMA public FROM wangge_app"
    )
