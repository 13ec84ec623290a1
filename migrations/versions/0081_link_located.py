"""``wangge_link_located``: the possible duplicates of a case that gets its point late.

A case filed by its village because no one could say where (a desk's walk-in or call, an old
ledger's row) is given its point once it is known (补充位置, ``gis.workflow.locate_case``).  It
then meets the rule a report meets at intake: within 100 m and 72 h of an open case of the same
category, the two are linked as possible duplicates (to the nearest ten and the first, as
migration 0044 caps them) — looking both ways in time, since it was received before it had a
point: a link goes from the newer case to the older, as intake's do.  Like
``wangge_intake_register`` it looks at every case of the deployment (``wangge.scope`` ``*``),
through the grids around the point (the cases' spatial test after their indexed grid code, as
row-level security wants it).  A closed case is not linked.

Revision ID: 0081
Revises: 0080
Create Date: 2026-12-06
"""

from alembic import op

revision = "0081"
down_revision = "0080"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE FUNCTION wangge_link_located(p_id bigint, p_duplicate_m double precision,
                                    p_duplicate_deg double precision, p_window interval,
                                    p_links integer)
RETURNS bigint
LANGUAGE plpgsql
SET "wangge.scope" TO '*'
AS $$
DECLARE
    made bigint;
BEGIN
    WITH n AS MATERIALIZED (
        SELECT c.id, c.geom, c.category, c.received_at FROM cases c
        WHERE c.id = p_id AND c.geom IS NOT NULL AND c.status <> 'closed'
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
    ), kept AS (
        SELECT f.*, row_number() OVER (ORDER BY f.d, f.id DESC) AS nearest,
               row_number() OVER (ORDER BY f.received_at, f.id) AS first
        FROM found f
    ), made AS (
        INSERT INTO case_link (case_id, other_case_id, distance_m)
        SELECT CASE WHEN k.newer THEN k.id ELSE p_id END,
               CASE WHEN k.newer THEN p_id ELSE k.id END, k.d
        FROM kept k WHERE k.nearest <= p_links OR k.first = 1
        ORDER BY 1, 2
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*) INTO made FROM made;
    RETURN made;
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION wangge_link_located(bigint, double precision, double precision, "
        "interval, integer)"
    )
