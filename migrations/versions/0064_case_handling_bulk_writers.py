"""Bulk writers keep the cases' handling themselves (migration 0062), a set at a time.

A row trigger's update of its case costs little for one action on a desk, but a load writes
thousands of events a statement: the demo city's load took 10.0 s with the triggers instead of
8.0 s (each update of a case also runs the roll-ups' statement trigger, migration 0013).  A
transaction that sets ``wangge.handled_later`` to ``on`` (``SET LOCAL``) passes the two triggers
by, and fills the columns itself: with :func:`wangge_case_handled_refresh` (the cases ``p_ids``,
or all), which counts them again from the events and ratings stored, as migration 0062 did.

Revision ID: 0064
Revises: 0063
Create Date: 2026-12-05
"""

from alembic import op

revision = "0064"
down_revision = "0063"
branch_labels = None
depends_on = None

_WHEN = """((NEW.to_status IN ('resolved', 'reopened') OR NEW.action IN ('extend', 'on_site'))
          AND NEW.action <> 'import'{later})"""
_LATER = "\n          AND current_setting('wangge.handled_later', true) IS DISTINCT FROM 'on'"


def upgrade() -> None:
    op.execute(f"""
CREATE FUNCTION wangge_case_handled_refresh(p_ids bigint[] DEFAULT NULL) RETURNS bigint
LANGUAGE sql AS $$
    WITH e AS (
        SELECT case_id, min(at) FILTER (WHERE to_status = 'resolved') AS first_resolved_at,
               bool_or(action = 'extend') AS extended,
               bool_or(to_status = 'reopened') AS reworked,
               bool_or(action = 'on_site') AS on_site
        FROM case_event
        WHERE (p_ids IS NULL OR case_id = ANY(p_ids))
          AND (to_status IN ('resolved', 'reopened') OR action IN ('extend', 'on_site'))
        GROUP BY case_id
    ), r AS (
        SELECT case_id, score FROM case_rating WHERE p_ids IS NULL OR case_id = ANY(p_ids)
    ), s AS (
        SELECT case_id, e.first_resolved_at, coalesce(e.extended, false) AS extended,
               coalesce(e.reworked, false) AS reworked, coalesce(e.on_site, false) AS on_site,
               r.score
        FROM e FULL JOIN r USING (case_id)
    ), u AS (
        UPDATE cases c SET first_resolved_at = s.first_resolved_at, extended = s.extended,
                           reworked = s.reworked, on_site = s.on_site, score = s.score
        FROM s WHERE c.id = s.case_id
          AND (c.first_resolved_at, c.extended, c.reworked, c.on_site, c.score)
              IS DISTINCT FROM (s.first_resolved_at, s.extended, s.reworked, s.on_site, s.score)
        RETURNING 1
    )
    SELECT count(*) FROM u
$$;

DROP TRIGGER case_event_handled ON case_event;
CREATE TRIGGER case_event_handled AFTER INSERT ON case_event FOR EACH ROW
    WHEN {_WHEN.format(later=_LATER)}
    EXECUTE FUNCTION wangge_case_handled();
DROP TRIGGER case_rating_score ON case_rating;
CREATE TRIGGER case_rating_score AFTER INSERT ON case_rating FOR EACH ROW
    WHEN (current_setting('wangge.handled_later', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION wangge_case_rated();
""")


def downgrade() -> None:
    op.execute(f"""
DROP TRIGGER case_event_handled ON case_event;
CREATE TRIGGER case_event_handled AFTER INSERT ON case_event FOR EACH ROW
    WHEN {_WHEN.format(later="")}
    EXECUTE FUNCTION wangge_case_handled();
DROP TRIGGER case_rating_score ON case_rating;
CREATE TRIGGER case_rating_score AFTER INSERT ON case_rating FOR EACH ROW
    EXECUTE FUNCTION wangge_case_rated();
DROP FUNCTION wangge_case_handled_refresh(bigint[]);
""")
