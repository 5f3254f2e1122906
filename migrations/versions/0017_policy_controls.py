"""Policy ↔ control links: a tenant-scoped link table replaces the policies.control_refs text keys.

Existing keys become links to the control with that key in the policy's own tenant; keys that
match no control there are dropped (they never pointed at anything). Downgrade writes the linked
controls' keys back into control_refs. Plain Core statements, so it runs on SQLite and PostgreSQL.

Revision ID: 0017_policy_controls
Revises: 0014_ai_systems
Create Date: 2026-11-24 21:35:00.802234

"""
from alembic import op
import sqlalchemy as sa

import json
from datetime import datetime, timezone

import app.core.db

# revision identifiers, used by Alembic.
revision = '0017_policy_controls'
down_revision = '0014_ai_systems'
branch_labels = None
depends_on = None


_policies = sa.table('policies', sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer),
                     sa.column('control_refs', sa.JSON))
_controls = sa.table('compliance_controls', sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer),
                     sa.column('key', sa.String))
_links = sa.table('policy_controls', sa.column('policy_id', sa.Integer), sa.column('control_id', sa.Integer),
                  sa.column('tenant_id', sa.Integer), sa.column('created_at', app.core.db.UTCDateTime()))


def _refs_to_links():
    bind = op.get_bind()
    keys = {(tenant_id, key): control_id for control_id, tenant_id, key in
            bind.execute(sa.select(_controls.c.id, _controls.c.tenant_id, _controls.c.key))}
    now = datetime.now(timezone.utc)
    rows = []
    for policy_id, tenant_id, refs in bind.execute(sa.select(_policies.c.id, _policies.c.tenant_id,
                                                             _policies.c.control_refs)):
        if isinstance(refs, str):  # a driver that hands JSON back as text
            refs = json.loads(refs or "[]")
        for ref in dict.fromkeys(refs or []):
            if (control_id := keys.get((tenant_id, ref))) is not None:
                rows.append({"policy_id": policy_id, "control_id": control_id, "tenant_id": tenant_id,
                             "created_at": now})
    if rows:
        op.bulk_insert(_links, rows)


def _links_to_refs():
    bind = op.get_bind()
    refs: dict[int, list[str]] = {}
    for policy_id, key in bind.execute(sa.select(_links.c.policy_id, _controls.c.key)
                                       .join(_controls, _controls.c.id == _links.c.control_id)
                                       .order_by(_links.c.policy_id, _controls.c.key)):
        refs.setdefault(policy_id, []).append(key)
    for policy_id, keys in refs.items():
        bind.execute(_policies.update().where(_policies.c.id == policy_id).values(control_refs=keys))


def upgrade():
    op.create_table('policy_controls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('control_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['control_id'], ['compliance_controls.id'], name=op.f('fk_policy_controls_control_id_compliance_controls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_controls_policy_id_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_policy_controls_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_controls')),
    sa.UniqueConstraint('tenant_id', 'policy_id', 'control_id', name=op.f('uq_policy_controls_tenant_id_policy_id_control_id'))
    )
    with op.batch_alter_table('policy_controls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_controls_control_id'), ['control_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_controls_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_controls_tenant_id'), ['tenant_id'], unique=False)

    _refs_to_links()
    # A plain ALTER (SQLite ≥ 3.35 drops a column in place): batch mode would rebuild `policies`, and with
    # foreign keys on, dropping the old table cascades to its versions, acknowledgements and these links.
    op.drop_column('policies', 'control_refs')



def downgrade():
    op.add_column('policies', sa.Column('control_refs', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    _links_to_refs()

    with op.batch_alter_table('policy_controls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_controls_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_policy_controls_policy_id'))
        batch_op.drop_index(batch_op.f('ix_policy_controls_control_id'))

    op.drop_table('policy_controls')
