"""The clock (两函一通报): reminders, supervision letters with escalation, notices — exactly once.

For every open case (not resolved, verified, closed or suspended), in working time:

* at 80 % of the allowed time — a reminder (提醒函) to the responsible center;
* at the deadline — a supervision letter (督办函) and escalation to the center above;
* at twice the allowed time — a notice (通报) to the district center.

And for every resolved case, once its verification is due (``verify_due``: 3 working days after
it was resolved, or the deployment's ``verify_work_days``: migrations 0069, 0074) and nobody has
verified it (回访 by the desk, 现场核查 by the grid worker): a reminder to verify (核查提醒) to
its center, once per round.

Each is a ``case_event``; the first three have a printable letter
(``/cases/{code}/letters/{stage}``).  A stage fires once per case and round (a reopened case
starts a new round): ``case_supervision`` has one row per (case, round, stage), inserted with
``ON CONFLICT DO NOTHING`` in key order, and only the rows a tick inserted produce events and
escalations.  Ticks also take a transaction-level
advisory lock, so a second tick started meanwhile waits and then finds nothing left to do.
Run by the app's scheduler (every ``clock_interval_s``) and by ``wangge tick`` (cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.edits import LAYOUT_LOCK
from gis.locate import CenterRef

CLOCK_ACTOR = "系统时钟"
#: the note each stage's event carries, Chinese (stored) and English (shown on English pages)
STAGE_NOTES = {
    "reminder": ("提醒函：办理时限已过 80%", "Reminder: 80 % of the time allowed has passed"),
    "supervision": (
        "督办函：已到办理期限，自动上报上级综治中心",
        "Supervision notice: the deadline has come; escalated to the center above",
    ),
    "notice": (
        "通报：超过办理时限一倍，通报区综治中心",
        "Circulated notice: twice the time allowed has passed; the district center is notified",
    ),
}
#: the verification reminder's note (Chinese, English); the period is the deployment's
#: (``Settings.verify_work_days``), so the note does not name it
VERIFY_NOTE = (
    "核查提醒：已过办结后的核查期限，尚未回访核查，请及时回访或现场核查",
    "Reminder to verify: the time to verify the resolution has passed, and it was not yet "
    "followed up or checked on the spot",
)
#: the note as the reminders written before the period was a setting say it (in the history)
VERIFY_NOTE_3_DAYS = (
    "核查提醒：办结已满 3 个工作日，尚未回访核查，请及时回访或现场核查",
    "Reminder to verify: resolved 3 working days ago and not yet followed up or checked on "
    "the spot",
)
_LOCK = 0x77616E67_6765  # "wangge": one tick at a time

_TICK = """
    WITH due AS (
        SELECT c.id, c.round, s.stage, c.status, c.center_id, c.district_code
        FROM cases c
        CROSS JOIN LATERAL (VALUES ('reminder', c.remind_at), ('supervision', c.deadline),
                                   ('notice', c.notice_at)) AS s(stage, at)
        WHERE c.status NOT IN ('resolved', 'verified', 'closed', 'suspended')
          AND c.remind_at <= :now AND s.at <= :now
        ORDER BY c.id, s.stage
    ), won AS (
        INSERT INTO case_supervision (case_id, round, stage, at)
        SELECT id, round, stage, :now FROM due
        ON CONFLICT DO NOTHING
        RETURNING case_id, stage
    ), parent AS (  -- the center above each case's responsible center, for supervision letters
        SELECT w.case_id, p.id AS center_id
        FROM won w JOIN cases c ON c.id = w.case_id AND w.stage = 'supervision'
        JOIN center ce ON ce.id = c.center_id JOIN region r ON r.id = ce.region_id
        CROSS JOIN LATERAL (
            SELECT pc.id FROM center pc
            WHERE pc.region_id = ANY(r.path[1:cardinality(r.path) - 1])
            ORDER BY array_position(r.path, pc.region_id) DESC LIMIT 1) p
    ), escalated AS (
        UPDATE cases c SET status = 'escalated', center_id = parent.center_id,
                           version = c.version + 1
        FROM parent WHERE c.id = parent.case_id
        RETURNING c.id
    ), events AS (
        INSERT INTO case_event (case_id, at, actor, action, from_status, to_status, note, data)
        SELECT w.case_id, :now, :actor,
               CASE w.stage WHEN 'reminder' THEN 'remind' WHEN 'supervision' THEN 'supervise'
                            ELSE 'notify' END,
               -- (stages come due together when a tick is late: the reminder is before the
               -- escalation, the notice after it)
               CASE WHEN w.stage = 'notice' AND p.center_id IS NOT NULL THEN 'escalated'
                    ELSE c.status END,
               CASE WHEN w.stage <> 'reminder' AND p.center_id IS NOT NULL THEN 'escalated'
                    ELSE c.status END,
               CASE w.stage WHEN 'reminder' THEN :note_reminder
                            WHEN 'supervision' THEN :note_supervision ELSE :note_notice END,
               jsonb_strip_nulls(jsonb_build_object(
                   'stage', w.stage, 'round', c.round,
                   -- the letter's addressee: the center responsible when it was issued (the
                   -- notice of a case escalated in the same tick goes to the center above)
                   'center', CASE WHEN w.stage = 'notice' AND p.center_id IS NOT NULL
                                  THEN p.center_id ELSE c.center_id END,
                   'deadline', c.deadline,  -- as it stood (an extension moves it later)
                   'letter', '/cases/' || c.code || '/letters/' || w.stage,
                   'from_center', CASE WHEN w.stage = 'supervision' AND p.center_id IS NOT NULL
                                       THEN c.center_id END,
                   'to_center', CASE WHEN w.stage = 'supervision' THEN p.center_id END,
                   'district_center', CASE WHEN w.stage = 'notice' THEN (
                       SELECT dc.id FROM center dc JOIN region dr ON dr.id = dc.region_id
                       WHERE dr.code = c.district_code) END))
        FROM won w JOIN cases c ON c.id = w.case_id
        LEFT JOIN parent p ON p.case_id = w.case_id
        ORDER BY w.case_id, array_position(ARRAY['reminder', 'supervision', 'notice'], w.stage)
    )
    SELECT w.stage, count(*) AS n, count(p.case_id) AS escalated
    FROM won w LEFT JOIN parent p ON p.case_id = w.case_id GROUP BY w.stage
"""

# 核查提醒: the resolved cases whose verification is due, once a round (a resolved case does not
# move: the event changes no state)
_VERIFY_TICK = """
    WITH due AS (
        SELECT c.id, c.round FROM cases c
        WHERE c.status = 'resolved' AND c.verify_due <= :now
        ORDER BY c.id
    ), won AS (
        INSERT INTO case_supervision (case_id, round, stage, at)
        SELECT id, round, 'verify', :now FROM due
        ON CONFLICT DO NOTHING
        RETURNING case_id
    ), events AS (
        INSERT INTO case_event (case_id, at, actor, action, note, data)
        SELECT w.case_id, :now, :actor, 'remind_verify', :note,
               jsonb_strip_nulls(jsonb_build_object(
                   'stage', 'verify', 'round', c.round, 'center', c.center_id,
                   'verify_due', c.verify_due))
        FROM won w JOIN cases c ON c.id = w.case_id
        ORDER BY w.case_id
    )
    SELECT count(*) FROM won
"""


@dataclass(frozen=True)
class TickReport:
    reminders: int
    supervisions: int
    notices: int
    escalations: int
    #: 核查提醒: resolved cases not verified in time
    verifications: int = 0

    def summary(self) -> str:
        return (
            f"提醒函 {self.reminders} 件，督办函 {self.supervisions} 件"
            f"（自动上报 {self.escalations} 件），通报 {self.notices} 件，"
            f"核查提醒 {self.verifications} 件。"
        )


def tick(session: Session, now: datetime | None = None) -> TickReport:
    """One run of the clock at ``now`` (default: the database's now).  The session must see every
    case (scope ``*``); the caller commits."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    # not while a planner's commit moves cases: both update many cases in one statement, in no
    # common order, and can deadlock (in a race, a commit did with another such bulk UPDATE)
    session.execute(text(f"SELECT pg_advisory_xact_lock_shared{LAYOUT_LOCK}"))
    if now is None:
        now = session.execute(text("SELECT now()")).scalar_one()
    notes = {f"note_{stage}": zh for stage, (zh, _) in STAGE_NOTES.items()}
    rows = session.execute(text(_TICK), {"now": now, "actor": CLOCK_ACTOR} | notes).all()
    counts = {r.stage: (r.n, r.escalated) for r in rows}
    verifications = session.execute(
        text(_VERIFY_TICK), {"now": now, "actor": CLOCK_ACTOR, "note": VERIFY_NOTE[0]}
    ).scalar_one()
    return TickReport(
        reminders=counts.get("reminder", (0, 0))[0],
        supervisions=counts.get("supervision", (0, 0))[0],
        notices=counts.get("notice", (0, 0))[0],
        escalations=counts.get("supervision", (0, 0))[1],
        verifications=int(verifications),
    )


def addressee(session: Session, stage: str, data: dict, current: CenterRef | None) -> str | None:
    """The name of the center a letter of ``stage`` (its event's ``data``) was addressed to: the
    center responsible when the clock issued it, not whoever holds the case now (after a
    supervision letter, the center above).  Letters issued before their events named it
    (2026-12-05) name it only when they escalated; the others go to the current center."""
    center_id = data.get("center") or (data.get("from_center") if stage == "supervision" else None)
    if not center_id or (current is not None and current.id == center_id):
        return current.name if current else None
    name = session.execute(
        text("SELECT name FROM center WHERE id = :id"), {"id": center_id}
    ).scalar_one_or_none()
    return str(name) if name is not None else (current.name if current else None)
