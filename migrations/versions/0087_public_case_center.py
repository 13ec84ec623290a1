"""The public tracking page names the center handling the case, and its phone.

A resident holding the receipt's QR code opened a page that said "如有疑问请联系所属综治中心"
without saying which center that is or how to reach it; the printed receipt names it, with its
phone, but a receipt gets lost and the link is what gets passed on.  ``wangge_public_case``
now also returns the responsible center's name and phone (an office's, not a person's: the
page still shows no personal data and no exact location).  For a case merged into another
(并案), the center of the case that carries the matter.

Revision ID: 0087
Revises: 0086
Create Date: 2026-12-07
"""

from alembic import op

revision = "0087"
down_revision = "0086"
branch_labels = None
depends_on = None

_BODY = """
    SELECT c.code, k.name_zh, k.name_en, c.kind, c.status, c.received_at, c.deadline,
           coalesce(v.name, t.name, d.name),
           (SELECT coalesce(jsonb_agg(jsonb_build_object('at', e.at, 'action', e.action,
                                                         'to', e.to_status) ORDER BY e.at, e.id),
                            '[]')
            FROM case_event e WHERE e.case_id = c.id),
           m.code, m.status, m.public_token{center}
    FROM cases c
    JOIN category k ON k.code = c.category
    LEFT JOIN region v ON v.code = c.village_code
    LEFT JOIN region t ON t.code = c.township_code
    LEFT JOIN region d ON d.code = c.district_code
    LEFT JOIN case_link l ON l.case_id = c.id AND l.kind = 'merged_into' AND l.status = 'confirmed'
    LEFT JOIN cases m ON m.id = l.other_case_id{join}
    WHERE c.public_token = token
"""


def _public_case(center: bool) -> str:
    """The function as this migration leaves it (``center``) or as migration 0050 made it."""
    columns = ",\n               center_name text, center_phone text" if center else ""
    body = _BODY.format(
        center=",\n           h.name, h.phone" if center else "",
        join="\n    LEFT JOIN center h ON h.id = coalesce(m.center_id, c.center_id)"
        if center
        else "",
    )
    return f"""
DROP FUNCTION wangge_public_case(varchar);
CREATE FUNCTION wangge_public_case(token varchar)
RETURNS TABLE (code varchar, category_name text, category_name_en text, kind case_kind,
               status varchar, received_at timestamptz, deadline timestamptz, place text,
               events jsonb, merged_into_code varchar, merged_into_status varchar,
               merged_into_token varchar{columns})
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET wangge.scope = '*'
AS $${body}$$;
REVOKE ALL ON FUNCTION wangge_public_case(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wangge_public_case(varchar) TO wangge_app;
"""


def upgrade() -> None:
    op.execute(_public_case(center=True))


def downgrade() -> None:
    op.execute(_public_case(center=False))
