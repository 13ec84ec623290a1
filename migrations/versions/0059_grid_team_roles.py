"""一主任三大员: a grid worker's part in a grid's team, and one chief a grid.

``worker_grid.role`` was free text that nothing read (every link 'chief').  Now it is one of
chief (网格长), manager (网格管理员), informant (网格信息员) and supervisor (网格监督员), and a grid
has one chief at most: an exclusion constraint, deferred to the commit so that a team may be
re-dealt (the chief handed from one worker to another) in any order within a transaction.  Of
grids that had more than one chief, the worker with the lowest code stays chief and the others
become managers.

Revision ID: 0059
Revises: 0058
Create Date: 2026-12-05
"""

from alembic import op

revision = "0059"
down_revision = "0058"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
UPDATE worker_grid wg SET role = 'manager'
FROM (SELECT wg.worker_id, wg.grid_code,
             row_number() OVER (PARTITION BY wg.grid_code ORDER BY w.code) AS n
      FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
      WHERE wg.role = 'chief') c
WHERE wg.worker_id = c.worker_id AND wg.grid_code = c.grid_code AND c.n > 1;
UPDATE worker_grid SET role = 'manager'
WHERE role NOT IN ('chief', 'manager', 'informant', 'supervisor');
ALTER TABLE worker_grid
    ADD CONSTRAINT worker_grid_role
        CHECK (role IN ('chief', 'manager', 'informant', 'supervisor')),
    ADD CONSTRAINT worker_grid_one_chief
        EXCLUDE USING btree (grid_code WITH =) WHERE (role = 'chief')
        DEFERRABLE INITIALLY DEFERRED;
""")


def downgrade() -> None:
    op.execute("""
ALTER TABLE worker_grid DROP CONSTRAINT worker_grid_one_chief,
                        DROP CONSTRAINT worker_grid_role;
""")
