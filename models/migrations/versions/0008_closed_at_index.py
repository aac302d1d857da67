"""An index on findings.closed_at, for closed findings only

The daily run's 回头看 query (closed by the form, not yet re-checked or asked, closed within the last weeks)
and the weekly digest's "closed this week" read closures by time. Without an index both went through the
state index, then every closed row: most of a county's findings, more each year. Partial, so the open
findings a big import adds (closed_at empty) cost it nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("closed_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_findings_closed_at", "findings", ["closed_at"], unique=False,
                    sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_findings_closed_at", table_name="findings")
