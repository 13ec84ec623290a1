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
moves one way, and triggers keep them as the rows go in (a row at a time, for the events that
say something: a report's ``register`` event passes by without a call).  The importers'
``import`` event is the exception: the import writes its case's ``first_resolved_at`` with the
case (a million history rows are not updated a second time), and the trigger passes it by.
Filled here from the events and ratings stored.

Revision ID: 0062
Revises: 0061
Create Date: 2026-12-05
"""

from alembic import op

revision = "0062"
down_revision = "0061"
branch_labels = None
depends_on = None

# what the stored events say of their cases
_SUMMARY = """
    SELECT case_id, min(at) FILTER (WHERE to_status = 'resolved') AS first_resolved_at,
           bool_or(action = 'extend') AS extended, bool_or(to_status = 'reopened') AS reworked,
           bool_or(action = 'on_site') AS on_site
    FROM case_event
    WHERE to_status IN ('resolved', 'reopened') OR action IN ('extend', 'on_site')
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
FROM ({_SUMMARY}) s
WHERE c.id = s.case_id;
UPDATE cases c SET score = r.score FROM case_rating r WHERE r.case_id = c.id;

-- a row at a time, and only for the events that say something (the WHEN is checked without a
-- call): a report's ``register`` event costs nothing more (a statement-level trigger reading its
-- new rows cost a single report 0.1 ms); each figure moves one way only, whatever the order
CREATE FUNCTION wangge_case_handled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cases c
    SET first_resolved_at = CASE WHEN NEW.to_status = 'resolved'
                                 THEN least(c.first_resolved_at, NEW.at)
                                 ELSE c.first_resolved_at END,
        extended = c.extended OR NEW.action = 'extend',
        reworked = c.reworked OR NEW.to_status = 'reopened',
        on_site = c.on_site OR NEW.action = 'on_site'
    WHERE c.id = NEW.case_id
      AND ((NEW.to_status = 'resolved'
            AND (c.first_resolved_at IS NULL OR NEW.at < c.first_resolved_at))
           OR (NEW.action = 'extend' AND NOT c.extended)
           OR (NEW.to_status = 'reopened' AND NOT c.reworked)
           OR (NEW.action = 'on_site' AND NOT c.on_site));
    RETURN NULL;
END $$;
CREATE TRIGGER case_event_handled AFTER INSERT ON case_event FOR EACH ROW
    WHEN ((NEW.to_status IN ('resolved', 'reopened') OR NEW.action IN ('extend', 'on_site'))
          AND NEW.action <> 'import')
    EXECUTE FUNCTION wangge_case_handled();

CREATE FUNCTION wangge_case_rated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cases SET score = NEW.score WHERE id = NEW.case_id;
    RETURN NULL;
END $$;
CREATE TRIGGER case_rating_score AFTER INSERT ON case_rating FOR EACH ROW
    EXECUTE FUNCTION wangge_case_rated();
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
