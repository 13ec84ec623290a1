"""A new case's repeat warning by place is written with the case, not by an update after it.

The registration (``wangge_intake_register``) counted the cases within 50 m and 30 days of each
new case after the insert, and wrote ``repeat_place`` into the flags of those with three or more
by updating them.  An update of a case just inserted is not a HOT update (its page is full):
the case was written twice, with a new entry in each of its 18 indexes, and the roll-up trigger
on updates went through both versions.  In a 500-report batch at busy places that update took
about 50 ms of the ~200 ms the database spends; every flagged case left a dead row behind.

* ``wangge_intake_insert`` takes the repeat distance, window and threshold, and counts before it
  inserts (``wangge_repeat_place``): the stored cases near each report, with every case in sight
  as the registration since migration 0021, plus the call's own new cases within the distance
  that lie in a grid (itself included, as the registration counted it).  Items whose key is
  already taken are not counted: they are replays, and their case is one of the stored ones.
  A 500-report batch: ~2,050 → ~2,400 reports/s (``bench/intake.py``, three runs each); single
  reports unchanged within the noise.
* ``wangge_intake_register`` keeps events, parties, duplicate links and the repeat warning by
  resident; it loses the repeat distance (its two arguments).
* ``wangge_intake_accept`` (same signature) passes the repeat arguments to the insert.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-22
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


_INSERT_ARGS = """
    p_user integer, p_actor text, p_source_ip inet, p_batch boolean,
    p_max_outside_m double precision,
    p_scope_column text, p_scope_code text, p_scope_grids text[],
    p_idx integer[], p_lock bigint[], p_kind text[], p_category text[], p_severity text[],
    p_description text[], p_datum text[], p_received_lon double precision[],
    p_received_lat double precision[], p_lon double precision[], p_lat double precision[],
    p_accuracy_m double precision[], p_reported_at timestamptz[], p_key uuid[],
    p_fingerprint bytea[], p_flags text[], p_parties integer[]"""
_INSERT_TYPES = """integer, text, inet, boolean, double precision, text, text, text[], integer[],
    bigint[], text[], text[], text[], text[], text[], double precision[], double precision[],
    double precision[], double precision[], double precision[], timestamptz[], uuid[], bytea[],
    text[], integer[]"""
_OLD_INSERT = f"wangge_intake_insert({_INSERT_TYPES})"
_NEW_INSERT = (
    f"wangge_intake_insert({_INSERT_TYPES}, double precision, double precision, interval, integer)"
)
_OLD_REGISTER = """wangge_intake_register(
    text, bigint[], text[], bigint[], text[], bytea[], bytea[], bytea[], bytea[],
    double precision, double precision, interval, double precision, double precision, interval,
    integer)"""
_NEW_REGISTER = """wangge_intake_register(
    text, bigint[], text[], bigint[], text[], bytea[], bytea[], bytea[], bytea[],
    double precision, double precision, interval, interval, integer)"""

UPGRADE = rf"""
-- How many cases a repeat warning at each point counts (by position in p_pt): the stored cases
-- within p_repeat_m and p_repeat_window, of every jurisdiction, then the new cases of the call
-- (p_pt itself) within p_repeat_m that lie in a grid (p_in_grid), each point itself included.
-- Stored cases as the registration found them: through the grids around the point (grids are not
-- under row-level security, their GIST index applies), then by the indexed grid_code.
CREATE FUNCTION wangge_repeat_place(
    p_pt geometry[], p_in_grid boolean[], p_repeat_m double precision,
    p_repeat_deg double precision, p_repeat_window interval)
RETURNS bigint[]
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET wangge.scope = '*'
SET enable_nestloop = on AS $$
DECLARE
    stored bigint[];
    peers bigint[];
BEGIN
    SELECT array_agg(s.k ORDER BY n.pos) INTO stored
    FROM unnest(p_pt) WITH ORDINALITY AS n(pt, pos)
    CROSS JOIN LATERAL (
        SELECT count(*) AS k
        FROM grid g JOIN cases o ON o.grid_code = g.code
        WHERE g.valid_to IS NULL AND g.geom && ST_Expand(n.pt, p_repeat_deg)
          AND ST_DWithin(g.geom, n.pt, p_repeat_deg)
          AND o.received_at >= now() - p_repeat_window
          AND ST_DWithin(o.geom::geography, n.pt::geography, p_repeat_m)) s;
    IF cardinality(p_pt) = 1 THEN  -- a single report: itself
        peers := ARRAY[CASE WHEN p_in_grid[1] THEN 1 ELSE 0 END];
    ELSE
        -- Pairs of new cases: joined on cells of p_repeat_deg (wider than p_repeat_m in China) by a
        -- hash join.  Never a nested loop: with generic plans the planner may take the call for one
        -- case, and a nested loop measures every pair (a batch of 500: 0.3 s).  The function's SET
        -- clause puts the setting back on return.
        PERFORM set_config('enable_nestloop', 'off', true);
        WITH n AS MATERIALIZED (
            SELECT n.pt, n.in_grid, n.pos, CAST(floor(ST_X(n.pt) / p_repeat_deg) AS integer) AS cx,
                   CAST(floor(ST_Y(n.pt) / p_repeat_deg) AS integer) AS cy
            FROM unnest(p_pt, p_in_grid) WITH ORDINALITY AS n(pt, in_grid, pos)
        ), near AS (
            SELECT n.cx + dx.d AS cx, n.cy + dy.d AS cy, n.pt, n.pos
            FROM n CROSS JOIN (VALUES (-1), (0), (1)) dx(d) CROSS JOIN (VALUES (-1), (0), (1)) dy(d)
        ), pairs AS (
            SELECT near.pos, count(*) AS k
            FROM near JOIN n o ON o.cx = near.cx AND o.cy = near.cy
            WHERE o.in_grid AND ST_DWithin(o.pt::geography, near.pt::geography, p_repeat_m)
            GROUP BY near.pos
        )
        SELECT array_agg(coalesce(pairs.k, 0) ORDER BY n.pos) INTO peers
        FROM n LEFT JOIN pairs ON pairs.pos = n.pos;
    END IF;
    RETURN (SELECT array_agg(t.stored + t.peers ORDER BY t.pos)
            FROM unnest(stored, peers) WITH ORDINALITY AS t(stored, peers, pos));
END
$$;

CREATE FUNCTION wangge_intake_insert({_INSERT_ARGS},
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
                       THEN jsonb_build_object('repeat_place', pl.k[a.pos]) ELSE '{{}}' END,
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
$$;

-- Migration 0021's registration without the repeat warning by place (the insert wrote it).
CREATE FUNCTION wangge_intake_register(
    p_actor text, p_ids bigint[], p_methods text[],
    p_case bigint[], p_role text[], p_name bytea[], p_phone bytea[], p_id_card bytea[],
    p_index bytea[],
    p_duplicate_m double precision, p_duplicate_deg double precision,
    p_duplicate_window interval, p_repeat_window interval, p_repeat_min integer)
RETURNS TABLE (links bigint, flagged bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET wangge.scope = '*' AS $$
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
                          AND ST_DWithin(g.geom, n.geom, p_duplicate_deg)
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
        WHERE o.id < near.id OR NOT (o.id = ANY(p_ids))
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
            GROUP BY p.case_id, p.phone_index) s
        GROUP BY s.id
    ), flagged AS (
        UPDATE cases c SET flags = c.flags || jsonb_build_object('repeat_resident', f.k)
        FROM resident f
        WHERE c.id = f.id AND f.k >= p_repeat_min
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM links), (SELECT count(*) FROM flagged);
END
$$;
"""

# How wangge_intake_accept calls the insert and the registration: as migration 0021 made it
# (from 0018's text), and now.
_CALLS_0021 = (
    """        p_fingerprint, p_flags, p_parties) n;""",
    """            p_actor, ids, methods,
            '{}', '{}', '{}', '{}', '{}', '{}',
            p_duplicate_m, p_duplicate_deg, p_duplicate_window,
            p_repeat_m, p_repeat_deg, p_repeat_window, p_repeat_min);""",
)
_CALLS_0022 = (
    """        p_fingerprint, p_flags, p_parties,
        p_repeat_m, p_repeat_deg, p_repeat_window, p_repeat_min) n;""",
    """            p_actor, ids, methods,
            '{}', '{}', '{}', '{}', '{}', '{}',
            p_duplicate_m, p_duplicate_deg, p_duplicate_window, p_repeat_window, p_repeat_min);""",
)


def _accept(calls: tuple[str, str]) -> str:
    """``wangge_intake_accept`` as migration 0021 made it, its two calls replaced by ``calls``."""
    m21 = _migration("0021_duplicates_everywhere.py")
    text = m21._accept(m21._CALL_0021)
    for old, new in zip(_CALLS_0021, calls, strict=True):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def upgrade() -> None:
    op.execute(f"DROP FUNCTION {_OLD_INSERT}")
    op.execute(f"DROP FUNCTION {_OLD_REGISTER}")
    op.execute(UPGRADE)
    op.execute(_accept(_CALLS_0022))


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {_NEW_INSERT}")
    op.execute(f"DROP FUNCTION {_NEW_REGISTER}")
    op.execute("DROP FUNCTION wangge_repeat_place(geometry[], boolean[], double precision, "
               "double precision, interval)")  # fmt: skip
    m18, m21 = _migration("0018_intake_one_call.py"), _migration("0021_duplicates_everywhere.py")
    insert = m18.UPGRADE[: m18.UPGRADE.index("$$;") + len("$$;")]
    op.execute(insert)
    op.execute(m21.REGISTER)
    op.execute(_accept(_CALLS_0021))
