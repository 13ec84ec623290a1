"""并案: a confirmed duplicate closed into the case that carries the matter.

A case merged into another has a ``case_link`` of kind ``merged_into`` (status ``confirmed``;
``unlinked`` once it is reopened), at most one in force per case.  Its public tracking page
names the case it was merged into, that case's status, and links to that case's own tracking
page (no personal data, no exact location, as for any tracking page): ``wangge_public_case``
returns them.

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-05
"""

from alembic import op

revision = "0050"
down_revision = "0049"
branch_labels = None
depends_on = None

_BODY = """
    SELECT c.code, k.name_zh, k.name_en, c.kind, c.status, c.received_at, c.deadline,
           coalesce(v.name, t.name, d.name),
           (SELECT coalesce(jsonb_agg(jsonb_build_object('at', e.at, 'action', e.action,
                                                         'to', e.to_status) ORDER BY e.at, e.id),
                            '[]')
            FROM case_event e WHERE e.case_id = c.id){merged}
    FROM cases c
    JOIN category k ON k.code = c.category
    LEFT JOIN region v ON v.code = c.village_code
    LEFT JOIN region t ON t.code = c.township_code
    LEFT JOIN region d ON d.code = c.district_code{join}
    WHERE c.public_token = token
"""


def _public_case(merged: bool) -> str:
    """The function as this migration leaves it (``merged``) or as migration 0024 made it."""
    columns = (
        ",\n               merged_into_code varchar, merged_into_status varchar, "
        "merged_into_token varchar"
        if merged
        else ""
    )
    body = _BODY.format(
        merged=",\n           m.code, m.status, m.public_token" if merged else "",
        join=(
            "\n    LEFT JOIN case_link l ON l.case_id = c.id AND l.kind = 'merged_into'"
            " AND l.status = 'confirmed'"
            "\n    LEFT JOIN cases m ON m.id = l.other_case_id"
            if merged
            else ""
        ),
    )
    return f"""
DROP FUNCTION wangge_public_case(varchar);
CREATE FUNCTION wangge_public_case(token varchar)
RETURNS TABLE (code varchar, category_name text, category_name_en text, kind case_kind,
               status varchar, received_at timestamptz, deadline timestamptz, place text,
               events jsonb{columns})
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET wangge.scope = '*'
AS $${body}$$;
REVOKE ALL ON FUNCTION wangge_public_case(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wangge_public_case(varchar) TO wangge_app;
"""


def upgrade() -> None:
    op.execute("""
CREATE UNIQUE INDEX case_link_merged_once ON case_link (case_id)
    WHERE kind = 'merged_into' AND status = 'confirmed';
""")
    op.execute(_public_case(merged=True))


def downgrade() -> None:
    op.execute(_public_case(merged=False))
    op.execute("DROP INDEX case_link_merged_once")
