"""A password expires (``WANGGE_PASSWORD_MAX_DAYS``, 90 by default; 等保 asks for 定期更换):
a login with a password older than that opens a session that may only change it.

``auth_session.password_expired`` marks such a session (``gis.auth.login``); changing the
password clears it (``gis.users.change_own_password``).  Sessions opened before the password
expired go on until they end: a wall screen or a phone mid-round is not stopped by it.

Revision ID: 0076
Revises: 0075
Create Date: 2026-12-06
"""

from alembic import op

revision = "0076"
down_revision = "0075"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE auth_session ADD COLUMN password_expired boolean NOT NULL DEFAULT false"
    )
    op.execute("GRANT UPDATE (password_expired) ON auth_session TO wangge_app")


def downgrade() -> None:
    op.execute("ALTER TABLE auth_session DROP COLUMN password_expired")
