"""The safety index (平安指数) as published: one row per day and region, never changed after.

``gis.safety`` defines the index and computes it; the clock publishes each day's once the day
is over (``gis.safety.publish``).  A row keeps what the index was made of (the figures and each
deduction), so a published number can always be explained, even after late cases arrived or the
formula changed (``formula`` names its version).

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-03
"""

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE safety_index (
    day          date NOT NULL,
    region_code  varchar(12) NOT NULL REFERENCES region (code) ON UPDATE CASCADE,
    score        numeric(4, 1) NOT NULL CHECK (score BETWEEN 0 AND 100),
    deductions   jsonb NOT NULL,
    figures      jsonb NOT NULL,
    formula      smallint NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, region_code)
);
CREATE INDEX safety_index_region ON safety_index (region_code, day);
GRANT SELECT, INSERT ON safety_index TO wangge_app;
"""

DOWNGRADE = "DROP TABLE safety_index;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
