"""The history's run ids and item counts hold 8 bytes on PostgreSQL (4 bytes ran out at two
billion runs, or a scan of more items than that). SQLite's INTEGER is already 8 bytes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("runs", "id", type_=sa.BigInteger, existing_type=sa.Integer)
    op.alter_column("runs", "item_count", type_=sa.BigInteger, existing_type=sa.Integer)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE IF EXISTS runs_id_seq AS BIGINT")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("runs", "item_count", type_=sa.Integer, existing_type=sa.BigInteger)
    op.alter_column("runs", "id", type_=sa.Integer, existing_type=sa.BigInteger)
