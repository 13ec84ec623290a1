"""The failed logins of a network address, for counting them at each login
(``gis.auth._refuse_busy_address``: ``WANGGE_LOGIN_ADDRESS_MAX_FAILURES`` in a window).

A partial index: the failed logins are a small part of the audit log, and the count reads the
newest few of one address.

Revision ID: 0075
Revises: 0074
Create Date: 2026-12-06
"""

from alembic import op

revision = "0075"
down_revision = "0074"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX audit_log_failed_login ON audit_log (source_ip, at) "
        "WHERE action = 'login' AND NOT success"
    )


def downgrade() -> None:
    op.execute("DROP INDEX audit_log_failed_login")
