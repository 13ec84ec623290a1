"""Working time: deadlines count China's official working hours, not calendar hours.

* Which days are working days comes from ``chinese_calendar`` (a maintained library of the State
  Council's holiday notices, with make-up working days — 调休 — on weekends).  Years it does not
  cover yet (the next year's notice is published late in the year) fall back to Monday–Friday and
  are marked ``weekday-rule`` in ``work_calendar.source``; :func:`sync_calendar` replaces them
  once an updated library knows the year.
* A working day has :data:`DAY_HOURS` hours in two windows, Asia/Shanghai:
  08:30–12:00 and 13:30–18:00 (the hours most county and township centers keep).
* The database does the arithmetic (migration 0011), so intake, the clock and the statistics
  agree: ``work_calendar.cum_hours`` is the working time from the calendar's start to a day's
  beginning, ``wangge_work_clock(ts)`` the working time up to ``ts`` and ``wangge_work_at(h)`` its
  inverse.  ``wangge_work_add(ts, h)`` is the moment ``h`` working hours after ``ts``;
  ``wangge_work_hours(a, b)`` the working hours between two moments.  A deadline that ends exactly
  at a day's end is that day's 18:00, not the next working morning.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_HOURS = 8.0
#: working windows (local time, hours since midnight)
WINDOWS = ((8.5, 12.0), (13.5, 18.0))
CALENDAR_START = date(2004, 1, 1)
#: years beyond the library's last that the weekday rule fills in
YEARS_AHEAD = 5
#: the days a date asked for may be (a day before or after is counted with them: Python's dates
#: end at 0001-01-01 and 9999-12-31)
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def hhmm(hours: float) -> str:
    """8.5 → '08:30'."""
    return f"{int(hours):02d}:{round(hours % 1 * 60):02d}"


def clock_sql(at: str, calendar: str) -> tuple[str, str]:
    """``wangge_work_clock(at)`` for a whole table at once: (join, expression).

    ``at`` is an SQL ``timestamptz`` expression, ``calendar`` the alias the join gives
    ``work_calendar`` (its row for the day of ``at`` in Asia/Shanghai: none outside the calendar,
    and the expression is then NULL, as the function's is).  The function is a PL/pgSQL call
    with a query for each row; joined, the calendar is hashed once.  The same arithmetic as
    migration 0011's function, with ``date_part`` for ``extract`` (whose numeric arithmetic is
    several times slower).
    """
    local = f"({at} AT TIME ZONE 'Asia/Shanghai')"
    windows = " + ".join(
        f"least(greatest(date_part('epoch', {local}::time - time '{hhmm(start)}') / 3600, 0), "
        f"{end - start})"
        for start, end in WINDOWS
    )
    join = f"LEFT JOIN work_calendar {calendar} ON {calendar}.day = CAST({local} AS date)"
    return join, f"{calendar}.cum_hours + CASE WHEN {calendar}.workday THEN {windows} ELSE 0 END"


def plausible_day(day: date, field: str) -> date:
    """``day``, if between :data:`FIRST_DAY` and :data:`LAST_DAY`; else a 422 naming ``field``."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            f"{field} 日期超出范围：{day}（应在 {FIRST_DAY} 至 {LAST_DAY} 之间）。",
            f"{field} is out of range: {day} (between {FIRST_DAY} and {LAST_DAY}).",
            field=field,
        )
    return day


def report_day(day: date | None, field: str = "date") -> date:
    """The day a report is asked for: ``day`` (plausible, and not after today), else yesterday
    (Asia/Shanghai); a day still to come is a 422 naming ``field``."""
    today = datetime.now(SHANGHAI).date()
    if day is None:
        return today - timedelta(days=1)
    plausible_day(day, field)
    if day > today:
        raise InvalidInput(
            f"{day} 还没有到，请选择今天或以前的日期。",
            f"{day} has not come yet; choose today or an earlier day.",
            field=field,
        )
    return day


def official_days() -> tuple[list[tuple[date, bool, str]], int]:
    """Every day from :data:`CALENDAR_START`: (day, working day?, source) and the library's last
    year."""
    import chinese_calendar
    from chinese_calendar.constants import holidays, workdays

    last_year = max(max(holidays), max(workdays)).year
    end = date(last_year + YEARS_AHEAD, 12, 31)
    days = []
    d = CALENDAR_START
    one = timedelta(days=1)
    while d <= end:
        if d.year <= last_year:
            days.append((d, bool(chinese_calendar.is_workday(d)), "chinese_calendar"))
        else:
            days.append((d, d.weekday() < 5, "weekday-rule"))
        d += one
    return days, last_year


def sync_calendar(session: Session) -> int:
    """Bring ``work_calendar`` up to the installed ``chinese_calendar``; returns the number of
    days written (0 when nothing changed).  Run by every set-up (``prepare_database``)."""
    days, _ = official_days()
    have = {
        (r.day, r.workday, r.source)
        for r in session.execute(text("SELECT day, workday, source FROM work_calendar"))
    }
    changed = [d for d in days if d not in have]
    if not changed:
        return 0
    session.execute(
        text("""
        INSERT INTO work_calendar (day, workday, source, cum_hours)
        SELECT d, w, s, 0 FROM unnest(CAST(:day AS date[]), CAST(:workday AS boolean[]),
                                      CAST(:source AS text[])) AS u(d, w, s)
        ON CONFLICT (day) DO UPDATE SET workday = excluded.workday, source = excluded.source
    """),
        {
            "day": [d for d, _, _ in changed],
            "workday": [w for _, w, _ in changed],
            "source": [s for _, _, s in changed],
        },
    )
    session.execute(
        text("""
        UPDATE work_calendar c SET cum_hours = s.cum FROM (
            SELECT day, coalesce(sum(CASE WHEN workday THEN :hours ELSE 0 END) OVER (
                ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS cum
            FROM work_calendar) s
        WHERE c.day = s.day AND c.cum_hours IS DISTINCT FROM s.cum
    """),
        {"hours": DAY_HOURS},
    )
    return len(changed)


def add_work_hours(session: Session, start: datetime, hours: float) -> datetime | None:
    """The moment ``hours`` working hours after ``start`` (the database's arithmetic); None
    past the working calendar's last day."""
    value = session.execute(
        text("SELECT wangge_work_add(CAST(:t AS timestamptz), :h)"), {"t": start, "h": hours}
    ).scalar_one()
    return None if value is None else value.astimezone(SHANGHAI)


def work_hours_between(session: Session, start: datetime, end: datetime) -> float | None:
    """Working hours from ``start`` to ``end`` (negative if ``end`` comes first); None when
    either lies outside the working calendar."""
    value = session.execute(
        text("SELECT wangge_work_hours(CAST(:a AS timestamptz), CAST(:b AS timestamptz))"),
        {"a": start, "b": end},
    ).scalar_one()
    return None if value is None else float(value)
