"""revocation: people.valid_after, API tokens (issue 13)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # reserved so parallel work keeps one linear chain; filled by the issue it names


def downgrade() -> None:
    pass
