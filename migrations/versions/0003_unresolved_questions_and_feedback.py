"""unresolved questions (work package 6 log and NLU inbox) and feedback

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unresolved_questions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_key", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("intents", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detected_language", sa.String(16), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("trigger", sa.String(20), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("outcome_topic", sa.String(64), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("label_status", sa.String(16), nullable=False),
        sa.Column("label_intent", sa.String(64), nullable=True),
        sa.Column("labelled_by", sa.String(64), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_unresolved_questions_created_at", "unresolved_questions", ["created_at"])
    op.create_index("ix_unresolved_questions_conversation_key", "unresolved_questions",
                    ["conversation_key", "created_at"])
    op.create_index("ix_unresolved_questions_label_status", "unresolved_questions", ["label_status", "created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_key", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_conversation_key", "feedback", ["conversation_key"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("unresolved_questions")
