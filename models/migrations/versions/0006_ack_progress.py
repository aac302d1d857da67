"""签收 and 进展反馈 (issue 15)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # reserved so parallel work keeps one linear chain; filled by the issue it names


def downgrade() -> None:
    pass
