"""Residents' personal data erased when its time is up (个人信息到期删除): ``wangge pii expire``.

PIPL (个人信息保护法, articles 19 and 47) asks that personal data be kept no longer than its
purpose needs, and erased when that time is up.  A party's name, phone and ID number serve the
handling of its case and the follow-up visit (回访) after it; once the case has been closed for
the deployment's retention period (``--years``, as its rules say), they are erased:

* the party stays, with its role (申请人, 证人 …), so the case still says who took part and how;
  its name, phone, ID number and phone index (the blind index for finding a resident's cases
  and for 高频线索) become empty, and ``erased_at`` says when.  The case page shows
  已按保存期限删除 in their place; nothing can decrypt them any more.
* only cases *closed* (结案) before the cut-off qualify — ``closed_at``, which a reopening
  clears.  A case left unclosed (resolved, suspended, forgotten) is not: its parties are kept,
  and the count of those with nothing done since the cut-off is reported, for the desk to close
  them.
* in the caller's transaction, audited as ``pii.erase`` (how many parties of how many cases,
  how many descriptions, the cut-off); a dry run counts without writing.

The case itself (description, place, history, photos) is the government's record of its work
and stays, but for the phone and ID-card numbers typed into its description, which are masked
in the stored text as they are in every answer (:func:`gis.pii.mask_text`).  The notes of its
history are append-only, and keep theirs (masked whenever shown).  Backups made before the
erasure still hold the data until they are rotated out (``wangge db backup --keep``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import audit
from gis.english import one_said_once
from gis.errors import InvalidInput
from gis.pii import has_numbers_sql, mask_text_sql
from gis.worktime import SHANGHAI

#: the shortest retention period accepted: a case may be reopened, and visited again, for a while
MIN_YEARS = 1
MAX_YEARS = 100

# parties still holding personal data, of cases closed before the cut-off
_DUE = """
    FROM case_party p JOIN cases c ON c.id = p.case_id
    WHERE c.status = 'closed' AND c.closed_at < :before AND p.erased_at IS NULL
      AND (p.name_enc IS NOT NULL OR p.phone_enc IS NOT NULL OR p.id_card_enc IS NOT NULL
           OR p.phone_index IS NOT NULL)
"""
_COUNT = text(f"SELECT count(*) AS parties, count(DISTINCT c.id) AS cases {_DUE}")
_ERASE = text(f"""
    WITH due AS (SELECT p.id, p.case_id {_DUE})
    UPDATE case_party p
    SET name_enc = NULL, phone_enc = NULL, id_card_enc = NULL, phone_index = NULL,
        erased_at = :now
    FROM due WHERE p.id = due.id
    RETURNING p.case_id
""")
# the phone and ID-card numbers typed into the descriptions of those cases (the parties' or
# others'): masked in the stored text too
_IN_TEXT = f"""
    FROM cases c
    WHERE c.status = 'closed' AND c.closed_at < :before
      AND {has_numbers_sql("c.description")}
"""
_COUNT_TEXT = text(f"SELECT count(*) {_IN_TEXT}")
_MASK_TEXT = text(f"""
    UPDATE cases c SET description = {mask_text_sql("c.description")}
    WHERE c.id IN (SELECT c.id {_IN_TEXT})
""")
# cases not closed, with parties' data, and nothing done on them since the cut-off: kept
_IDLE = text("""
    SELECT count(*) FROM cases c
    WHERE c.status <> 'closed' AND c.received_at < :before
      AND EXISTS (SELECT 1 FROM case_party p WHERE p.case_id = c.id AND p.erased_at IS NULL
                  AND (p.name_enc IS NOT NULL OR p.phone_enc IS NOT NULL
                       OR p.id_card_enc IS NOT NULL))
      AND NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.at >= :before)
""")


@dataclass(frozen=True)
class Expiry:
    """What :func:`expire` found (and erased, unless a dry run)."""

    years: int
    before: datetime  # cases closed before this
    parties: int
    cases: int
    idle: int  # cases not closed, nothing done since the cut-off: their parties kept
    erased: bool
    #: descriptions of those cases with phone or ID-card numbers in them (masked in the text)
    descriptions: int = 0

    def summary(self, lang: str = "zh") -> str:
        day = f"{self.before.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
        if lang == "en":
            done = "erased" if self.erased else "would be erased (--commit erases them)"
            line = (
                f"Cases closed more than {self.years} years ago (before {day}): {self.cases:,}; "
                f"the names, phones and ID numbers of their {self.parties:,} parties {done}"
                f"; {self.descriptions:,} descriptions with such numbers typed in, masked in "
                f"the stored text{'' if self.erased else ' (with --commit)'}."
            )
            if self.idle:
                line += (
                    f" {self.idle:,} cases not closed, with nothing done since {day}: their "
                    "parties are kept until they are closed."
                )
            return one_said_once(line)  # (1 case, 1 party)
        done = "已删除" if self.erased else "将被删除（加 --commit 执行）"
        line = (
            f"结案满 {self.years} 年（{day} 前结案）的案件 {self.cases:,} 件，"
            f"其当事人 {self.parties:,} 人的姓名、电话、身份证号{done}；"
            f"其中 {self.descriptions:,} 件的描述含电话或身份证号，"
            f"{'已在存储的文字中打码' if self.erased else '将在存储的文字中打码'}。"
        )
        if self.idle:
            line += (
                f"另有 {self.idle:,} 件案件未结案且自 {day} 起无任何办理，其当事人信息保留，"
                "结案满期后才会删除：请督促结案。"
            )
        return line


def expire(
    session: Session,
    years: int,
    *,
    commit: bool = False,
    actor: str = "cli",
    now: datetime | None = None,
) -> Expiry:
    """Erase (``commit``) or count the personal data of the parties to cases closed more than
    ``years`` ago.  Call with a session that sees every case (the owner's, with
    :meth:`gis.scope.Scope.everything`); the caller commits."""
    if not MIN_YEARS <= years <= MAX_YEARS:
        raise InvalidInput(
            f"保存年限应为 {MIN_YEARS}–{MAX_YEARS} 年，收到 {years}。",
            f"The retention period must be {MIN_YEARS}–{MAX_YEARS} years, not {years}.",
            field="years",
        )
    now = now or session.execute(text("SELECT now()")).scalar_one()
    before = _years_before(now.astimezone(SHANGHAI), years)
    idle = int(session.execute(_IDLE, {"before": before}).scalar_one())
    if not commit:
        row = session.execute(_COUNT, {"before": before}).one()
        texts = int(session.execute(_COUNT_TEXT, {"before": before}).scalar_one())
        return Expiry(years, before, int(row.parties), int(row.cases), idle, False, texts)
    cases = session.execute(_ERASE, {"before": before, "now": now}).scalars().all()
    masked = session.execute(_MASK_TEXT, {"before": before})
    texts = int(getattr(masked, "rowcount", 0) or 0)
    found = Expiry(years, before, len(cases), len(set(cases)), idle, True, texts)
    audit.record(
        session,
        "pii.erase",
        success=True,
        username=actor,
        object="case_party",
        detail={
            "years": years,
            "closed_before": before.isoformat(),
            "parties": found.parties,
            "cases": found.cases,
            "descriptions": found.descriptions,
        },
    )
    return found


def _years_before(at: datetime, years: int) -> datetime:
    """``at`` less ``years`` calendar years (29 February → 28 February)."""
    try:
        return at.replace(year=at.year - years)
    except ValueError:
        return at.replace(year=at.year - years, day=28)
