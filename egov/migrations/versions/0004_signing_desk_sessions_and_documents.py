"""Signing desk web pages: desk sessions (by the hash of the cookie) and the documents officials upload

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import egov.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("keycloak_sid", sa.String(length=255), nullable=True),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("id_token", sa.Text(), nullable=False),
        sa.Column("created_at", egov.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", egov.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("desk_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_sessions_subject"), ["subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_desk_sessions_keycloak_sid"), ["keycloak_sid"], unique=False)
        batch_op.create_index(batch_op.f("ix_desk_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "desk_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("owner_name", sa.String(length=255), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("box_x1", sa.Float(), nullable=False),
        sa.Column("box_y1", sa.Float(), nullable=False),
        sa.Column("box_x2", sa.Float(), nullable=False),
        sa.Column("box_y2", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=True),
        sa.Column("signed", sa.LargeBinary(), nullable=True),
        sa.Column("uploaded_at", egov.db.UTCDateTime(), nullable=False),
        sa.Column("signed_at", egov.db.UTCDateTime(), nullable=True),
        sa.Column("signed_by", sa.String(length=255), nullable=True),
        sa.Column("sealed_at", egov.db.UTCDateTime(), nullable=True),
        sa.Column("sealed_by", sa.String(length=255), nullable=True),
        sa.Column("sealed_by_name", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("desk_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_documents_owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_desk_documents_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_desk_documents_sealed_by"), ["sealed_by"], unique=False)


def downgrade() -> None:
    op.drop_table("desk_documents")
    op.drop_table("desk_sessions")
