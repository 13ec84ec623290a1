"""The newest cases of one category: ``cases (category, received_at DESC, code DESC)``.

The case list, the in-tray and the maps' lists filter by category (``?category=medical``) and
show the newest first.  Without an index leading with the category, the newest cases of the
caller's jurisdiction were read (``cases_<level>_recent``) until enough of that category turned
up: a rare category read most of them.  Over 1,000,000 cases, the city desk's 50 newest of a
category of 174 cases took 250–460 ms (a township's 90 ms); with this index, 6–7 ms, whatever
the category.  It costs each new case one more index entry, and a ``--bulk`` import of a
million cases about 2 s to build it.

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-04
"""

from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX cases_category_recent ON cases (category, received_at DESC, code DESC)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX cases_category_recent")
