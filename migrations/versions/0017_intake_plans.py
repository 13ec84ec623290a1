"""Intake's two statements as PL/pgSQL functions: planned once per connection, one round trip less.

A report took four round trips in its transaction before its read-back: ``set_config`` (generic
plans for the next two), the insert, the registration (events, parties, duplicate links, repeat
warnings).  The two big statements were planned again whenever psycopg had dropped its prepared
statements — at every rollback on the connection, which every read-only request ends with — and
the 3.5 kB texts were parsed again by SQLAlchemy and psycopg at every call.  As functions, with
generic plans, their plans live as long as the connection.

* ``wangge_intake_insert(...)``: lock each key, check its category and that the point lies in
  the coverage, locate (``wangge_assign``), insert the cases (a key already taken is skipped by
  the constraint) and their audit entries; returns what it inserted.  It also sets generic plans
  for the rest of the transaction, as the ``set_config`` call did (the read-back needs them).
* ``wangge_intake_register(...)``: the new cases' first events and encrypted parties, duplicate
  links and repeat warnings.  A separate statement (and call): under row-level security the
  event and party policies must see the inserted cases.

The bodies are those of ``gis/intake.py`` and ``gis/repeats.py`` before this revision; the
caller's jurisdiction and the distances come in as parameters instead of being formatted in.  The
registration no longer joins its CTEs back to the new cases, nor feeds the flags update through
a FULL JOIN: with generic plans (every CTE estimated at a few rows) those became a quadratic
nested loop and a sequential scan of ``cases`` in a 500-report batch.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-21
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Whether a case (or assignment) with these codes lies in a jurisdiction given as the column of
-- its level and its code (gis.scope.Scope.case_column; NULL column: everywhere).  Inlined.
CREATE FUNCTION wangge_scope_has(city varchar, district varchar, township varchar,
                                 village varchar, scope_column text, scope_code text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT scope_column IS NULL OR CASE scope_column
        WHEN 'city_code' THEN city WHEN 'district_code' THEN district
        WHEN 'township_code' THEN township WHEN 'village_code' THEN village END = scope_code
$$;

-- The caller may report at an assignment: a grid worker in their grids (p_scope_grids), anyone
-- else in their jurisdiction (p_scope_column = p_scope_code; NULL column: everywhere).
CREATE FUNCTION wangge_intake_insert(
    p_user integer, p_actor text, p_source_ip inet, p_batch boolean,
    p_max_outside_m double precision,
    p_scope_column text, p_scope_code text, p_scope_grids text[],
    p_idx integer[], p_lock bigint[], p_kind text[], p_category text[], p_severity text[],
    p_description text[], p_datum text[], p_received_lon double precision[],
    p_received_lat double precision[], p_lon double precision[], p_lat double precision[],
    p_accuracy_m double precision[], p_reported_at timestamptz[], p_key uuid[],
    p_fingerprint bytea[], p_flags text[], p_parties integer[])
RETURNS TABLE (case_id bigint, case_code varchar, key uuid, method text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    -- Generic plans for the rest of the transaction, not only for this function: the
    -- registration and the read-back of the new cases follow, and planning them costs more than
    -- running them (the read-back: 3 ms against 0.2).
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    RETURN QUERY
    WITH i AS MATERIALIZED (
        SELECT * FROM unnest(p_idx, p_lock, p_kind, p_category, p_severity, p_description,
                             p_datum, p_received_lon, p_received_lat, p_lon, p_lat,
                             p_accuracy_m, p_reported_at, p_key, p_fingerprint, p_flags,
                             p_parties)
        AS i(idx, lock, kind, category, severity, description, datum, received_lon,
             received_lat, lon, lat, accuracy_m, reported_at, key, fingerprint, flags, parties)
    ), ins AS (
        INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                           received_lat, geom, accuracy_m, reported_at, received_at, grid_id,
                           grid_code, village_code, township_code, district_code, city_code,
                           center_id, assign_method, assign_distance_m, status, reporter_id,
                           idempotency_key, request_fingerprint, flags, allowed_hours,
                           remind_at, deadline, notice_at)
        SELECT wangge_case_code(now(), a.district_code), k.kind, i.category, sv.severity,
               i.description, i.datum, i.received_lon, i.received_lat, p.pt, i.accuracy_m,
               coalesce(i.reported_at, now()), now(), a.grid_id, a.grid_code, a.village_code,
               a.township_code, a.district_code, a.city_code, a.center_id, a.method,
               a.distance_m, 'registered', p_user, i.key, i.fingerprint, CAST(i.flags AS jsonb),
               dr.h, wangge_work_at(clk.now + 0.8 * dr.h), wangge_work_at(clk.now + dr.h),
               wangge_work_at(clk.now + 2 * dr.h)
        FROM i
        JOIN category k ON k.code = i.category AND k.kind::text = i.kind
        CROSS JOIN LATERAL (SELECT CAST(coalesce(i.severity, k.default_severity::text)
                                        AS case_severity) AS severity) sv
        CROSS JOIN LATERAL (  -- working hours allowed: the rule, else the category's default
            SELECT coalesce((SELECT r.work_hours FROM deadline_rule r
                             WHERE r.category = k.code AND r.severity = sv.severity),
                            k.deadline_hours) AS h) dr
        CROSS JOIN (SELECT wangge_work_clock(now()) AS now) clk
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326) AS pt) p
        CROSS JOIN LATERAL wangge_assign(p.pt) a
        WHERE pg_try_advisory_xact_lock(i.lock)
          AND (NOT EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL)
               OR EXISTS (SELECT 1 FROM region r WHERE r.parent_id IS NULL
                          AND ST_Covers(r.geom, p.pt))
               OR EXISTS (SELECT 1 FROM region r WHERE r.parent_id IS NULL
                          AND ST_DWithin(r.geom::geography, p.pt::geography, p_max_outside_m)))
          AND CASE WHEN p_scope_grids IS NOT NULL THEN a.grid_code = ANY(p_scope_grids)
                   ELSE wangge_scope_has(a.city_code, a.district_code, a.township_code,
                                         a.village_code, p_scope_column, p_scope_code) END
        ORDER BY i.idx
        ON CONFLICT ON CONSTRAINT cases_reporter_key DO NOTHING
        RETURNING id, code, idempotency_key, assign_method
    ), audit AS (
        INSERT INTO audit_log (user_id, username, action, object, success, source_ip, detail)
        SELECT p_user, p_actor, 'case.create', 'case:' || ins.code, true, p_source_ip,
               jsonb_build_object('parties', i.parties, 'batch', p_batch)
        FROM ins JOIN i ON i.key = ins.idempotency_key
    )
    SELECT id, code, idempotency_key, assign_method::text FROM ins;
END
$$;

-- Nearby cases are found through the grids around each new case (grids are not under RLS: their
-- GIST index applies), then by the indexed, leakproof grid_code; the caller's jurisdiction
-- (p_scope_column = p_scope_code) the same way.  New cases of one call see each other; a link
-- goes from the newer to the older case only.  Parties written here are invisible to the
-- statement's own reads, so the resident count takes the new ones from the parameters (newp).
CREATE FUNCTION wangge_intake_register(
    p_actor text, p_scope_column text, p_scope_code text,
    p_ids bigint[], p_methods text[],
    p_case bigint[], p_role text[], p_name bytea[], p_phone bytea[], p_id_card bytea[],
    p_index bytea[],
    p_duplicate_m double precision, p_duplicate_deg double precision,
    p_duplicate_window interval, p_repeat_m double precision, p_repeat_deg double precision,
    p_repeat_window interval, p_repeat_min integer)
RETURNS TABLE (links bigint, flagged bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH n AS (
        SELECT c.id, c.geom, c.category, c.received_at FROM cases c WHERE c.id = ANY(p_ids)
    ), events AS (
        INSERT INTO case_event (case_id, actor, action, from_status, to_status, note, data)
        SELECT e.id, p_actor, 'register', NULL, 'registered', '上报登记',
               jsonb_build_object('assign_method', e.method)
        FROM unnest(p_ids, p_methods) AS e(id, method)
    ), newp AS MATERIALIZED (
        SELECT * FROM unnest(p_case, p_role, p_name, p_phone, p_id_card, p_index)
        AS p(case_id, role, name_enc, phone_enc, id_card_enc, phone_index)
    ), parties AS (
        INSERT INTO case_party (case_id, role, name_enc, phone_enc, id_card_enc, phone_index)
        SELECT * FROM newp
    ), near AS (  -- the grids around each new case, one row each, with the case's columns
        SELECT n.id, n.geom, n.category, n.received_at, g.code,
               ST_DWithin(g.geom, n.geom, p_duplicate_deg) AS within_duplicate,
               ST_DWithin(g.geom, n.geom, p_repeat_deg) AS within_repeat
        FROM n JOIN grid g ON g.valid_to IS NULL AND g.geom && ST_Expand(n.geom, p_duplicate_deg)
    ), links AS (
        -- (no join back to n: with generic plans the planner takes these CTEs for a few rows,
        -- and a nested loop between two of them is quadratic in a batch of 500)
        INSERT INTO case_link (case_id, other_case_id, distance_m)
        SELECT near.id, o.id, ST_Distance(o.geom::geography, near.geom::geography)
        FROM near JOIN cases o
          ON o.grid_code = near.code AND o.id <> near.id AND o.category = near.category
         AND o.status <> 'closed'
         AND o.received_at >= near.received_at - p_duplicate_window
         AND ST_DWithin(o.geom::geography, near.geom::geography, p_duplicate_m)
        WHERE near.within_duplicate
          AND (o.id < near.id OR NOT (o.id = ANY(p_ids)))
          AND wangge_scope_has(o.city_code, o.district_code, o.township_code, o.village_code,
                               p_scope_column, p_scope_code)
        ON CONFLICT DO NOTHING
        RETURNING 1
    ), place AS (
        SELECT near.id, count(o.id) AS k
        FROM near JOIN cases o
          ON o.grid_code = near.code
         AND o.received_at >= near.received_at - p_repeat_window
         AND ST_DWithin(o.geom::geography, near.geom::geography, p_repeat_m)
        WHERE near.within_repeat
          AND wangge_scope_has(o.city_code, o.district_code, o.township_code, o.village_code,
                               p_scope_column, p_scope_code)
        GROUP BY near.id
    ), resident AS (  -- the new cases were all received now()
        SELECT s.id, max(s.k) AS k FROM (
            SELECT p.case_id AS id, count(DISTINCT o.id) AS k
            FROM newp p
            CROSS JOIN LATERAL (  -- per phone: the indexed older parties, then the new ones
                SELECT t.case_id FROM case_party t WHERE t.phone_index = p.phone_index
                UNION ALL
                SELECT t.case_id FROM newp t WHERE t.phone_index = p.phone_index) q
            JOIN cases o ON o.id = q.case_id
            WHERE p.phone_index IS NOT NULL
              AND o.received_at >= now() - p_repeat_window
              AND wangge_scope_has(o.city_code, o.district_code, o.township_code,
                                   o.village_code, p_scope_column, p_scope_code)
            GROUP BY p.case_id, p.phone_index) s
        GROUP BY s.id
    ), flagged AS (
        UPDATE cases c SET flags = c.flags || jsonb_strip_nulls(jsonb_build_object(
            'repeat_place', CASE WHEN f.place >= p_repeat_min THEN f.place END,
            'repeat_resident', CASE WHEN f.resident >= p_repeat_min THEN f.resident END))
        FROM (SELECT u.id, max(u.place) AS place, max(u.resident) AS resident
              FROM (SELECT id, k AS place, NULL::bigint AS resident FROM place
                    WHERE k >= p_repeat_min
                    UNION ALL
                    SELECT id, NULL, k FROM resident WHERE k >= p_repeat_min) u
              GROUP BY u.id) f
        WHERE c.id = f.id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM links), (SELECT count(*) FROM flagged);
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("""
        DROP FUNCTION wangge_intake_register(text, text, text, bigint[], text[], bigint[], text[],
                                             bytea[], bytea[], bytea[], bytea[], double precision,
                                             double precision, interval, double precision,
                                             double precision, interval, integer);
        DROP FUNCTION wangge_intake_insert(integer, text, inet, boolean, double precision, text,
                                           text, text[], integer[], bigint[], text[], text[],
                                           text[], text[], text[], double precision[],
                                           double precision[], double precision[],
                                           double precision[], double precision[],
                                           timestamptz[], uuid[], bytea[], text[], integer[]);
        DROP FUNCTION wangge_scope_has(varchar, varchar, varchar, varchar, text, text);
    """)
