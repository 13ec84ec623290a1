"""The browser or app a session logged in from (``auth_session.user_agent``), so that 我的登录
can say which is the wall screen, which the office computer and which the phone.

Revision ID: 0071
Revises: 0070
Create Date: 2026-12-05
"""

from alembic import op

revision = "0071"
down_revision = "0070"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE auth_session ADD COLUMN user_agent text")


def downgrade() -> None:
    op.execute("ALTER TABLE auth_session DROP COLUMN user_agent")
