"""Ended sessions are forgotten after a while (``WANGGE_SESSION_KEEP_DAYS``): the app deletes an
account's sessions that ended that long ago when it logs in again (``gis.auth.login``).  A
session row holds where and on what device someone logged in (personal information); the audit
log keeps each login for as long as audits are kept.

Revision ID: 0079
Revises: 0078
Create Date: 2026-12-06
"""

from alembic import op

revision = "0079"
down_revision = "0078"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("GRANT DELETE ON auth_session TO wangge_app")


def downgrade() -> None:
    op.execute("REVOKE DELETE ON auth_session FROM wangge_app")
