"""The verification clock: a resolved case is to be verified (回访/现场核查) in 3 working days.

``verify_due``: when the case's current resolution is to be verified by, 3 working days
(24 working hours, as ``gis.workflow.VERIFY_WITHIN_HOURS``) after the case moved to resolved.
A trigger sets it whenever a case moves to resolved, whoever moves it (a desk's 办结, the
departments' answers, a grid worker's 就地化解 at intake), so no path can forget it.  The
importers insert their resolved cases (history from another system) without it: nothing is due
of them.  Filled here for the cases resolved now, from their latest resolution.

The clock (gis.supervision) sends one reminder (核查提醒) a round when it passes unverified:
``case_supervision`` gets the stage ``verify``.

Revision ID: 0069
Revises: 0068
Create Date: 2026-12-05
"""

from alembic import op

revision = "0069"
down_revision = "0068"
branch_labels = None
depends_on = None

#: as gis.workflow.VERIFY_WITHIN_HOURS (a migration keeps its own copy of what it stored)
HOURS = 24.0


def upgrade() -> None:
    op.execute(f"""
ALTER TABLE cases ADD COLUMN verify_due timestamptz;

CREATE FUNCTION wangge_verify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.verify_due := wangge_work_add(now(), {HOURS!r});
    RETURN NEW;
END $$;
CREATE TRIGGER cases_verify_due BEFORE UPDATE OF status ON cases FOR EACH ROW
    WHEN (NEW.status = 'resolved' AND OLD.status IS DISTINCT FROM 'resolved')
    EXECUTE FUNCTION wangge_verify_due();

UPDATE cases c SET verify_due = wangge_work_add(e.at, {HOURS!r})
FROM (SELECT case_id, max(at) AS at FROM case_event
      WHERE to_status = 'resolved' AND action <> 'import' GROUP BY case_id) e
WHERE c.id = e.case_id AND c.status = 'resolved';

ALTER TABLE case_supervision DROP CONSTRAINT case_supervision_stage_check,
    ADD CONSTRAINT case_supervision_stage_check
        CHECK (stage IN ('reminder', 'supervision', 'notice', 'verify'));
""")


def downgrade() -> None:
    op.execute("""
DELETE FROM case_supervision WHERE stage = 'verify';
ALTER TABLE case_supervision DROP CONSTRAINT case_supervision_stage_check,
    ADD CONSTRAINT case_supervision_stage_check
        CHECK (stage IN ('reminder', 'supervision', 'notice'));
DROP TRIGGER cases_verify_due ON cases;
DROP FUNCTION wangge_verify_due();
ALTER TABLE cases DROP COLUMN verify_due;
""")
