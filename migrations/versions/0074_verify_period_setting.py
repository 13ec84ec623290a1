"""The verification period is the deployment's: ``Settings.verify_work_days`` (3 by default).

``wangge_verify_due`` (migration 0069) set each resolved case's ``verify_due`` 24 working hours
(3 working days) after its resolution, a figure written into the function.  It now reads the
connection's ``wangge.verify_hours``, which the server's connections carry
(``gis.db.make_engine``'s ``verify_hours``), and keeps 24 where it is not set (a connection of
the command line, of the tests).  The cases already resolved keep their due time.

Revision ID: 0074
Revises: 0073
Create Date: 2026-12-05
"""

from alembic import op

revision = "0074"
down_revision = "0073"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE OR REPLACE FUNCTION wangge_verify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.verify_due := wangge_work_add(
        now(), coalesce(nullif(current_setting('wangge.verify_hours', true), '')::float8, 24.0));
    RETURN NEW;
END $$;
""")


def downgrade() -> None:
    op.execute("""
CREATE OR REPLACE FUNCTION wangge_verify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.verify_due := wangge_work_add(now(), 24.0);
    RETURN NEW;
END $$;
""")
