"""The index of open cases by center carries the four codes the policy checks.

The command map's centers' load (``gis.mapdata.center_load``) counts each center's open and
overdue cases.  ``cases_open_center`` (migration 0013) finds them, but row-level security then
reads every one from the table for its city, district, township and village codes: on the
benchmark's million cases (about 370,000 open) that was 230,000 table pages, 1.2–1.9 s.  With
the codes in the index (``INCLUDE``) and the policy a plain comparison (migration 0031), the
count is an index-only scan.  The index holds open cases only, so it stays small.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

OPEN = "WHERE status NOT IN ('resolved', 'verified', 'closed', 'suspended')"


def upgrade() -> None:
    op.execute("DROP INDEX cases_open_center")
    op.execute(
        "CREATE INDEX cases_open_center ON cases (center_id, deadline) "
        f"INCLUDE (city_code, district_code, township_code, village_code) {OPEN}"
    )


def downgrade() -> None:
    op.execute("DROP INDEX cases_open_center")
    op.execute(f"CREATE INDEX cases_open_center ON cases (center_id, deadline) {OPEN}")
