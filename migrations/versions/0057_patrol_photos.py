"""巡查照片: photos of a patrol check-in (what the worker saw: a blocked fire exit, a cracked wall).

As a case's photos (migration 0008): re-encoded without EXIF, content-addressed files, the
upload's checksum unique per check-in (a phone's retry stores nothing twice).  A photo is
visible exactly when its check-in is (``patrol``'s row-level security); deleting a check-in
would take its photos with it.

Revision ID: 0057
Revises: 0056
Create Date: 2026-12-05
"""

from alembic import op

revision = "0057"
down_revision = "0056"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE patrol_photo (
    id              bigserial PRIMARY KEY,
    patrol_id       bigint NOT NULL REFERENCES patrol (id) ON DELETE CASCADE,
    sha256          char(64) NOT NULL,
    upload_sha256   char(64) NOT NULL,
    content_type    varchar(20) NOT NULL
                    CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes           integer NOT NULL CHECK (bytes > 0),
    width           integer NOT NULL CHECK (width > 0),
    height          integer NOT NULL CHECK (height > 0),
    file_name       varchar(80) NOT NULL,
    thumb_name      varchar(80) NOT NULL,
    uploaded_by     varchar(64),
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (patrol_id, upload_sha256)
);
CREATE INDEX patrol_photo_patrol ON patrol_photo (patrol_id);

ALTER TABLE patrol_photo ENABLE ROW LEVEL SECURITY;
ALTER TABLE patrol_photo FORCE ROW LEVEL SECURITY;
CREATE POLICY patrol_photo_in_scope ON patrol_photo
    USING (EXISTS (SELECT 1 FROM patrol p WHERE p.id = patrol_photo.patrol_id))
    WITH CHECK (EXISTS (SELECT 1 FROM patrol p WHERE p.id = patrol_photo.patrol_id));
GRANT SELECT, INSERT ON patrol_photo TO wangge_app;
GRANT USAGE ON SEQUENCE patrol_photo_id_seq TO wangge_app;
""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS patrol_photo")
