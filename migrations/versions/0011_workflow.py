"""The closed loop: working-time deadlines, versions, departments, dispatch, supervision, ratings.

* ``work_calendar`` (filled from ``chinese_calendar`` by :func:`gis.worktime.sync_calendar`) and the
  working-time functions ``wangge_work_clock/at/add/hours`` (see :mod:`gis.worktime`).
* ``deadline_rule``: working hours allowed by category × severity; intake and re-computations use
  it.  ``category.deadline_hours`` becomes the working hours for the category's default severity.
* ``cases``: ``version`` (optimistic concurrency: every change bumps it), ``allowed_hours``,
  ``remind_at`` (80 %), ``deadline`` (100 %), ``notice_at`` (200 %) in working time,
  ``paused_at`` / ``status_before_pause`` for suspension.  Existing cases get working-time
  deadlines.
* ``department`` (stationed at a township, district or city center; created for every such center
  by a trigger), ``category_department`` (the default department per category), ``case_dispatch``
  (one row per department a case is dispatched to, with its response).
* ``case_supervision``: one row per (case, round, stage) — the exactly-once guard of the clock's
  reminders, supervision letters (with escalation) and notices.
* ``case_rating``: one per case, from the resident through the public token.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21
"""

from alembic import op
from sqlalchemy import text
from sqlalchemy.orm import Session

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DEPARTMENTS = [  # kind, name (zh), name (en)
    ("police", "派出所", "Police station"),
    ("judicial", "司法所", "Judicial office"),
    ("court", "人民法庭", "People's tribunal"),
    ("housing", "住建", "Housing and construction"),
    ("hrss", "人社", "Human resources and social security"),
    ("market", "市场监管", "Market regulation"),
    ("fire", "消防救援", "Fire and rescue"),
    ("emergency", "应急管理", "Emergency management"),
    ("natural_resources", "自然资源", "Natural resources"),
    ("health", "卫健", "Health"),
    ("transport", "交通运输", "Transport"),
    ("civil_affairs", "民政", "Civil affairs"),
]

DEFAULT_DEPARTMENT = {
    "marriage_family": "judicial",
    "neighbour": "judicial",
    "housing_homestead": "natural_resources",
    "land_forest": "natural_resources",
    "labour_wage": "hrss",
    "property_mgmt": "housing",
    "consumer": "market",
    "medical": "health",
    "traffic_accident": "police",
    "land_requisition": "natural_resources",
    "contract_debt": "court",
    "dispute_other": "judicial",
    "fire": "fire",
    "public_order": "police",
    "building_safety": "housing",
    "gas": "housing",
    "traffic_safety": "transport",
    "flood": "emergency",
    "rental_housing": "police",
    "small_venues": "fire",
    "food_safety": "market",
    "hazard_other": "emergency",
}

# Working hours allowed (1 working day = 8 h).  Disputes: simple (minor) 1 day, ordinary 7,
# complex (major) 20; critical ones (risk of escalating: groups, violence) 3 days to a first result.
# Land and housing disputes are complex by nature.  Hazards: fire and gas 4 working hours whatever
# the severity; others by severity.
SEVERITIES = ("minor", "normal", "major", "critical")
DISPUTE_HOURS = {"minor": 8, "normal": 56, "major": 160, "critical": 24}
COMPLEX_DISPUTES = {"land_forest", "land_requisition", "housing_homestead"}
HAZARD_HOURS = {"minor": 56, "normal": 24, "major": 8, "critical": 4}
URGENT_HAZARDS = {"fire": 4, "gas": 4}
STRUCTURAL_HAZARDS = {"building_safety", "flood"}


def _hours(category: str, kind: str, severity: str) -> int:
    if kind == "dispute":
        if category in COMPLEX_DISPUTES and severity in ("minor", "normal"):
            return 160
        return DISPUTE_HOURS[severity]
    if category in URGENT_HAZARDS:
        return URGENT_HAZARDS[category]
    if category in STRUCTURAL_HAZARDS:
        return {"minor": 24, "normal": 8, "major": 4, "critical": 4}[severity]
    return HAZARD_HOURS[severity]


SCHEMA = r"""
CREATE TABLE work_calendar (
    day       date PRIMARY KEY,
    workday   boolean NOT NULL,
    source    text NOT NULL,  -- chinese_calendar | weekday-rule
    cum_hours double precision NOT NULL  -- working hours from the calendar's start to this day
);
CREATE INDEX work_calendar_cum ON work_calendar (cum_hours) WHERE workday;

-- Working windows, Asia/Shanghai: 08:30–12:00 and 13:30–18:00 (8 h).
CREATE FUNCTION wangge_work_clock(ts timestamptz) RETURNS double precision
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.cum_hours + CASE WHEN c.workday THEN
               least(greatest(extract(epoch FROM x.l::time - time '08:30') / 3600, 0), 3.5)
             + least(greatest(extract(epoch FROM x.l::time - time '13:30') / 3600, 0), 4.5)
           ELSE 0 END
    FROM (SELECT ts AT TIME ZONE 'Asia/Shanghai' AS l) x
    JOIN work_calendar c ON c.day = x.l::date
$$;

CREATE FUNCTION wangge_work_at(clock double precision) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (c.day + CASE WHEN r <= 3.5 THEN time '08:30' + r * interval '1 hour'
                         ELSE time '13:30' + (r - 3.5) * interval '1 hour' END)
           AT TIME ZONE 'Asia/Shanghai'
    FROM (SELECT day, clock - cum_hours AS r FROM work_calendar
          WHERE workday AND cum_hours < clock ORDER BY cum_hours DESC LIMIT 1) c
$$;

CREATE FUNCTION wangge_work_add(ts timestamptz, hours double precision) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT wangge_work_at(wangge_work_clock(ts) + hours)
$$;

CREATE FUNCTION wangge_work_hours(a timestamptz, b timestamptz) RETURNS double precision
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT wangge_work_clock(b) - wangge_work_clock(a)
$$;

CREATE TABLE deadline_rule (
    category   varchar(32) NOT NULL REFERENCES category (code),
    severity   case_severity NOT NULL,
    work_hours double precision NOT NULL CHECK (work_hours > 0),
    PRIMARY KEY (category, severity)
);

ALTER TABLE cases
    ADD COLUMN version             integer NOT NULL DEFAULT 1,
    ADD COLUMN allowed_hours       double precision,
    ADD COLUMN remind_at           timestamptz,
    ADD COLUMN notice_at           timestamptz,
    ADD COLUMN paused_at           timestamptz,
    ADD COLUMN status_before_pause varchar(16),
    ADD COLUMN closed_at           timestamptz,
    ADD COLUMN round               smallint NOT NULL DEFAULT 1;  -- +1 at every reopening
CREATE INDEX cases_open_remind ON cases (remind_at)
    WHERE status NOT IN ('resolved', 'verified', 'closed', 'suspended');

CREATE TABLE department (
    id        serial PRIMARY KEY,
    center_id integer NOT NULL REFERENCES center (id),
    kind      varchar(24) NOT NULL,
    name      text NOT NULL,
    UNIQUE (center_id, kind)
);
CREATE TABLE department_kind (
    kind    varchar(24) PRIMARY KEY,
    name_zh text NOT NULL,
    name_en text NOT NULL
);
CREATE TABLE category_department (
    category varchar(32) PRIMARY KEY REFERENCES category (code),
    kind     varchar(24) NOT NULL REFERENCES department_kind (kind)
);

CREATE FUNCTION center_departments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO department (center_id, kind, name)
    SELECT NEW.id, k.kind, r.name || k.name_zh
    FROM department_kind k JOIN region r ON r.id = NEW.region_id
    WHERE r.level <> 'village'
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER center_departments AFTER INSERT ON center
    FOR EACH ROW EXECUTE FUNCTION center_departments();

CREATE TABLE case_dispatch (
    id            bigserial PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES cases (id),
    department_id integer NOT NULL REFERENCES department (id),
    status        varchar(12) NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'accepted', 'done', 'cannot', 'withdrawn')),
    note          text,
    dispatched_at timestamptz NOT NULL DEFAULT now(),
    responded_at  timestamptz
);
CREATE UNIQUE INDEX case_dispatch_open ON case_dispatch (case_id, department_id)
    WHERE status IN ('pending', 'accepted');
CREATE INDEX case_dispatch_case ON case_dispatch (case_id);

CREATE TABLE case_supervision (
    case_id  bigint NOT NULL REFERENCES cases (id),
    round    smallint NOT NULL,
    stage    varchar(12) NOT NULL CHECK (stage IN ('reminder', 'supervision', 'notice')),
    at       timestamptz NOT NULL,
    PRIMARY KEY (case_id, round, stage)
);

CREATE TABLE case_rating (
    case_id  bigint PRIMARY KEY REFERENCES cases (id),
    score    smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    resolved boolean NOT NULL,
    comment  text CHECK (length(comment) <= 500),
    at       timestamptz NOT NULL DEFAULT now()
);
"""

RLS = r"""
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
CREATE POLICY {t}_in_scope ON {t}
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = {t}.case_id))
    WITH CHECK (EXISTS (SELECT 1 FROM cases c WHERE c.id = {t}.case_id));
"""

GRANTS = r"""
GRANT SELECT ON work_calendar, deadline_rule, department, department_kind, category_department
    TO wangge_app;
GRANT SELECT, INSERT, UPDATE ON case_dispatch TO wangge_app;
GRANT SELECT, INSERT ON case_supervision, case_rating TO wangge_app;
GRANT USAGE ON SEQUENCE case_dispatch_id_seq TO wangge_app;
"""


def upgrade() -> None:
    from gis.worktime import sync_calendar

    op.execute(SCHEMA)
    for table in ("case_dispatch", "case_supervision", "case_rating"):
        op.execute(RLS.format(t=table))
    op.execute(GRANTS)
    bind = op.get_bind()
    session = Session(bind=bind)
    sync_calendar(session)
    session.flush()
    bind.execute(
        text("INSERT INTO department_kind VALUES (:kind, :zh, :en) ON CONFLICT DO NOTHING"),
        [{"kind": kind, "zh": zh, "en": en} for kind, zh, en in DEPARTMENTS],
    )
    rows = bind.execute(text("SELECT code, kind::text FROM category")).all()
    bind.execute(
        text("INSERT INTO deadline_rule VALUES (:c, CAST(:s AS case_severity), :h)"),
        [
            {"c": code, "s": severity, "h": _hours(code, kind, severity)}
            for code, kind in rows
            for severity in SEVERITIES
        ],
    )
    bind.execute(
        text("INSERT INTO category_department VALUES (:c, :k)"),
        [
            {"c": code, "k": DEFAULT_DEPARTMENT[code]}
            for code, _ in rows
            if code in DEFAULT_DEPARTMENT
        ],
    )
    op.execute("""
        UPDATE category k SET deadline_hours = r.work_hours
        FROM deadline_rule r WHERE r.category = k.code AND r.severity = k.default_severity;
        INSERT INTO department (center_id, kind, name)
        SELECT ce.id, k.kind, r.name || k.name_zh
        FROM center ce JOIN region r ON r.id = ce.region_id CROSS JOIN department_kind k
        WHERE r.level <> 'village';
        UPDATE cases c SET allowed_hours = r.work_hours,
               deadline = wangge_work_add(c.received_at, r.work_hours),
               remind_at = wangge_work_add(c.received_at, 0.8 * r.work_hours),
               notice_at = wangge_work_add(c.received_at, 2 * r.work_hours)
        FROM deadline_rule r WHERE r.category = c.category AND r.severity = c.severity;
    """)


def downgrade() -> None:
    op.execute("""
        DROP TABLE IF EXISTS case_rating, case_supervision, case_dispatch, category_department,
            department, department_kind, deadline_rule, work_calendar CASCADE;
        DROP FUNCTION IF EXISTS center_departments, wangge_work_hours, wangge_work_add,
            wangge_work_at, wangge_work_clock CASCADE;
        DROP INDEX IF EXISTS cases_open_remind;
        ALTER TABLE cases DROP COLUMN IF EXISTS version, DROP COLUMN IF EXISTS allowed_hours,
            DROP COLUMN IF EXISTS remind_at, DROP COLUMN IF EXISTS notice_at,
            DROP COLUMN IF EXISTS paused_at, DROP COLUMN IF EXISTS status_before_pause,
            DROP COLUMN IF EXISTS closed_at, DROP COLUMN IF EXISTS round;
        UPDATE category SET deadline_hours = CASE code
            WHEN 'neighbour' THEN 24 WHEN 'consumer' THEN 72 WHEN 'marriage_family' THEN 72
            WHEN 'labour_wage' THEN 72 WHEN 'medical' THEN 72 WHEN 'land_requisition' THEN 480
            WHEN 'land_forest' THEN 480 WHEN 'housing_homestead' THEN 240
            WHEN 'fire' THEN 4 WHEN 'gas' THEN 4 WHEN 'building_safety' THEN 24 WHEN 'flood' THEN 12
            WHEN 'public_order' THEN 24 WHEN 'traffic_safety' THEN 48
            ELSE 168 END;  -- 0004's calendar hours
    """)
