"""The closed loop (研交办督结评): one transition function for every move a case makes.

States: registered → accepted → dispatched → in_progress → resolved → verified → closed, with
returned, transferred, escalated, suspended and reopened (退回 sends a case up to the center
that assigns it again, and an escalated one back down to the center it came up from).
:data:`MOVES` is the whole table: which action leaves which states for which state, and what it
needs.  :func:`act` is the only code that changes a case's status; it

* checks the actor: the ``case:handle`` permission, the case in their jurisdiction, and their
  center — the case's responsible center or one above it; extending and suspending need the
  center *above* the responsible one (approval);
* checks the move against the table (409 naming the current state and the allowed actions);
* changes the case only if nobody else did since it was read (``version``): of two operators
  acting at once, one wins and the other gets 409;
* writes the ``case_event`` (who, when, from, to, note, attachments) in the same transaction.

Deadlines run in working time (:mod:`gis.worktime`): suspension stops the clock (the time
suspended is added back on resume), extension moves it, reopening starts a new round.
Department dispatch (吹哨报到): a case is dispatched to one or more departments stationed at its
center (or the nearest center above that has departments); each answers accepted / done /
cannot (with a reason); when every department has answered and at least one is done, the case
is resolved; when none can, it returns to ``accepted`` for another dispatch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.edits import relocate_open_cases
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.locate import locate_point
from gis.parties import MAX_PER_CASE as MAX_PARTIES
from gis.parties import PARTY_ROLES, NewParty
from gis.pii import PiiCipher, mask_text
from gis.repeats import REPEAT_DAYS, REPEAT_MIN, flag_located, link_located
from gis.scope import Scope
from gis.worktime import SHANGHAI, add_work_hours, work_hours_between

#: who a resident's rating is recorded as, and the note of the reopening it may cause (Chinese,
#: English)
RESIDENT_ACTOR = "群众"
REOPENED_NOTE = (
    "群众评价不满意或未解决，案件重启",
    "The resident was not satisfied or the matter is not solved: the case is reopened",
)
#: the notes of a dispatch settled by the departments' answers (Chinese, English)
DEPARTMENTS_DONE = ("各部门已全部办结", "Every department has finished")
DEPARTMENTS_FAILED = (
    "派遣部门均无法办理，请重新派遣",
    "No department dispatched to can handle it: dispatch again",
)
STATE_NAMES = {
    "registered": "已登记",
    "accepted": "已受理",
    "dispatched": "已派遣",
    "in_progress": "处置中",
    "resolved": "已办结",
    "verified": "已回访",
    "closed": "已结案",
    "returned": "已退回",
    "transferred": "已转办",
    "escalated": "已上报",
    "suspended": "已挂账",
    "reopened": "已重启",
}
#: the same states in English (the second locale)
STATE_NAMES_EN = {
    "registered": "Registered",
    "accepted": "Accepted",
    "dispatched": "Dispatched",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "verified": "Verified",
    "closed": "Closed",
    "returned": "Returned",
    "transferred": "Transferred",
    "escalated": "Escalated",
    "suspended": "Suspended",
    "reopened": "Reopened",
}
#: the most working hours one extension (延期) may add: about a year of working days
MAX_EXTENSION_HOURS = 2000.0
#: states the clock does not chase (the tick's SQL and its partial index name the same four)
SETTLED_OR_PAUSED = frozenset({"resolved", "verified", "closed", "suspended"})
OPEN_STATES = frozenset(STATE_NAMES) - SETTLED_OR_PAUSED
#: a resolved case is to be verified (回访 by its desk, 现场核查 by the grid worker) within 3
#: working days by default (a deployment sets its own: ``Settings.verify_work_days``):
#: ``cases.verify_due``, set by a trigger as it moves to resolved (migrations 0069 and 0074,
#: which keep their own copy of the default); the clock reminds once when it passes
VERIFY_WITHIN_HOURS = 24.0


def category_name_sql(lang: str, alias: str) -> str:
    """The SQL of the name of the category row ``alias`` in ``lang``: English for ``en``, else
    Chinese (what an API client that asked for English by Accept-Language gets)."""
    return f"{alias}.name_en" if lang == "en" else f"{alias}.name_zh"


#: a filter's ``status`` value for the resolved cases waiting to be verified (回访, 现场核查):
#: those resolved here, with a ``verify_due``.  A case imported resolved (another system's
#: history) is not: it is nobody's to check on the spot years later.
TO_VERIFY = "to_verify"


def to_verify_sql(alias: str = "c") -> str:
    """SQL: case ``alias`` is resolved and waiting to be verified (:data:`TO_VERIFY`)."""
    return f"({alias}.status = 'resolved' AND {alias}.verify_due IS NOT NULL)"


def states_of(values: Sequence[str]) -> list[str]:
    """A filter's ``status`` values as states: each one of :data:`STATE_NAMES`, or ``open`` for
    every open state (:data:`TO_VERIFY` adds none: see :func:`status_sql`); any other is a 422
    that lists them."""
    unknown = [v for v in values if v not in ("open", TO_VERIFY) and v not in STATE_NAMES]
    if unknown:
        valid = ", ".join(["open", TO_VERIFY, *STATE_NAMES])
        hint = ("超期的案件请用 overdue=true。", " For overdue cases: overdue=true.")
        late = "overdue" in unknown  # (the maps' word: there it is a status filter)
        raise InvalidInput(
            f"未知的状态：{', '.join(unknown)}（可用：{valid}）。{hint[0] if late else ''}",
            f"Unknown status: {', '.join(unknown)} (valid: {valid}).{hint[1] if late else ''}",
            field="status",
        )
    states = {v for v in values if v not in ("open", TO_VERIFY)}
    return sorted(states | (OPEN_STATES if "open" in values else set()))


def status_sql(values: Sequence[str], alias: str = "c") -> tuple[str, list[str]]:
    """SQL: case ``alias`` is in one of the filter's ``status`` values (:func:`states_of`), with
    the states for its ``:statuses`` parameter."""
    condition = f"{alias}.status = ANY(CAST(:statuses AS varchar[]))"
    if TO_VERIFY in values:
        condition = f"({condition} OR {to_verify_sql(alias)})"
    return condition, states_of(values)


def open_sql(alias: str = "c") -> str:
    """SQL: case ``alias`` is open, in the very words of the partial indexes of open cases
    (``status NOT IN`` the settled or paused states, as constants).  The open states as a
    parameter (``status = ANY(:states)``) read the same, but a prepared statement's generic plan
    cannot tell that they imply the indexes' predicate: it then reads every case of a center or
    grid through the plain index, open or not."""
    return f"{alias}.status NOT IN ({', '.join(repr(s) for s in sorted(SETTLED_OR_PAUSED))})"


def unplaced_sql(alias: str = "c") -> str:
    """SQL: case ``alias`` has no point (filed by its village: 位置待查明).  Its method is then
    always ``region`` (a check constraint): saying that it is not ``covers`` lets the planner
    read the partial index of open cases not covered by a grid (a few rows) instead of the
    whole spatial index for its empty entries (a township's desk over 1M cases: 45 ms)."""
    return f"({alias}.geom IS NULL AND {alias}.assign_method <> 'covers')"


@dataclass(frozen=True)
class Move:
    """An action: the states it leaves, the state it reaches (None: computed), what it needs."""

    name_zh: str
    sources: frozenset[str]
    target: str | None
    reason: bool = False  # a note is required
    approval: bool = False  # by the center above the responsible one


def _m(name: str, sources: set[str], target: str | None, **kw: bool) -> Move:
    return Move(name, frozenset(sources), target, **kw)


MOVES: dict[str, Move] = {
    "accept": _m(
        "受理", {"registered", "transferred", "escalated", "returned", "reopened"}, "accepted"
    ),
    "dispatch": _m("派遣", {"accepted", "reopened"}, "dispatched"),
    "start": _m("开始处置", {"accepted", "dispatched"}, "in_progress"),
    "resolve": _m("办结", {"in_progress"}, "resolved"),
    "verify": _m("回访", {"resolved"}, None),  # verified, or reopened if not resolved
    "close": _m("结案", {"verified"}, "closed"),
    "return": _m(
        "退回", {"registered", "accepted", "transferred", "escalated"}, "returned", reason=True
    ),
    "transfer": _m(
        "转办", {"registered", "accepted", "returned", "escalated"}, "transferred", reason=True
    ),
    "escalate": _m(
        "上报",
        {
            "registered",
            "accepted",
            "dispatched",
            "in_progress",
            "returned",
            "transferred",
            "reopened",
        },
        "escalated",
    ),
    "extend": _m(
        "延期",
        {"accepted", "dispatched", "in_progress", "reopened"},
        None,
        reason=True,
        approval=True,
    ),
    "suspend": _m(
        "挂账", {"accepted", "dispatched", "in_progress"}, "suspended", reason=True, approval=True
    ),
    "resume": _m("恢复办理", {"suspended"}, None),
    "reopen": _m("重启", {"verified", "closed", "resolved"}, "reopened", reason=True),
    # 并案: a confirmed duplicate closed into the case that carries the matter (``into``)
    "merge": _m("并案", set(OPEN_STATES), "closed"),
}
ACTIONS = tuple(MOVES)
#: Chinese names of everything a case's timeline can show (moves and the other events)
EVENT_NAMES = {a: m.name_zh for a, m in MOVES.items()} | {
    "register": "上报登记",
    "history": "历史流转",
    "department_response": "部门反馈",
    "dispatch_failed": "派遣未果",
    "remind": "提醒函",
    "supervise": "督办函",
    "notify": "通报",
    "remind_verify": "核查提醒",
    "rate": "群众评价",
    "party_added": "补充当事人",
    "photo_added": "补充现场照片",
    "note": "办理记录",
    "merged_from": "他案并入",
    "on_site": "就地化解",
    "import": "历史台账导入",
    "locate": "补充位置",
}

#: the same actions and events in English (the second locale: the public tracking page)
EVENT_NAMES_EN = {
    "accept": "Accepted",
    "dispatch": "Dispatched",
    "start": "Handling started",
    "resolve": "Resolved",
    "verify": "Follow-up visit",
    "close": "Closed",
    "return": "Returned",
    "transfer": "Transferred",
    "escalate": "Escalated",
    "extend": "Deadline extended",
    "suspend": "Suspended",
    "resume": "Resumed",
    "reopen": "Reopened",
    "register": "Reported and registered",
    "history": "Earlier handling",
    "department_response": "Department's answer",
    "dispatch_failed": "Dispatch failed",
    "remind": "Reminder",
    "supervise": "Supervision notice",
    "notify": "Circulated notice",
    "remind_verify": "Reminder to verify",
    "rate": "Rated by the resident",
    "party_added": "Party added",
    "photo_added": "Photos added",
    "note": "Handling note",
    "merge": "Merged into another case",
    "merged_from": "Another case merged in",
    "on_site": "Settled on the spot",
    "import": "Imported from an old ledger",
    "locate": "Place given",
}

#: the actions as their buttons say them in English
ACTION_NAMES_EN = {
    "accept": "Accept",
    "dispatch": "Dispatch",
    "start": "Start handling",
    "resolve": "Resolve",
    "verify": "Follow-up visit",
    "close": "Close",
    "return": "Return",
    "transfer": "Transfer",
    "escalate": "Escalate",
    "extend": "Extend deadline",
    "suspend": "Suspend",
    "resume": "Resume",
    "reopen": "Reopen",
    "merge": "Merge into another case",
}


@dataclass
class ActionRequest:
    """``POST /api/cases/{code}/actions``: the action and what it carries."""

    action: str
    note: str | None = None
    version: int | None = None  # the version the actor saw; None: the current one
    attachments: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)  # dispatch: department kinds
    to_region: str | None = None  # transfer: the code of the target center's region
    extra_hours: float | None = None  # extend: working hours added
    new_deadline: datetime | None = None  # extend: or the new deadline itself
    resolved: bool | None = None  # verify: the resident confirms it is resolved
    into: str | None = None  # merge: the code of the case this one is merged into


@dataclass(frozen=True)
class Actor:
    username: str
    scope: Scope
    can_handle: bool


_CASE_FOR_UPDATE = """
    SELECT c.id, c.code, c.status, c.version, c.center_id, c.grid_code, c.category,
           c.severity::text AS severity,
           c.received_at, c.deadline, c.paused_at, c.status_before_pause, c.allowed_hours,
           c.round, cr.path AS center_path, cr.level::text AS center_level, cr.code AS center_region
    FROM cases c
    LEFT JOIN center ce ON ce.id = c.center_id
    LEFT JOIN region cr ON cr.id = ce.region_id
    WHERE c.code = :code AND {in_scope}
"""


def allowed_actions(status: str) -> list[str]:
    """The actions the table allows from ``status`` (before the actor's own checks)."""
    return [a for a, m in MOVES.items() if status in m.sources]


def _not_found() -> NotFound:
    return NotFound(
        "没有找到该案件（或不在您的管辖范围内）。", "No such case (or not in your jurisdiction)."
    )


def _illegal(action: str, status: str) -> Conflict:
    allowed = allowed_actions(status)
    names = "、".join(f"{a}（{MOVES[a].name_zh}）" for a in allowed) or "无"
    return Conflict(
        f"案件当前状态为「{STATE_NAMES.get(status, status)}」（{status}），不能执行 {action}"
        f"（{MOVES[action].name_zh}）；当前可执行：{names}。",
        f"The case is {status}; {action} is not allowed. Allowed now: "
        f"{', '.join(allowed) or 'none'}.",
        current_status=status,
        allowed_actions=allowed,
    )


def _stale(current: int) -> Conflict:
    return Conflict(
        "案件已被他人更新，请刷新后重试。",
        "The case was changed by someone else; reload it and try again.",
        current_version=current,
    )


def _check_actor(actor: Actor, move: Move, case: dict) -> None:
    if not actor.can_handle:
        raise Forbidden("您的角色不能办理案件。", "Your role may not handle cases.")
    refused = _center_refusal(actor.scope, move, case["center_path"])
    if refused:
        raise refused


def in_charge(scope: Scope, center_path: list[int] | None) -> bool:
    """Whether a desk of ``scope`` is the responsible center of a case (whose region has
    ``center_path``) or one above it: it may act on the case."""
    return scope.is_everything or scope.region_id in (center_path or [])


def _above(scope: Scope, center_path: list[int] | None) -> bool:
    """Whether a desk of ``scope`` is above a case's responsible center: it approves."""
    return scope.is_everything or scope.region_id in (center_path or [])[:-1]


def _center_refusal(scope: Scope, move: Move, center_path: list[int] | None) -> Forbidden | None:
    """Why a desk of ``scope`` may not make ``move`` on a case whose responsible center's region
    has ``center_path`` (None: it may): the move is for that center or one above it, an approval
    for one above it only."""
    if move.approval and not _above(scope, center_path):
        return Forbidden(
            "延期和挂账须由上级综治中心审批。",
            "Extensions and suspensions are approved by the center above the responsible one.",
        )
    if not in_charge(scope, center_path):
        return Forbidden(
            "该案件目前由其他综治中心负责，您不能办理。",
            "Another center is responsible for this case now; you may not act on it.",
        )
    return None


def actions_for(scope: Scope, status: str, center_path: list[int] | None) -> list[str]:
    """The actions ``status`` allows that a desk of ``scope`` may make itself on a case whose
    responsible center's region has ``center_path`` (a desk's role aside)."""
    return [
        a for a in allowed_actions(status) if _center_refusal(scope, MOVES[a], center_path) is None
    ]


def act(session: Session, actor: Actor, code: str, req: ActionRequest) -> None:
    """Make the move ``req`` on case ``code`` (see the module docstring).  The caller commits."""
    move = MOVES.get(req.action)
    if move is None:
        raise InvalidInput(
            f"未知的操作 {req.action!r}；可用：{', '.join(ACTIONS)}。",
            f"Unknown action {req.action!r}; use one of: {', '.join(ACTIONS)}.",
            field="action",
        )
    sql = _CASE_FOR_UPDATE.format(in_scope=actor.scope.case_condition("c"))
    found = session.execute(text(sql), {"code": code}).mappings().first()
    if found is None:
        raise _not_found()
    case = dict(found)
    _check_actor(actor, move, case)
    _move(session, actor, case, req)


def _move(session: Session, actor: Actor, case: dict, req: ActionRequest) -> None:
    """Make the move ``req`` on ``case`` (read by :data:`_CASE_FOR_UPDATE`), once the actor may."""
    move = MOVES[req.action]
    if req.version is not None and req.version != case["version"]:
        raise _stale(case["version"])
    if case["status"] not in move.sources:
        raise _illegal(req.action, case["status"])
    if move.reason and not (req.note and req.note.strip()):
        raise InvalidInput(
            f"{MOVES[req.action].name_zh}须填写理由（note）。",
            f"{req.action} needs a reason (note).",
            field="note",
        )
    handler = _HANDLERS.get(req.action, _plain)
    target, sets, data = handler(session, actor, case, req)
    _apply(session, actor, case, req, target, sets, data)
    if case["status"] in SETTLED_OR_PAUSED and target in OPEN_STATES:
        _relocate_if_superseded(session, actor, case["id"])


# A redraw moves the open cases of its grids only (and the resolved ones still to be verified,
# migration 0070): a case verified, closed or suspended then kept the version it was handled
# under.  Open again (resumed, reopened), it is located on the layout as it stands now, as the
# redraw would have moved it (wangge_edit_reassign: its grid's open cases, and the uncovered
# ones of its village; a regrid event if its grid or center changes).  Nothing to do, and no
# call, when its grid version is current and it was covered.
_SUPERSEDED = text("""
    SELECT c.grid_code, c.village_code,
           g.valid_to IS NOT NULL AS superseded, c.assign_method <> 'covers' AS uncovered
    FROM cases c LEFT JOIN grid g ON g.id = c.grid_id WHERE c.id = :id
""")


def _relocate_if_superseded(session: Session, actor: Actor, case_id: int) -> None:
    row = session.execute(_SUPERSEDED, {"id": case_id}).one()
    codes = [row.grid_code] if row.superseded and row.grid_code else []
    villages = [row.village_code] if row.uncovered and row.village_code else []
    if codes or villages:
        relocate_open_cases(session, codes, villages, actor.username)


Change = tuple[str, dict[str, Any], dict[str, Any]]  # target status, SET params, event data


def _plain(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    target = MOVES[req.action].target
    assert target is not None
    sets: dict[str, Any] = {}
    if target == "closed":
        sets["closed_at"] = "now()"
    return target, sets, {}


def _verify(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    if req.resolved is None:
        raise InvalidInput(
            "回访须说明群众是否认可已解决（resolved: true/false）。",
            "A follow-up must say whether the resident confirms it is resolved (resolved).",
            field="resolved",
        )
    if req.resolved:
        return "verified", {}, {"resolved": True}
    return "reopened", _new_round_sets(), {"resolved": False}


def _new_round_sets() -> dict[str, Any]:
    return {
        "round": "round + 1",
        "remind_at": "wangge_work_add(now(), 0.8 * allowed_hours)",
        "deadline": "wangge_work_add(now(), allowed_hours)",
        "notice_at": "wangge_work_add(now(), 2 * allowed_hours)",
        "closed_at": "NULL",
    }


def _reopen(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    # a merged case reopened is its own matter again (the link stays, as unlinked)
    session.execute(
        text("""
        UPDATE case_link SET status = 'unlinked', decided_by = :actor, decided_at = now()
        WHERE case_id = :id AND kind = 'merged_into' AND status = 'confirmed'
    """),
        {"id": case["id"], "actor": actor.username},
    )
    return "reopened", _new_round_sets(), {}


# 并案 is a ``case_link`` of kind ``merged_into``, from the merged case to the one it joined;
# ``confirmed`` while in force, ``unlinked`` once the merged case is reopened (migration 0050).
# (the link is read whoever may see the case it leads to: whether a case is merged does not
# depend on who asks; its code is NULL to one who may not see it)
_MERGE_LINK = (
    "FROM case_link ml WHERE ml.case_id = {alias}.id "
    "AND ml.kind = 'merged_into' AND ml.status = 'confirmed'"
)


def merged_into_sql(alias: str = "c") -> str:
    """SQL: the code of the case that case ``alias`` was merged into (并案), or NULL."""
    link = _MERGE_LINK.format(alias=alias)
    return f"(SELECT mc.code FROM cases mc WHERE mc.id = (SELECT ml.other_case_id {link}))"


def not_merged_sql(alias: str = "c") -> str:
    """SQL: case ``alias`` is not merged into another (并案): the roll-ups count a matter once,
    by the case that carries it."""
    return f"NOT EXISTS (SELECT 1 {_MERGE_LINK.format(alias=alias)})"


# The case a merge joins, in the actor's scope: whether it is merged itself (into what)
_MERGE_TARGET = f"""
    SELECT c.id, c.code, c.status, NOT {not_merged_sql("c")} AS merged,
           {merged_into_sql("c")} AS merged_into
    FROM cases c WHERE c.code = :code AND {{in_scope}}
"""
# the cases merged into a case (their links in force)
_MERGED_FROM = text("""
    SELECT o.code FROM case_link l JOIN cases o ON o.id = l.case_id
    WHERE l.other_case_id = :id AND l.kind = 'merged_into' AND l.status = 'confirmed'
    ORDER BY o.code
""")


def _merge(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    """并案: close this case into case ``req.into`` (a report of the same matter), which carries
    it from now on.  The two are locked in the order of their ids (of two desks merging each
    into the other at once, the second is refused).  A possible-duplicate link between them is
    confirmed; departments still to answer are withdrawn; the other case's history says which
    case joined it."""
    into = (req.into or "").strip()
    if not into:
        raise InvalidInput(
            "并案须指定并入的案件编号（into）。",
            "A merge needs the code of the case to merge into (into).",
            field="into",
        )
    if into == case["code"]:
        raise InvalidInput(
            "不能把案件并入它自己。", "A case cannot be merged into itself.", field="into"
        )
    sql = _MERGE_TARGET.format(in_scope=actor.scope.case_condition("c"))
    target = session.execute(text(sql), {"code": into}).mappings().first()
    if target is None:
        raise InvalidInput(
            f"没有找到案件 {into}（或不在您的管辖范围内），请核对编号。",
            f"No case {into} (or not in your jurisdiction): check the code.",
            field="into",
        )
    session.execute(
        text("SELECT id FROM cases WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
        {"ids": [case["id"], target["id"]]},
    )
    target = session.execute(text(sql), {"code": into}).mappings().one()  # as locked
    if target["merged"]:
        other = target["merged_into"]  # (None: a case the desk may not see)
        raise InvalidInput(
            f"案件 {into} 已并入案件 {other}，请并入 {other}。"
            if other
            else f"案件 {into} 已并入其他案件，不能再有案件并入它。",
            f"Case {into} was merged into {other}: merge into {other} instead."
            if other
            else f"Case {into} was merged into another case: nothing can be merged into it.",
            field="into",
        )
    # (counted over every jurisdiction: migration 0051; named where the desk may see them)
    if session.execute(text("SELECT wangge_merged_in(:id)"), {"id": case["id"]}).scalar_one():
        joined = session.execute(_MERGED_FROM, {"id": case["id"]}).scalars().all()
        named = (f"（{'、'.join(joined)}）", f" ({', '.join(joined)})") if joined else ("", "")
        raise Conflict(
            f"已有案件并入本案{named[0]}，本案不能再并入他案；可将案件 {into} 并入本案。",
            f"Other cases were merged into this one{named[1]}: it cannot be merged in turn. "
            f"Merge {into} into this case instead.",
            current_status=case["status"],
        )
    session.execute(
        text("""
        INSERT INTO case_link (case_id, other_case_id, kind, status, decided_by, decided_at)
        VALUES (:id, :other, 'merged_into', 'confirmed', :actor, now())
        ON CONFLICT (case_id, other_case_id, kind)
        DO UPDATE SET status = 'confirmed', decided_by = :actor, decided_at = now()
    """),
        {"id": case["id"], "other": target["id"], "actor": actor.username},
    )
    session.execute(
        text("""
        UPDATE case_link SET status = 'confirmed', decided_by = :actor, decided_at = now()
        WHERE kind = 'possible_duplicate' AND status = 'suggested'
          AND ((case_id = :id AND other_case_id = :other)
               OR (case_id = :other AND other_case_id = :id))
    """),
        {"id": case["id"], "other": target["id"], "actor": actor.username},
    )
    withdrawn = len(
        session.execute(
            text("""
            UPDATE case_dispatch SET status = 'withdrawn', responded_at = now(), note = :note
            WHERE case_id = :id AND status IN ('pending', 'accepted')
            RETURNING id
        """),
            {"id": case["id"], "note": f"并案撤回（并入 {into}）"},
        ).all()
    )
    _event_in_place(
        session, actor, dict(target), "merged_from", case["code"], {"from": case["code"]}
    )
    data: dict[str, Any] = {"into": into}
    if withdrawn:
        data["withdrawn"] = withdrawn
    return "closed", {"closed_at": "now()"}, data


def _parent_center(session: Session, case: dict) -> tuple[int, str] | None:
    """The nearest center above the case's responsible center: (id, region code)."""
    path = case["center_path"] or []
    if len(path) < 2:
        return None
    row = session.execute(
        text("""
        SELECT ce.id, r.code FROM center ce JOIN region r ON r.id = ce.region_id
        WHERE ce.region_id = ANY(CAST(:ancestors AS int[]))
        ORDER BY array_position(CAST(:ancestors AS int[]), ce.region_id) DESC LIMIT 1
    """),
        {"ancestors": list(path[:-1])},
    ).first()
    return (row[0], row[1]) if row else None


# the center an escalated case came up from, by the escalation that brought it to its center
# (the escalate action's event, or the clock's supervision letter: both name the two centers)
_ESCALATED_FROM = text("""
    SELECT ce.id, r.code FROM case_event e
    JOIN center ce ON ce.id = CAST(e.data->>'from_center' AS int)
    JOIN region r ON r.id = ce.region_id
    WHERE e.case_id = :case AND e.to_status = 'escalated'
      AND e.data->>'to_center' = CAST(:center AS text)
    ORDER BY e.id DESC LIMIT 1
""")


def _upward(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    """escalate: to the center above.  return: to the center above, except an escalated case,
    which goes back down to the center it came up from (the center above sends it back)."""
    if req.action == "return" and case["status"] == "escalated":
        below = session.execute(
            _ESCALATED_FROM, {"case": case["id"], "center": case["center_id"]}
        ).first()
        if below is not None:
            return (
                "returned",
                {"center_id": below.id},
                {"from_center": case["center_id"], "to_center": below.id, "to_region": below.code},
            )
    parent = _parent_center(session, case)
    if parent is None:
        raise Conflict(
            "该案件已在最高一级综治中心，无法再上报或退回。",
            "The case is already at the top center; there is no center above.",
            current_status=case["status"],
            allowed_actions=allowed_actions(case["status"]),
        )
    target = MOVES[req.action].target
    assert target is not None
    return (
        target,
        {"center_id": parent[0]},
        {"from_center": case["center_id"], "to_center": parent[0], "to_region": parent[1]},
    )


def _transfer(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    if not req.to_region:
        raise InvalidInput(
            "转办须指定目标综治中心所在区划的代码（to_region）。",
            "A transfer needs the region code of the target center (to_region).",
            field="to_region",
        )
    row = session.execute(
        text(f"""
        SELECT ce.id, r.level::text AS level, r.path FROM center ce
        JOIN region r ON r.id = ce.region_id
        WHERE r.code = :code AND {actor.scope.region_condition("r")}
    """),
        {"code": req.to_region},
    ).first()
    if row is None:
        raise InvalidInput(
            f"区划 {req.to_region} 没有您可转办的综治中心。",
            f"Region {req.to_region} has no center you may transfer to.",
            field="to_region",
        )
    if row.id == case["center_id"]:
        raise InvalidInput(
            "目标综治中心就是当前负责的中心。",
            "The target is the responsible center already.",
            field="to_region",
        )
    if case["status"] != "returned" and row.level != case["center_level"]:
        raise InvalidInput(
            "转办只能转给同级综治中心（退回的案件由上级重新指定）。",
            "A transfer goes to a center at the same level (returned cases are re-assigned by "
            "the center above).",
            field="to_region",
        )
    return (
        "transferred",
        {"center_id": row.id},
        {"from_center": case["center_id"], "to_center": row.id, "to_region": req.to_region},
    )


def _extend(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    # the field the desk gave, named in a refusal
    field = "new_deadline" if req.new_deadline is not None else "extra_hours"
    if case["deadline"] is None:  # (an old ledger's case, imported open without one)
        raise InvalidInput(
            "本案没有办理时限，无需延期。", "This case has no deadline to extend.", field=field
        )
    hours: float | None
    if req.new_deadline is not None:
        new = req.new_deadline
        if new.tzinfo is None:  # a desk's local time (as ``since`` and ``as_of`` read it)
            new = new.replace(tzinfo=SHANGHAI)
        # (None past the working calendar's last day: further than any extension may go)
        hours = work_hours_between(session, case["deadline"], new)
    elif req.extra_hours is not None:
        hours = float(req.extra_hours)
    else:
        hours = 0.0
    if hours is not None and not hours > 0:
        raise InvalidInput(
            "延期须给出晚于原期限的新期限（new_deadline）或增加的工作小时数（extra_hours）。",
            "An extension needs a new deadline later than the current one (new_deadline) or the "
            "working hours to add (extra_hours).",
            field=field,
        )
    # one extension adds at most a year of working days, and stays within the calendar
    new_deadline = (
        None
        if hours is None or hours > MAX_EXTENSION_HOURS
        else add_work_hours(session, case["deadline"], hours)
    )
    if new_deadline is None:
        limit = add_work_hours(session, case["deadline"], MAX_EXTENSION_HOURS)
        said = f"{limit:%Y-%m-%d %H:%M}" if limit is not None else None
        raise InvalidInput(
            f"一次延期最多增加 {MAX_EXTENSION_HOURS:.0f} 个工作小时（约一年）"
            + (f"，本案最晚可延至 {said}。" if said else "，本案的期限已到工作日历的尽头。"),
            f"One extension adds at most {MAX_EXTENSION_HOURS:.0f} working hours (about a year)"
            + (
                f": this case's deadline may go to {said} at the latest."
                if said
                else ": this case's deadline is at the end of the working calendar."
            ),
            field=field,
        )
    # an extension to a moment already past leaves the case overdue: not what a desk means
    now, needed = session.execute(
        text("SELECT now(), wangge_work_hours(CAST(:old AS timestamptz), now())"),
        {"old": case["deadline"]},
    ).one()
    if new_deadline <= now:
        at = f"{new_deadline.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
        # more than this is enough (None: now is past the working calendar)
        more = None if needed is None else f"{math.ceil(needed * 10 - 1e-9) / 10:g}"
        raise InvalidInput(
            f"延期后的期限 {at} 早于现在，本案仍会超期：请"
            + (f"增加多于 {more} 个工作小时，或" if more else "")
            + "给出晚于现在的新期限。",
            f"The extended deadline, {at}, is already past: the case would stay overdue. "
            + (f"Add more than {more} working hours, or give" if more else "Give")
            + " a new deadline later than now.",
            field=field,
        )
    return (
        case["status"],
        {
            "allowed_hours": f"allowed_hours + {hours!r}",
            "deadline": f"wangge_work_add(deadline, {hours!r})",
            "remind_at": f"wangge_work_add(remind_at, {hours!r})",
            "notice_at": f"wangge_work_add(notice_at, {hours!r})",
        },
        {
            "extra_hours": hours,
            "old_deadline": case["deadline"].isoformat() if case["deadline"] else None,
        },
    )


def _suspend(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    return "suspended", {"paused_at": "now()", "status_before_pause": "status"}, {}


def _resume(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    paused = "wangge_work_hours(paused_at, now())"
    return (
        case["status_before_pause"] or "accepted",
        {
            "deadline": f"wangge_work_add(deadline, {paused})",
            "remind_at": f"wangge_work_add(remind_at, {paused})",
            "notice_at": f"wangge_work_add(notice_at, {paused})",
            "paused_at": "NULL",
            "status_before_pause": "NULL",
        },
        {"paused_since": case["paused_at"].isoformat() if case["paused_at"] else None},
    )


def _dispatch(session: Session, actor: Actor, case: dict, req: ActionRequest) -> Change:
    kinds = list(dict.fromkeys(req.departments))
    if not kinds:
        default = session.execute(
            text("SELECT kind FROM category_department WHERE category = :c"),
            {"c": case["category"]},
        ).scalar()
        kinds = [default] if default else []
    if not kinds:
        raise InvalidInput(
            "请指定派遣的部门（departments）。",
            "Name the departments to dispatch to (departments).",
            field="departments",
        )
    rows = session.execute(
        text("""
        SELECT DISTINCT ON (d.kind) d.id, d.kind, d.name
        FROM department d JOIN center ce ON ce.id = d.center_id
        WHERE ce.region_id = ANY(CAST(:path AS int[])) AND d.kind = ANY(CAST(:kinds AS text[]))
        ORDER BY d.kind, array_position(CAST(:path AS int[]), ce.region_id) DESC
    """),
        {"path": list(case["center_path"] or []), "kinds": kinds},
    ).all()
    found = {r.kind: r for r in rows}
    missing = [k for k in kinds if k not in found]
    if missing:
        known = session.execute(text("SELECT kind FROM department_kind ORDER BY kind")).scalars()
        raise InvalidInput(
            f"找不到可派遣的部门：{', '.join(missing)}（可用：{', '.join(known)}）。",
            f"No such department to dispatch to: {', '.join(missing)}.",
            field="departments",
        )
    session.execute(
        text("""
        INSERT INTO case_dispatch (case_id, department_id)
        SELECT :case, unnest(CAST(:ids AS int[])) ON CONFLICT DO NOTHING
    """),
        {"case": case["id"], "ids": [found[k].id for k in kinds]},
    )
    return "dispatched", {}, {"departments": [{"kind": k, "name": found[k].name} for k in kinds]}


_HANDLERS = {
    "verify": _verify,
    "reopen": _reopen,
    "return": _upward,
    "escalate": _upward,
    "transfer": _transfer,
    "extend": _extend,
    "suspend": _suspend,
    "resume": _resume,
    "dispatch": _dispatch,
    "merge": _merge,
}


def _apply(
    session: Session,
    actor: Actor,
    case: dict,
    req: ActionRequest,
    target: str,
    sets: dict[str, Any],
    data: dict[str, Any],
) -> None:
    """Write the move: the case (only if unchanged since read) and its event."""
    params: dict[str, Any] = {"id": case["id"], "version": case["version"], "status": target}
    assignments = ["status = :status", "version = version + 1"]
    for column, value in sets.items():
        if column == "center_id":
            assignments.append("center_id = :center_id")
            params["center_id"] = value
        else:  # SQL expressions built above from constants and floats only
            assignments.append(f"{column} = {value}")
    updated = session.execute(
        text(
            f"UPDATE cases SET {', '.join(assignments)} "
            "WHERE id = :id AND version = :version RETURNING version"
        ),
        params,
    ).first()
    if updated is None:
        current = session.execute(
            text("SELECT version FROM cases WHERE id = :id"), {"id": case["id"]}
        ).scalar()
        raise _stale(int(current or 0))
    if req.attachments:
        data["attachments"] = req.attachments
    session.execute(
        text("""
        INSERT INTO case_event (case_id, actor, action, from_status, to_status, note, data)
        VALUES (:case, :actor, :action, :from, :to, :note, CAST(:data AS jsonb))
    """),
        {
            "case": case["id"],
            "actor": actor.username,
            "action": req.action,
            "from": case["status"],
            "to": target,
            "note": req.note,
            "data": json.dumps(data, ensure_ascii=False, default=str),
        },
    )


# --- department responses -----------------------------------------------------------------

RESPONSES = ("accepted", "done", "cannot")


def respond(
    session: Session, actor: Actor, code: str, dispatch_id: int, response: str, note: str | None
) -> None:
    """A department's answer to a dispatch (recorded by the center's desk).  The last answer
    decides: all answered with at least one done → resolved; none able → back to accepted."""
    if response not in RESPONSES:
        raise InvalidInput(
            f"部门反馈只能是 {', '.join(RESPONSES)}。",
            f"A department's response is one of {', '.join(RESPONSES)}.",
            field="response",
        )
    if response == "cannot" and not (note and note.strip()):
        raise InvalidInput(
            "部门无法办理时须说明理由（note）。", "'cannot' needs a reason (note).", field="note"
        )
    sql = _CASE_FOR_UPDATE.format(in_scope=actor.scope.case_condition("c"))
    found = session.execute(text(sql), {"code": code}).mappings().first()
    if found is None:
        raise _not_found()
    case = dict(found)
    _check_actor(actor, MOVES["dispatch"], case)
    row = session.execute(
        text("""
        UPDATE case_dispatch cd SET status = :response, note = :note, responded_at = now()
        FROM department d
        WHERE cd.id = :id AND cd.case_id = :case AND d.id = cd.department_id
          AND cd.status IN ('pending', 'accepted')
          AND NOT (cd.status = 'accepted' AND :response = 'accepted')
        RETURNING d.name
    """),
        {"id": dispatch_id, "case": case["id"], "response": response, "note": note},
    ).first()
    if row is None:
        raise Conflict(
            "该派遣不存在或已答复完毕。",
            "No such open dispatch for this case (or it was answered already).",
        )
    session.execute(
        text("""
        INSERT INTO case_event (case_id, actor, action, from_status, to_status, note, data)
        VALUES (:case, :actor, 'department_response', :status, :status, :note,
                jsonb_build_object('dispatch', CAST(:id AS bigint),
                                   'department', CAST(:dept AS text),
                                   'response', CAST(:response AS text)))
    """),
        {
            "case": case["id"],
            "actor": actor.username,
            "status": case["status"],
            "note": note,
            "id": dispatch_id,
            "dept": row.name,
            "response": response,
        },
    )
    if response == "accepted" or case["status"] not in ("dispatched", "in_progress"):
        return
    left = session.execute(
        text("""
        SELECT count(*) FILTER (WHERE status IN ('pending', 'accepted')) AS open,
               count(*) FILTER (WHERE status = 'done') AS done
        FROM case_dispatch WHERE case_id = :case
    """),
        {"case": case["id"]},
    ).one()
    if left.open:
        return
    target, action = ("resolved", "resolve") if left.done else ("accepted", "dispatch_failed")
    system = Actor(actor.username, actor.scope, True)
    req = ActionRequest(action, note=(DEPARTMENTS_DONE if left.done else DEPARTMENTS_FAILED)[0])
    fresh = dict(session.execute(text(sql), {"code": code}).mappings().one())
    _apply(session, system, fresh, req, target, {}, {"departments_done": int(left.done)})


#: what a case's history says when a person is named to it later (their role, never who)
PARTY_ADDED = "party_added"
#: a handling note (办理记录): what the desk did or learnt, without moving the case
NOTE = "note"
#: the events of a case's history that its public tracking page leaves out: the people in the
#: case, the desk's own notes (they may name people and places), and the point given later
#: (the page shows no exact location)
PRIVATE_EVENTS = frozenset({PARTY_ADDED, NOTE, "locate"})
_ADD_PARTY = Move(EVENT_NAMES[PARTY_ADDED], frozenset(), None)
_ADD_NOTE = Move(EVENT_NAMES[NOTE], frozenset(), None)


def _case_of(
    session: Session, actor: Actor, code: str, move: Move | None, *, lock: bool = False
) -> dict:
    """Case ``code`` as :data:`_CASE_FOR_UPDATE` reads it (locked: ``lock``), once ``actor``
    may make ``move`` on it (:func:`_check_actor`; None: reading it in scope is enough)."""
    sql = _CASE_FOR_UPDATE.format(in_scope=actor.scope.case_condition("c"))
    found = (
        session.execute(text(sql + (" FOR UPDATE OF c" if lock else "")), {"code": code})
        .mappings()
        .first()
    )
    if found is None:
        raise _not_found()
    case = dict(found)
    if move is not None:
        _check_actor(actor, move, case)
    return case


#: how long the same note sent again by the same person is taken for the first one's replay
NOTE_REPLAY_WINDOW = timedelta(hours=24)
# the case's last event is this person's note, word for word, written within the window
_NOTE_REPLAY = text("""
    SELECT e.action = 'note' AND e.actor = :actor AND e.note = :note
           AND e.at > now() - make_interval(secs => :window)
    FROM case_event e
    WHERE e.case_id = :id
    ORDER BY e.id DESC LIMIT 1
""")


def add_note(session: Session, actor: Actor, code: str, note: str) -> bool:
    """办理记录: what was done or learnt on case ``code`` (a call made, a visit agreed, what a
    grid worker found on the spot), in its history, without moving it.  A desk writes on the
    cases of its center or the centers below (:func:`_check_actor`); a grid worker (who does
    not handle cases) on those of their area.

    The same note sent again by the same person while it is still the case's last event, within
    :data:`NOTE_REPLAY_WINDOW` (a phone's queue whose answer was lost on a weak signal), is its
    replay: not written twice.  Returns False for a replay, True for a note written.  The
    caller commits."""
    case = _case_of(session, actor, code, _ADD_NOTE if actor.can_handle else None, lock=True)
    window = NOTE_REPLAY_WINDOW.total_seconds()
    same = {"id": case["id"], "actor": actor.username, "note": note, "window": window}
    if session.execute(_NOTE_REPLAY, same).scalar():
        return False
    _event_in_place(session, actor, case, NOTE, note)
    return True


LOCATED = "locate"
_LOCATE = Move(EVENT_NAMES[LOCATED], frozenset(), None)

# the case's region, as filed (a case without a point: by its village, or its street)
_NAMED_CASE = text("""
    SELECT c.geom IS NULL AS named, coalesce(c.village_code, c.township_code) AS region,
           coalesce(v.name, t.name) AS region_name
    FROM cases c
    LEFT JOIN region v ON v.code = c.village_code
    LEFT JOIN region t ON t.code = c.township_code
    WHERE c.id = :id
""")
# the case's point was given by this person, as it is given again (lon, lat and datum as sent)
_LOCATE_REPLAY = text("""
    SELECT e.actor = :actor AND e.data ->> 'datum' = :datum
           AND CAST(e.data ->> 'lon' AS float8) = :lon AND CAST(e.data ->> 'lat' AS float8) = :lat
    FROM case_event e
    WHERE e.case_id = :id AND e.action = 'locate'
    ORDER BY e.id DESC LIMIT 1
""")
_SET_POINT = text("""
    UPDATE cases SET geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                     received_lon = :received_lon, received_lat = :received_lat, datum = :datum,
                     accuracy_m = :accuracy_m, grid_id = :grid_id, grid_code = :grid_code,
                     village_code = :village_code, township_code = :township_code,
                     district_code = :district_code, city_code = :city_code,
                     assign_method = CAST(:method AS assign_method),
                     assign_distance_m = :distance_m, version = version + 1,
                     center_id = coalesce(CAST(:center_id AS integer), center_id)
    WHERE id = :id
""")


def locate_case(
    session: Session,
    actor: Actor,
    code: str,
    received: tuple[float, float, str],
    wgs84: tuple[float, float],
    accuracy_m: float | None = None,
    note: str | None = None,
    version: int | None = None,
) -> bool:
    """补充位置: the point of case ``code``, filed by its village (or street) when no one could
    say where, once it is known (a grid worker went to look; the caller called back).
    ``received``: the point as given (lon, lat, datum); ``wgs84``: the same in WGS 84, checked
    as a report's is.  The point decides where the case is, as a report's does: its grid (the
    current layout) and its village — which may not be the one the caller named (the history
    says so) — within the caller's area.  Not yet accepted, the case goes to the center
    responsible for the point, as a report made there would; taken up, it keeps its center (a
    transfer moves it).  It keeps its deadlines.  The map, the heat map and the grid's figures
    count it from now, and it is linked to its possible duplicates as a report is at intake
    (both ways in time: :func:`gis.repeats.link_located`), its repeat warning by place written
    as well.  By the center responsible or one above; an event of its history (with
    ``note``); ``version``, if given, must be the case's.

    The same point sent again by the same person (a phone's queue whose answer was lost on a
    weak signal) is its replay: nothing changes.  Returns False for a replay, True for the point
    given.  The caller commits."""
    # (a grid worker: any case of their area, the point in their own grids; checked below)
    case = _case_of(session, actor, code, _LOCATE if actor.can_handle else None, lock=True)
    filed = session.execute(_NAMED_CASE, {"id": case["id"]}).one()
    same = dict(zip(("lon", "lat", "datum"), received, strict=True))
    same |= {"id": case["id"], "actor": actor.username}
    if not filed.named and session.execute(_LOCATE_REPLAY, same).scalar():
        return False
    if version is not None and version != case["version"]:
        raise _stale(case["version"])
    if not filed.named:
        raise Conflict(
            "该案件已有位置，不能再补充；如位置有误，请在办理记录中说明。",
            "The case has its point already; if it is wrong, say so in a handling note.",
        )
    lon, lat = wgs84
    located = locate_point(session, lon, lat)
    if not actor.scope.covers(located):
        raise Forbidden(
            "该点不在您的管辖范围内：请核对位置；案件确属其他地方的，请转办给相应的综治中心。",
            "That point is outside your area: check it; a case that belongs elsewhere is "
            "transferred to the center there.",
        )
    if not actor.can_handle and not in_own_grids(
        actor.scope, located.grid.code if located.grid else None
    ):
        raise Forbidden(
            "该点不在您负责的网格内：网格员只能补充本人网格内的位置；请告知综治中心，由中心补充。",
            "That point is outside your own grids: a grid worker gives points in their own grids "
            "only; tell the center, which gives it.",
        )
    now_in = located.village or located.township
    moved = now_in is not None and now_in.code != filed.region
    # not yet taken up: the center responsible for the point has it, as a report made there
    # would; taken up, its center keeps it (a transfer moves it)
    center = located.center
    recenter = (
        case["status"] == "registered" and center is not None and center.id != case["center_id"]
    )
    session.execute(
        _SET_POINT,
        {
            "id": case["id"],
            "center_id": center.id if recenter and center else None,
            "lon": lon,
            "lat": lat,
            "received_lon": received[0],
            "received_lat": received[1],
            "datum": received[2],
            "accuracy_m": accuracy_m,
            "grid_id": located.grid.id if located.grid else None,
            "grid_code": located.grid.code if located.grid else None,
            "village_code": located.village.code if located.village else None,
            "township_code": located.township.code if located.township else None,
            "district_code": located.district.code if located.district else None,
            "city_code": located.city.code if located.city else None,
            "method": located.method.value,
            "distance_m": located.distance_m,
        },
    )
    link_located(session, case["id"])
    flag_located(session, case["id"])
    # (a village other than the one named, another center: said in the history, in the words
    # of the desk)
    said = [f"原按{filed.region_name}登记，实际位于{now_in.name}"] if moved and now_in else []
    if recenter and center:
        said.append(f"改由{center.name}受理")
    _event_in_place(
        session,
        actor,
        case,
        LOCATED,
        (note or EVENT_NAMES[LOCATED]) + ("（" + "，".join(said) + "）" if said else ""),
        {
            "lon": received[0],
            "lat": received[1],
            "datum": received[2],
            "center_from": case["center_id"] if recenter else None,
            "grid": located.grid.code if located.grid else None,
            "filed_under": filed.region if moved else None,
        },
    )
    return True


def in_own_grids(scope: Scope, grid_code: str | None) -> bool:
    """Whether a case in grid ``grid_code`` is one of a grid worker's own grids (``scope``'s)."""
    return grid_code is not None and grid_code in (scope.grid_codes or frozenset())


def verify_on_site(
    session: Session,
    actor: Actor,
    code: str,
    resolved: bool,
    note: str | None = None,
    version: int | None = None,
) -> bool:
    """现场核查: the follow-up (回访) of resolved case ``code`` on the spot — the grid worker of
    its grid goes to look whether it is put right, as the desk may call the resident.  Resolved:
    the case is verified, for its center to close; not: it is reopened for another round, and
    the note says what was found (required then).  A desk verifies as the ``verify`` action does
    (:func:`act`); a grid worker the cases of their own grids only.

    The same verification sent again (a phone whose answer was lost on a weak signal) is its
    replay: the case's last move is this actor's verification with the same finding and note.
    Returns False for a replay, True for a move made.  The caller commits."""
    if not resolved and not (note and note.strip()):
        raise InvalidInput(
            "核查未解决的，请写明现场情况（note），以便重新办理。",
            "Not put right: say what you found on the spot (note), for the case's next round.",
            field="note",
        )
    replay = {"code": code, "actor": actor.username, "note": note, "resolved": str(resolved)}
    if session.execute(_VERIFY_REPLAY, replay).scalar():
        return False
    req = ActionRequest("verify", note=note, version=version, resolved=resolved)
    try:
        if actor.can_handle:
            act(session, actor, code, req)
            return True
        case = _case_of(session, actor, code, None)
        if not in_own_grids(actor.scope, case["grid_code"]):
            raise Forbidden(
                "只能核查本人所负责网格的案件。", "You may verify the cases of your own grids only."
            )
        _move(session, actor, case, req)
    except Conflict as e:
        if "allowed_actions" in e.extra:  # (the action's words would list the desk's moves)
            raise _not_to_verify(e.extra["current_status"], e.extra["allowed_actions"]) from e
        if "current_version" not in e.extra:
            raise
        raise _verified_too_late(session, code, e.extra["current_version"]) from e
    return True


def _not_to_verify(status: str, allowed: list[str]) -> Conflict:
    """现场核查 of a case that is not resolved: done already, or not yet to be done."""
    name = STATE_NAMES.get(status, status)
    if status in ("verified", "closed"):
        zh = f"案件已核查（当前「{name}」），无需再核查。"
        en = f"The case is {status}: verified already, nothing to verify."
    else:
        zh = f"案件当前「{name}」，尚未办结：办结后才能现场核查。"
        en = f"The case is {status}, not resolved: it is verified on the spot once resolved."
    return Conflict(zh, en, current_status=status, allowed_actions=allowed)


def _verified_too_late(session: Session, code: str, current: int) -> Conflict:
    """A verification of a case that moved on since it was read (``version``): made offline on
    a phone while the desk reopened, handled and resolved it again, it would judge a round the
    verifier has not seen."""
    status = session.execute(text("SELECT status FROM cases WHERE code = :c"), {"c": code}).scalar()
    name = STATE_NAMES.get(status or "", status or "")
    return Conflict(
        f"核查未提交：您核查后案件已有新的办理（当前「{name}」），这次核查针对的是之前的办理结果。"
        "请刷新后按最新情况重新核查。",
        f"Verification not taken: the case moved on after you looked (now {status}), so it "
        "was about an earlier round. Reload the case and verify it as it is now.",
        current_version=current,
        current_status=status,
    )


# whether case :code's last move (an event that changed its status) is :actor's verification
# with the same finding and note, the case moved on from resolved by it
_VERIFY_REPLAY = text("""
    SELECT e.action = 'verify' AND e.actor = :actor AND e.note IS NOT DISTINCT FROM :note
           AND e.data ->> 'resolved' = lower(:resolved)
    FROM case_event e JOIN cases c ON c.id = e.case_id
    WHERE c.code = :code AND c.status <> 'resolved'
      AND e.from_status IS DISTINCT FROM e.to_status
    ORDER BY e.id DESC LIMIT 1
""")


def _event_in_place(
    session: Session, actor: Actor, case: dict, action: str, note: str, data: dict | None = None
) -> None:
    """An event of ``case``'s history that does not move it (from its status to the same)."""
    session.execute(
        text("""
        INSERT INTO case_event (case_id, actor, action, from_status, to_status, note, data)
        VALUES (:case, :actor, :action, :status, :status, :note, CAST(:data AS jsonb))
    """),
        {
            "case": case["id"],
            "actor": actor.username,
            "action": action,
            "status": case["status"],
            "note": note,
            "data": json.dumps(data or {}),
        },
    )


def add_party(
    session: Session, actor: Actor, code: str, party: NewParty, cipher: PiiCipher
) -> None:
    """补充当事人: a person named to case ``code`` after it was registered (a hazard reported
    without names; the resident came to the desk later), by the center responsible for it or
    one above.  Stored encrypted like the intake's parties.  The case's history says that a
    party was added, and in which role, never who.  Their phone counts towards the repeat warning
    by resident (高频线索) as it would have at intake: the cases of the whole deployment with the
    same phone, received from :data:`REPEAT_DAYS` days before this one.  The caller commits."""
    case = _case_of(session, actor, code, _ADD_PARTY, lock=True)
    named = session.execute(
        text("SELECT count(*) FROM case_party WHERE case_id = :id"), {"id": case["id"]}
    ).scalar_one()
    if named >= MAX_PARTIES:
        raise InvalidInput(
            f"一个案件最多 {MAX_PARTIES} 名当事人。",
            f"A case names at most {MAX_PARTIES} people.",
            field="parties",
        )

    def sealed(value: str | None, column: str) -> bytes | None:
        return None if value is None else cipher.encrypt(value, f"{case['id']}:{column}")

    index = cipher.phone_index(party.phone) if party.phone else None
    session.execute(
        text("""
        INSERT INTO case_party (case_id, role, name_enc, phone_enc, id_card_enc, phone_index)
        VALUES (:case, :role, :name, :phone, :id_card, :index)
    """),
        {
            "case": case["id"],
            "role": party.role,
            "name": sealed(party.name, "name"),
            "phone": sealed(party.phone, "phone"),
            "id_card": sealed(party.id_card, "id_card"),
            "index": index,
        },
    )
    role_name = PARTY_ROLES.get(party.role, party.role)
    _event_in_place(session, actor, case, PARTY_ADDED, role_name, {"role": party.role})
    if index is None:
        return
    since = case["received_at"] - timedelta(days=REPEAT_DAYS)
    repeats = session.execute(
        text("SELECT wangge_resident_repeats(:index, :since)"), {"index": index, "since": since}
    ).scalar_one()
    if repeats >= REPEAT_MIN:
        session.execute(
            text("""
            UPDATE cases SET flags = flags || jsonb_build_object('repeat_resident', :k)
            WHERE id = :id AND coalesce((flags ->> 'repeat_resident')::int, 0) < :k
        """),
            {"id": case["id"], "k": repeats},
        )


# --- reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventView:
    at: datetime
    actor: str | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    data: dict
    #: the acting user's name as the app shows it (their display name), when they have one
    actor_name: str | None = None
    #: the note had phone or ID-card numbers, masked in it (:func:`gis.pii.mask_text`)
    note_masked: bool = False


@dataclass(frozen=True)
class DispatchView:
    id: int
    department: str
    kind: str
    status: str
    note: str | None
    dispatched_at: datetime
    responded_at: datetime | None
    #: the department's note had phone or ID-card numbers, masked in it
    note_masked: bool = False


@dataclass(frozen=True)
class WorkflowView:
    version: int
    round: int
    allowed_hours: float | None
    remind_at: datetime | None
    notice_at: datetime | None
    center: str | None
    events: tuple[EventView, ...]
    dispatches: tuple[DispatchView, ...]
    allowed_actions: tuple[str, ...]
    #: of those, the ones the reader's center may make (:func:`actions_for`: not a case another
    #: center is responsible for; extensions and suspensions from above it only)
    your_actions: tuple[str, ...] = ()
    #: the reader's center is the responsible one or above it (and its role handles cases): it
    #: may act on the case as its state allows, answer for its departments
    in_charge: bool = False
    #: 并案: the case this one was merged into (None: not merged), and the cases merged into it
    merged_into: str | None = None
    merged_from: tuple[str, ...] = ()
    #: while the clock runs (open, not suspended): past the deadline, or the working hours left
    #: (as the queue tells them); None for both once settled or suspended
    overdue: bool | None = None
    work_hours_left: float | None = None
    #: once settled (resolved, verified, closed): when (its first move to resolved, else its
    #: closing, as the roll-up counts it) and whether by the deadline
    settled_at: datetime | None = None
    settled_on_time: bool | None = None
    #: a resolved case: when it is to be verified by (回访, 现场核查), and whether that has passed
    verify_due: datetime | None = None
    verify_overdue: bool | None = None


def workflow_view(
    session: Session, scope: Scope, code: str, *, unmask: bool = False, handles: bool = False
) -> WorkflowView:
    """A case's workflow side: version, deadlines, responsible center, events, dispatches.  The
    phone and ID-card numbers in their notes (a desk's 已电话联系 13812345678) are masked unless
    ``unmask`` (the caller checks ``pii:read`` and audits it).  ``handles``: the reader's role
    handles cases (``case:handle``), and ``your_actions`` are those its center may make."""
    row = session.execute(
        text(f"""
        SELECT c.id, c.version, c.round, c.status, c.allowed_hours, c.remind_at, c.notice_at,
               ce.name AS center, cr.path AS center_path, {merged_into_sql("c")} AS merged_into,
               CASE WHEN {open_sql("c")} AND c.deadline IS NOT NULL
                    THEN c.deadline < now() END AS overdue,
               CASE WHEN {open_sql("c")} AND c.deadline IS NOT NULL
                    THEN wangge_work_hours(now(), c.deadline) END AS work_hours_left,
               s.settled_at, s.settled_at <= c.deadline AS settled_on_time,
               CASE WHEN c.status = 'resolved' THEN c.verify_due END AS verify_due,
               CASE WHEN c.status = 'resolved' THEN c.verify_due < now() END AS verify_overdue
        FROM cases c LEFT JOIN center ce ON ce.id = c.center_id
        LEFT JOIN region cr ON cr.id = ce.region_id
        CROSS JOIN LATERAL (  -- (gis.stats' handled_at)
            SELECT CASE WHEN c.status IN ('resolved', 'verified', 'closed')
                        THEN coalesce(c.first_resolved_at, c.closed_at) END AS settled_at) s
        WHERE c.code = :code AND {scope.case_condition("c")}
    """),
        {"code": code},
    ).first()
    if row is None:
        raise _not_found()
    events = session.execute(
        text("""
        SELECT e.at, e.actor, e.action, e.from_status, e.to_status, e.note, e.data,
               u.display_name AS actor_name
        FROM case_event e LEFT JOIN app_user u ON u.username = e.actor
        WHERE e.case_id = :id ORDER BY e.at, e.id
    """),
        {"id": row.id},
    ).all()
    dispatches = session.execute(
        text("""
        SELECT cd.id, d.name AS department, d.kind, cd.status, cd.note, cd.dispatched_at,
               cd.responded_at
        FROM case_dispatch cd JOIN department d ON d.id = cd.department_id
        WHERE cd.case_id = :id ORDER BY cd.id
    """),
        {"id": row.id},
    ).all()
    return WorkflowView(
        version=row.version,
        round=row.round,
        allowed_hours=row.allowed_hours,
        remind_at=row.remind_at,
        notice_at=row.notice_at,
        center=row.center,
        events=tuple(EventView(*_masked(e, unmask)) for e in events),
        dispatches=tuple(DispatchView(*_masked(d, unmask)) for d in dispatches),
        allowed_actions=tuple(allowed_actions(row.status)),
        your_actions=tuple(actions_for(scope, row.status, row.center_path)) if handles else (),
        in_charge=handles and in_charge(scope, row.center_path),
        merged_into=row.merged_into,
        merged_from=tuple(session.execute(_MERGED_FROM, {"id": row.id}).scalars()),
        overdue=row.overdue,
        work_hours_left=row.work_hours_left,
        settled_at=row.settled_at,
        settled_on_time=row.settled_on_time,
        verify_due=row.verify_due,
        verify_overdue=row.verify_overdue,
    )


def _masked(row: Any, unmask: bool) -> tuple:
    """An event's or a dispatch's row with its note masked (:func:`gis.pii.mask_text`) unless
    ``unmask``, and whether that changed it."""
    note = row.note if unmask or not row.note else mask_text(row.note)
    return (*(note if k == "note" else v for k, v in row._mapping.items()), note != row.note)


@dataclass(frozen=True)
class QueueItem:
    code: str
    status: str
    kind: str
    category: str
    category_name: str
    severity: str
    grid_code: str | None
    received_at: datetime
    deadline: datetime | None
    overdue: bool
    work_hours_left: float | None
    version: int
    source: str = "other"  # 案件来源 (gis.cases.SOURCE_NAMES)
    #: a repeat warning (高频线索: the same place or resident again and again)
    repeat: bool = False
    #: a possible duplicate of a case nearby, not yet confirmed or unlinked
    duplicate: bool = False
    grid_name: str | None = None  # (e.g. 兴沙社区第1网格: what a desk reads, beside the code)
    #: a resolved case: when it is to be verified by (3 working days after it was resolved)
    verify_due: datetime | None = None
    #: filed by its village, no one could say where (no point yet: 待查明位置)
    unplaced: bool = False


#: SQL: case ``c`` is late — open past its deadline, or resolved past its verification's due time
#: (settled and suspended cases are not: a case resolved in time stays in time)
_OVERDUE_SQL = f"""coalesce(CASE WHEN c.status = 'resolved' THEN c.verify_due < now()
                         WHEN {open_sql("c")} THEN c.deadline < now() END, false)"""
#: SQL: case ``c`` has a repeat warning (高频线索), or a possible duplicate still to confirm
REPEAT_SQL = "c.flags ?| ARRAY['repeat_place', 'repeat_resident']"
# (OFFSET 0: the link of each case looked up by its index.  Without it the planner may hash
# every suggested link first, each checked against its row-level policy by hashing every case
# in scope: 0.7 s for a city's desk with every center below over 1M cases, 0.1 s with it.)
DUPLICATE_SQL = (
    "EXISTS (SELECT 1 FROM case_link l WHERE l.case_id = c.id AND l.status = 'suggested' OFFSET 0)"
)


@dataclass(frozen=True)
class Queue:
    center: str | None
    counts: dict[str, int]
    total: int
    items: list[QueueItem]
    #: of the center's resolved cases (``counts``), those past their verification's due time
    verify_late: int = 0
    #: of the center's open cases, those without a point (filed by their village: 位置待查明)
    unplaced: int = 0
    #: the open cases of the centers below it (a city's districts', a township's village
    #: stations'), when the list is of its own center's only; None when it includes them
    below_open: int | None = None


_SEVERITY_ORDER = "array_position(ARRAY['critical','major','normal','minor'], c.severity::text)"


def queue(
    session: Session,
    scope: Scope,
    *,
    statuses: Sequence[str] = (),
    category: str | None = None,
    grid: str | None = None,
    overdue: bool | None = None,
    due_within_hours: float | None = None,
    escalated_to_me: bool = False,
    below: bool = False,
    flagged: bool = False,
    unplaced: bool = False,
    limit: int = 100,
    offset: int = 0,
    lang: str = "zh",
) -> Queue:
    """The caller's center's work: its open cases (or those filtered), most urgent first —
    overdue first, then by deadline, then by severity; with counts per state.  ``below``: also the
    centers under it (a township's village stations); ``flagged``: only those with a repeat
    warning or a possible duplicate still to confirm; ``unplaced``: only those without a point
    (filed by their village: 位置待查明, to be given once known).  A caller with the whole
    deployment in scope sees every center's.  Category names in ``lang``."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    center_name = None
    centers: str | None = None  # SQL: the centers whose cases these are ({a}: the alias)
    if not scope.is_everything:
        center = session.execute(
            text("SELECT id, name FROM center WHERE region_id = :r"), {"r": scope.region_id}
        ).first()
        if center is None:
            raise NotFound(
                "您所在的区划没有综治中心，没有待办队列。",
                "Your region has no center, so there is no queue.",
            )
        if below:
            centers = (
                "{a}.center_id IN (SELECT ce.id FROM center ce JOIN region r ON r.id = ce.region_id"
                " WHERE CAST(:region AS int) = ANY(r.path))"
            )
            params["region"] = scope.region_id
        else:
            centers = "{a}.center_id = :center"
            params["center"] = center.id
        center_name = center.name

    def mine(alias: str) -> list[str]:
        """SQL: row ``alias`` (a case, or a count of ``case_state_count``) is the desk's."""
        return [scope.case_condition(alias)] + ([centers.format(a=alias)] if centers else [])

    # the counts per state from their roll-up (migration 0083), not from every case: a city's
    # desk with every center below counted a year's million cases at each load (0.35 s)
    counts = {
        r.status: int(r.n)
        for r in session.execute(
            text(
                "SELECT s.status, sum(s.n) AS n FROM case_state_count s "
                f"WHERE {' AND '.join(mine('s'))} GROUP BY s.status HAVING sum(s.n) <> 0"
            ),
            params,
        )
    }
    # (geom IS NULL: filed by its village, so assigned by region, as a check constraint says —
    # the open cases not located by their grid have an index of their own)
    verify_late, unplaced_open = session.execute(
        text(f"""
        SELECT (SELECT count(*) FROM cases c WHERE {" AND ".join(mine("c"))}
                  AND c.status = 'resolved' AND c.verify_due < now()),
               (SELECT count(*) FROM cases c WHERE {" AND ".join(mine("c"))}
                  AND {open_sql("c")} AND c.assign_method = 'region' AND c.geom IS NULL)
        """),
        params,
    ).one()
    below_open = None
    if centers is not None and not below:  # (from the roll-up: one index range, no case read)
        below_open = session.execute(
            text(f"""
            SELECT coalesce(sum(s.n), 0) FROM case_state_count s
            WHERE {scope.case_condition("s")} AND s.center_id <> :center
              AND s.status = ANY(CAST(:open AS text[]))
              AND s.center_id IN (SELECT ce.id FROM center ce JOIN region r ON r.id = ce.region_id
                                  WHERE CAST(:region AS int) = ANY(r.path))
            """),
            {"center": params["center"], "region": scope.region_id, "open": sorted(OPEN_STATES)},
        ).scalar_one()
    where = mine("c")
    if statuses:
        condition, params["statuses"] = status_sql(statuses)
        where.append(condition)
    else:
        where.append(open_sql("c"))
    if category:
        where.append("c.category = :category")
        params["category"] = category
    if grid:
        where.append("c.grid_code = :grid")
        params["grid"] = grid
    if overdue is not None:
        where.append(f"({_OVERDUE_SQL}) = :overdue")
        params["overdue"] = overdue
    if due_within_hours is not None:
        where.append("c.deadline <= now() + make_interval(secs => :within * 3600)")
        params["within"] = due_within_hours
    if escalated_to_me:
        where.append("c.status = 'escalated'")
    if flagged:
        where.append(f"({REPEAT_SQL} OR {DUPLICATE_SQL})")
    if unplaced:
        where.append(unplaced_sql("c"))
    cond = " AND ".join(where)
    narrowed = (category, grid, overdue, due_within_hours, escalated_to_me or None, flagged or None)
    if all(v is None for v in narrowed) and not unplaced and TO_VERIFY not in (statuses or ()):
        # by states alone (the default, or a state's chip): their counts say how many
        total = sum(counts.get(s, 0) for s in (states_of(statuses) if statuses else OPEN_STATES))
    else:
        total = session.execute(
            text(f"SELECT count(*) FROM cases c WHERE {cond}"), params
        ).scalar_one()
    order = "overdue DESC, due NULLS LAST, severity_rank, c.code"
    if not statuses or (TO_VERIFY not in statuses and OPEN_STATES.issuperset(states_of(statuses))):
        # Open cases only: the same order, by the index of open cases' deadlines (migration
        # 0083).  An open case is overdue when its deadline has passed and is due at its
        # deadline, so the overdue come first by their deadline either way, and those without a
        # deadline last.  A city's desk with every center below sorted its 78,000 open cases
        # for each page (0.12 s); it now reads the first hundred.
        order = "c.deadline, severity_rank, c.code"
    # The page is chosen first, then what each of its cases shows is looked up: a possible
    # duplicate asked of every open case would read every link through its row-level policy
    # (a city's desk with every center below: ~0.8 s of 1.3 s over a million cases).
    rows = session.execute(
        text(f"""
        SELECT c.code, c.status, c.kind, c.category, c.category_name, c.severity, c.grid_code,
               c.received_at, c.deadline, c.overdue,
               CASE WHEN c.deadline IS NOT NULL
                    THEN wangge_work_hours(now(), c.deadline) END AS work_hours_left,
               c.version, c.source, c.repeat, {DUPLICATE_SQL} AS duplicate,
               (SELECT g.name FROM grid g WHERE g.id = c.grid_id) AS grid_name,
               c.verify_due, c.unplaced
        FROM (
            SELECT c.id, c.code, c.status, c.kind::text AS kind, c.category,
                   {category_name_sql(lang, "k")} AS category_name,
                   c.severity::text AS severity, c.grid_code, c.grid_id, c.received_at,
                   c.deadline, {_OVERDUE_SQL} AS overdue, c.version, c.source::text AS source,
                   {REPEAT_SQL} AS repeat,
                   CASE WHEN c.status = 'resolved' THEN c.verify_due END AS verify_due,
                   c.geom IS NULL AS unplaced,
                   CASE WHEN c.status = 'resolved' THEN c.verify_due ELSE c.deadline END AS due,
                   {_SEVERITY_ORDER} AS severity_rank
            FROM cases c JOIN category k ON k.code = c.category
            WHERE {cond}
            ORDER BY {order}
            LIMIT :limit OFFSET :offset
        ) c
        ORDER BY c.overdue DESC, c.due NULLS LAST, c.severity_rank, c.code
    """),
        params,
    ).all()
    items = [QueueItem(*r) for r in rows]
    return Queue(
        center_name,
        counts,
        int(total),
        items,
        verify_late,
        unplaced_open,
        None if below_open is None else int(below_open),
    )


@dataclass(frozen=True)
class QueueDetail:
    """What a spreadsheet of the queue adds to its rows: the place and who holds it, and what
    happened."""

    village: str | None
    center: str | None
    description: str


def queue_details(session: Session, codes: Sequence[str]) -> dict[str, QueueDetail]:
    """The details of the cases ``codes`` (those of a :func:`queue` the caller has read; the
    session's scope applies), by code."""
    rows = session.execute(
        text("""
        SELECT c.code, v.name AS village, ce.name AS center, c.description
        FROM cases c
        LEFT JOIN region v ON v.code = c.village_code
        LEFT JOIN center ce ON ce.id = c.center_id
        WHERE c.code = ANY(CAST(:codes AS text[]))
    """),
        {"codes": list(codes)},
    )
    return {r.code: QueueDetail(r.village, r.center, mask_text(r.description)) for r in rows}


# --- the resident's rating ----------------------------------------------------------------

RATEABLE = ("resolved", "verified", "closed")


def rate(session: Session, token: str, score: int, resolved: bool, comment: str | None) -> bool:
    """The resident's rating through the case's public token: one per case, once the case is
    resolved.  A score ≤ 2 or "not resolved" reopens the case (a new round).  Returns whether it
    reopened.  The session must see every case (scope ``*``): the token is the key."""
    case = session.execute(
        text("""
        SELECT id, code, status, version FROM cases WHERE public_token = :t FOR UPDATE
    """),
        {"t": token},
    ).first()
    if case is None:
        raise NotFound("没有找到该案件。", "No such case.")
    merged = session.execute(
        text(f"SELECT {merged_into_sql('c')} FROM cases c WHERE c.id = :id"), {"id": case.id}
    ).scalar()
    if merged is not None:
        raise Conflict(
            f"本案已并入案件 {merged} 一并办理，请在案件 {merged} 的查询页面评价。",
            f"This case was merged into case {merged}, which carries it: rate that case "
            "from its own tracking page.",
            current_status=case.status,
        )
    if case.status not in RATEABLE:
        raise Conflict(
            f"案件尚未办结（当前：{STATE_NAMES.get(case.status, case.status)}），办结后才能评价。",
            "The case is not resolved yet; it can be rated once it is.",
            current_status=case.status,
        )
    inserted = session.execute(
        text("""
        INSERT INTO case_rating (case_id, score, resolved, comment)
        VALUES (:id, :score, :resolved, :comment) ON CONFLICT DO NOTHING RETURNING case_id
    """),
        {"id": case.id, "score": score, "resolved": resolved, "comment": comment},
    ).first()
    if inserted is None:
        raise Conflict(
            "该案件已评价过，每件案件只能评价一次。", "This case has been rated already."
        )
    reopen = score <= 2 or not resolved
    session.execute(
        text("""
        INSERT INTO case_event (case_id, actor, action, from_status, to_status, note, data)
        VALUES (:id, :actor, 'rate', :s, :s, :comment,
                jsonb_build_object('score', CAST(:score AS int),
                                   'resolved', CAST(:resolved AS boolean)))
    """),
        {
            "id": case.id,
            "actor": RESIDENT_ACTOR,
            "s": case.status,
            "comment": comment,
            "score": score,
            "resolved": resolved,
        },
    )
    if reopen:
        row = dict(
            session.execute(text(_CASE_FOR_UPDATE.format(in_scope="true")), {"code": case.code})
            .mappings()
            .one()
        )
        note = REOPENED_NOTE[0]
        _apply(
            session,
            Actor("群众", Scope.everything(), True),
            row,
            ActionRequest("reopen", note=note),
            "reopened",
            _new_round_sets(),
            {"score": score, "resolved": resolved},
        )
    return reopen
