"""``wangge_read_time(text)``: an imported time as PostgreSQL reads it, or NULL if it cannot.

The historical-case importer read the times pandas does not (``importers.cases.fast_times``)
with a regular expression and a cast in its staging statement.  A spelling that passes the
expression but names no real moment ("2026-02-30 10:00") made the cast fail, and with it the
whole import, with a database error instead of a rejected row.  Here the cast's error is
caught (a subtransaction per call, so only the rows pandas left are read this way) and the row
is rejected as an unreadable time, like any other.  A time with an offset from UTC is read
with it; any other is a local time in Shanghai.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

# the spellings read: a date, perhaps a time, and after a time perhaps an offset from UTC
TIME = (
    r"^\s*\d{4}[-/]\d{1,2}[-/]\d{1,2}"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\s*([+-]\d{2}(:?\d{2})?|Z))?)?\s*$"
)
OFFSET = r":\d{2}(\.\d+)?\s*([+-]\d{2}(:?\d{2})?|Z)\s*$"

UPGRADE = f"""
CREATE FUNCTION wangge_read_time(spelled text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF spelled IS NULL OR spelled !~ '{TIME}' THEN
        RETURN NULL;
    ELSIF spelled ~ '{OFFSET}' THEN
        RETURN CAST(replace(spelled, '/', '-') AS timestamptz);
    END IF;
    RETURN CAST(replace(spelled, '/', '-') AS timestamp) AT TIME ZONE 'Asia/Shanghai';
EXCEPTION WHEN data_exception THEN  -- "2026-02-30", "25:00" …
    RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP FUNCTION wangge_read_time(text)")
