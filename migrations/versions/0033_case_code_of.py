"""The case code's spelling, given its number: one formula for reports and bulk imports.

``wangge_case_code(received, district_code)`` takes the next number of ``case_code_seq`` and
spells the code (county code, local date, number).  A ``--bulk`` import numbers its cases in one
block instead (it holds the case tables exclusively, so nobody else takes a number meanwhile):
calling ``nextval`` and a PL/pgSQL function for each of a million cases took about 3 s.  Both
now spell the code with ``wangge_case_code_of(received, district_code, n)``, a one-line SQL
function that PostgreSQL inlines into the statement that calls it.  The same codes as before.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-03
"""

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE FUNCTION wangge_case_code_of(received timestamptz, district_code varchar, n bigint)
RETURNS varchar
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(left(district_code, 6), '000000')
           || to_char(received AT TIME ZONE 'Asia/Shanghai', 'YYMMDD')
           || lpad(n::text, greatest(8, length(n::text)), '0')
$$;
CREATE OR REPLACE FUNCTION wangge_case_code(received timestamptz,
                                            district_code varchar DEFAULT NULL)
RETURNS varchar
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN wangge_case_code_of(received, district_code, nextval('case_code_seq'));
END
$$;
"""

# migration 0016's body
DOWNGRADE = r"""
CREATE OR REPLACE FUNCTION wangge_case_code(received timestamptz,
                                            district_code varchar DEFAULT NULL)
RETURNS varchar
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint := nextval('case_code_seq');
BEGIN
    RETURN coalesce(left(district_code, 6), '000000')
           || to_char(received AT TIME ZONE 'Asia/Shanghai', 'YYMMDD')
           || lpad(n::text, greatest(8, length(n::text)), '0');
END
$$;
DROP FUNCTION wangge_case_code_of(timestamptz, varchar, bigint);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
