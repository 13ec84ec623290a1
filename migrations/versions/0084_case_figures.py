"""The leaders' figures kept per day and place, counted again where cases changed.

The roll-up (``gis.stats``: 每日一汇总, ``/api/stats``, the trend, 统计排名) read every case of
its period at each call: a city's 30 days 0.6 s, its trend 0.4 s and its ranking of the year
4.1 s over a million cases (``bench/daily.py``), and a province would read tens of millions.

Now ``case_figure_day`` holds the figures of the cases received on a day (in Beijing) in a
village (the four region codes, ``''`` for none): how many (disputes, hazards), and of those
resolved, closed, on time, extended, reworked, rated (and their scores' sum), satisfied and
settled on the spot, and the handling hours' sum and count; ``case_figure_split`` the cases of a
day in a township by state, kind, category and source (the roll-up's breakdowns: as keys of the
first table they made it nearly as long as ``cases``).  They are not kept by arithmetic on each
change, which would repeat every figure's definition in triggers: a change only marks its day
and township as to count again (``case_figure_dirty``, one row per statement and pair, never
updated, so writers never wait on each other), and ``gis.figures.refresh`` (the clock, each
minute) counts the marked pairs again from their cases with the roll-up's own SQL.  A reader
takes the kept figures of the pairs not marked and counts the marked ones from their cases:
exact at any moment, whatever the clock has done.

What marks a pair: a case inserted or deleted (its pair); a case updated (the pairs before and
after, whatever changed: a million-row update marks its pairs faster than it could compare
them); a merge link (并案) of a case coming into force or ending (the case's pair: merged cases
are not counted).  The working calendar's sync marks every pair (the handling hours count
working time), as does ``wangge db recount``.  Every pair of the cases stored is marked here:
the clock counts them in its first minutes (readers count from the cases meanwhile).

Revision ID: 0084
Revises: 0083
Create Date: 2026-12-06
"""

from alembic import op

revision = "0084"
down_revision = "0083"
branch_labels = None
depends_on = None

#: a case's pair, from the row ``{a}``
_PAIR = (
    "(({a}.received_at AT TIME ZONE 'Asia/Shanghai')::date) AS day,"
    " coalesce({a}.township_code, '') AS township_code"
)
_SCOPE = "(SELECT current_setting('wangge.scope', true))"


def _mark(pairs: str) -> str:
    return (
        "INSERT INTO case_figure_dirty (day, township_code) "
        f"SELECT DISTINCT day, township_code FROM ({pairs}) p"
    )


def _marking(event: str, rows: str) -> str:
    """The trigger function that marks the pair of each case of the transition table ``rows``."""
    return f"""CREATE FUNCTION wangge_figures_{event}() RETURNS trigger LANGUAGE plpgsql
SET "wangge.scope" TO '*' AS $$
BEGIN
    {_mark(f"SELECT {_PAIR.format(a='r')} FROM {rows} r")};
    RETURN NULL;
END $$;"""


_UPDATED = _mark(
    f"SELECT {_PAIR.format(a='r')} FROM new_rows r UNION ALL "
    f"SELECT {_PAIR.format(a='r')} FROM old_rows r"
)


def _merged(rows: str) -> str:
    """Mark the pair of each case a merge link of ``rows`` is of."""
    return _mark(
        f"SELECT {_PAIR.format(a='c')} FROM {rows} l JOIN cases c ON c.id = l.case_id "
        "WHERE l.kind = 'merged_into'"
    )


_FIGURES = """
    cases integer NOT NULL, disputes integer NOT NULL, hazards integer NOT NULL,
    resolved integer NOT NULL, closed integer NOT NULL, on_time integer NOT NULL,
    extended integer NOT NULL, reworked integer NOT NULL, hours_sum double precision NOT NULL,
    hours_n integer NOT NULL, rated integer NOT NULL, score_sum integer NOT NULL,
    satisfied integer NOT NULL, on_site integer NOT NULL"""


def _rls(table: str, columns: tuple[str, ...]) -> str:
    scoped = f"{_SCOPE} = '*' OR " + " OR ".join(f"{_SCOPE} = {c}" for c in columns)
    return f"""ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY {table}_in_scope ON {table} USING ({scoped}) WITH CHECK ({scoped});"""


UPGRADE = f"""
CREATE TABLE case_figure_day (
    day date NOT NULL,
    city_code varchar(12) NOT NULL,
    district_code varchar(12) NOT NULL,
    township_code varchar(12) NOT NULL,
    village_code varchar(12) NOT NULL,
    {_FIGURES}
);
CREATE INDEX case_figure_day_pair ON case_figure_day (day, township_code);
COMMENT ON TABLE case_figure_day IS
    'the roll-up''s figures of the cases received on a day (Beijing) in a village; counted '
    'again by gis.figures.refresh for the pairs case_figure_dirty marks';
GRANT SELECT, INSERT, DELETE ON case_figure_day TO wangge_app;
{_rls("case_figure_day", ("city_code", "district_code", "township_code", "village_code"))}

CREATE TABLE case_figure_split (
    day date NOT NULL,
    city_code varchar(12) NOT NULL,
    district_code varchar(12) NOT NULL,
    township_code varchar(12) NOT NULL,
    dim varchar(8) NOT NULL CHECK (dim IN ('status', 'kind', 'category', 'source')),
    key varchar(32) NOT NULL,
    n integer NOT NULL
);
CREATE INDEX case_figure_split_pair ON case_figure_split (day, township_code);
COMMENT ON TABLE case_figure_split IS
    'the cases received on a day (Beijing) in a township by state, kind, category and source '
    '(the roll-up''s breakdowns); counted again with case_figure_day';
GRANT SELECT, INSERT, DELETE ON case_figure_split TO wangge_app;
{_rls("case_figure_split", ("city_code", "district_code", "township_code"))}

CREATE TABLE case_figure_dirty (
    id bigserial PRIMARY KEY,
    day date NOT NULL,
    township_code varchar(12) NOT NULL
);
CREATE INDEX case_figure_dirty_pair ON case_figure_dirty (day, township_code);
COMMENT ON TABLE case_figure_dirty IS
    'the (day, township) pairs whose cases changed since case_figure_day counted them';
GRANT SELECT, INSERT, DELETE ON case_figure_dirty TO wangge_app;
GRANT USAGE ON SEQUENCE case_figure_dirty_id_seq TO wangge_app;

{_marking("inserted", "new_rows")}

{_marking("deleted", "old_rows")}

CREATE FUNCTION wangge_figures_updated() RETURNS trigger LANGUAGE plpgsql
SET "wangge.scope" TO '*' AS $$
BEGIN
    -- (a statement fires it even when it changed no row: a report's repeat flags, most often)
    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    -- the pairs of the cases updated, before and after (whatever changed: comparing what a
    -- figure reads would cost more than counting a pair again, in a million-row update)
    {_UPDATED};
    RETURN NULL;
END $$;

-- a merge link of a case coming into force or ending: the case's pair
CREATE FUNCTION wangge_figures_merged() RETURNS trigger LANGUAGE plpgsql
SET "wangge.scope" TO '*' AS $$
BEGIN
    -- (the intake inserts possible duplicates on every report: those mark nothing)
    -- (nested: a transition table is named only where the trigger has it)
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF EXISTS (SELECT 1 FROM new_rows WHERE kind = 'merged_into') THEN
            {_merged("new_rows")};
        END IF;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        IF EXISTS (SELECT 1 FROM old_rows WHERE kind = 'merged_into') THEN
            {_merged("old_rows")};
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER cases_figures_insert AFTER INSERT ON cases
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wangge_figures_inserted();
CREATE TRIGGER cases_figures_delete AFTER DELETE ON cases
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION wangge_figures_deleted();
CREATE TRIGGER cases_figures_update AFTER UPDATE ON cases
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION wangge_figures_updated();
CREATE TRIGGER case_link_figures_insert AFTER INSERT ON case_link
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wangge_figures_merged();
CREATE TRIGGER case_link_figures_delete AFTER DELETE ON case_link
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION wangge_figures_merged();
CREATE TRIGGER case_link_figures_update AFTER UPDATE ON case_link
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION wangge_figures_merged();

-- every pair stored, to count: the clock fills case_figure_day in its first minutes
SET LOCAL wangge.scope = '*';
{_mark(f"SELECT {_PAIR.format(a='c')} FROM cases c")};
"""

DOWNGRADE = """
DROP TRIGGER cases_figures_insert ON cases;
DROP TRIGGER cases_figures_delete ON cases;
DROP TRIGGER cases_figures_update ON cases;
DROP TRIGGER case_link_figures_insert ON case_link;
DROP TRIGGER case_link_figures_delete ON case_link;
DROP TRIGGER case_link_figures_update ON case_link;
DROP FUNCTION wangge_figures_inserted();
DROP FUNCTION wangge_figures_deleted();
DROP FUNCTION wangge_figures_updated();
DROP FUNCTION wangge_figures_merged();
DROP TABLE case_figure_dirty;
DROP TABLE case_figure_split;
DROP TABLE case_figure_day;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
