"""SCIM provisioning: bearer tokens, each tenant's view of provisioned users, directory groups

Revision ID: 0010_scim
Revises: 0004_group_roles
Create Date: 2026-11-24 18:34:43.673566

"""
from alembic import op
import sqlalchemy as sa

import app.core.db


# revision identifiers, used by Alembic.
revision = '0010_scim'
down_revision = '0004_group_roles'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scim_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scim_groups_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_groups')),
    sa.UniqueConstraint('tenant_id', 'display_name', name=op.f('uq_scim_groups_tenant_id_display_name'))
    )
    with op.batch_alter_table('scim_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_groups_external_id'), ['external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_groups_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_scim_groups_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('scim_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_scim_tokens_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scim_tokens_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_scim_tokens_token_hash'))
    )
    with op.batch_alter_table('scim_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_tokens_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_scim_tokens_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('scim_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('user_name', sa.String(length=320), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_scim_users_membership_id_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scim_users_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_users')),
    sa.UniqueConstraint('tenant_id', 'membership_id', name=op.f('uq_scim_users_tenant_id_membership_id')),
    sa.UniqueConstraint('tenant_id', 'user_name', name=op.f('uq_scim_users_tenant_id_user_name'))
    )
    with op.batch_alter_table('scim_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_users_external_id'), ['external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_users_membership_id'), ['membership_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_users_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_scim_users_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('scim_group_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('scim_user_id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['scim_groups.id'], name=op.f('fk_scim_group_members_group_id_scim_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scim_user_id'], ['scim_users.id'], name=op.f('fk_scim_group_members_scim_user_id_scim_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scim_group_members_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_group_members')),
    sa.UniqueConstraint('group_id', 'scim_user_id', name=op.f('uq_scim_group_members_group_id_scim_user_id'))
    )
    with op.batch_alter_table('scim_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_group_members_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_group_members_scim_user_id'), ['scim_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_group_members_tenant_id'), ['tenant_id'], unique=False)



def downgrade():
    with op.batch_alter_table('scim_group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_group_members_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_scim_group_members_scim_user_id'))
        batch_op.drop_index(batch_op.f('ix_scim_group_members_group_id'))

    op.drop_table('scim_group_members')
    with op.batch_alter_table('scim_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_users_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_scim_users_public_id'))
        batch_op.drop_index(batch_op.f('ix_scim_users_membership_id'))
        batch_op.drop_index(batch_op.f('ix_scim_users_external_id'))

    op.drop_table('scim_users')
    with op.batch_alter_table('scim_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_tokens_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_scim_tokens_public_id'))

    op.drop_table('scim_tokens')
    with op.batch_alter_table('scim_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_groups_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_scim_groups_public_id'))
        batch_op.drop_index(batch_op.f('ix_scim_groups_external_id'))

    op.drop_table('scim_groups')
