"""whether the user's chat is still open: conversations.client_connected_at,
client_disconnected_at (web chat) and client_blocked_at (Telegram)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = ("client_connected_at", "client_disconnected_at", "client_blocked_at")


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
