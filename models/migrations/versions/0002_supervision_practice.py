"""supervision practice

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("finding_ids", sa.JSON(), nullable=False),
        sa.Column("reply_by", sa.Date(), nullable=True),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_notices_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("unit_id", "issued_on", name=op.f("uq_notices_unit_id")),
        sa.UniqueConstraint("year", "number", name=op.f("uq_notices_year")),
    )
    op.create_table(
        "extension_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous_due", sa.Date(), nullable=False),
        sa.Column("proposed_due", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_due", sa.Date(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["people.id"], name=op.f("fk_extension_requests_decided_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_extension_requests_finding_id_findings")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["people.id"], name=op.f("fk_extension_requests_requested_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension_requests")),
    )
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_extension_requests_finding_id"), ["finding_id"], unique=False)

    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handover_pending", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("head_signed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("head_signed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recheck_notified_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("rechecked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_foreign_key(
            batch_op.f("fk_findings_head_signed_by_id_people"), "people", ["head_signed_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_findings_head_signed_by_id_people"), type_="foreignkey")
        batch_op.drop_column("reopen_count")
        batch_op.drop_column("rechecked_at")
        batch_op.drop_column("recheck_notified_on")
        batch_op.drop_column("head_signed_by_id")
        batch_op.drop_column("head_signed_at")
        batch_op.drop_column("handover_pending")

    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extension_requests_finding_id"))

    op.drop_table("extension_requests")
    op.drop_table("notices")
