"""动态口令's 备用验证码 (recovery codes, ``gis.totp.new_recovery_codes``): for a login when the
phone with the authenticator app is not at hand.

``app_user.totp_recovery``: the keyed digests of the codes not used yet (``gis.pii.PiiCipher
.digest``: the codes themselves are shown once and never stored); a code used is removed from it
in the same statement that checks it, so two logins cannot use one code.
``totp_recovery_at``: when the set was made.

Revision ID: 0078
Revises: 0077
Create Date: 2026-12-06
"""

from alembic import op

revision = "0078"
down_revision = "0077"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE app_user
    ADD COLUMN totp_recovery bytea[],
    ADD COLUMN totp_recovery_at timestamptz;
GRANT UPDATE (totp_recovery, totp_recovery_at) ON app_user TO wangge_app;
""")


def downgrade() -> None:
    op.execute("ALTER TABLE app_user DROP COLUMN totp_recovery, DROP COLUMN totp_recovery_at")
