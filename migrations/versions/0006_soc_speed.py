"""soc speed: queue indexes in page order, alert tallies and daily volume

Revision ID: 0006_soc_speed
Revises: 0004_group_roles
Create Date: 2026-11-24 18:37:17.266597

"""
from alembic import op
import sqlalchemy as sa

import app.core.db


# revision identifiers, used by Alembic.
revision = '0006_soc_speed'
down_revision = '0011_compliance'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_daily_volume',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_alert_daily_volume_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_daily_volume')),
    sa.UniqueConstraint('tenant_id', 'day', name=op.f('uq_alert_daily_volume_tenant_id_day'))
    )
    with op.batch_alter_table('alert_daily_volume', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_daily_volume_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('alert_tallies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('new', 'acknowledged', 'in_progress', 'closed', name='alertstatus', native_enum=False, length=20), nullable=False),
    sa.Column('severity', sa.Enum('info', 'low', 'medium', 'high', 'critical', name='alertseverity', native_enum=False, length=20), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_alert_tallies_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_tallies')),
    sa.UniqueConstraint('tenant_id', 'status', 'severity', 'source', name=op.f('uq_alert_tallies_tenant_id_status_severity_source'))
    )
    with op.batch_alter_table('alert_tallies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_tallies_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('alert_observables', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_observables_alert_id'))
        batch_op.drop_index(batch_op.f('ix_alert_observables_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_alert_observables_lookup'))
        batch_op.create_index('ix_alert_observables_lookup', ['tenant_id', 'value', 'kind'], unique=False)
        batch_op.create_index('ix_alert_observables_alert', ['alert_id', 'tenant_id'], unique=False)

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_queue_severity_rank'))
        batch_op.drop_index(batch_op.f('ix_alerts_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_queue_assignee'))
        batch_op.create_index('ix_alerts_queue_assignee', ['tenant_id', 'assignee_id', 'last_seen', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_alerts_queue_last_seen'))
        batch_op.create_index('ix_alerts_queue_last_seen', ['tenant_id', 'last_seen', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_alerts_queue_severity'))
        batch_op.create_index('ix_alerts_queue_severity', ['tenant_id', 'severity_rank', 'last_seen', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_alerts_queue_source'))
        batch_op.create_index('ix_alerts_queue_source', ['tenant_id', 'source', 'last_seen', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_alerts_queue_status'))
        batch_op.create_index('ix_alerts_queue_status', ['tenant_id', 'status', 'last_seen', 'id'], unique=False)

    with op.batch_alter_table('case_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_case_alerts_case', ['tenant_id', 'case_id'], unique=False)

    # Backfill the rollups from the alerts already stored (app/soc/tallies.py keeps them from now on).
    op.execute("INSERT INTO alert_tallies (tenant_id, status, severity, source, count) "
               "SELECT tenant_id, status, severity, source, count(*) FROM alerts "
               "GROUP BY tenant_id, status, severity, source")
    day = ("date(first_seen AT TIME ZONE 'UTC')" if op.get_bind().dialect.name == "postgresql"
           else "date(first_seen)")
    op.execute(f"INSERT INTO alert_daily_volume (tenant_id, day, count) "
               f"SELECT tenant_id, {day}, count(*) FROM alerts GROUP BY tenant_id, {day}")


def downgrade():
    with op.batch_alter_table('case_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_case_alerts_case')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_queue_status')
        batch_op.create_index(batch_op.f('ix_alerts_queue_status'), ['tenant_id', 'status', 'id'], unique=False)
        batch_op.drop_index('ix_alerts_queue_source')
        batch_op.create_index(batch_op.f('ix_alerts_queue_source'), ['tenant_id', 'source', 'id'], unique=False)
        batch_op.drop_index('ix_alerts_queue_severity')
        batch_op.create_index(batch_op.f('ix_alerts_queue_severity'), ['tenant_id', 'severity', 'id'], unique=False)
        batch_op.drop_index('ix_alerts_queue_last_seen')
        batch_op.create_index(batch_op.f('ix_alerts_queue_last_seen'), ['tenant_id', 'last_seen'], unique=False)
        batch_op.drop_index('ix_alerts_queue_assignee')
        batch_op.create_index(batch_op.f('ix_alerts_queue_assignee'), ['tenant_id', 'assignee_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_queue_severity_rank'), ['tenant_id', 'severity_rank', 'id'], unique=False)

    with op.batch_alter_table('alert_observables', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_observables_alert')
        batch_op.drop_index('ix_alert_observables_lookup')
        batch_op.create_index(batch_op.f('ix_alert_observables_lookup'), ['tenant_id', 'kind', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_observables_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_observables_alert_id'), ['alert_id'], unique=False)

    with op.batch_alter_table('alert_tallies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_tallies_tenant_id'))

    op.drop_table('alert_tallies')
    with op.batch_alter_table('alert_daily_volume', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_daily_volume_tenant_id'))

    op.drop_table('alert_daily_volume')
