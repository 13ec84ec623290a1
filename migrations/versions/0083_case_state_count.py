"""The in-tray's counts per state, kept as cases come, move and go (``case_state_count``).

A desk's in-tray (待办案件) heads its list with how many of its cases are in each state,
settled ones too (已结案 is a filter like the others).  It counted them from ``cases`` at every
load: a city's desk with every center below read the whole year's million cases each time,
0.35 s of its 0.5 s (``bench/desk.py``), and a province would read tens of millions.

Now a roll-up holds the number of cases per center, state and place (the four region codes, so
that a jurisdiction is told apart exactly as on ``cases``; ``''`` and center ``0`` for none),
kept by three statement triggers on ``cases`` from their transition tables: added on insert,
taken away on delete, and on update only where a case's center, state or place changed (the
difference of the old and new rows, as ``wangge_rollup_moved`` does).  Each applies its changes
in key order, so that two statements never lock the same rows in opposite orders.  Merged cases
are counted (a merged report is a closed case of its own in the in-tray, unlike the maps).

Its list of open cases was sorted from all of them at each load too (0.12 s for that city
desk): an index of the open cases by deadline, whatever their center, gives the first page in
the in-tray's order (``cases_open_deadline``; the centers' own index keeps a single desk's).

``wangge_state_count_rebuild()`` counts it again from the cases (``wangge db recount``, after a
repair by hand); it is counted once here.  A bulk import leaves the triggers on: its one
insert adds its million rows' counts in one statement.

Revision ID: 0083
Revises: 0082
Create Date: 2026-12-06
"""

from alembic import op

revision = "0083"
down_revision = "0082"
branch_labels = None
depends_on = None

#: a case's key in the roll-up, from the row ``{a}``
_KEY = (
    "coalesce({a}.center_id, 0) AS center_id, {a}.status,"
    " coalesce({a}.city_code, '') AS city_code, coalesce({a}.district_code, '') AS district_code,"
    " coalesce({a}.township_code, '') AS township_code,"
    " coalesce({a}.village_code, '') AS village_code"
)
_COLUMNS = "center_id, status, city_code, district_code, township_code, village_code"


_SCOPE = "(SELECT current_setting('wangge.scope', true))"
#: the policy of ``cases`` (migration 0002, as later written), on the roll-up's columns
_IN_SCOPE = f"{_SCOPE} = '*' OR " + " OR ".join(
    f"{_SCOPE} = {c}" for c in ("city_code", "district_code", "township_code", "village_code")
)


def _apply(changed: str) -> str:
    """Add ``changed`` (rows of the key's columns and a ``sign``) to the roll-up."""
    return f"""
    INSERT INTO case_state_count AS s ({_COLUMNS}, n)
    SELECT {_COLUMNS}, sum(sign) FROM ({changed}) c
    GROUP BY {_COLUMNS}
    HAVING sum(sign) <> 0
    ORDER BY {_COLUMNS}
    ON CONFLICT ({_COLUMNS}) DO UPDATE SET n = s.n + excluded.n"""


def _counting(event: str, rows: str, sign: int) -> str:
    """The trigger function that counts each of the transition table ``rows`` ``sign`` times."""
    return f"""CREATE FUNCTION wangge_state_count_{event}() RETURNS trigger LANGUAGE plpgsql
SET "wangge.scope" TO '*' AS $$
BEGIN
    {_apply(f"SELECT {_KEY.format(a='r')}, {sign} AS sign FROM {rows} r")};
    RETURN NULL;
END $$;"""


def _keys(table: str) -> str:
    return f"SELECT {_KEY.format(a='r')} FROM {table} r"


UPGRADE = f"""
CREATE TABLE case_state_count (
    center_id integer NOT NULL,
    status varchar(16) NOT NULL,
    city_code varchar(12) NOT NULL,
    district_code varchar(12) NOT NULL,
    township_code varchar(12) NOT NULL,
    village_code varchar(12) NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY ({_COLUMNS})
);
COMMENT ON TABLE case_state_count IS
    'cases per center (0: none), state and place (region codes, '''' for none); kept by the '
    'triggers cases_state_count_*; read by the in-tray''s counts';
GRANT SELECT, INSERT, UPDATE ON case_state_count TO wangge_app;
-- the second wall, as on cases: a jurisdiction's counts only (the triggers count everywhere)
ALTER TABLE case_state_count ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_state_count FORCE ROW LEVEL SECURITY;
CREATE POLICY case_state_count_in_scope ON case_state_count
    USING ({_IN_SCOPE}) WITH CHECK ({_IN_SCOPE});

{_counting("inserted", "new_rows", 1)}

{_counting("deleted", "old_rows", -1)}

CREATE FUNCTION wangge_state_count_updated() RETURNS trigger LANGUAGE plpgsql
SET "wangge.scope" TO '*' AS $$
BEGIN
    -- (a statement fires it even when it changed no row: a report's repeat flags, most often)
    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    -- only the cases whose center, state or place changed: a deadline, flags, a note … count
    -- nothing here, and the difference of the two sides is then empty
    {
    _apply(f'''
        SELECT k.*, 1 AS sign FROM ({_keys("new_rows")} EXCEPT ALL {_keys("old_rows")}) k
        UNION ALL
        SELECT k.*, -1 AS sign FROM ({_keys("old_rows")} EXCEPT ALL {_keys("new_rows")}) k''')
};
    RETURN NULL;
END $$;

CREATE FUNCTION wangge_state_count_rebuild() RETURNS void LANGUAGE plpgsql
SET "wangge.scope" TO '*' AS $$
BEGIN
    DELETE FROM case_state_count;
    INSERT INTO case_state_count ({_COLUMNS}, n)
    SELECT {_KEY.format(a="c")}, count(*) FROM cases c GROUP BY 1, 2, 3, 4, 5, 6;
END $$;

CREATE TRIGGER cases_state_count_insert AFTER INSERT ON cases
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION wangge_state_count_inserted();
CREATE TRIGGER cases_state_count_delete AFTER DELETE ON cases
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION wangge_state_count_deleted();
CREATE TRIGGER cases_state_count_update AFTER UPDATE ON cases
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION wangge_state_count_updated();

SELECT wangge_state_count_rebuild();

-- the open cases by deadline, whatever their center: the in-tray of every center below
CREATE INDEX cases_open_deadline ON cases (deadline)
WHERE status NOT IN ('resolved', 'verified', 'closed', 'suspended');
"""

DOWNGRADE = """
DROP INDEX cases_open_deadline;
DROP TRIGGER cases_state_count_insert ON cases;
DROP TRIGGER cases_state_count_delete ON cases;
DROP TRIGGER cases_state_count_update ON cases;
DROP FUNCTION wangge_state_count_inserted();
DROP FUNCTION wangge_state_count_deleted();
DROP FUNCTION wangge_state_count_updated();
DROP FUNCTION wangge_state_count_rebuild();
DROP TABLE case_state_count;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
