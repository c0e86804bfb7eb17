"""CRLs, pre-signed OCSP answers and named counters (the TSA's serial numbers)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import egov.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("this_update", egov.db.UTCDateTime(), nullable=False),
        sa.Column("next_update", egov.db.UTCDateTime(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["issuer_id"], ["certificates.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer_id", "number"),
    )
    with op.batch_alter_table("crls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crls_issuer_id"), ["issuer_id"], unique=False)

    op.create_table(
        "ocsp_answers",
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("hash_algorithm", sa.String(length=16), nullable=False),
        sa.Column("status_key", sa.String(length=160), nullable=False),
        sa.Column("this_update", egov.db.UTCDateTime(), nullable=False),
        sa.Column("next_update", egov.db.UTCDateTime(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"]),
        sa.PrimaryKeyConstraint("certificate_id", "hash_algorithm"),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_table("ocsp_answers")
    with op.batch_alter_table("crls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crls_issuer_id"))
    op.drop_table("crls")
