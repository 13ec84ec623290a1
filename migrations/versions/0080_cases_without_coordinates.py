"""A case may be without coordinates: an old ledger's (台账) row that names its village or
community (村/社区) instead, imported by ``wangge import cases`` (``importers.cases``).

Such a case has no point (``geom``, ``received_lon``, ``received_lat`` NULL) and is assigned
to the named region, without a grid (``assign_method`` ``region``, the chain of that region and
its lowest center): it counts in every figure kept by region (the roll-ups, rankings, the
daily report), and is on no map.  A point at the village's centre would have put it on the
heat map, next to reports, among a place's repeats and duplicates, where it did not happen;
without one, every spatial test passes it by.

* the columns may be NULL, and only for such a case (``cases_located_or_named``);
* ``wangge_heat_cells`` gives no cell for no point (the heat roll-up's triggers and rebuild
  call it for every case: migrations 0013, 0020, 0030);
* ``wangge_edit_regrid`` leaves it alone: a redraw of its village's grids moves cases by their
  points (0070's text, with that change).

Revision ID: 0080
Revises: 0079
Create Date: 2026-12-06
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0080"
down_revision = "0079"
branch_labels = None
depends_on = None

_HEAT_CELLS = """
CREATE OR REPLACE FUNCTION wangge_heat_cells(geom geometry)
RETURNS TABLE (res smallint, cx integer, cy integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT r.res::smallint, floor(ST_X(m) / r.size)::integer, floor(ST_Y(m) / r.size)::integer
    FROM ST_Transform(geom, 3857) AS m,
         (VALUES (1, 400.0)) AS r(res, size){where}
$$;
"""
# (twice: the open cases, and the resolved ones to be verified)
_BEFORE = "OR c.village_code = ANY(p_villages) AND c.assign_method <> 'covers')"
_AFTER = (
    "OR c.village_code = ANY(p_villages) AND c.assign_method <> 'covers'\n"
    "                  AND c.geom IS NOT NULL)"
)


def _regrid_sql(new: bool) -> str:
    sql = _migration("0070_regrid_moves_cases_to_verify.py")._regrid_sql(new=True)
    if new:
        assert sql.count(_BEFORE) == 2
        sql = sql.replace(_BEFORE, _AFTER)
    return sql


def upgrade() -> None:
    op.execute("""
ALTER TABLE cases
    ALTER COLUMN geom DROP NOT NULL,
    ALTER COLUMN received_lon DROP NOT NULL,
    ALTER COLUMN received_lat DROP NOT NULL,
    ADD CONSTRAINT cases_located_or_named CHECK (
        geom IS NOT NULL
        OR assign_method = 'region' AND received_lon IS NULL AND received_lat IS NULL);
""")
    op.execute(_HEAT_CELLS.format(where="\n    WHERE geom IS NOT NULL"))
    op.execute(_regrid_sql(new=True))


def downgrade() -> None:
    op.execute(_regrid_sql(new=False))
    op.execute(_HEAT_CELLS.format(where=""))
    op.execute("""
ALTER TABLE cases
    DROP CONSTRAINT cases_located_or_named,
    ALTER COLUMN geom SET NOT NULL,
    ALTER COLUMN received_lon SET NOT NULL,
    ALTER COLUMN received_lat SET NOT NULL;
""")
