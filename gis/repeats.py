"""Same place, same trouble: possible duplicates and repeat warnings for a new case.

* A new case within 100 m and 72 h of an *open* case of the same category is linked to it as a
  possible duplicate — both stay; an operator confirms or unlinks (:func:`decide_duplicate`).
  Where there are many (a hot spot: a flood, a fire, every grid worker around reporting one
  incident), to the :data:`DUPLICATE_LINKS` nearest and to the first one (migration 0044).
* Repeat warning (高频线索): the same place (50 m) or the same resident (phone blind index) with
  ≥ 3 cases in 30 days puts ``repeat_place`` / ``repeat_resident`` counts in the case's flags.

Both look at every case of the deployment, not only at those the submitter may see: the rule is
about the place and the resident (two grid workers of neighbouring villages reporting one fire on
the road between them are linked).  A link is listed only to readers who may see both cases; the
repeat counts in a new case's flags count every case (migration 0021).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import execute_arrays
from gis.errors import InvalidInput, NotFound
from gis.scope import Scope

DUPLICATE_M, DUPLICATE_HOURS = 100, 72
#: the most nearest possible duplicates a new case is linked to, besides the first one (written
#: into ``wangge_intake_register`` by migration 0044)
DUPLICATE_LINKS = 10
REPEAT_M, REPEAT_DAYS, REPEAT_MIN = 50, 30, 3
# degrees that surely span the distances in China (lat < 54°): a GIST prefilter, metres after
_NEAR_DEG = {DUPLICATE_M: 0.002, REPEAT_M: 0.001}
_DUPLICATE_ARGS = f"{DUPLICATE_M}, {_NEAR_DEG[DUPLICATE_M]}, interval '{DUPLICATE_HOURS} hours'"
_RESIDENT_ARGS = f"interval '{REPEAT_DAYS} days', {REPEAT_MIN}"
#: the repeat warning by place, the last arguments of ``wangge_intake_insert``: the insert counts
#: the cases at each new case's place and writes the warning with the case (migration 0022)
PLACE_ARGS = f"{REPEAT_M}, {_NEAR_DEG[REPEAT_M]}, interval '{REPEAT_DAYS} days', {REPEAT_MIN}"
#: the last arguments of ``wangge_intake_accept`` (``gis.intake``, which registers reports
#: without parties in the insert's call): the duplicates' distance and window, then the repeats'
REGISTER_ARGS = f"{_DUPLICATE_ARGS}, {PLACE_ARGS}"

# One call (migration 0017, ``wangge_intake_register``; since 0021 with every case in sight;
# since 0022 without the repeat warning by place, which the insert writes with the case),
# planned once per connection.  Under row-level security PostgreSQL may not use a spatial
# (non-leakproof) condition before the policy, so the cases around the new cases are read by
# ``wangge_duplicates_near`` (migration 0086), as the owner, from the cases' GiST index: a
# lookup costs what lies near the point (a hot spot's thousands in a grid are not each measured).
# Every case with a point counts, in a grid or not.  New cases of one call see each other; a
# link goes from the newer to the older case only.  The same statement writes the
# new cases' first events and their (encrypted) parties: the cases were inserted by an earlier
# statement, so the event and party policies see them.  (Its arrays go in the binary format:
# ``gis.db.execute_arrays``.)
_REGISTER = f"""
    SELECT links, flagged FROM wangge_intake_register(
        :actor, CAST(:ids AS bigint[]), CAST(:methods AS text[]),
        CAST(:p_case AS bigint[]), CAST(:p_role AS text[]), CAST(:p_name AS bytea[]),
        CAST(:p_phone AS bytea[]), CAST(:p_id_card AS bytea[]), CAST(:p_index AS bytea[]),
        {_DUPLICATE_ARGS}, {_RESIDENT_ARGS})
"""


# a case given its point late (补充位置): its possible duplicates, both ways in time (migration
# 0081); returns how many links it made
_LINK_LOCATED = text(f"""
    SELECT wangge_link_located(:id, {_DUPLICATE_ARGS}, {DUPLICATE_LINKS})
""")


def link_located(session: Session, case_id: int) -> int:
    """Link a case that has just been given its point to its possible duplicates (the intake's
    rule, looking both ways in time: it was received before it had a point)."""
    return int(session.execute(_LINK_LOCATED, {"id": case_id}).scalar_one())


# ... and its repeat warning by place, as the insert writes it for a report (the cases within
# REPEAT_M of its point in the last REPEAT_DAYS, itself among them: it is stored)
_FLAG_LOCATED = text(f"""
    UPDATE cases c SET flags = c.flags || jsonb_build_object('repeat_place', k.n)
    FROM (SELECT (wangge_repeat_place(ARRAY[geom], ARRAY[false], {REPEAT_M},
                                      {_NEAR_DEG[REPEAT_M]}, interval '{REPEAT_DAYS} days'))[1]
                 AS n
          FROM cases WHERE id = :id) k
    WHERE c.id = :id AND k.n >= {REPEAT_MIN}
""")


def flag_located(session: Session, case_id: int) -> None:
    """Write the repeat warning by place (高频线索) of a case that has just been given its point,
    as the intake writes it for a report at that place."""
    session.execute(_FLAG_LOCATED, {"id": case_id})


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
    actor: str,
    cases: Sequence[tuple[int, str]],
    parties: Sequence[NewParty],
) -> None:
    """For new cases ``(id, assign method)``: their first event and their parties; then link
    possible duplicates and write the repeat warning by resident into their flags — one
    statement for any number of cases.  (The warning by place is written by the insert.)"""
    execute_arrays(
        session,
        _REGISTER,
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


@dataclass(frozen=True)
class Peer:
    """Another case behind a repeat warning (高频线索): at the same place or with the same
    resident, in the window before the case; ``distance_m`` for the place's."""

    code: str
    kind: str
    category: str
    category_zh: str
    category_en: str
    status: str
    received_at: datetime
    distance_m: float | None = None
    lon: float | None = None  # its point (WGS 84), for the place's
    lat: float | None = None


# The cases the warnings counted: received in the REPEAT_DAYS up to the case, not merged into
# another (as the counts), the case itself left out — of them, those the reader may see.  The
# place's are found by the cases' spatial index (``wangge_cases_near``, migration 0086: under
# row-level security a spatial condition could not use it), then read under the reader's scope.
_PEER_COLUMNS = "c.code, c.kind::text, c.category, k.name_zh, k.name_en, c.status, c.received_at"


@dataclass(frozen=True)
class Peers:
    """The other cases behind a case's repeat warnings that the reader may see: newest first, at
    most :data:`PEERS_SHOWN` of each; ``*_seen``: how many the reader may see in all."""

    place: list[Peer] = field(default_factory=list)
    place_seen: int = 0
    resident: list[Peer] = field(default_factory=list)
    resident_seen: int = 0


def repeat_peers(session: Session, scope: Scope, code: str, place: bool, resident: bool) -> Peers:
    """The other cases behind case ``code``'s repeat warnings by ``place`` and by ``resident``
    (each looked up only if asked for) in the reader's ``scope``."""
    from gis.workflow import not_merged_sql  # (gis.workflow imports this module)

    scope_condition = f"{scope.case_condition('c')} AND {not_merged_sql('c')}"
    window = {"code": code, "window": f"{REPEAT_DAYS} days", "n": PEERS_SHOWN}
    near: Sequence[Any] = []
    same: Sequence[Any] = []
    if place:
        near = session.execute(
            text(f"""
            SELECT {_PEER_COLUMNS}, n.d, ST_X(c.geom), ST_Y(c.geom), count(*) OVER ()
            FROM cases me
            CROSS JOIN LATERAL wangge_cases_near(
                me.geom, {REPEAT_M}, me.received_at - CAST(:window AS interval),
                me.received_at, NULL) n
            JOIN cases c ON c.id = n.id
            JOIN category k ON k.code = c.category
            WHERE me.code = :code AND me.geom IS NOT NULL AND c.id <> me.id
              AND {scope_condition}
            ORDER BY c.received_at DESC, c.id DESC LIMIT :n
        """),
            window,
        ).all()
    if resident:
        same = session.execute(
            text(f"""
            SELECT {_PEER_COLUMNS}, NULL, NULL, NULL, count(*) OVER ()
            FROM cases me
            JOIN cases c ON c.id IN (
                SELECT o.case_id FROM case_party p
                JOIN case_party o ON o.phone_index = p.phone_index AND o.case_id <> me.id
                WHERE p.case_id = me.id AND p.phone_index IS NOT NULL)
            JOIN category k ON k.code = c.category
            WHERE me.code = :code
              AND c.received_at BETWEEN me.received_at - CAST(:window AS interval)
                                    AND me.received_at
              AND {scope_condition}
            ORDER BY c.received_at DESC, c.id DESC LIMIT :n
        """),
            window,
        ).all()
    return Peers(
        place=[Peer(*r[:10]) for r in near],
        place_seen=near[0][10] if near else 0,
        resident=[Peer(*r[:10]) for r in same],
        resident_seen=same[0][10] if same else 0,
    )


#: the most cases a repeat warning lists (the count says how many there were)
PEERS_SHOWN = 20
