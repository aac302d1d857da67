"""calendar years imported from the State Council's notices (issue 11)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # reserved so parallel work keeps one linear chain; filled by the issue it names


def downgrade() -> None:
    pass
