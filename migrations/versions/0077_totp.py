"""动态口令 (TOTP, ``gis.totp``): an account's second factor at login.

``app_user.totp_secret``: the shared secret in force, encrypted (``gis.pii.PiiCipher``, bound to
the account); ``totp_pending``: one being set up, until a code of it is confirmed;
``totp_last_step``: the last 30-second step whose code was used (a code is taken once);
``totp_enabled_at``: since when.

Revision ID: 0077
Revises: 0076
Create Date: 2026-12-06
"""

from alembic import op

revision = "0077"
down_revision = "0076"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE app_user
    ADD COLUMN totp_secret bytea,
    ADD COLUMN totp_pending bytea,
    ADD COLUMN totp_last_step bigint,
    ADD COLUMN totp_enabled_at timestamptz;
GRANT UPDATE (totp_secret, totp_pending, totp_last_step, totp_enabled_at) ON app_user
    TO wangge_app;
""")


def downgrade() -> None:
    op.execute("""
ALTER TABLE app_user
    DROP COLUMN totp_secret, DROP COLUMN totp_pending, DROP COLUMN totp_last_step,
    DROP COLUMN totp_enabled_at;
""")
