"""Possible duplicates: a new report near an open case of the same category is linked to it,
never dropped or merged; an operator confirms or unlinks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE case_link (
    id            bigserial PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES cases (id),
    other_case_id bigint NOT NULL REFERENCES cases (id),
    kind          varchar(24) NOT NULL DEFAULT 'possible_duplicate',
    status        varchar(12) NOT NULL DEFAULT 'suggested'
                  CHECK (status IN ('suggested', 'confirmed', 'unlinked')),
    distance_m    double precision,
    created_at    timestamptz NOT NULL DEFAULT now(),
    decided_by    text,
    decided_at    timestamptz,
    UNIQUE (case_id, other_case_id, kind),
    CHECK (case_id <> other_case_id)
);
CREATE INDEX case_link_other ON case_link (other_case_id);

ALTER TABLE case_link ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_link FORCE ROW LEVEL SECURITY;
CREATE POLICY case_link_in_scope ON case_link
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_link.case_id))
    WITH CHECK (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_link.case_id));

GRANT SELECT, INSERT ON case_link TO wangge_app;
GRANT UPDATE (status, decided_by, decided_at) ON case_link TO wangge_app;
GRANT USAGE ON SEQUENCE case_link_id_seq TO wangge_app;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS case_link")
