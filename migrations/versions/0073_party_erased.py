"""Residents' personal data is erased when its time is up (个人信息到期删除).

PIPL asks that personal data be kept no longer than its purpose needs.  ``wangge pii expire
--years N`` erases the names, phones, ID numbers and phone index of the parties to cases closed
more than N years ago (:mod:`gis.pii_expiry`).  The party stays, with its role, and
``erased_at`` says when its data was erased; ``wangge_case_doc`` (the case as the API and the
case page read it) gives it, so a case page says 已按保存期限删除 instead of an empty row.

Revision ID: 0073
Revises: 0072
Create Date: 2026-12-05
"""

from alembic import op

revision = "0073"
down_revision = "0072"
branch_labels = None
depends_on = None

NEW_DOC_SQL = r"""
CREATE OR REPLACE FUNCTION wangge_case_doc(p_ids bigint[])
 RETURNS TABLE(id bigint, doc jsonb)
 LANGUAGE sql
 STABLE
AS $function$
    SELECT v.id, to_jsonb(v) FROM (
        SELECT c.id, c.code, c.kind::text AS kind, c.category, cat.name_zh AS category_name,
               c.severity::text AS severity, c.status, c.description, ST_X(c.geom) AS lon,
               ST_Y(c.geom) AS lat, c.datum, c.reported_at, c.received_at, c.received_lon,
               c.received_lat, c.deadline, c.public_token, c.flags, c.source::text AS source,
               c.source_ref,
               (SELECT json_agg(json_build_object(
                           'role', p.role, 'name', encode(p.name_enc, 'hex'),
                           'phone', encode(p.phone_enc, 'hex'),
                           'id_card', encode(p.id_card_enc, 'hex'),
                           'erased_at', p.erased_at) ORDER BY p.id)
                FROM case_party p WHERE p.case_id = c.id) AS parties,
               (SELECT json_agg(json_build_array(ph.id, ph.content_type, ph.bytes, ph.width,
                                                 ph.height, ph.sha256, ph.uploaded_by,
                                                 ph.uploaded_at, u.display_name) ORDER BY ph.id)
                FROM case_photo ph LEFT JOIN app_user u ON u.username = ph.uploaded_by
                WHERE ph.case_id = c.id) AS photos,
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
$function$
"""

# as it was (migration 0067)
OLD_DOC_SQL = r"""
CREATE OR REPLACE FUNCTION wangge_case_doc(p_ids bigint[])
 RETURNS TABLE(id bigint, doc jsonb)
 LANGUAGE sql
 STABLE
AS $function$
    SELECT v.id, to_jsonb(v) FROM (
        SELECT c.id, c.code, c.kind::text AS kind, c.category, cat.name_zh AS category_name,
               c.severity::text AS severity, c.status, c.description, ST_X(c.geom) AS lon,
               ST_Y(c.geom) AS lat, c.datum, c.reported_at, c.received_at, c.received_lon,
               c.received_lat, c.deadline, c.public_token, c.flags, c.source::text AS source,
               c.source_ref,
               (SELECT json_agg(json_build_object(
                           'role', p.role, 'name', encode(p.name_enc, 'hex'),
                           'phone', encode(p.phone_enc, 'hex'),
                           'id_card', encode(p.id_card_enc, 'hex')) ORDER BY p.id)
                FROM case_party p WHERE p.case_id = c.id) AS parties,
               (SELECT json_agg(json_build_array(ph.id, ph.content_type, ph.bytes, ph.width,
                                                 ph.height, ph.sha256, ph.uploaded_by,
                                                 ph.uploaded_at, u.display_name) ORDER BY ph.id)
                FROM case_photo ph LEFT JOIN app_user u ON u.username = ph.uploaded_by
                WHERE ph.case_id = c.id) AS photos,
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
$function$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE case_party ADD COLUMN erased_at timestamptz")
    op.execute(NEW_DOC_SQL)


def downgrade() -> None:
    op.execute(OLD_DOC_SQL)
    op.execute("ALTER TABLE case_party DROP COLUMN erased_at")
