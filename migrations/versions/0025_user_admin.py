"""User accounts managed from the web (用户管理), by those holding ``user:manage``.

Until now only the command line (``wangge user …``, as the database owner) could add a user,
change a password or disable an account; the app role could only count failed logins.  The app
role may now insert users and change the columns an administrator changes: the name, role,
region and worker record, the password, the account's being disabled, the lock.  ``gis.users``
holds the rules: an administrator acts only on accounts in their own jurisdiction, only a
deployment-wide one makes or changes administrators, and nobody disables or demotes
themselves.

A password set by someone else — an administrator on the web, or the roster import's initial
password — must be changed by its user before anything else: ``must_change_password``.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

INSERTED = "username, display_name, role, region_id, worker_id, password_hash, must_change_password"
UPDATED = (
    "display_name, role, region_id, worker_id, password_hash, password_changed_at, disabled, "
    "must_change_password"
)


def upgrade() -> None:
    op.execute(f"""
        ALTER TABLE app_user ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
        GRANT INSERT ({INSERTED}) ON app_user TO wangge_app;
        GRANT UPDATE ({UPDATED}) ON app_user TO wangge_app;
        GRANT USAGE ON SEQUENCE app_user_id_seq TO wangge_app;
    """)


def downgrade() -> None:
    op.execute(f"""
        REVOKE USAGE ON SEQUENCE app_user_id_seq FROM wangge_app;
        REVOKE UPDATE ({UPDATED}) ON app_user FROM wangge_app;
        REVOKE INSERT ({INSERTED}) ON app_user FROM wangge_app;
        ALTER TABLE app_user DROP COLUMN must_change_password;
    """)
