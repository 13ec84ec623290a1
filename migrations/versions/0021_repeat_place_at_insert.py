"""Repeat warnings by place are counted before the insert, not written by an UPDATE after it.

The registration (migration 0017) counted the cases within 50 m of each new case once the new
cases were in the table, then wrote ``repeat_place`` into their flags with an ``UPDATE``.  At a
busy place most new cases are flagged, and each flagged case was then written twice: a second
version of the row, its 17 index entries again and four foreign-key checks again.  In a
500-report batch of the intake benchmark 464 cases were flagged, and the ``UPDATE`` with its
triggers took about 30 of the call's 190 ms.

Now ``wangge_intake_insert`` counts before it inserts and writes the flags with the row: the
cases already there (found through the grids around the point, as before), plus the call's own
new reports within 50 m — each itself included, those with a grid only, a replayed key not
counted again (its case is one of those already there).  The count is the one the registration
made.  The registration keeps the repeat warning by resident (it needs the new parties) and the
duplicate links.

* ``wangge_intake_insert(...)``: four more arguments, the place rule (metres, the degrees that
  surely span them, the window, the minimum count);
* ``wangge_intake_register(...)``: without the place rule's metres and degrees;
* ``wangge_intake_accept(...)``: same signature, passes them on.

Measured in one process, old and new functions alternating on the bench database: the call for a
500-report batch 179 → 169 ms and 230 → 192 ms; for a single report 2.10 → 2.23, 2.44 → 2.49 and
2.55 → 2.36 ms, which is within the noise (a single report was cheap to update; its plan is now
bigger).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-22
"""

from pathlib import Path

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_ARRAYS = """integer[], bigint[], text[], text[], text[], text[], text[], double precision[],
    double precision[], double precision[], double precision[], double precision[],
    timestamptz[], uuid[], bytea[], text[], integer[]"""
OLD_INSERT = f"integer, text, inet, boolean, double precision, text, text, text[], {_ARRAYS}"
OLD_REGISTER = """text, text, text, bigint[], text[], bigint[], text[], bytea[], bytea[], bytea[],
    bytea[], double precision, double precision, interval, double precision, double precision,
    interval, integer"""

UPGRADE = r"""
DROP FUNCTION wangge_intake_accept(%(insert)s, double precision, double precision, interval,
                                   double precision, double precision, interval, integer);
DROP FUNCTION wangge_intake_insert(%(insert)s);
DROP FUNCTION wangge_intake_register(%(register)s);

CREATE FUNCTION wangge_intake_insert(
    p_user integer, p_actor text, p_source_ip inet, p_batch boolean,
    p_max_outside_m double precision,
    p_scope_column text, p_scope_code text, p_scope_grids text[],
    p_idx integer[], p_lock bigint[], p_kind text[], p_category text[], p_severity text[],
    p_description text[], p_datum text[], p_received_lon double precision[],
    p_received_lat double precision[], p_lon double precision[], p_lat double precision[],
    p_accuracy_m double precision[], p_reported_at timestamptz[], p_key uuid[],
    p_fingerprint bytea[], p_flags text[], p_parties integer[],
    p_repeat_m double precision, p_repeat_deg double precision, p_repeat_window interval,
    p_repeat_min integer)
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
    ), r AS MATERIALIZED (  -- each item of a known category: its severity and hours allowed
        SELECT i.*, k.kind AS category_kind, sv.severity AS case_severity,
               coalesce(dr.work_hours, k.deadline_hours) AS h
        FROM i
        JOIN category k ON k.code = i.category AND k.kind::text = i.kind
        CROSS JOIN LATERAL (SELECT CAST(coalesce(i.severity, k.default_severity::text)
                                        AS case_severity) AS severity) sv
        LEFT JOIN deadline_rule dr ON dr.category = k.code AND dr.severity = sv.severity
    ), dl AS MATERIALIZED (  -- all received now(): deadlines once per distinct allowance
        SELECT d.h, wangge_work_at(clk.now + 0.8 * d.h) AS remind_at,
               wangge_work_at(clk.now + d.h) AS deadline,
               wangge_work_at(clk.now + 2 * d.h) AS notice_at
        FROM (SELECT DISTINCT h FROM r) d CROSS JOIN (SELECT wangge_work_clock(now()) AS now) clk
    ), ok AS MATERIALIZED (  -- located, key locked, in the coverage and in the caller's area
        SELECT r.*, p.pt, a.grid_id, a.grid_code, a.village_code, a.township_code,
               a.district_code, a.city_code, a.center_id, a.method, a.distance_m
        FROM r
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) AS pt) p
        CROSS JOIN LATERAL wangge_assign(p.pt) a
        WHERE pg_try_advisory_xact_lock(r.lock)
          AND (NOT EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL)
               OR EXISTS (SELECT 1 FROM region g WHERE g.parent_id IS NULL
                          AND ST_Covers(g.geom, p.pt))
               OR EXISTS (SELECT 1 FROM region g WHERE g.parent_id IS NULL
                          AND ST_DWithin(g.geom::geography, p.pt::geography, p_max_outside_m)))
          AND CASE WHEN p_scope_grids IS NOT NULL THEN a.grid_code = ANY(p_scope_grids)
                   ELSE wangge_scope_has(a.city_code, a.district_code, a.township_code,
                                         a.village_code, p_scope_column, p_scope_code) END
    ), fresh AS MATERIALIZED (  -- the new reports (a taken key is a replay: not inserted)
        SELECT ok.idx, ok.pt, ok.grid_code, floor(ok.lon / p_repeat_deg)::bigint AS cx,
               floor(ok.lat / p_repeat_deg)::bigint AS cy
        FROM ok
        WHERE NOT EXISTS (SELECT 1 FROM cases c
                          WHERE c.reporter_id = p_user AND c.idempotency_key = ok.key)
    ), place AS (  -- cases within the place's metres: already there, and the new ones
        SELECT n.idx, count(*) AS k FROM (
            -- the new reports (each itself too) with a grid, through cells of p_repeat_deg
            SELECT f.idx
            FROM fresh f
            CROSS JOIN generate_series(-1, 1) dx CROSS JOIN generate_series(-1, 1) dy
            JOIN fresh m ON m.cx = f.cx + dx AND m.cy = f.cy + dy
            WHERE m.grid_code IS NOT NULL
              AND ST_DWithin(m.pt::geography, f.pt::geography, p_repeat_m)
            UNION ALL
            -- the cases already there: through the grids around the point (grids are not
            -- under row-level security, so their GIST index applies), then by grid_code
            SELECT f.idx
            FROM fresh f
            JOIN grid g ON g.valid_to IS NULL AND g.geom && ST_Expand(f.pt, p_repeat_deg)
                       AND ST_DWithin(g.geom, f.pt, p_repeat_deg)
            JOIN cases o ON o.grid_code = g.code AND o.received_at >= now() - p_repeat_window
                        AND ST_DWithin(o.geom::geography, f.pt::geography, p_repeat_m)
            WHERE wangge_scope_has(o.city_code, o.district_code, o.township_code,
                                   o.village_code, p_scope_column, p_scope_code)) n
        GROUP BY n.idx
    ), ins AS (
        INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                           received_lat, geom, accuracy_m, reported_at, received_at, grid_id,
                           grid_code, village_code, township_code, district_code, city_code,
                           center_id, assign_method, assign_distance_m, status, reporter_id,
                           idempotency_key, request_fingerprint, flags, allowed_hours,
                           remind_at, deadline, notice_at)
        SELECT wangge_case_code(now(), ok.district_code), ok.category_kind, ok.category,
               ok.case_severity, ok.description, ok.datum, ok.received_lon, ok.received_lat,
               ok.pt, ok.accuracy_m, coalesce(ok.reported_at, now()), now(), ok.grid_id,
               ok.grid_code, ok.village_code, ok.township_code, ok.district_code, ok.city_code,
               ok.center_id, ok.method, ok.distance_m, 'registered', p_user, ok.key,
               ok.fingerprint,
               CASE WHEN pl.k >= p_repeat_min
                    THEN CAST(ok.flags AS jsonb) || jsonb_build_object('repeat_place', pl.k)
                    ELSE CAST(ok.flags AS jsonb) END,
               ok.h, dl.remind_at, dl.deadline, dl.notice_at
        FROM ok
        JOIN dl ON dl.h = ok.h
        LEFT JOIN place pl ON pl.idx = ok.idx
        ORDER BY ok.idx
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

-- As in migration 0017, less the repeat warning by place (counted by the insert): first events,
-- encrypted parties, duplicate links, and the repeat warning by resident.
CREATE FUNCTION wangge_intake_register(
    p_actor text, p_scope_column text, p_scope_code text,
    p_ids bigint[], p_methods text[],
    p_case bigint[], p_role text[], p_name bytea[], p_phone bytea[], p_id_card bytea[],
    p_index bytea[],
    p_duplicate_m double precision, p_duplicate_deg double precision,
    p_duplicate_window interval, p_repeat_window interval, p_repeat_min integer)
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
        SELECT n.id, n.geom, n.category, n.received_at, g.code
        FROM n JOIN grid g ON g.valid_to IS NULL AND g.geom && ST_Expand(n.geom, p_duplicate_deg)
        WHERE ST_DWithin(g.geom, n.geom, p_duplicate_deg)
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
        WHERE (o.id < near.id OR NOT (o.id = ANY(p_ids)))
          AND wangge_scope_has(o.city_code, o.district_code, o.township_code, o.village_code,
                               p_scope_column, p_scope_code)
        ON CONFLICT DO NOTHING
        RETURNING 1
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
        WHERE s.k >= p_repeat_min
        GROUP BY s.id
    ), flagged AS (
        UPDATE cases c SET flags = c.flags || jsonb_build_object('repeat_resident', f.k)
        FROM resident f
        WHERE c.id = f.id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM links), (SELECT count(*) FROM flagged);
END
$$;

-- As in migration 0018, with the place rule passed to the insert.
CREATE FUNCTION wangge_intake_accept(
    p_user integer, p_actor text, p_source_ip inet, p_batch boolean,
    p_max_outside_m double precision,
    p_scope_column text, p_scope_code text, p_scope_grids text[],
    p_idx integer[], p_lock bigint[], p_kind text[], p_category text[], p_severity text[],
    p_description text[], p_datum text[], p_received_lon double precision[],
    p_received_lat double precision[], p_lon double precision[], p_lat double precision[],
    p_accuracy_m double precision[], p_reported_at timestamptz[], p_key uuid[],
    p_fingerprint bytea[], p_flags text[], p_parties integer[],
    p_duplicate_m double precision, p_duplicate_deg double precision,
    p_duplicate_window interval, p_repeat_m double precision, p_repeat_deg double precision,
    p_repeat_window interval, p_repeat_min integer)
RETURNS TABLE (case_id bigint, case_code varchar, key uuid, method text)
LANGUAGE plpgsql AS $$
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
        p_fingerprint, p_flags, p_parties, p_repeat_m, p_repeat_deg, p_repeat_window,
        p_repeat_min) n;
    IF ids IS NOT NULL THEN
        PERFORM wangge_intake_register(
            p_actor, p_scope_column, p_scope_code, ids, methods,
            '{}', '{}', '{}', '{}', '{}', '{}',
            p_duplicate_m, p_duplicate_deg, p_duplicate_window, p_repeat_window, p_repeat_min);
    END IF;
    RETURN QUERY SELECT * FROM unnest(ids, codes, keys, methods);
END
$$;
"""


def _function_of(migration: str, name: str) -> str:
    """The definition of function ``name`` in an earlier migration's SQL (for the downgrade)."""
    source = (Path(__file__).parent / migration).read_text(encoding="utf-8")
    start = source.rindex("CREATE", 0, source.index(f" FUNCTION {name}(\n"))
    body = source.index("$$", start) + 2
    return source[start : source.index("$$;", body) + 3]


def upgrade() -> None:
    op.execute(UPGRADE % {"insert": OLD_INSERT, "register": OLD_REGISTER})


def downgrade() -> None:
    new_insert = OLD_INSERT + ", double precision, double precision, interval, integer"
    new_register = """text, text, text, bigint[], text[], bigint[], text[], bytea[], bytea[],
        bytea[], bytea[], double precision, double precision, interval, interval, integer"""
    op.execute(f"""
        DROP FUNCTION wangge_intake_accept({OLD_INSERT}, double precision, double precision,
                                           interval, double precision, double precision,
                                           interval, integer);
        DROP FUNCTION wangge_intake_insert({new_insert});
        DROP FUNCTION wangge_intake_register({new_register});
    """)
    op.execute(_function_of("0018_intake_one_call.py", "wangge_intake_insert"))
    op.execute(_function_of("0017_intake_plans.py", "wangge_intake_register"))
    op.execute(_function_of("0018_intake_one_call.py", "wangge_intake_accept"))
