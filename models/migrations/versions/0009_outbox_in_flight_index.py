"""An index on the outbox's rows being sent: their owner and channel

Every claim asks who owns the rows of its channel being sent (a lost sender's rows are taken over, a live
one's never) and every lease renewal finds its own. Those rows are a handful, but the outbox keeps every
letter ever sent: when SQLite's sampled statistics made the `sending` state look common, it read the whole
history, messages included, for a handful of owners (tests/test_outbox_plans.py). Partial, so the letters
sent and queued cost it nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("state = 'sending'")


def upgrade() -> None:
    op.create_index("ix_outbox_in_flight", "outbox", ["claimed_by", "channel"], unique=False,
                    sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_outbox_in_flight", table_name="outbox")
