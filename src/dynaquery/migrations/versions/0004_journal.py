"""The journal of writes (who, when, where, the keys written; with a data source's journal on,
the items before and after, sealed), the data sources' journal switch, and what each run acted
on (its table), for the history.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as table:
        table.add_column(sa.Column("target", sa.String(200)))
    with op.batch_alter_table("datasources") as table:
        table.add_column(
            sa.Column("journal", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "journal",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("datasource_id", sa.String(36)),
        sa.Column("datasource_name", sa.String(200)),
        sa.Column("operation", sa.String(100), nullable=False),
        sa.Column("tables", sa.Text, nullable=False),
        sa.Column("keys", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("images", sa.Text),
        sa.Column("undone_at", sa.String(32)),
    )
    op.create_index("ix_journal_run_id", "journal", ["run_id"])
    op.create_index("ix_journal_at", "journal", ["at"])


def downgrade() -> None:
    op.drop_table("journal")
    with op.batch_alter_table("datasources") as table:
        table.drop_column("journal")
    with op.batch_alter_table("runs") as table:
        table.drop_column("target")
