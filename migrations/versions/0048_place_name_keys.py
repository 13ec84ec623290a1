"""地名查找 finds a name however its digits and letters were typed: full-width or not.

Government lists are often typed with a Chinese input method in full-width mode (第２网格,
ＸＸ社区); a desk types 第2网格, or the other way round.  ``name_key`` is the name in Unicode NFKC
(full-width digits, letters and brackets as ASCII), stored and kept current by PostgreSQL
(a generated column), so that the search compares keys without normalising every name on
every keystroke (``normalize`` costs about as much as the ``ILIKE`` itself).  The name shown
stays as it was written.

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-04
"""

from alembic import op

revision = "0048"
down_revision = "0047"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("region", "grid"):
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN name_key text "
            "GENERATED ALWAYS AS (normalize(name, NFKC)) STORED"
        )


def downgrade() -> None:
    for table in ("region", "grid"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN name_key")
