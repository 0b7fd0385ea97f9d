"""The first workspace schema: data sources, queries, run history, settings.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasources",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "queries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("datasource_id", sa.String(36), sa.ForeignKey("datasources.id"), nullable=False),
        sa.Column("operation", sa.String(100), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("transform", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("defaults", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("duration_ms", sa.Float),
        sa.Column("query_id", sa.String(36)),
        sa.Column("query_name", sa.String(200)),
        sa.Column("datasource_id", sa.String(36)),
        sa.Column("datasource_name", sa.String(200)),
        sa.Column("operation", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("item_count", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("origin", sa.String(16)),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_index("ix_runs_started_at", "runs")
    op.drop_table("runs")
    op.drop_table("queries")
    op.drop_table("datasources")
