"""Case photos: stored as files (EXIF/GPS stripped), described here, visible with their case.

``case_photo`` rows carry the stored file's SHA-256 (the checksum of what is served), the upload's
SHA-256 (a device re-sending the same photo gets the same row back), type, size, pixel size and
the thumbnail's name.  Row-level security: a photo is visible exactly when its case is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE case_photo (
    id              bigserial PRIMARY KEY,
    case_id         bigint NOT NULL REFERENCES cases (id),
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
    UNIQUE (case_id, upload_sha256)
);
CREATE INDEX case_photo_case ON case_photo (case_id);

ALTER TABLE case_photo ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_photo FORCE ROW LEVEL SECURITY;
CREATE POLICY case_photo_in_scope ON case_photo
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_photo.case_id))
    WITH CHECK (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_photo.case_id));
GRANT SELECT, INSERT ON case_photo TO wangge_app;
GRANT USAGE ON SEQUENCE case_photo_id_seq TO wangge_app;
""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS case_photo")
