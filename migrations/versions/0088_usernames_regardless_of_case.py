"""User names are matched regardless of letter case.

A phone keyboard capitalises the first letter: a grid worker typing ``Grid_worker`` was told
用户名或密码错误 for the account ``grid_worker``, and an administrator could add ``T_UPPER``
beside ``t_upper`` — two accounts a person tells apart by nothing.  Logins now find the account
by ``lower(username)`` (the exact spelling first) and new accounts may not differ from one
only in case: the application refuses them with a message, and the index on ``lower(username)``
is unique, so that two made at the same moment cannot both be — unless the database already
holds such accounts, which keep their own exact spelling: then it is a plain index (and a
notice names them).

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
    op.execute("""
    DO $$
    DECLARE twins text;
    BEGIN
        SELECT string_agg(names, '; ') INTO twins FROM (
            SELECT string_agg(username, ', ' ORDER BY username) AS names
            FROM app_user GROUP BY lower(username) HAVING count(*) > 1) t;
        IF twins IS NULL THEN
            CREATE UNIQUE INDEX app_user_username_lower ON app_user (lower(username));
        ELSE
            CREATE INDEX app_user_username_lower ON app_user (lower(username));
            RAISE NOTICE '用户名只差大小写的账号（各自保留，登录须按原样拼写）：%', twins;
        END IF;
    END $$
    """)


def downgrade() -> None:
    op.execute("DROP INDEX app_user_username_lower")
