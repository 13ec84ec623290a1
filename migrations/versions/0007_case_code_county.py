"""One case, one code (一案一码): county code + date + sequence.

``wangge_case_code(received, district_code)`` gives e.g. ``440305 261121 00012345``
(written without spaces): the first six digits of the county-level (district) code the case
was assigned to (``000000`` when it fell in no district), the day it was received in Beijing time,
and a deployment-wide sequence (at least 8 digits).  The sequence is not per county: a per-county
counter row would serialise every report of a county until its transaction commits.  Codes made
before this revision (``WG…``) stay as they are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE cases ALTER COLUMN code TYPE varchar(32);
DROP FUNCTION wangge_case_code(timestamptz);
CREATE FUNCTION wangge_case_code(received timestamptz, district_code varchar DEFAULT NULL)
RETURNS varchar
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(left(district_code, 6), '000000')
           || to_char(received AT TIME ZONE 'Asia/Shanghai', 'YYMMDD')
           || lpad(n::text, greatest(8, length(n::text)), '0')
    FROM (SELECT nextval('case_code_seq') AS n) s
$$;
""")


def downgrade() -> None:
    op.execute("""
DROP FUNCTION wangge_case_code(timestamptz, varchar);
CREATE FUNCTION wangge_case_code(received timestamptz) RETURNS varchar
LANGUAGE sql VOLATILE AS $$
    SELECT 'WG' || to_char(received AT TIME ZONE 'Asia/Shanghai', 'YYMMDD')
           || lpad(n::text, greatest(8, length(n::text)), '0')
    FROM (SELECT nextval('case_code_seq') AS n) s
$$;
""")
