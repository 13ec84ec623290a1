"""Where a case came from (案件来源): a grid worker, a walk-in, the 12345 hotline, 110, a petition…

A center registers cases from more channels than its grid workers: residents at the desk
(群众来访), the 12345 government-service hotline, non-police calls diverted from 110
(非警务警情分流), petitions (信访) and residents' online feedback (网上反映).  The daily roll-up
and the leaders count cases by channel, and a case's page says where it came from.

* ``case_source``: the channels; ``cases.source`` (``other`` by default).  Cases stored before
  it: ``grid_worker`` when a grid worker submitted them, else ``other`` (not recorded).
* ``wangge_intake_insert`` and ``wangge_intake_accept`` take each report's channel
  (``p_source``, after ``p_parties``); the rest of both is unchanged.
* ``wangge_case_doc`` carries ``source``.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-03
"""

from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

SOURCES = ("grid_worker", "walk_in", "hotline", "police_diversion", "petition", "online", "other")

_INSERT_TYPES = """integer, text, inet, boolean, double precision, text, text, text[],
    integer[], bigint[], text[], text[], text[], text[], text[], double precision[],
    double precision[], double precision[],
    double precision[], double precision[], timestamptz[], uuid[], bytea[], text[], integer[]"""
_REPEAT_TYPES = "double precision, double precision, interval, integer"
_REGISTER_TYPES = (
    "double precision, double precision, interval, double precision, double precision, "
    "interval, integer"
)
OLD_INSERT = f"wangge_intake_insert({_INSERT_TYPES}, {_REPEAT_TYPES})"
OLD_ACCEPT = f"wangge_intake_accept({_INSERT_TYPES}, {_REGISTER_TYPES})"
NEW_INSERT = f"wangge_intake_insert({_INSERT_TYPES}, text[], {_REPEAT_TYPES})"
NEW_ACCEPT = f"wangge_intake_accept({_INSERT_TYPES}, text[], {_REGISTER_TYPES})"

NEW_INSERT_SQL = r"""
CREATE OR REPLACE FUNCTION wangge_intake_insert(
    p_user integer, p_actor text, p_source_ip inet, p_batch boolean, p_max_outside_m double
    precision, p_scope_column text, p_scope_code text, p_scope_grids text[], p_idx integer[],
    p_lock bigint[], p_kind text[], p_category text[], p_severity text[], p_description
    text[], p_datum text[], p_received_lon double precision[], p_received_lat double
    precision[], p_lon double precision[], p_lat double precision[], p_accuracy_m double
    precision[], p_reported_at timestamp with time zone[], p_key uuid[], p_fingerprint
    bytea[], p_flags text[], p_parties integer[], p_source text[], p_repeat_m double
    precision, p_repeat_deg double precision, p_repeat_window interval, p_repeat_min integer)
 RETURNS TABLE(case_id bigint, case_code character varying, key uuid, method text)
 LANGUAGE plpgsql
AS $function$
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
                             p_parties, p_source)
        AS i(idx, lock, kind, category, severity, description, datum, received_lon,
             received_lat, lon, lat, accuracy_m, reported_at, key, fingerprint, flags, parties,
             source)
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
    ), a AS MATERIALIZED (  -- the items to insert, located; pos: their place in idx order
        SELECT r.*, p.pt, s.grid_id, s.grid_code, s.village_code, s.township_code,
               s.district_code, s.city_code, s.center_id, s.method, s.distance_m,
               CAST(row_number() OVER (ORDER BY r.idx) AS integer) AS pos
        FROM r
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) AS pt) p
        CROSS JOIN LATERAL wangge_assign(p.pt) s
        -- a key taken is a replay (judged after): its case is not new, and not counted twice.
        -- (LIMIT: a lateral subquery, looked up by user and key.  As NOT EXISTS the planner may
        -- make it an anti-join that reads all the user's cases for each item: seen when the
        -- statistics had few cases with a reporter, and a 500-report batch took 3 s.)
        LEFT JOIN LATERAL (SELECT true AS taken FROM cases c
                           WHERE c.reporter_id = p_user AND c.idempotency_key = r.key
                           LIMIT 1) k ON true
        WHERE pg_try_advisory_xact_lock(r.lock) AND k.taken IS NULL
          AND (NOT EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL)
               OR EXISTS (SELECT 1 FROM region g WHERE g.parent_id IS NULL
                          AND ST_Covers(g.geom, p.pt))
               OR EXISTS (SELECT 1 FROM region g WHERE g.parent_id IS NULL
                          AND ST_DWithin(g.geom::geography, p.pt::geography, p_max_outside_m)))
          AND CASE WHEN p_scope_grids IS NOT NULL THEN s.grid_code = ANY(p_scope_grids)
                   ELSE wangge_scope_has(s.city_code, s.district_code, s.township_code,
                                         s.village_code, p_scope_column, p_scope_code) END
    ), place AS MATERIALIZED (  -- one row: per item (by pos), the cases a repeat warning counts
        SELECT wangge_repeat_place(array_agg(a.pt ORDER BY a.pos),
                                   array_agg(a.grid_code IS NOT NULL ORDER BY a.pos),
                                   p_repeat_m, p_repeat_deg, p_repeat_window) AS k
        FROM a
    ), ins AS (
        INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                           received_lat, geom, accuracy_m, reported_at, received_at, grid_id,
                           grid_code, village_code, township_code, district_code, city_code,
                           center_id, assign_method, assign_distance_m, status, reporter_id,
                           idempotency_key, request_fingerprint, flags, allowed_hours,
                           remind_at, deadline, notice_at, source)
        SELECT wangge_case_code(now(), a.district_code), a.category_kind, a.category,
               a.case_severity, a.description, a.datum, a.received_lon, a.received_lat, a.pt,
               a.accuracy_m, coalesce(a.reported_at, now()), now(), a.grid_id, a.grid_code,
               a.village_code, a.township_code, a.district_code, a.city_code, a.center_id,
               a.method, a.distance_m, 'registered', p_user, a.key, a.fingerprint,
               CAST(a.flags AS jsonb)
               || CASE WHEN pl.k[a.pos] >= p_repeat_min
                       THEN jsonb_build_object('repeat_place', pl.k[a.pos]) ELSE '{}' END,
               a.h, dl.remind_at, dl.deadline, dl.notice_at, CAST(a.source AS case_source)
        FROM a
        JOIN dl ON dl.h = a.h
        CROSS JOIN place pl
        ORDER BY a.idx
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
$function$
"""

NEW_ACCEPT_SQL = r"""
CREATE OR REPLACE FUNCTION wangge_intake_accept(
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
 RETURNS TABLE(case_id bigint, case_code character varying, key uuid, method text, doc jsonb)
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
    SELECT n.i, n.c, n.k, n.m, d.doc
    FROM unnest(ids, codes, keys, methods) AS n(i, c, k, m)
    LEFT JOIN LATERAL wangge_case_doc(ARRAY[n.i]) d ON true;
END
$function$
"""

NEW_DOC_SQL = r"""
CREATE OR REPLACE FUNCTION wangge_case_doc(
    p_ids bigint[])
 RETURNS TABLE(id bigint, doc jsonb)
 LANGUAGE sql
 STABLE
AS $function$
    SELECT v.id, to_jsonb(v) FROM (
        SELECT c.id, c.code, c.kind::text AS kind, c.category, cat.name_zh AS category_name,
               c.severity::text AS severity, c.status, c.description, ST_X(c.geom) AS lon,
               ST_Y(c.geom) AS lat, c.datum, c.reported_at, c.received_at, c.received_lon,
               c.received_lat, c.deadline, c.public_token, c.flags, c.source::text AS source,
               (SELECT json_agg(json_build_object(
                           'role', p.role, 'name', encode(p.name_enc, 'hex'),
                           'phone', encode(p.phone_enc, 'hex'),
                           'id_card', encode(p.id_card_enc, 'hex')) ORDER BY p.id)
                FROM case_party p WHERE p.case_id = c.id) AS parties,
               (SELECT json_agg(json_build_array(ph.id, ph.content_type, ph.bytes, ph.width,
                                                 ph.height, ph.sha256) ORDER BY ph.id)
                FROM case_photo ph WHERE ph.case_id = c.id) AS photos,
               (SELECT json_agg(json_build_array(o.code, l.status, l.distance_m)
                                ORDER BY o.code)
                FROM case_link l
                JOIN cases o ON o.id = CASE WHEN l.case_id = c.id THEN l.other_case_id
                                            ELSE l.case_id END
                WHERE (l.case_id = c.id OR l.other_case_id = c.id)
                  AND l.kind = 'possible_duplicate') AS links,
               c.assign_method AS method, c.assign_distance_m AS distance_m,
               g.id AS grid_id, g.code AS grid_code, g.name AS grid_name,
               g.version AS grid_version,
               v.code AS village_code, v.name AS village_name,
               t.code AS township_code, t.name AS township_name,
               d.code AS district_code, d.name AS district_name,
               ci.code AS city_code, ci.name AS city_name,
               ce.id AS center_id, ce.name AS center_name, ce.level AS center_level,
               ce.region_code AS center_region_code, ce.phone AS center_phone
        FROM cases c
        JOIN category cat ON cat.code = c.category
        -- each by its key, case by case (OFFSET 0: not flattened into joins, which a generic
        -- plan, expecting ten cases, made hash joins over every region and center: 1 ms a case)
        LEFT JOIN LATERAL (SELECT g.id, g.code, g.name, g.version FROM grid g
                           WHERE g.id = c.grid_id OFFSET 0) g ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.village_code OFFSET 0) v ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.township_code OFFSET 0) t ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.district_code OFFSET 0) d ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.city_code OFFSET 0) ci ON true
        LEFT JOIN LATERAL (SELECT ce.id, ce.name, ce.phone, cr.level, cr.code AS region_code
                           FROM center ce LEFT JOIN region cr ON cr.id = ce.region_id
                           WHERE ce.id = c.center_id OFFSET 0) ce ON true
        WHERE c.id = ANY(p_ids)
    ) v
$function$
"""

# as they were (migrations 0022, 0027 and 0023/0029)
OLD_INSERT_SQL = r"""
CREATE OR REPLACE FUNCTION wangge_intake_insert(
    p_user integer, p_actor text, p_source_ip inet, p_batch boolean, p_max_outside_m double
    precision, p_scope_column text, p_scope_code text, p_scope_grids text[], p_idx integer[],
    p_lock bigint[], p_kind text[], p_category text[], p_severity text[], p_description
    text[], p_datum text[], p_received_lon double precision[], p_received_lat double
    precision[], p_lon double precision[], p_lat double precision[], p_accuracy_m double
    precision[], p_reported_at timestamp with time zone[], p_key uuid[], p_fingerprint
    bytea[], p_flags text[], p_parties integer[], p_repeat_m double precision, p_repeat_deg
    double precision, p_repeat_window interval, p_repeat_min integer)
 RETURNS TABLE(case_id bigint, case_code character varying, key uuid, method text)
 LANGUAGE plpgsql
AS $function$
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
    ), a AS MATERIALIZED (  -- the items to insert, located; pos: their place in idx order
        SELECT r.*, p.pt, s.grid_id, s.grid_code, s.village_code, s.township_code,
               s.district_code, s.city_code, s.center_id, s.method, s.distance_m,
               CAST(row_number() OVER (ORDER BY r.idx) AS integer) AS pos
        FROM r
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) AS pt) p
        CROSS JOIN LATERAL wangge_assign(p.pt) s
        -- a key taken is a replay (judged after): its case is not new, and not counted twice.
        -- (LIMIT: a lateral subquery, looked up by user and key.  As NOT EXISTS the planner may
        -- make it an anti-join that reads all the user's cases for each item: seen when the
        -- statistics had few cases with a reporter, and a 500-report batch took 3 s.)
        LEFT JOIN LATERAL (SELECT true AS taken FROM cases c
                           WHERE c.reporter_id = p_user AND c.idempotency_key = r.key
                           LIMIT 1) k ON true
        WHERE pg_try_advisory_xact_lock(r.lock) AND k.taken IS NULL
          AND (NOT EXISTS (SELECT 1 FROM region WHERE parent_id IS NULL)
               OR EXISTS (SELECT 1 FROM region g WHERE g.parent_id IS NULL
                          AND ST_Covers(g.geom, p.pt))
               OR EXISTS (SELECT 1 FROM region g WHERE g.parent_id IS NULL
                          AND ST_DWithin(g.geom::geography, p.pt::geography, p_max_outside_m)))
          AND CASE WHEN p_scope_grids IS NOT NULL THEN s.grid_code = ANY(p_scope_grids)
                   ELSE wangge_scope_has(s.city_code, s.district_code, s.township_code,
                                         s.village_code, p_scope_column, p_scope_code) END
    ), place AS MATERIALIZED (  -- one row: per item (by pos), the cases a repeat warning counts
        SELECT wangge_repeat_place(array_agg(a.pt ORDER BY a.pos),
                                   array_agg(a.grid_code IS NOT NULL ORDER BY a.pos),
                                   p_repeat_m, p_repeat_deg, p_repeat_window) AS k
        FROM a
    ), ins AS (
        INSERT INTO cases (code, kind, category, severity, description, datum, received_lon,
                           received_lat, geom, accuracy_m, reported_at, received_at, grid_id,
                           grid_code, village_code, township_code, district_code, city_code,
                           center_id, assign_method, assign_distance_m, status, reporter_id,
                           idempotency_key, request_fingerprint, flags, allowed_hours,
                           remind_at, deadline, notice_at)
        SELECT wangge_case_code(now(), a.district_code), a.category_kind, a.category,
               a.case_severity, a.description, a.datum, a.received_lon, a.received_lat, a.pt,
               a.accuracy_m, coalesce(a.reported_at, now()), now(), a.grid_id, a.grid_code,
               a.village_code, a.township_code, a.district_code, a.city_code, a.center_id,
               a.method, a.distance_m, 'registered', p_user, a.key, a.fingerprint,
               CAST(a.flags AS jsonb)
               || CASE WHEN pl.k[a.pos] >= p_repeat_min
                       THEN jsonb_build_object('repeat_place', pl.k[a.pos]) ELSE '{}' END,
               a.h, dl.remind_at, dl.deadline, dl.notice_at
        FROM a
        JOIN dl ON dl.h = a.h
        CROSS JOIN place pl
        ORDER BY a.idx
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
$function$
"""

OLD_ACCEPT_SQL = r"""
CREATE OR REPLACE FUNCTION wangge_intake_accept(
    p_user integer, p_actor text, p_source_ip inet, p_batch boolean, p_max_outside_m double
    precision, p_scope_column text, p_scope_code text, p_scope_grids text[], p_idx integer[],
    p_lock bigint[], p_kind text[], p_category text[], p_severity text[], p_description
    text[], p_datum text[], p_received_lon double precision[], p_received_lat double
    precision[], p_lon double precision[], p_lat double precision[], p_accuracy_m double
    precision[], p_reported_at timestamp with time zone[], p_key uuid[], p_fingerprint
    bytea[], p_flags text[], p_parties integer[], p_duplicate_m double precision,
    p_duplicate_deg double precision, p_duplicate_window interval, p_repeat_m double
    precision, p_repeat_deg double precision, p_repeat_window interval, p_repeat_min integer)
 RETURNS TABLE(case_id bigint, case_code character varying, key uuid, method text, doc jsonb)
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
        p_fingerprint, p_flags, p_parties,
        p_repeat_m, p_repeat_deg, p_repeat_window, p_repeat_min) n;
    IF ids IS NOT NULL THEN
        PERFORM wangge_intake_register(
            p_actor, ids, methods,
            '{}', '{}', '{}', '{}', '{}', '{}',
            p_duplicate_m, p_duplicate_deg, p_duplicate_window, p_repeat_window, p_repeat_min);
    END IF;
    RETURN QUERY
    SELECT n.i, n.c, n.k, n.m, d.doc
    FROM unnest(ids, codes, keys, methods) AS n(i, c, k, m)
    LEFT JOIN LATERAL wangge_case_doc(ARRAY[n.i]) d ON true;
END
$function$
"""

OLD_DOC_SQL = r"""
CREATE OR REPLACE FUNCTION wangge_case_doc(
    p_ids bigint[])
 RETURNS TABLE(id bigint, doc jsonb)
 LANGUAGE sql
 STABLE
AS $function$
    SELECT v.id, to_jsonb(v) FROM (
        SELECT c.id, c.code, c.kind::text AS kind, c.category, cat.name_zh AS category_name,
               c.severity::text AS severity, c.status, c.description, ST_X(c.geom) AS lon,
               ST_Y(c.geom) AS lat, c.datum, c.reported_at, c.received_at, c.received_lon,
               c.received_lat, c.deadline, c.public_token, c.flags,
               (SELECT json_agg(json_build_object(
                           'role', p.role, 'name', encode(p.name_enc, 'hex'),
                           'phone', encode(p.phone_enc, 'hex'),
                           'id_card', encode(p.id_card_enc, 'hex')) ORDER BY p.id)
                FROM case_party p WHERE p.case_id = c.id) AS parties,
               (SELECT json_agg(json_build_array(ph.id, ph.content_type, ph.bytes, ph.width,
                                                 ph.height, ph.sha256) ORDER BY ph.id)
                FROM case_photo ph WHERE ph.case_id = c.id) AS photos,
               (SELECT json_agg(json_build_array(o.code, l.status, l.distance_m)
                                ORDER BY o.code)
                FROM case_link l
                JOIN cases o ON o.id = CASE WHEN l.case_id = c.id THEN l.other_case_id
                                            ELSE l.case_id END
                WHERE (l.case_id = c.id OR l.other_case_id = c.id)
                  AND l.kind = 'possible_duplicate') AS links,
               c.assign_method AS method, c.assign_distance_m AS distance_m,
               g.id AS grid_id, g.code AS grid_code, g.name AS grid_name,
               g.version AS grid_version,
               v.code AS village_code, v.name AS village_name,
               t.code AS township_code, t.name AS township_name,
               d.code AS district_code, d.name AS district_name,
               ci.code AS city_code, ci.name AS city_name,
               ce.id AS center_id, ce.name AS center_name, ce.level AS center_level,
               ce.region_code AS center_region_code, ce.phone AS center_phone
        FROM cases c
        JOIN category cat ON cat.code = c.category
        -- each by its key, case by case (OFFSET 0: not flattened into joins, which a generic
        -- plan, expecting ten cases, made hash joins over every region and center: 1 ms a case)
        LEFT JOIN LATERAL (SELECT g.id, g.code, g.name, g.version FROM grid g
                           WHERE g.id = c.grid_id OFFSET 0) g ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.village_code OFFSET 0) v ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.township_code OFFSET 0) t ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.district_code OFFSET 0) d ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.city_code OFFSET 0) ci ON true
        LEFT JOIN LATERAL (SELECT ce.id, ce.name, ce.phone, cr.level, cr.code AS region_code
                           FROM center ce LEFT JOIN region cr ON cr.id = ce.region_id
                           WHERE ce.id = c.center_id OFFSET 0) ce ON true
        WHERE c.id = ANY(p_ids)
    ) v
$function$
"""


def upgrade() -> None:
    values = ", ".join(f"'{s}'" for s in SOURCES)
    op.execute(f"CREATE TYPE case_source AS ENUM ({values})")
    op.execute("ALTER TABLE cases ADD COLUMN source case_source NOT NULL DEFAULT 'other'")
    op.execute(
        "UPDATE cases c SET source = 'grid_worker' FROM app_user u "
        "WHERE u.id = c.reporter_id AND u.role = 'grid_worker'"
    )
    op.execute(f"DROP FUNCTION {OLD_ACCEPT}")
    op.execute(f"DROP FUNCTION {OLD_INSERT}")
    op.execute(NEW_INSERT_SQL)
    op.execute(NEW_ACCEPT_SQL)
    op.execute(NEW_DOC_SQL)


def downgrade() -> None:
    op.execute(OLD_DOC_SQL)
    op.execute(f"DROP FUNCTION {NEW_ACCEPT}")
    op.execute(f"DROP FUNCTION {NEW_INSERT}")
    op.execute(OLD_INSERT_SQL)
    op.execute(OLD_ACCEPT_SQL)
    op.execute("ALTER TABLE cases DROP COLUMN source")
    op.execute("DROP TYPE case_source")
