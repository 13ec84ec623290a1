"""Open cases left on grid versions that a commit closed before migration 0041 are moved.

Before migration 0041 a report could be located while a planner's commit ran: it went onto a
grid version the commit was closing, and the commit, which could not see it yet, did not move
it (a race of planners and devices left 200 of 2,500 reports so).  0041 stopped it happening;
the cases it had already left stayed where they were — open, on a grid that no longer exists,
in no worker's list.

This moves every open case whose grid version is closed onto the layout as it stands, as a
commit moves open cases (``wangge_edit_reassign``, migrations 0015 and 0042): a ``regrid``
event each, by "系统升级".  Settled cases keep the grid they were handled in: that is their
history.  A database without such cases is left as it is.

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-04
"""

from alembic import op

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None

#: who the events name
ACTOR = "系统升级"
#: the tables force row-level security on their owner too: the whole scope, for this transaction
SCOPE = "SELECT set_config('wangge.scope', '*', true)"
#: the move (also run by its test): updated, events, kept
REPAIR = f"""
SELECT * FROM wangge_edit_reassign(
    NULL,
    (SELECT coalesce(array_agg(DISTINCT c.grid_code), '{{}}')
     FROM cases c JOIN grid g ON g.id = c.grid_id
     WHERE g.valid_to IS NOT NULL
       AND c.status NOT IN ('resolved', 'verified', 'closed', 'suspended')),
    '{{}}', NULL, NULL, '{ACTOR}', now(), '{{}}')
"""


def upgrade() -> None:
    op.execute(SCOPE)
    op.execute(REPAIR)


def downgrade() -> None:
    pass  # a repair of data: the cases stay where it put them
