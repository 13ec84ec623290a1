"""A case's reference in the channel it came from (来源编号): a 12345 work order, a 110 incident…

The 12345 hotline platform hands a center each call as a work order (工单) and expects the
answer back under its number; 110's diverted calls and petitions have numbers of their own.  A
desk registering such a case writes the number down with it, and finds the case by it later.

* ``cases.source_ref``: the number, as given (at most 64 characters, no surrounding spaces);
  none for most cases.  Not unique: one work order may be registered as two cases (two places),
  and two channels may use the same digits.
* An index on it, of the cases that have one (a lookup in ``/find``).
* ``wangge_case_doc`` carries it (migration 0034's body with one more column).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-03
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def _docs() -> tuple[str, str]:
    """``wangge_case_doc`` as migration 0034 left it, and with ``source_ref``."""
    old = _migration("0034_case_source.py").NEW_DOC_SQL
    column = "c.source::text AS source,"
    assert old.count(column) == 1
    return old, old.replace(column, f"{column} c.source_ref,")


def upgrade() -> None:
    op.execute("""
        ALTER TABLE cases ADD COLUMN source_ref varchar(64)
            CONSTRAINT cases_source_ref_trimmed
            CHECK (source_ref <> '' AND source_ref = btrim(source_ref));
        CREATE INDEX cases_source_ref ON cases (source_ref) WHERE source_ref IS NOT NULL;
    """)
    op.execute(_docs()[1])


def downgrade() -> None:
    op.execute(_docs()[0])
    op.execute("ALTER TABLE cases DROP COLUMN source_ref")
