"""IM and SMS channels beside mail (issue 16)

People get a mobile number, a 企业微信 userid and a 钉钉 userid; outbox rows get a channel. Rows already
in the outbox were all mail: the server default makes them channel "mail", and their dedupe keys
(recipient|day|kind) stay as they are. Rows of other channels carry recipient|day|kind|channel, so the
one unique dedupe key refuses a second row per (recipient, day, kind, channel).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("wecom_userid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("dingtalk_userid", sa.String(length=64), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=False, server_default="mail"))
        batch_op.create_index("ix_outbox_channel_state_id", ["channel", "state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_channel_state_id")
        batch_op.drop_column("channel")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("dingtalk_userid")
        batch_op.drop_column("wecom_userid")
        batch_op.drop_column("mobile")
