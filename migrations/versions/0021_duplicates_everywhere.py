"""Duplicates and repeat warnings look at every case, not only at those the reporter may see.

"Same place, same trouble" is a rule about the place and the resident, not about who reports.
Until now the registration (``wangge_intake_register``, migration 0017) looked for the open case
nearby, the cases at the same place and the resident's cases under the reporter's row-level
security and jurisdiction.  A grid worker or village operator sees one village: two grid
workers reporting the same fire on the road between their villages made two cases that were
never linked, and the township center that sees both had no hint; a resident reporting in three
villages within a month raised no repeat warning.

* ``wangge_intake_register`` runs with ``wangge.scope = '*'`` (its ``SET`` clause; the caller's
  scope is back when it returns) and no longer takes the caller's jurisdiction.  It writes only
  for the cases it is given (their events, parties, links and flags), which the caller has just
  inserted in its own scope.
* No reader is shown a case outside their scope: a link is listed with a case only where the
  reader may see the other case (``duplicate_links`` and the case view join ``cases`` under
  row-level security).  The repeat counts in the new case's flags are counts of every case.
* ``wangge_intake_accept`` (same signature) calls the new registration.

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

HERE = Path(__file__).parent

# The registration's argument types, before and after.
_OLD_REGISTER_SIGNATURE = """wangge_intake_register(
    text, text, text, bigint[], text[], bigint[], text[], bytea[], bytea[], bytea[], bytea[],
    double precision, double precision, interval, double precision, double precision, interval,
    integer)"""
_NEW_REGISTER_SIGNATURE = """wangge_intake_register(
    text, bigint[], text[], bigint[], text[], bytea[], bytea[], bytea[], bytea[],
    double precision, double precision, interval, double precision, double precision, interval,
    integer)"""

# The registration of migration 0017 without the caller's jurisdiction (its three
# ``wangge_scope_has`` conditions), with every case in sight.
REGISTER = r"""
CREATE FUNCTION wangge_intake_register(
    p_actor text, p_ids bigint[], p_methods text[],
    p_case bigint[], p_role text[], p_name bytea[], p_phone bytea[], p_id_card bytea[],
    p_index bytea[],
    p_duplicate_m double precision, p_duplicate_deg double precision,
    p_duplicate_window interval, p_repeat_m double precision, p_repeat_deg double precision,
    p_repeat_window interval, p_repeat_min integer)
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
        ON CONFLICT DO NOTHING
        RETURNING 1
    ), place AS (
        SELECT near.id, count(o.id) AS k
        FROM near JOIN cases o
          ON o.grid_code = near.code
         AND o.received_at >= near.received_at - p_repeat_window
         AND ST_DWithin(o.geom::geography, near.geom::geography, p_repeat_m)
        WHERE near.within_repeat
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

# How wangge_intake_accept (migration 0018) calls the registration, before and after.
_CALL_0018 = """            p_actor, p_scope_column, p_scope_code, ids, methods,"""
_CALL_0021 = """            p_actor, ids, methods,"""


def _function(migration: str, name: str) -> str:
    """The text of function ``name`` as migration file ``migration`` created it."""
    source = (HERE / migration).read_text(encoding="utf-8")
    start = source.index(f"CREATE FUNCTION {name}(")
    end = source.index("$$;", start) + len("$$;")
    return source[start:end]


def _accept(call: str) -> str:
    """``wangge_intake_accept`` of migration 0018, calling the registration with ``call``."""
    text = _function("0018_intake_one_call.py", "wangge_intake_accept")
    assert _CALL_0018 in text
    return text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
        _CALL_0018, call
    )


def upgrade() -> None:
    op.execute(f"DROP FUNCTION {_OLD_REGISTER_SIGNATURE}")
    op.execute(REGISTER)
    op.execute(_accept(_CALL_0021))


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {_NEW_REGISTER_SIGNATURE}")
    op.execute(_function("0017_intake_plans.py", "wangge_intake_register"))
    op.execute(_accept(_CALL_0018))
