"""``wangge_intake_accept_brief``: take in reports as ``wangge_intake_accept`` does (migration
0034), and return of each new case only what a phone keeps of it — its grid, deadline and public
token — instead of its whole document.

A phone syncing its queue asks for the short answer (``Prefer: return=minimal`` on
``POST /api/reports/batch``): it needs each report's case code (its photos follow to it), not
the case's chain of regions, center and flags.  Building the 500 documents of a full batch took
about 15 ms of the database's 105, and their answer is most of the 60 kB a phone on one bar of
signal then waits for.

The body is 0034's ``wangge_intake_accept`` with its last statement changed; the arguments are
the same.

Revision ID: 0072
Revises: 0071
Create Date: 2026-12-05
"""

from alembic import op

revision = "0072"
down_revision = "0071"
branch_labels = None
depends_on = None

_TYPES = """integer, text, inet, boolean, double precision, text, text, text[],
    integer[], bigint[], text[], text[], text[], text[], text[], double precision[],
    double precision[], double precision[],
    double precision[], double precision[], timestamptz[], uuid[], bytea[], text[], integer[],
    text[], double precision, double precision, interval, double precision, double precision,
    interval, integer"""

BRIEF_SQL = r"""
CREATE FUNCTION wangge_intake_accept_brief(
    p_user integer, p_actor text, p_source_ip inet, p_batch boolean, p_max_outside_m double
    precision, p_scope_column text, p_scope_code text, p_scope_grids text[], p_idx integer[],
    p_lock bigint[], p_kind text[], p_category text[], p_severity text[], p_description
    text[], p_datum text[], p_received_lon double precision[], p_received_lat double
    precision[], p_lon double precision[], p_lat double precision[], p_accuracy_m double
    precision[], p_reported_at timestamp with time zone[], p_key uuid[], p_fingerprint
    bytea[], p_flags text[], p_parties integer[], p_source text[], p_duplicate_m double
    precision, p_duplicate_deg double precision, p_duplicate_window interval, p_repeat_m
    double precision, p_repeat_deg double precision, p_repeat_window interval, p_repeat_min
    integer)
 RETURNS TABLE(case_id bigint, case_code character varying, key uuid, method text,
               status text, grid_code character varying, deadline timestamp with time zone,
               public_token character varying)
 LANGUAGE plpgsql
AS $function$
DECLARE
    ids bigint[];
    codes varchar[];
    keys uuid[];
    methods text[];
BEGIN
    SELECT array_agg(n.case_id), array_agg(n.case_code), array_agg(n.key), array_agg(n.method)
    INTO ids, codes, keys, methods
    FROM wangge_intake_insert(
        p_user, p_actor, p_source_ip, p_batch, p_max_outside_m, p_scope_column, p_scope_code,
        p_scope_grids, p_idx, p_lock, p_kind, p_category, p_severity, p_description, p_datum,
        p_received_lon, p_received_lat, p_lon, p_lat, p_accuracy_m, p_reported_at, p_key,
        p_fingerprint, p_flags, p_parties, p_source,
        p_repeat_m, p_repeat_deg, p_repeat_window, p_repeat_min) n;
    IF ids IS NOT NULL THEN
        PERFORM wangge_intake_register(
            p_actor, ids, methods,
            '{}', '{}', '{}', '{}', '{}', '{}',
            p_duplicate_m, p_duplicate_deg, p_duplicate_window, p_repeat_window, p_repeat_min);
    END IF;
    RETURN QUERY
    SELECT n.i, n.c, n.k, n.m, CAST(c.status AS text), c.grid_code, c.deadline, c.public_token
    FROM unnest(ids, codes, keys, methods) AS n(i, c, k, m)
    JOIN cases c ON c.id = n.i;
END
$function$
"""


def upgrade() -> None:
    op.execute(BRIEF_SQL)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION wangge_intake_accept_brief({_TYPES})")
