"""高频线索 for a party added to a case after it was registered.

A center's desk names the people of a case later (the grid worker's hazard report named no one;
the resident came to the desk).  Their phone then counts towards the repeat warning by resident,
as it would have at intake: ``wangge_resident_repeats`` counts the cases, in the whole
deployment, whose parties have this phone (blind index) and which were received since a time.
Like the intake's own count (migration 0021), it looks past the caller's scope and returns a
number only.

Revision ID: 0049
Revises: 0048
Create Date: 2026-12-05
"""

from alembic import op

revision = "0049"
down_revision = "0048"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE FUNCTION wangge_resident_repeats(p_index bytea, p_since timestamptz)
RETURNS int
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET wangge.scope = '*'
AS $$
    SELECT count(DISTINCT p.case_id)::int
    FROM case_party p JOIN cases c ON c.id = p.case_id
    WHERE p.phone_index = p_index AND c.received_at >= p_since
$$;
REVOKE ALL ON FUNCTION wangge_resident_repeats(bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wangge_resident_repeats(bytea, timestamptz) TO wangge_app;
""")


def downgrade() -> None:
    op.execute("DROP FUNCTION wangge_resident_repeats(bytea, timestamptz)")
