"""Same place, same trouble: possible duplicates and repeat warnings for a new case.

* A new case within 100 m and 72 h of an *open* case of the same category is linked to it as a
  possible duplicate — both stay; an operator confirms or unlinks (:func:`decide_duplicate`).
* Repeat warning (高频线索): the same place (50 m) or the same resident (phone blind index) with
  ≥ 3 cases in 30 days puts ``repeat_place`` / ``repeat_resident`` counts in the case's flags.

Both look only at cases the submitter may see (row-level security applies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, NotFound
from gis.scope import Scope

DUPLICATE_M, DUPLICATE_HOURS = 100, 72
REPEAT_M, REPEAT_DAYS, REPEAT_MIN = 50, 30, 3
# degrees that surely span the distances in China (lat < 54°): a GIST prefilter, metres after
_NEAR_DEG = {DUPLICATE_M: 0.002, REPEAT_M: 0.001}

# Under row-level security PostgreSQL may not use a spatial (non-leakproof) condition before the
# policy, so nearby cases are found through the grids around each new case, looked up first
# (grids are not under RLS: their GIST index applies), then by the indexed, leakproof grid_code;
# {in_scope} adds the caller's jurisdiction the same way.  Cases with no grid are not considered.
# New cases of one batch see each other; a link goes from the newer to the older case only.
# The same statement writes the new cases' first events and their (encrypted) parties: the cases
# were inserted by an earlier statement, so the event and party policies see them.  Parties
# written here are invisible to the statement's own reads, so the resident count takes the new
# ones from the parameters (``newp``) and the older ones from the table.
_FLAG_REPEATS = f"""
    WITH n AS (
        SELECT c.id, c.geom, c.category, c.received_at FROM cases c
        WHERE c.id = ANY(CAST(:ids AS bigint[]))
    ), events AS (
        INSERT INTO case_event (case_id, actor, action, from_status, to_status, note, data)
        SELECT e.id, :actor, 'register', NULL, 'registered', '上报登记',
               jsonb_build_object('assign_method', e.method)
        FROM unnest(CAST(:ids AS bigint[]), CAST(:methods AS text[])) AS e(id, method)
    ), newp AS MATERIALIZED (
        SELECT * FROM unnest(CAST(:p_case AS bigint[]), CAST(:p_role AS text[]),
                             CAST(:p_name AS bytea[]), CAST(:p_phone AS bytea[]),
                             CAST(:p_id_card AS bytea[]), CAST(:p_index AS bytea[]))
        AS p(case_id, role, name_enc, phone_enc, id_card_enc, phone_index)
    ), parties AS (
        INSERT INTO case_party (case_id, role, name_enc, phone_enc, id_card_enc, phone_index)
        SELECT * FROM newp
    ), near AS (  -- the grids around each new case, one row each
        SELECT n.id, g.code,
               ST_DWithin(g.geom, n.geom, {_NEAR_DEG[DUPLICATE_M]}) AS within_duplicate,
               ST_DWithin(g.geom, n.geom, {_NEAR_DEG[REPEAT_M]}) AS within_repeat
        FROM n JOIN grid g
          ON g.valid_to IS NULL AND g.geom && ST_Expand(n.geom, {_NEAR_DEG[DUPLICATE_M]})
    ), links AS (
        INSERT INTO case_link (case_id, other_case_id, distance_m)
        SELECT n.id, o.id, ST_Distance(o.geom::geography, n.geom::geography)
        FROM n JOIN near ON near.id = n.id AND near.within_duplicate
        JOIN cases o
          ON o.grid_code = near.code AND o.id <> n.id AND o.category = n.category
         AND o.status <> 'closed'
         AND o.received_at >= n.received_at - interval '{DUPLICATE_HOURS} hours'
         AND ST_DWithin(o.geom::geography, n.geom::geography, {DUPLICATE_M})
         AND {{in_scope}}
        WHERE o.id < n.id OR NOT (o.id = ANY(CAST(:ids AS bigint[])))
        ON CONFLICT DO NOTHING
        RETURNING 1
    ), place AS (
        SELECT n.id, count(o.id) AS k
        FROM n JOIN near ON near.id = n.id AND near.within_repeat
        JOIN cases o
          ON o.grid_code = near.code
         AND o.received_at >= n.received_at - interval '{REPEAT_DAYS} days'
         AND ST_DWithin(o.geom::geography, n.geom::geography, {REPEAT_M})
         AND {{in_scope}}
        GROUP BY n.id
    ), resident AS (
        SELECT s.id, max(s.k) AS k FROM (
            SELECT n.id, count(DISTINCT o.id) AS k
            FROM n JOIN newp p ON p.case_id = n.id
            CROSS JOIN LATERAL (  -- per phone: the indexed older parties, then the new ones
                SELECT t.case_id FROM case_party t WHERE t.phone_index = p.phone_index
                UNION ALL
                SELECT t.case_id FROM newp t WHERE t.phone_index = p.phone_index) q
            JOIN cases o ON o.id = q.case_id
            WHERE p.phone_index IS NOT NULL
              AND o.received_at >= n.received_at - interval '{REPEAT_DAYS} days'
              AND {{in_scope}}
            GROUP BY n.id, p.phone_index) s
        GROUP BY s.id
    ), flagged AS (
        UPDATE cases c SET flags = c.flags || jsonb_strip_nulls(jsonb_build_object(
            'repeat_place', CASE WHEN pl.k >= {REPEAT_MIN} THEN pl.k END,
            'repeat_resident', CASE WHEN re.k >= {REPEAT_MIN} THEN re.k END))
        FROM n LEFT JOIN place pl ON pl.id = n.id LEFT JOIN resident re ON re.id = n.id
        WHERE c.id = n.id AND (pl.k >= {REPEAT_MIN} OR re.k >= {REPEAT_MIN})
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM links) AS links, (SELECT count(*) FROM flagged) AS flagged
"""


@dataclass
class NewParty:
    """A new case's party, encrypted (bound to its case) and with its phone's blind index."""

    case_id: int
    role: str
    name_enc: bytes | None
    phone_enc: bytes | None
    id_card_enc: bytes | None
    phone_index: bytes | None


def register_new_cases(
    session: Session,
    scope: Scope,
    actor: str,
    cases: Sequence[tuple[int, str]],
    parties: Sequence[NewParty],
) -> None:
    """For new cases ``(id, assign method)``: their first event and their parties; then link
    possible duplicates and write repeat warnings into their flags — one statement for any number
    of cases."""
    session.execute(
        text(_FLAG_REPEATS.format(in_scope=scope.case_condition("o"))),
        {
            "actor": actor,
            "ids": [case_id for case_id, _ in cases],
            "methods": [method for _, method in cases],
            "p_case": [p.case_id for p in parties],
            "p_role": [p.role for p in parties],
            "p_name": [p.name_enc for p in parties],
            "p_phone": [p.phone_enc for p in parties],
            "p_id_card": [p.id_card_enc for p in parties],
            "p_index": [p.phone_index for p in parties],
        },
    )


def duplicate_links(session: Session, case_id: int) -> list[tuple[str, str, float | None]]:
    """(other case code, status, distance in metres) of a case's duplicate links, both ways."""
    rows = session.execute(
        text("""
        SELECT o.code, l.status, l.distance_m FROM case_link l
        JOIN cases o ON o.id = CASE WHEN l.case_id = :id THEN l.other_case_id ELSE l.case_id END
        WHERE (l.case_id = :id OR l.other_case_id = :id) AND l.kind = 'possible_duplicate'
        ORDER BY o.code
    """),
        {"id": case_id},
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def decide_duplicate(
    session: Session, case_id: int, other_code: str, decision: str, actor: str
) -> None:
    """Confirm or unlink a suggested duplicate (either direction of the link)."""
    if decision not in ("confirm", "unlink"):
        raise InvalidInput(
            "decision 只能是 confirm 或 unlink。",
            "decision must be confirm or unlink.",
            field="decision",
        )
    updated = session.execute(
        text("""
        UPDATE case_link l SET status = :status, decided_by = :actor, decided_at = now()
        FROM cases o
        WHERE o.code = :other AND l.kind = 'possible_duplicate'
          AND ((l.case_id = :id AND l.other_case_id = o.id)
               OR (l.other_case_id = :id AND l.case_id = o.id))
        RETURNING l.id
    """),
        {
            "status": "confirmed" if decision == "confirm" else "unlinked",
            "actor": actor,
            "other": other_code,
            "id": case_id,
        },
    ).first()
    if updated is None:
        raise NotFound(
            "这两件案件之间没有疑似重复的关联。",
            "These two cases are not linked as possible duplicates.",
        )
