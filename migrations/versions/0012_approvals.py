"""approval requests, steps, decisions (with step-up proofs) and in-app notifications

Revision ID: 0012_approvals
Revises: 0009_passkeys
"""
from alembic import op
import sqlalchemy as sa

import app.core.db


# revision identifiers, used by Alembic.
revision = '0012_approvals'
down_revision = '0006_soc_speed'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('approval_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('subject_kind', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('high_impact', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'cancelled', 'expired', name='requeststatus', native_enum=False, length=20), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=500), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_approval_requests_requested_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_approval_requests_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_requests'))
    )
    with op.batch_alter_table('approval_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approval_requests_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_approval_requests_requested_by_id'), ['requested_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_requests_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_requests_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_requests_subject_kind'), ['subject_kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_requests_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.String(length=1000), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_notifications_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_notifications_read_at'), ['read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_user_id'), ['user_id'], unique=False)

    op.create_table('approval_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('rule', sa.Enum('any', 'all', 'n_of_m', name='rule', native_enum=False, length=20), nullable=False),
    sa.Column('required', sa.Integer(), nullable=False),
    sa.Column('approver_role', sa.String(length=20), nullable=True),
    sa.Column('approver_ids', sa.JSON(), nullable=False),
    sa.Column('due_hours', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('waiting', 'active', 'approved', 'rejected', 'closed', name='stepstatus', native_enum=False, length=20), nullable=False),
    sa.Column('started_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deadline', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['approval_requests.id'], name=op.f('fk_approval_steps_request_id_approval_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_approval_steps_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_steps')),
    sa.UniqueConstraint('request_id', 'position', name=op.f('uq_approval_steps_request_id_position'))
    )
    with op.batch_alter_table('approval_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approval_steps_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_steps_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_steps_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('approval_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('approve', 'reject', name='outcome', native_enum=False, length=10), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('request_version', sa.Integer(), nullable=False),
    sa.Column('stepup_proof_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['approval_requests.id'], name=op.f('fk_approval_decisions_request_id_approval_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['approval_steps.id'], name=op.f('fk_approval_decisions_step_id_approval_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stepup_proof_id'], ['stepup_proofs.id'], name=op.f('fk_approval_decisions_stepup_proof_id_stepup_proofs'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_approval_decisions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_approval_decisions_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_decisions')),
    sa.UniqueConstraint('step_id', 'user_id', name=op.f('uq_approval_decisions_step_id_user_id'))
    )
    with op.batch_alter_table('approval_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approval_decisions_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_approval_decisions_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_decisions_step_id'), ['step_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_decisions_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_decisions_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('approval_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approval_decisions_user_id'))
        batch_op.drop_index(batch_op.f('ix_approval_decisions_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_approval_decisions_step_id'))
        batch_op.drop_index(batch_op.f('ix_approval_decisions_request_id'))
        batch_op.drop_index(batch_op.f('ix_approval_decisions_public_id'))

    op.drop_table('approval_decisions')
    with op.batch_alter_table('approval_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approval_steps_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_approval_steps_request_id'))
        batch_op.drop_index(batch_op.f('ix_approval_steps_deadline'))

    op.drop_table('approval_steps')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_user_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_read_at'))
        batch_op.drop_index(batch_op.f('ix_notifications_public_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('approval_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approval_requests_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_approval_requests_subject_kind'))
        batch_op.drop_index(batch_op.f('ix_approval_requests_subject_id'))
        batch_op.drop_index(batch_op.f('ix_approval_requests_status'))
        batch_op.drop_index(batch_op.f('ix_approval_requests_requested_by_id'))
        batch_op.drop_index(batch_op.f('ix_approval_requests_public_id'))

    op.drop_table('approval_requests')
