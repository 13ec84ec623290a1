"""The public tracking page in English too: ``wangge_public_case`` returns the category's English
name, and no place (NULL) for a case outside the grids instead of the Chinese words for it (the
page says it in the reader's language).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _public_case(english: bool) -> str:
    """The function as this migration leaves it (``english``) or as migration 0004 made it."""
    name_en = "category_name_en text, " if english else ""
    k_name_en = "k.name_en, " if english else ""
    place = (
        "coalesce(v.name, t.name, d.name)"
        if english
        else ("coalesce(v.name, t.name, d.name, '（未落入网格）')")
    )
    return f"""
DROP FUNCTION wangge_public_case(varchar);
CREATE FUNCTION wangge_public_case(token varchar)
RETURNS TABLE (code varchar, category_name text, {name_en}kind case_kind, status varchar,
               received_at timestamptz, deadline timestamptz, place text, events jsonb)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET wangge.scope = '*'
AS $$
    SELECT c.code, k.name_zh, {k_name_en}c.kind, c.status, c.received_at, c.deadline,
           {place},
           (SELECT coalesce(jsonb_agg(jsonb_build_object('at', e.at, 'action', e.action,
                                                         'to', e.to_status) ORDER BY e.at, e.id),
                            '[]')
            FROM case_event e WHERE e.case_id = c.id)
    FROM cases c
    JOIN category k ON k.code = c.category
    LEFT JOIN region v ON v.code = c.village_code
    LEFT JOIN region t ON t.code = c.township_code
    LEFT JOIN region d ON d.code = c.district_code
    WHERE c.public_token = token
$$;
REVOKE ALL ON FUNCTION wangge_public_case(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wangge_public_case(varchar) TO wangge_app;
"""


def upgrade() -> None:
    op.execute(_public_case(english=True))


def downgrade() -> None:
    op.execute(_public_case(english=False))
