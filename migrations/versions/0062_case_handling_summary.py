"""How each case was handled, kept on the case: what the roll-ups read of its history.

The roll-ups (gis.stats: 日报, 周报, the trend; gis.safety: 平安指数) read, for every case they
count, when it first reached resolved, whether it was ever extended or reopened, whether the
reporter settled it on the spot, and its rating.  They looked each up in the case's events and
rating, a case at a time: on the bench's city of 1,000,000 cases, 0.33 s of the month's 1.1 s and
0.78 s of the 12-week trend's 1.5 s, and more with real histories (a handful of events a case).
Now the case carries them:

* ``first_resolved_at`` — the time of its first event that moved it to resolved;
* ``extended`` — it has an ``extend`` event; ``reworked`` — an event moved it to reopened;
  ``on_site`` — it has an ``on_site`` event (就地化解);
* ``score`` — its rating (one a case, never changed).

Events are append-only (migration 0011) and a case has one rating, so each figure only ever
moves one way, and triggers keep them as the rows go in (a statement at a time, from the rows
the statement inserted).  The importers' ``import`` event is the exception: the import writes
its case's ``first_resolved_at`` with the case (a million history rows are not updated a second
time), and the trigger passes it by.  Filled here from the events and ratings stored.

Revision ID: 0062
Revises: 0061
Create Date: 2026-12-05
"""

from alembic import op

revision = "0062"
down_revision = "0061"
branch_labels = None
depends_on = None

# what a set of events says of their cases (``{events}``: a relation of case_event rows)
_SUMMARY = """
    SELECT case_id, min(at) FILTER (WHERE to_status = 'resolved') AS first_resolved_at,
           bool_or(action = 'extend') AS extended, bool_or(to_status = 'reopened') AS reworked,
           bool_or(action = 'on_site') AS on_site
    FROM {events}
    WHERE (to_status IN ('resolved', 'reopened') OR action IN ('extend', 'on_site')){also}
    GROUP BY case_id
"""


def upgrade() -> None:
    op.execute(f"""
ALTER TABLE cases
    ADD COLUMN first_resolved_at timestamptz,
    ADD COLUMN extended boolean NOT NULL DEFAULT false,
    ADD COLUMN reworked boolean NOT NULL DEFAULT false,
    ADD COLUMN on_site boolean NOT NULL DEFAULT false,
    ADD COLUMN score smallint;

UPDATE cases c SET first_resolved_at = s.first_resolved_at, extended = s.extended,
                   reworked = s.reworked, on_site = s.on_site
FROM ({_SUMMARY.format(events="case_event", also="")}) s
WHERE c.id = s.case_id;
UPDATE cases c SET score = r.score FROM case_rating r WHERE r.case_id = c.id;

-- least() and OR: a figure moves one way only, whatever order the statements come in
CREATE FUNCTION wangge_case_handled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cases c
    SET first_resolved_at = least(c.first_resolved_at, s.first_resolved_at),
        extended = c.extended OR s.extended, reworked = c.reworked OR s.reworked,
        on_site = c.on_site OR s.on_site
    FROM ({_SUMMARY.format(events="new_rows", also=" AND action <> 'import'")}) s
    WHERE c.id = s.case_id
      AND (s.first_resolved_at < c.first_resolved_at
           OR (c.first_resolved_at IS NULL AND s.first_resolved_at IS NOT NULL)
           OR s.extended > c.extended OR s.reworked > c.reworked OR s.on_site > c.on_site);
    RETURN NULL;
END $$;
CREATE TRIGGER case_event_handled AFTER INSERT ON case_event
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wangge_case_handled();

CREATE FUNCTION wangge_case_rated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cases c SET score = r.score FROM new_rows r WHERE c.id = r.case_id;
    RETURN NULL;
END $$;
CREATE TRIGGER case_rating_score AFTER INSERT ON case_rating
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wangge_case_rated();
""")


def downgrade() -> None:
    op.execute("""
DROP TRIGGER case_rating_score ON case_rating;
DROP FUNCTION wangge_case_rated();
DROP TRIGGER case_event_handled ON case_event;
DROP FUNCTION wangge_case_handled();
ALTER TABLE cases DROP COLUMN first_resolved_at, DROP COLUMN extended, DROP COLUMN reworked,
    DROP COLUMN on_site, DROP COLUMN score;
""")
