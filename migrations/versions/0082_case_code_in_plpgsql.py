"""``wangge_case_code`` makes the code itself instead of calling ``wangge_case_code_of``.

A report's insert (``wangge_intake_insert``) calls ``wangge_case_code`` once per new case.  It
called the SQL function ``wangge_case_code_of``, which PostgreSQL plans afresh at each
statement that calls it (a SQL function's plan is kept for one statement only): measured with
``pg_stat_statements`` over 500 single reports, 0.09 ms of the database's ~2.2 ms a report, for
a line of string formatting.  Written as a PL/pgSQL expression, it is planned once per
connection: the same code from the same sequence (``tests/gis/test_database.py`` compares the
two).
``wangge_case_code_of`` stays for the bulk import, whose one statement numbers a million cases.

Revision ID: 0082
Revises: 0081
Create Date: 2026-12-06
"""

from alembic import op

revision = "0082"
down_revision = "0081"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE OR REPLACE FUNCTION wangge_case_code(received timestamptz,
                                            district_code varchar DEFAULT NULL)
RETURNS varchar
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := nextval('case_code_seq');
BEGIN
    -- (as wangge_case_code_of: the district, the day in Beijing, the number of 8 digits or more)
    RETURN coalesce(left(district_code, 6), '000000')
           || to_char(received AT TIME ZONE 'Asia/Shanghai', 'YYMMDD')
           || lpad(n::text, greatest(8, length(n::text)), '0');
END
$$;
"""

DOWNGRADE = """
CREATE OR REPLACE FUNCTION wangge_case_code(received timestamptz,
                                            district_code varchar DEFAULT NULL)
RETURNS varchar
LANGUAGE plpgsql AS $$
BEGIN
    RETURN wangge_case_code_of(received, district_code, nextval('case_code_seq'));
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
