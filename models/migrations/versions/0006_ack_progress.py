"""签收 and 进展反馈 (issue 15)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "progress_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_progress_reports_finding_id_findings")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_progress_reports_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_reports")),
    )
    with op.batch_alter_table("progress_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_progress_reports_finding_id"), ["finding_id"], unique=False)

    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ack_due_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ack_overdue_notified_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("progress_due_on", sa.Date(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_findings_acknowledged_by_id_people"), "people", ["acknowledged_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_findings_acknowledged_by_id_people"), type_="foreignkey")
        batch_op.drop_column("progress_due_on")
        batch_op.drop_column("ack_overdue_notified_on")
        batch_op.drop_column("acknowledged_by_id")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("ack_due_on")

    with op.batch_alter_table("progress_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_progress_reports_finding_id"))

    op.drop_table("progress_reports")
