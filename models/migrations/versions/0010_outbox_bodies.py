"""The outbox's messages in a table of their own, written once

A row's state changes at every claim and every mark (owner, lease, attempts, sent time); SQLite rewrites a
whole row when its size changes, so each claim and mark copied the row's letter - 17 KiB on average on a
first day - into the WAL and, at the checkpoint, back into the database. The bodies move to
`outbox_bodies` (id = the outbox row's, deleted with it), which nothing updates.

The bodies are set aside in a plain table first and moved in after the column is gone: on SQLite dropping a
column rebuilds the table (drop and rename), and with foreign keys on, dropping a parent table deletes its
children through ON DELETE CASCADE. On a 100,000-finding county after its first day (11,011 letters, 195 MiB)
it took 4.4 s on SQLite; the file keeps the freed pages for later letters (VACUUM returns them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("outbox_bodies_moving", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("message", sa.LargeBinary(), nullable=False))
    op.execute("INSERT INTO outbox_bodies_moving (id, message) SELECT id, message FROM outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("message")
    op.create_table(
        "outbox_bodies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["id"], ["outbox.id"], name=op.f("fk_outbox_bodies_id_outbox"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_bodies")),
    )
    op.execute("INSERT INTO outbox_bodies (id, message) SELECT id, message FROM outbox_bodies_moving")
    op.drop_table("outbox_bodies_moving")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE outbox SET message = (SELECT b.message FROM outbox_bodies b WHERE b.id = outbox.id)")
    op.drop_table("outbox_bodies")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("message", existing_type=sa.LargeBinary(), nullable=False)
