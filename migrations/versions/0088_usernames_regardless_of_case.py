"""User names are matched regardless of letter case.

A phone keyboard capitalises the first letter: a grid worker typing ``Grid_worker`` was told
用户名或密码错误 for the account ``grid_worker``, and an administrator could add ``T_UPPER``
beside ``t_upper`` — two accounts a person tells apart by nothing.  Logins now find the account
by ``lower(username)`` (the exact spelling first) and new accounts may not differ from one
only in case (the application refuses them; accounts that already do keep their own exact
spelling, so this index is not unique).

Revision ID: 0088
Revises: 0087
Create Date: 2026-12-07
"""

from alembic import op

revision = "0088"
down_revision = "0087"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX app_user_username_lower ON app_user (lower(username))")


def downgrade() -> None:
    op.execute("DROP INDEX app_user_username_lower")
