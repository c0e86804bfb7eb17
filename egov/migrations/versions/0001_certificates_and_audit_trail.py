"""certificates and audit trail

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:42:42.066789
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import egov.db

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('audit_records',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', egov.db.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('hash')
    )
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_records_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_records_target'), ['target'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=48), nullable=False),
    sa.Column('issuer_id', sa.Integer(), nullable=True),
    sa.Column('profile', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('common_name', sa.String(length=255), nullable=False),
    sa.Column('identifier', sa.String(length=64), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('not_before', egov.db.UTCDateTime(), nullable=False),
    sa.Column('not_after', egov.db.UTCDateTime(), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('key_uri', sa.String(length=512), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_changed_at', egov.db.UTCDateTime(), nullable=True),
    sa.Column('revocation_reason', sa.String(length=32), nullable=True),
    sa.Column('invalidity_date', egov.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', egov.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['issuer_id'], ['certificates.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('role'),
    sa.UniqueConstraint('serial'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_identifier'), ['identifier'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_issuer_id'), ['issuer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_profile'), ['profile'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_status'))
        batch_op.drop_index(batch_op.f('ix_certificates_profile'))
        batch_op.drop_index(batch_op.f('ix_certificates_owner'))
        batch_op.drop_index(batch_op.f('ix_certificates_issuer_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_identifier'))

    op.drop_table('certificates')
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_records_target'))
        batch_op.drop_index(batch_op.f('ix_audit_records_action'))

    op.drop_table('audit_records')
    op.drop_table('audit_head')
