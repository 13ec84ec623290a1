"""The heat roll-up keeps its 400 m level only; the 1.6 km cells are summed from it.

Migration 0026 left two levels in ``case_heat``, 400 m and 1.6 km, each per day, category and
township.  Keyed that finely, the 1.6 km level held nearly three quarters as many rows as the
400 m one: on the map benchmark's 1,000,000 cases the roll-up held 1,470,486 rows, 853,028 of
them at 400 m and 617,458 at 1.6 km.  Every report paid for an upsert into it (three
indexes), and a bulk import for over 40 % of the roll-up's rows and index builds.

Web-Mercator cells nest exactly: the 1.6 km cell of a point is its 400 m cell divided by 4 and
rounded down (``floor(x / 1600) = floor(floor(x / 400) / 4)``, and in floating point too: the
two quotients differ by a power of two).  So the maps at city zoom (``gis.mapdata``) sum the
400 m cells of the view into 1.6 km ones, with the same counts as before.

Downgrade sums the 1.6 km level again from the 400 m one.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-03
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def _cells(levels: str) -> str:
    """``wangge_heat_cells`` (migration 0026's text) with the pyramid ``levels``."""
    return f"""
CREATE OR REPLACE FUNCTION wangge_heat_cells(geom geometry)
RETURNS TABLE (res smallint, cx integer, cy integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT r.res::smallint, floor(ST_X(m) / r.size)::integer, floor(ST_Y(m) / r.size)::integer
    FROM ST_Transform(geom, 3857) AS m,
         (VALUES {levels}) AS r(res, size)
$$;
"""


def upgrade() -> None:
    op.execute(_cells("(1, 400.0)"))
    op.execute("DELETE FROM case_heat WHERE res = 2")


def downgrade() -> None:
    op.execute(_cells("(1, 400.0), (2, 1600.0)"))
    op.execute("""
        INSERT INTO case_heat (res, cx, cy, township_code, district_code, city_code, day, kind,
                               category, n)
        SELECT 2, floor(cx / 4.0::float8)::integer, floor(cy / 4.0::float8)::integer,
               township_code, district_code, city_code, day, kind, category, sum(n)
        FROM case_heat WHERE res = 1
        GROUP BY 2, 3, 4, 5, 6, 7, 8, 9
    """)
