"""Row-level security: decide the whole-deployment scope without a function call.

``current_setting('wangge.scope', true) = '*'`` is checked first, in the policy itself, so a
scan under the ``*`` scope (admins, the owner's batch work) costs no plpgsql call per row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CODES = "city_code, district_code, township_code, village_code"


def upgrade() -> None:
    check = f"current_setting('wangge.scope', true) = '*' OR wangge_in_scope({CODES})"
    op.execute(f"ALTER POLICY cases_in_scope ON cases USING ({check}) WITH CHECK ({check})")


def downgrade() -> None:
    check = f"wangge_in_scope({CODES})"
    op.execute(f"ALTER POLICY cases_in_scope ON cases USING ({check}) WITH CHECK ({check})")
