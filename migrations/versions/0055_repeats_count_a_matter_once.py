"""Repeat warnings (高频线索) count a matter once: a case merged into another is left out.

A repeat warning says that the same place (50 m) or the same resident (phone) has had three or
more cases in 30 days: trouble that keeps coming back.  Two reports of one matter merged into
one (并案, migration 0050) are one matter, and the roll-ups count them once (0050, 0054); the
warnings counted both, so a third report weeks later at the same place was warned as the third
case when it was the second matter.

Now the three counts leave out the cases merged into another (a ``case_link`` of kind
``merged_into`` in force):

* ``wangge_repeat_place`` (migration 0022): the stored cases around each new report;
* ``wangge_intake_register`` (0022, 0029, 0044): the cases of each new party's phone;
* ``wangge_resident_repeats`` (0049): the same, for a party added to a case later.

The lookup goes by the partial unique index ``case_link_merged_once``, which holds the merges in
force only: a probe of a page or two for each case counted.  Warnings already given stay as
they were written (a case's warning is what its desk was told at intake).

Revision ID: 0055
Revises: 0054
Create Date: 2026-12-05
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0055"
down_revision = "0054"
branch_labels = None
depends_on = None

#: case ``{alias}`` is not merged into another (as migration 0054's ``MERGED``)
NOT_MERGED = (
    "NOT EXISTS (SELECT 1 FROM case_link ml WHERE ml.case_id = {alias}.id "
    "AND ml.kind = 'merged_into' AND ml.status = 'confirmed')"
)


def _repeat_place(matters: bool) -> str:
    """``wangge_repeat_place`` as migration 0022 made it, or counting matters."""
    upgrade: str = _migration("0022_repeat_place_at_insert.py").UPGRADE
    start = upgrade.index("CREATE FUNCTION wangge_repeat_place(")
    end = upgrade.index("$$;", start) + len("$$;")
    sql = upgrade[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    if not matters:
        return sql
    stored = "          AND ST_DWithin(o.geom::geography, n.pt::geography, p_repeat_m)) s;"
    assert sql.count(stored) == 1
    return sql.replace(
        stored,
        "          AND ST_DWithin(o.geom::geography, n.pt::geography, p_repeat_m)\n"
        f"          AND {NOT_MERGED.format(alias='o')}) s;",
    )


def _register(matters: bool) -> str:
    """``wangge_intake_register`` as migration 0044 made it, or counting matters."""
    m44 = _migration("0044_duplicate_links_capped.py")
    sql: str = m44._register_0029()
    for old, new in m44._CHANGES:
        sql = sql.replace(old, new)
    if not matters:
        return sql
    by_phone = (
        "            WHERE p.phone_index IS NOT NULL\n"
        "              AND o.received_at >= now() - p_repeat_window\n"
    )
    assert sql.count(by_phone) == 1
    return sql.replace(by_phone, by_phone + f"              AND {NOT_MERGED.format(alias='o')}\n")


def _resident_repeats(matters: bool) -> str:
    """``wangge_resident_repeats`` as migration 0049 made it, or counting matters."""
    merged = f"\n      AND {NOT_MERGED.format(alias='c')}" if matters else ""
    return f"""
CREATE OR REPLACE FUNCTION wangge_resident_repeats(p_index bytea, p_since timestamptz)
RETURNS int
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET wangge.scope = '*'
AS $$
    SELECT count(DISTINCT p.case_id)::int
    FROM case_party p JOIN cases c ON c.id = p.case_id
    WHERE p.phone_index = p_index AND c.received_at >= p_since{merged}
$$;
"""


def upgrade() -> None:
    op.execute(_repeat_place(matters=True))
    op.execute(_register(matters=True))
    op.execute(_resident_repeats(matters=True))


def downgrade() -> None:
    op.execute(_resident_repeats(matters=False))
    op.execute(_register(matters=False))
    op.execute(_repeat_place(matters=False))
