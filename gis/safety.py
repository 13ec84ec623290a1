"""平安指数 — the safety index a command center publishes each day for every region.

For a day D (Asia/Shanghai) and a region (city, district, township/street, village/community),
from the cases *received* in the region in the 30 days ending with D, ``[D − 29, D + 1)``:

    index = 100 − the five deductions below, each capped — 0 to 100, one decimal

* 发案 ``incidence`` (at most 40): cases per 10,000 residents, each weighted by its severity
  (轻微 0.5, 一般 1, 较大 2, 重大 4), :data:`INCIDENCE_POINTS` (0.5) points per weighted case;
* 重大案件 ``serious`` (at most 20): 重大 (critical) cases per 10,000 residents,
  :data:`SERIOUS_POINTS` (5) points each — one in a village of 5,000 takes 10 points, one in a
  township of 50,000 one point;
* 办理超期 ``overdue`` (at most 20): of the cases whose deadline fell before the window ended
  (suspended ones aside), the share not resolved by it — the first move to ``resolved``, as
  ``gis.stats`` counts on-time cases — times 20;
* 高频线索 ``repeats`` (at most 10): the share of the cases with a repeat warning (the same
  place or resident again and again, ``gis.repeats``), times 20;
* 群众不满意 ``dissatisfied`` (at most 10): the share of residents' ratings below 4, times 10.

A case merged into another (并案, two reports of one matter) is left out: the matter counts once.

Residents are the population of the region's current grids (a redraw moves people between grids
of a village, not out of it; and history imported before the grids were drawn still has its
residents).  Where no grid of the region has a population, the first two deductions cannot be
made: the index says so (``population`` None) instead of guessing.

Bands (:data:`BANDS`): 90 and above 平安, 80 基本平安, 70 需关注, below 不平安.

Published (:func:`publish`, table ``safety_index``): the clock stores day D's index of every
region once D is over, and a published figure never changes — late cases (offline sync, imports)
or a later formula do not move what leaders were shown.  A day not published (today, or a day
before the system published) is computed when asked and marked provisional.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.scope import Scope
from gis.stats import CHILD_COLUMN, LEVEL_COLUMN, find_region
from gis.workflow import not_merged_sql
from gis.worktime import SHANGHAI

WINDOW_DAYS = 30
#: the version of the definition above, stored with every published index
FORMULA = 1
SEVERITY_WEIGHT = {"minor": 0.5, "normal": 1.0, "major": 2.0, "critical": 4.0}
#: points per severity-weighted case per 10,000 residents in 30 days
INCIDENCE_POINTS = 0.5
#: points per critical case (重大) per 10,000 residents in 30 days
SERIOUS_POINTS = 5.0
#: how a share becomes points: overdue, repeats, dissatisfied
SHARE_POINTS = {"overdue": 20.0, "repeats": 20.0, "dissatisfied": 10.0}


@dataclass(frozen=True)
class Part:
    """A deduction: its key, names, cap and how it is counted (Chinese, English)."""

    key: str
    zh: str
    en: str
    cap: float
    rule_zh: str
    rule_en: str


PARTS = (
    Part("incidence", "发案", "Incidence", 40,
         "每万人案件数（按严重程度加权：轻微 0.5、一般 1、较大 2、重大 4），每件扣 0.5 分",
         "cases per 10,000 residents, weighted by severity (minor 0.5, normal 1, major 2, "
         "critical 4): 0.5 points each"),
    Part("serious", "重大案件", "Critical cases", 20,
         "每万人重大案件数，每件扣 5 分",
         "critical cases per 10,000 residents: 5 points each"),
    Part("overdue", "办理超期", "Overdue", 20,
         "期限已到的案件中未按期办结的比例 × 20",
         "share of the cases due that were not resolved by their deadline × 20"),
    Part("repeats", "高频线索", "Repeat warnings", 10,
         "带高频线索预警的案件比例 × 20",
         "share of the cases with a repeat warning × 20"),
    Part("dissatisfied", "群众不满意", "Dissatisfaction", 10,
         "群众评价中低于 4 分的比例 × 10",
         "share of residents' ratings below 4 × 10"),
)  # fmt: skip
PART = {p.key: p for p in PARTS}


@dataclass(frozen=True)
class Band:
    key: str
    zh: str
    en: str
    floor: float
    color: str


BANDS = (
    Band("safe", "平安", "Safe", 90, "#1a9850"),
    Band("fair", "基本平安", "Mostly safe", 80, "#a6d96a"),
    Band("watch", "需关注", "Needs attention", 70, "#fdae61"),
    Band("unsafe", "不平安", "Unsafe", 0, "#d73027"),
)


def band(score: float) -> Band:
    """The band of ``score``."""
    return next(b for b in BANDS if score >= b.floor)


@dataclass(frozen=True)
class Figures:
    """What a region's index is made of: its cases of the window and its residents."""

    cases: int = 0
    minor: int = 0
    normal: int = 0
    major: int = 0
    critical: int = 0
    due: int = 0
    overdue: int = 0
    repeats: int = 0
    rated: int = 0
    dissatisfied: int = 0
    #: residents (None: no grid of the region has a population)
    population: int | None = None
    grids: int = 0
    #: the grids whose population is known
    grids_counted: int = 0


def deductions(f: Figures) -> dict[str, float]:
    """The points each part takes off (see the module docstring), rounded to 0.1."""
    out: dict[str, float] = {}
    if f.population:
        per_10k = 10_000 / f.population
        weighted = sum(SEVERITY_WEIGHT[s] * getattr(f, s) for s in SEVERITY_WEIGHT)
        out["incidence"] = weighted * per_10k * INCIDENCE_POINTS
        out["serious"] = f.critical * per_10k * SERIOUS_POINTS
    else:
        out["incidence"] = out["serious"] = 0.0
    shares = {
        "overdue": (f.overdue, f.due),
        "repeats": (f.repeats, f.cases),
        "dissatisfied": (f.dissatisfied, f.rated),
    }
    for key, (n, d) in shares.items():
        out[key] = SHARE_POINTS[key] * n / d if d else 0.0
    return {k: round(min(PART[k].cap, out[k]), 1) for k in PART}


def score(points: dict[str, float]) -> float:
    return round(max(0.0, 100 - sum(points.values())), 1)


@dataclass(frozen=True)
class Entry:
    """One region's index for a day."""

    code: str
    name: str
    level: str
    score: float
    deductions: dict[str, float]
    figures: Figures
    #: the index of the same region a week before (None: the region was not there then)
    week_before: float | None = None

    @property
    def band(self) -> Band:
        return band(self.score)

    @property
    def change(self) -> float | None:
        return None if self.week_before is None else round(self.score - self.week_before, 1)

    def main_part(self) -> Part | None:
        """The part that took most off, if any."""
        key, points = max(self.deductions.items(), key=lambda kv: kv[1])
        return PART[key] if points > 0 else None

    def main_text(self, lang: str = "zh") -> str:
        """The main deduction as a reader sees it: ``发案 −12.5``, or ``—``."""
        part = self.main_part()
        if part is None:
            return "—"
        return f"{part.en if lang == 'en' else part.zh} −{self.deductions[part.key]:g}"

    def change_text(self) -> str:
        """The change from a week before: ``↑1.2``, ``↓0.4``, ``±0`` or ``—``."""
        c = self.change
        if c is None:
            return "—"
        return "±0" if c == 0 else f"{'↑' if c > 0 else '↓'}{abs(c):.1f}"

    def band_name(self, lang: str = "zh") -> str:
        return self.band.en if lang == "en" else self.band.zh


@dataclass(frozen=True)
class SafetyIndex:
    """A region's index and its child regions' (ranked, safest first) for a day."""

    day: date
    start: datetime
    end: datetime
    region: Entry
    children: list[Entry]
    #: when it was published (None: computed now, provisional)
    published_at: datetime | None
    ranks: dict[str, int] = field(default_factory=dict)


def window(day: date) -> tuple[datetime, datetime]:
    """``[day − 29 00:00, day + 1 00:00)`` in Asia/Shanghai."""
    return (
        datetime.combine(day - timedelta(days=WINDOW_DAYS - 1), time(0), SHANGHAI),
        datetime.combine(day + timedelta(days=1), time(0), SHANGHAI),
    )


# the cases of the window per region code, every level at once (a case counts in its village,
# township, district and city); {where} narrows to one region's cases, {codes} to the levels asked
_ALL_LEVELS = "c.city_code, c.district_code, c.township_code, c.village_code"
_CASES = """
    WITH c AS MATERIALIZED (
        SELECT ARRAY[{codes}] AS codes,
               c.severity::text AS severity,
               c.flags ?| ARRAY['repeat_place', 'repeat_resident'] AS repeat, c.score,
               d.due,
               d.due AND coalesce(
                   c.first_resolved_at,  -- (kept from its events: migration 0062)
                   CASE WHEN c.status IN ('resolved', 'verified', 'closed') THEN c.closed_at END,
                   'infinity') > c.deadline AS overdue
        FROM cases c
        CROSS JOIN LATERAL (SELECT c.deadline < :end AND c.status <> 'suspended' AS due) d
        WHERE c.received_at >= :start AND c.received_at < :end {where} AND {not_merged}
    )
    SELECT u.code, count(*) AS cases,
           count(*) FILTER (WHERE severity = 'minor') AS minor,
           count(*) FILTER (WHERE severity = 'normal') AS normal,
           count(*) FILTER (WHERE severity = 'major') AS major,
           count(*) FILTER (WHERE severity = 'critical') AS critical,
           count(*) FILTER (WHERE due) AS due,
           count(*) FILTER (WHERE overdue) AS overdue,
           count(*) FILTER (WHERE repeat) AS repeats,
           count(score) AS rated,
           count(*) FILTER (WHERE score < 4) AS dissatisfied
    FROM c CROSS JOIN unnest(c.codes) AS u(code)
    WHERE u.code IS NOT NULL
    GROUP BY u.code
"""

#: the figures ``_CASES`` counts, per region
_CASE_FIGURES = (
    "cases", "minor", "normal", "major", "critical", "due", "overdue", "repeats", "rated",
    "dissatisfied",
)  # fmt: skip

# the regions asked for, with the residents of their current grids
_REGIONS = """
    WITH r AS (SELECT r.id, r.code, r.name, r.level FROM region r WHERE {where}),
    people AS (
        SELECT a.id, sum(g.population) AS population, count(*) AS grids,
               count(g.population) AS grids_counted
        FROM grid g JOIN region v ON v.id = g.village_id
        CROSS JOIN unnest(v.path) AS a(id)
        WHERE a.id IN (SELECT id FROM r)
          AND g.valid_to IS NULL
        GROUP BY a.id
    )
    SELECT r.code, r.name, r.level::text AS level, p.population,
           coalesce(p.grids, 0) AS grids, coalesce(p.grids_counted, 0) AS grids_counted
    FROM r LEFT JOIN people p ON p.id = r.id
"""


def compute(session: Session, day: date, region: tuple[int, str, str] | None = None) -> list[Entry]:
    """Day ``day``'s index of every region, or of ``region`` (id, code, level) and its child
    regions, computed from the cases now stored."""
    start, end = window(day)
    params: dict[str, Any] = {"start": start, "end": end}
    if region is None:
        where_cases, where_regions, codes = "", "true", _ALL_LEVELS
    else:
        rid, code, level = region
        where_cases = f"AND c.{LEVEL_COLUMN[level]} = :code"
        # the region's own and its children's codes only (not those of the levels below: half
        # the rows to count, for a city)
        codes = ", ".join(
            f"c.{col}" for col in (LEVEL_COLUMN[level], CHILD_COLUMN.get(level)) if col
        )
        where_regions = "r.id = :id OR r.parent_id = :id"
        params |= {"id": rid, "code": code}
    counted = {
        r["code"]: dict(r)
        for r in session.execute(
            text(_CASES.format(where=where_cases, codes=codes, not_merged=not_merged_sql("c"))),
            params,
        ).mappings()
    }
    entries = []
    for r in session.execute(text(_REGIONS.format(where=where_regions)), params).mappings():
        row = counted.get(r["code"], {})
        figures = Figures(
            **{k: int(row.get(k, 0)) for k in _CASE_FIGURES},
            population=int(r["population"]) if r["population"] else None,
            grids=r["grids"],
            grids_counted=r["grids_counted"],
        )
        points = deductions(figures)
        entries.append(Entry(r["code"], r["name"], r["level"], score(points), points, figures))
    return entries


def publish(session: Session, day: date) -> int:
    """Store day ``day``'s index of every region, unless published already; how many rows were
    stored.  The session must see every case (scope ``*``); the caller commits."""
    today = datetime.now(SHANGHAI).date()
    if day >= today:
        raise InvalidInput(
            f"{day} 还没有过完，平安指数在次日发布。",
            f"{day} is not over yet: its safety index is published the day after.",
            field="date",
        )
    first = first_day(session)
    if first is None or day < first:
        # (published days never change: a mistyped year would stand for good, every region
        # at 100 for want of a case)
        since = f"（{first}）" if first else "（还没有网格和案件）"
        since_en = f" ({first})" if first else " (no grid or case yet)"
        raise InvalidInput(
            f"{day} 早于本系统最早的数据{since}：那天没有可计算的平安指数。",
            f"{day} is before the system's first data{since_en}: there is no safety index of "
            "that day to publish.",
            field="date",
        )
    # one publisher at a time (the clock in every server process, the command line)
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    if session.execute(
        text("SELECT EXISTS (SELECT 1 FROM safety_index WHERE day = :d)"), {"d": day}
    ).scalar_one():
        return 0
    rows = [
        {
            "day": day,
            "code": e.code,
            "score": e.score,
            "deductions": json.dumps(e.deductions),
            "figures": json.dumps(asdict(e.figures)),
            "formula": FORMULA,
        }
        for e in compute(session, day)
    ]
    if rows:
        session.execute(
            text("""INSERT INTO safety_index (day, region_code, score, deductions, figures,
                                              formula)
                    VALUES (:day, :code, :score, CAST(:deductions AS jsonb),
                            CAST(:figures AS jsonb), :formula)
                    ON CONFLICT DO NOTHING"""),
            rows,
        )
    return len(rows)


_LOCK = 0x77616E67_7061  # "wangpa": one publisher at a time


def first_day(session: Session) -> date | None:
    """The first day (Asia/Shanghai) of the system's data: its first case received or its first
    grid drawn, whichever came first; None while it has neither."""
    return session.execute(
        text("""
        SELECT CAST(least((SELECT min(received_at) FROM cases),
                          (SELECT min(valid_from) FROM grid)) AT TIME ZONE 'Asia/Shanghai'
                    AS date)
    """)
    ).scalar_one()


def publish_due(session: Session, now: datetime | None = None) -> int:
    """The clock's part: publish yesterday's index (Asia/Shanghai) if it is not yet (nor before
    the system's first data: a deployment's first day has no yesterday)."""
    today = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()
    first = first_day(session)
    if first is None or today - timedelta(days=1) < first:
        return 0
    return publish(session, today - timedelta(days=1))


def _published(session: Session, day: date, rid: int) -> tuple[list[Entry], datetime | None]:
    rows = session.execute(
        text("""SELECT r.code, r.name, r.level::text AS level, s.score, s.deductions, s.figures,
                       s.published_at
                FROM safety_index s JOIN region r ON r.code = s.region_code
                WHERE s.day = :day AND (r.id = :id OR r.parent_id = :id)"""),
        {"day": day, "id": rid},
    ).mappings()
    entries, at = [], None
    for r in rows:
        known = Figures.__dataclass_fields__
        figures = Figures(**{k: v for k, v in r["figures"].items() if k in known})
        entries.append(
            Entry(r["code"], r["name"], r["level"], float(r["score"]), r["deductions"], figures)
        )
        at = r["published_at"]
    return entries, at


def safety_index(session: Session, scope: Scope, region: str | None, day: date) -> SafetyIndex:
    """Day ``day``'s index of ``region`` (default: the caller's) and its child regions: the
    published one, else computed now; with each region's index a week before."""
    code, _, level = find_region(session, scope, region)
    rid = session.execute(text("SELECT id FROM region WHERE code = :c"), {"c": code}).scalar_one()

    def of(on: date) -> tuple[list[Entry], datetime | None]:
        entries, at = _published(session, on, rid)
        if not any(e.code == code for e in entries):
            entries, at = compute(session, on, (rid, code, level)), None
        return entries, at

    entries, published_at = of(day)
    before = {e.code: e.score for e in of(day - timedelta(days=7))[0]}
    entries = [
        Entry(e.code, e.name, e.level, e.score, e.deductions, e.figures, before.get(e.code))
        for e in entries
    ]
    own = next(e for e in entries if e.code == code)
    children = sorted((e for e in entries if e.code != code), key=lambda e: (-e.score, e.code))
    ranks: dict[str, int] = {}
    for i, e in enumerate(children):  # equal scores share a rank
        tie = i and e.score == children[i - 1].score
        ranks[e.code] = ranks[children[i - 1].code] if tie else i + 1
    start, end = window(day)
    return SafetyIndex(day, start, end, own, children, published_at, ranks)


def outlines(session: Session, codes: list[str]) -> dict[str, dict[str, Any]]:
    """The regions ``codes``' outlines as GeoJSON geometries, simplified to about 10 m (a page
    of a few dozen regions, not megabytes)."""
    rows = session.execute(
        text("""SELECT code, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0001), 5)
                FROM region WHERE code = ANY(CAST(:codes AS varchar[]))"""),
        {"codes": codes},
    ).all()
    return {code: json.loads(geometry) for code, geometry in rows}


def parent_code(session: Session, scope: Scope, code: str) -> str | None:
    """The code of region ``code``'s parent, if the caller may see it."""
    return session.execute(
        text(f"""SELECT p.code FROM region r JOIN region p ON p.id = r.parent_id
                 WHERE r.code = :c AND {scope.region_condition("p")}"""),
        {"c": code},
    ).scalar_one_or_none()
