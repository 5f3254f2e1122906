"""policies, policy versions and acknowledgements

Revision ID: 0013_governance
Revises: 0012_approvals
"""
from alembic import op
import sqlalchemy as sa

import app.core.db


# revision identifiers, used by Alembic.
revision = '0013_governance'
down_revision = '0012_approvals'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('control_refs', sa.JSON(), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_policies_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_policies_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies'))
    )
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policies_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policies_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_policies_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('policy_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('change_note', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Enum('draft', 'in_review', 'published', 'retired', name='versionstatus', native_enum=False, length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_policy_versions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_versions_policy_id_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_policy_versions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_versions')),
    sa.UniqueConstraint('policy_id', 'number', name=op.f('uq_policy_versions_policy_id_number'))
    )
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_versions_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_versions_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_policy_versions_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_versions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('policy_acknowledgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_policy_acknowledgements_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_policy_acknowledgements_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['policy_versions.id'], name=op.f('fk_policy_acknowledgements_version_id_policy_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_acknowledgements')),
    sa.UniqueConstraint('version_id', 'user_id', name=op.f('uq_policy_acknowledgements_version_id_user_id'))
    )
    with op.batch_alter_table('policy_acknowledgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_acknowledgements_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_acknowledgements_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_acknowledgements_version_id'), ['version_id'], unique=False)


def downgrade():
    with op.batch_alter_table('policy_acknowledgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_acknowledgements_version_id'))
        batch_op.drop_index(batch_op.f('ix_policy_acknowledgements_user_id'))
        batch_op.drop_index(batch_op.f('ix_policy_acknowledgements_tenant_id'))

    op.drop_table('policy_acknowledgements')
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_versions_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_policy_versions_status'))
        batch_op.drop_index(batch_op.f('ix_policy_versions_public_id'))
        batch_op.drop_index(batch_op.f('ix_policy_versions_policy_id'))

    op.drop_table('policy_versions')
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policies_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_policies_public_id'))
        batch_op.drop_index(batch_op.f('ix_policies_owner_id'))

    op.drop_table('policies')
