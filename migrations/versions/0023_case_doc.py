"""A case as one JSON document, and the intake's reply in the intake's own call.

* ``wangge_case_doc(ids)``: each case with its category name, parties (encrypted, as hex),
  photos, possible duplicates and assignment chain (grid, village, township, district, city,
  responsible center), as one ``jsonb`` per case.  Every read of a whole case goes through it
  (``gis.cases``): the case page, the API's case, the reply to a report.  Before, the same
  columns came back as 40 separate columns, and building the driver's and SQLAlchemy's
  description of them cost more than reading them (1.24 against 0.92 ms of client CPU a case).
  A SQL function, ``STABLE`` and one ``SELECT``: PostgreSQL inlines it into the calling query.
  Row-level security applies as before (it runs as its caller).
* ``wangge_intake_accept`` also returns each new case's document, read by the function's last
  statement (which sees the cases and their links).  The reply to a report needed a read-back
  statement of its own after the call: one round trip, one statement and its client-side
  handling less per report.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


CASE_DOC = """
CREATE FUNCTION wangge_case_doc(p_ids bigint[])
RETURNS TABLE (id bigint, doc jsonb)
LANGUAGE sql STABLE AS $$
    SELECT v.id, to_jsonb(v) FROM (
        SELECT c.id, c.code, c.kind::text AS kind, c.category, cat.name_zh AS category_name,
               c.severity::text AS severity, c.status, c.description, ST_X(c.geom) AS lon,
               ST_Y(c.geom) AS lat, c.datum, c.reported_at, c.received_at, c.received_lon,
               c.received_lat, c.deadline, c.public_token, c.flags,
               (SELECT json_agg(json_build_object(
                           'role', p.role, 'name', encode(p.name_enc, 'hex'),
                           'phone', encode(p.phone_enc, 'hex'),
                           'id_card', encode(p.id_card_enc, 'hex')) ORDER BY p.id)
                FROM case_party p WHERE p.case_id = c.id) AS parties,
               (SELECT json_agg(json_build_array(ph.id, ph.content_type, ph.bytes, ph.width,
                                                 ph.height, ph.sha256) ORDER BY ph.id)
                FROM case_photo ph WHERE ph.case_id = c.id) AS photos,
               (SELECT json_agg(json_build_array(o.code, l.status, l.distance_m)
                                ORDER BY o.code)
                FROM case_link l
                JOIN cases o ON o.id = CASE WHEN l.case_id = c.id THEN l.other_case_id
                                            ELSE l.case_id END
                WHERE (l.case_id = c.id OR l.other_case_id = c.id)
                  AND l.kind = 'possible_duplicate') AS links,
               c.assign_method AS method, c.assign_distance_m AS distance_m,
               g.id AS grid_id, g.code AS grid_code, g.name AS grid_name,
               g.version AS grid_version,
               v.code AS village_code, v.name AS village_name,
               t.code AS township_code, t.name AS township_name,
               d.code AS district_code, d.name AS district_name,
               ci.code AS city_code, ci.name AS city_name,
               ce.id AS center_id, ce.name AS center_name, ce.level AS center_level,
               ce.region_code AS center_region_code, ce.phone AS center_phone
        FROM cases c
        JOIN category cat ON cat.code = c.category
        -- each by its key, case by case (OFFSET 0: not flattened into joins, which a generic
        -- plan, expecting ten cases, made hash joins over every region and center: 1 ms a case)
        LEFT JOIN LATERAL (SELECT g.id, g.code, g.name, g.version FROM grid g
                           WHERE g.id = c.grid_id OFFSET 0) g ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.village_code OFFSET 0) v ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.township_code OFFSET 0) t ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.district_code OFFSET 0) d ON true
        LEFT JOIN LATERAL (SELECT r.code, r.name FROM region r
                           WHERE r.code = c.city_code OFFSET 0) ci ON true
        LEFT JOIN LATERAL (SELECT ce.id, ce.name, ce.phone, cr.level, cr.code AS region_code
                           FROM center ce LEFT JOIN region cr ON cr.id = ce.region_id
                           WHERE ce.id = c.center_id OFFSET 0) ce ON true
        WHERE c.id = ANY(p_ids)
    ) v
$$;
"""

_ACCEPT_SIGNATURE = """wangge_intake_accept(
    integer, text, inet, boolean, double precision, text, text, text[], integer[], bigint[],
    text[], text[], text[], text[], text[], double precision[], double precision[],
    double precision[], double precision[], double precision[], timestamptz[], uuid[], bytea[],
    text[], integer[], double precision, double precision, interval, double precision,
    double precision, interval, integer)"""
# what changes in wangge_intake_accept (as migration 0022 made it): its result, and its last
# statement
_RETURNS = (
    "RETURNS TABLE (case_id bigint, case_code varchar, key uuid, method text)",
    "RETURNS TABLE (case_id bigint, case_code varchar, key uuid, method text, doc jsonb)",
)
_RETURN = (
    "RETURN QUERY SELECT * FROM unnest(ids, codes, keys, methods);",
    """RETURN QUERY
    SELECT n.i, n.c, n.k, n.m, d.doc
    FROM unnest(ids, codes, keys, methods) AS n(i, c, k, m)
    LEFT JOIN wangge_case_doc(ids) d ON d.id = n.i;""",
)


def _accept_0022() -> str:
    m22 = _migration("0022_repeat_place_at_insert.py")
    return m22._accept(m22._CALLS_0022)


def upgrade() -> None:
    op.execute(CASE_DOC)
    text = _accept_0022().replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", 1)
    for old, new in (_RETURNS, _RETURN):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    op.execute(f"DROP FUNCTION {_ACCEPT_SIGNATURE}")  # its result changes
    op.execute(text)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {_ACCEPT_SIGNATURE}")
    op.execute("DROP FUNCTION wangge_case_doc(bigint[])")
    op.execute(_accept_0022())
