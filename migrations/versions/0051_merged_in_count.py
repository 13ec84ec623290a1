"""并案 without chains, across jurisdictions: how many cases are merged into a case.

A case that others were merged into is not merged in turn (the chain would leave their
tracking pages following a closed case).  The desk merging it may not see those others (merged
by a center above, from another township), and ``case_link``'s row-level policy hides their
links: ``wangge_merged_in`` counts them over the whole deployment, and returns a number only.

Revision ID: 0051
Revises: 0050
Create Date: 2026-12-05
"""

from alembic import op

revision = "0051"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE FUNCTION wangge_merged_in(p_case bigint)
RETURNS int
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET wangge.scope = '*'
AS $$
    SELECT count(*)::int FROM case_link
    WHERE other_case_id = p_case AND kind = 'merged_into' AND status = 'confirmed'
$$;
REVOKE ALL ON FUNCTION wangge_merged_in(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wangge_merged_in(bigint) TO wangge_app;
""")


def downgrade() -> None:
    op.execute("DROP FUNCTION wangge_merged_in(bigint)")
