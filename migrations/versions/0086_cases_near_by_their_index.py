"""The cases around a point are found by the cases' spatial index: a hot spot costs what is near.

Three lookups look at the cases around a point, for every report and every case given its point
late: the possible duplicates (100 m, 72 h, same category, open: ``wangge_intake_register``,
``wangge_link_located``) and the repeat warning by place (50 m, 30 days:
``wangge_repeat_place``).  Under row-level security PostgreSQL may not test a spatial
condition (PostGIS's ``&&`` is not leakproof) before the policy, so the cases' GiST index was
out of reach, and the three went through the grids around the point, then the cases of those
grids by their indexed ``grid_code`` and time — every case of the grid in the window, each
measured.  A grid's cases are few on a quiet day; on a flood night, a fire, a demolition
dispute, thousands pile into a few grids within days, and each new report measured all of
them: 11,500 reports within 600 m made a 500-item batch take 9.3 s (the repeat count 6.6 s).

Now the cases are read as the owner (``SECURITY DEFINER``, as ``wangge_cases_in_view``), by
the cases' GiST index, each point's box (``wangge_near_box``: its circle's, cut to the latitude)
alone — so each lookup costs what lies near the point, not what its grid holds:

* ``wangge_duplicates_near``: the possible duplicates of a batch's new cases, in one query
  (``wangge_intake_register`` inserts the links);
* ``wangge_repeat_place`` itself, now a definer;
* ``wangge_cases_near``: the cases around one point, in a window, of a category
  (``wangge_link_located``, a case at a time).

They return only what the rules need (ids, states, times, distances) and the app role alone may
call them; the three looked at every case of the deployment already (``wangge.scope`` ``*``:
the rules are about the place).  (A function called for each point of a batch cost ~45 µs a
call: one query for the batch, ~10 µs a point.)

The rules are now the issue's own — every case with a point counts, grid or not.  Going through
the grids, a case with no grid was never seen: a report where a village's grids leave a gap
(a river bank, farmland, a hillside: filed by its village, method ``region``) was never linked
as a duplicate nor counted for a repeat warning, however many came from the same spot; and a
case filed to its nearest grid was missed when that grid lay farther than the distance.  The
insert (``wangge_intake_insert``, migration 0041) now counts every new report of a batch at its
place (``p_in_grid`` of ``wangge_repeat_place`` says which new points count themselves: a case
given its point late is stored already).

Revision ID: 0086
Revises: 0085
Create Date: 2026-12-06
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0086"
down_revision = "0085"
branch_labels = None
depends_on = None

NEAR_BOX = """
CREATE FUNCTION wangge_near_box(p_pt geometry, p_m double precision)
RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- The box around a point that holds its circle of p_m metres, a little wider: a degree of
    -- latitude is more than 110 km, one of longitude more than 111 km × cos(latitude), taken at
    -- the box's poleward edge (0.3 % to spare).  (A box of 0.002° each way, as the grids'
    -- lookups take for 100 m, held 4 times as many cases to measure.)  Inlined where it is
    -- used: the cases' GiST index takes it as its condition.
    SELECT ST_Expand(p_pt, p_m / (111000.0 * cos(radians(abs(ST_Y(p_pt)) + p_m / 110000.0))),
                     p_m / 110000.0)
$$;
"""

CASES_NEAR_SIGNATURE = (
    "wangge_cases_near(geometry, double precision, timestamptz, timestamptz, text)"
)
CASES_NEAR = f"""
CREATE FUNCTION wangge_cases_near(
    p_pt geometry, p_m double precision, p_from timestamptz, p_to timestamptz, p_category text)
RETURNS TABLE (id bigint, status varchar, received_at timestamptz, d double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
ROWS 20
AS $$
BEGIN
    -- The box of the circle by the GiST index alone (OFFSET 0: the subquery is planned on its
    -- own), everything else on its few rows.  (Left to itself, the generic plan ANDs in the
    -- index of the period: a month of the city's cases read for the dozen in the box.)
    RETURN QUERY
    SELECT o.id, o.status, o.received_at, ST_Distance(o.geom::geography, p_pt::geography)
    FROM (SELECT o.id, o.status, o.received_at, o.category, o.geom FROM cases o
          WHERE o.geom && wangge_near_box(p_pt, p_m) OFFSET 0) o
    WHERE o.received_at >= p_from AND o.received_at <= p_to
      AND (p_category IS NULL OR o.category = p_category)
      AND ST_DWithin(o.geom::geography, p_pt::geography, p_m);
END $$;
REVOKE ALL ON FUNCTION {CASES_NEAR_SIGNATURE} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {CASES_NEAR_SIGNATURE} TO wangge_app;
"""

DUPLICATES_SIGNATURE = "wangge_duplicates_near(bigint[], double precision, interval, integer)"
DUPLICATES_NEAR = f"""
CREATE FUNCTION wangge_duplicates_near(
    p_ids bigint[], p_m double precision, p_window interval, p_links integer)
RETURNS TABLE (case_id bigint, other_case_id bigint, distance_m double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    -- For each new case of p_ids, its possible duplicates: the open cases of its category within
    -- p_m metres received in p_window before it, of them the p_links nearest (the newer first)
    -- and the first one.  New cases of one call see each other; a link goes from the newer to
    -- the older only.  One query for the whole batch, each case's box by the GiST index alone.
    RETURN QUERY
    SELECT r.id, r.other, r.d FROM (
        SELECT n.id, o.id AS other, o.d,
               row_number() OVER (PARTITION BY n.id ORDER BY o.d, o.id DESC) AS nearest,
               row_number() OVER (PARTITION BY n.id ORDER BY o.received_at, o.id) AS first
        FROM cases n
        CROSS JOIN LATERAL (
            SELECT o.id, o.received_at, ST_Distance(o.geom::geography, n.geom::geography) AS d
            FROM (SELECT o.id, o.status, o.received_at, o.category, o.geom
                  FROM cases o WHERE o.geom && wangge_near_box(n.geom, p_m) OFFSET 0) o
            WHERE o.id <> n.id AND o.category = n.category AND o.status <> 'closed'
              AND o.received_at >= n.received_at - p_window
              AND ST_DWithin(o.geom::geography, n.geom::geography, p_m)
              AND (o.id < n.id OR NOT (o.id = ANY(p_ids)))) o
        WHERE n.id = ANY(p_ids)
    ) r WHERE r.nearest <= p_links OR r.first = 1;
END $$;
REVOKE ALL ON FUNCTION {DUPLICATES_SIGNATURE} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {DUPLICATES_SIGNATURE} TO wangge_app;
"""

# wangge_repeat_place: the stored cases around each point
_PLACE_BY_GRIDS = """\
        FROM (SELECT DISTINCT g.code FROM grid g
              WHERE (g.valid_to IS NULL OR g.valid_to > now() - p_repeat_window)
                AND g.geom && ST_Expand(n.pt, p_repeat_deg)
                AND ST_DWithin(g.geom, n.pt, p_repeat_deg)) g
        JOIN cases o ON o.grid_code = g.code
        WHERE true
          AND o.received_at >= now() - p_repeat_window
          AND ST_DWithin(o.geom::geography, n.pt::geography, p_repeat_m)
"""
_PLACE_NEAR = """\
        FROM (SELECT o.id, o.received_at, o.geom FROM cases o
              WHERE o.geom && wangge_near_box(n.pt, p_repeat_m) OFFSET 0) o
        WHERE o.received_at >= now() - p_repeat_window
          AND ST_DWithin(o.geom::geography, n.pt::geography, p_repeat_m)
"""
# ... read as the owner (the cases' GiST index applies), by the app role only
_PLACE_INVOKER = "LANGUAGE plpgsql STABLE\n"
_PLACE_DEFINER = "LANGUAGE plpgsql STABLE SECURITY DEFINER\nSET search_path = public, pg_temp\n"
PLACE_SIGNATURE = (
    "wangge_repeat_place(geometry[], boolean[], double precision, double precision, interval)"
)

# wangge_intake_register: the possible duplicates of the new cases
_REGISTER_BY_GRIDS = """\
    ), near AS MATERIALIZED (  -- the grids around each new case, one row each, with the case's
        -- columns and the time from which its possible duplicates count
        SELECT n.id, n.geom, n.category, n.received_at - p_duplicate_window AS since, g.code
        FROM n JOIN grid g ON g.valid_to IS NULL AND g.geom && ST_Expand(n.geom, p_duplicate_deg)
                          AND ST_DWithin(g.geom, n.geom, p_duplicate_deg)
    ), links AS (
        -- (no join back to n: with generic plans the planner takes these CTEs for a few rows,
        -- and a nested loop between two of them is quadratic in a batch of 500)
        -- (to its ten nearest, the newer first, and to the first one: migration 0044)
        INSERT INTO case_link (case_id, other_case_id, distance_m)
        SELECT r.id, r.other, r.d FROM (
        SELECT near.id, o.id AS other, dd.d,
               row_number() OVER (PARTITION BY near.id ORDER BY dd.d, o.id DESC) AS nearest,
               row_number() OVER (PARTITION BY near.id ORDER BY o.received_at, o.id) AS first
        FROM near JOIN cases o
          ON o.grid_code = near.code AND o.id <> near.id AND o.category = near.category
         AND o.status <> 'closed'
         AND o.received_at >= near.since  -- leakproof: the index's, before the policy
         AND ST_DWithin(o.geom::geography, near.geom::geography, p_duplicate_m)
        CROSS JOIN LATERAL (SELECT ST_Distance(o.geom::geography, near.geom::geography) AS d) dd
        WHERE o.id < near.id OR NOT (o.id = ANY(p_ids))
        ) r WHERE r.nearest <= 10 OR r.first = 1
"""
_REGISTER_NEAR = """\
    ), links AS (
        -- (to its ten nearest, the newer first, and to the first one: migration 0044; found by
        -- the cases' spatial index: migration 0086)
        INSERT INTO case_link (case_id, other_case_id, distance_m)
        SELECT d.case_id, d.other_case_id, d.distance_m
        FROM wangge_duplicates_near(p_ids, p_duplicate_m, p_duplicate_window, 10) d
"""

# wangge_link_located: the possible duplicates of a case given its point, both ways in time
_LOCATED_BY_GRIDS = """\
    ), near AS MATERIALIZED (
        SELECT g.code FROM n
        JOIN grid g ON g.valid_to IS NULL AND g.geom && ST_Expand(n.geom, p_duplicate_deg)
                   AND ST_DWithin(g.geom, n.geom, p_duplicate_deg)
    ), found AS MATERIALIZED (
        SELECT o.id, o.received_at, dd.d,
               (o.received_at, o.id) > (n.received_at, n.id) AS newer
        FROM n JOIN cases o
          ON o.grid_code IN (SELECT code FROM near) AND o.id <> n.id
         AND o.category = n.category AND o.status <> 'closed'
         AND o.received_at >= n.received_at - p_window
         AND o.received_at <= n.received_at + p_window
         AND ST_DWithin(o.geom::geography, n.geom::geography, p_duplicate_m)
        CROSS JOIN LATERAL (SELECT ST_Distance(o.geom::geography, n.geom::geography) AS d) dd
"""
_LOCATED_NEAR = """\
    ), found AS MATERIALIZED (
        SELECT o.id, o.received_at, o.d,
               (o.received_at, o.id) > (n.received_at, n.id) AS newer
        FROM n CROSS JOIN LATERAL wangge_cases_near(
            n.geom, p_duplicate_m, n.received_at - p_window, n.received_at + p_window,
            n.category) o
        WHERE o.id <> n.id AND o.status <> 'closed'
"""


# wangge_intake_insert: every new report counts at its place (it counted only with a grid)
_INSERT_IN_GRID = "array_agg(a.grid_code IS NOT NULL ORDER BY a.pos)"
_INSERT_EVERY = "array_agg(true ORDER BY a.pos)"


def _swapped(sql: str, old: str, new: str) -> str:
    assert sql.count(old) == 1, old
    return sql.replace(old, new)


def _repeat_place(near: bool) -> str:
    """``wangge_repeat_place`` as migration 0085 made it, or by the cases' index (as the
    owner, by the app role only)."""
    sql: str = _migration("0085_repeat_place_sees_retired_codes.py")._repeat_place(retired=True)
    if not near:
        return f"{sql}\nGRANT EXECUTE ON FUNCTION {PLACE_SIGNATURE} TO PUBLIC;"
    sql = _swapped(sql, _PLACE_INVOKER, _PLACE_DEFINER)
    sql = _swapped(sql, _PLACE_BY_GRIDS, _PLACE_NEAR)
    return (
        f"{sql}\nREVOKE ALL ON FUNCTION {PLACE_SIGNATURE} FROM PUBLIC;"
        f"\nGRANT EXECUTE ON FUNCTION {PLACE_SIGNATURE} TO wangge_app;"
    )


def _insert(near: bool) -> str:
    """``wangge_intake_insert`` as migration 0041 made it, or counting every new report."""
    sql: str = _migration("0041_intake_waits_for_layout_commits.py")._insert_sql(locked=True)
    return _swapped(sql, _INSERT_IN_GRID, _INSERT_EVERY) if near else sql


def _register(near: bool) -> str:
    """``wangge_intake_register`` as migration 0055 made it, or by the cases' index."""
    sql: str = _migration("0055_repeats_count_a_matter_once.py")._register(matters=True)
    return _swapped(sql, _REGISTER_BY_GRIDS, _REGISTER_NEAR) if near else sql


def _link_located(near: bool) -> str:
    """``wangge_link_located`` as migration 0081 made it, or by the cases' index."""
    sql: str = _migration("0081_link_located.py").UPGRADE
    sql = _swapped(sql, "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    return _swapped(sql, _LOCATED_BY_GRIDS, _LOCATED_NEAR) if near else sql


def upgrade() -> None:
    op.execute(NEAR_BOX)
    op.execute(CASES_NEAR)
    op.execute(DUPLICATES_NEAR)
    op.execute(_repeat_place(near=True))
    op.execute(_insert(near=True))
    op.execute(_register(near=True))
    op.execute(_link_located(near=True))


def downgrade() -> None:
    op.execute(_link_located(near=False))
    op.execute(_register(near=False))
    op.execute(_insert(near=False))
    op.execute(_repeat_place(near=False))
    op.execute(f"DROP FUNCTION {DUPLICATES_SIGNATURE}")
    op.execute(f"DROP FUNCTION {CASES_NEAR_SIGNATURE}")
    op.execute("DROP FUNCTION wangge_near_box(geometry, double precision)")
