"""outbox claim lease and owner (issue 12)

A claim now has an owner (host|pid|start|token, longer than the old 64 characters) and a lease the sender
renews while it works, so a long send is never taken over and a dead sender's rows come back at once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("claimed_by", existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("claimed_by", existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)
        batch_op.drop_column("lease_until")
