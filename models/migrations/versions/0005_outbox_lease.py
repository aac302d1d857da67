"""outbox claim lease and owner (issue 12)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # reserved so parallel work keeps one linear chain; filled by the issue it names


def downgrade() -> None:
    pass
