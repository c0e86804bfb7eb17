"""Remote signing: credentials bound to identity-provider users, and issued SADs with their use counters

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import egov.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remote_credentials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("owner_username", sa.String(length=255), nullable=False),
        sa.Column("created_at", egov.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("certificate_id", "owner"),
    )
    with op.batch_alter_table("remote_credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_remote_credentials_certificate_id"), ["certificate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_remote_credentials_owner"), ["owner"], unique=False)

    op.create_table(
        "signature_activations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("hashes", sa.Text(), nullable=False),
        sa.Column("allowed", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("created_at", egov.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", egov.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["remote_credentials.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signature_activations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signature_activations_credential_id"), ["credential_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signature_activations_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("signature_activations")
    op.drop_table("remote_credentials")
