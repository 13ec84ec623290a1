"""Jurisdiction at speed: cases indexed by region code at each level (newest first), and the
row-level-security check as a plpgsql function.

Every scoped case query filters on one of these columns; without them a township's newest cases
are found by scanning the whole table.  The policy function is plpgsql on purpose: the planner
cannot inline it, so it estimates it as passing a third of the rows instead of 1 %, and keeps the
ordered index scan that stops after a page of cases (an inlined SQL function made it fetch the
whole township and sort it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LEVELS = ("city", "district", "township", "village")


IN_SCOPE_PLPGSQL = """
CREATE OR REPLACE FUNCTION wangge_in_scope(VARIADIC codes varchar[]) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    scope text := current_setting('wangge.scope', true);
BEGIN
    RETURN scope = '*' OR scope = ANY(codes);  -- unset or '' sees nothing (NULL / false)
END $$
"""
IN_SCOPE_SQL = """
CREATE OR REPLACE FUNCTION wangge_in_scope(VARIADIC codes varchar[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('wangge.scope', true), '') = '*'
        OR current_setting('wangge.scope', true) = ANY(codes)
$$
"""


def upgrade() -> None:
    for level in LEVELS:
        op.execute(
            f"CREATE INDEX cases_{level}_recent "
            f"ON cases ({level}_code, received_at DESC, code DESC)"
        )
    op.execute(IN_SCOPE_PLPGSQL)


def downgrade() -> None:
    op.execute(IN_SCOPE_SQL)
    for level in LEVELS:
        op.execute(f"DROP INDEX IF EXISTS cases_{level}_recent")
