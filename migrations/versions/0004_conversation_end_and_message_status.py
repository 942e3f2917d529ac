"""conversations.ended_at ("end and forget" in the widget) and an index for finding
messages a crash left 'received'

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_messages_status_created_at", "messages", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_status_created_at", table_name="messages")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("ended_at")
