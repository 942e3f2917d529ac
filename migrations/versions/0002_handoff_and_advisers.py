"""advisers, console sessions, handoffs and contact requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advisers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("ui_language", sa.String(8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "adviser_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("adviser_id", sa.Integer(), sa.ForeignKey("advisers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_adviser_sessions_adviser_id", "adviser_sessions", ["adviser_id"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_failures_username", "sign_in_failures", ["username"])
    op.create_index("ix_sign_in_failures_client", "sign_in_failures", ["client"])
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adviser_id", sa.Integer(), sa.ForeignKey("advisers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("outcome_topic", sa.String(64), nullable=True),
        sa.Column("told_position", sa.Integer(), nullable=True),
        sa.Column("pending_contact", sa.Text(), nullable=True),
    )
    op.create_index("ix_handoffs_conversation_id", "handoffs", ["conversation_id"])
    op.create_index("ix_handoffs_adviser_id", "handoffs", ["adviser_id"])
    op.create_index("ix_handoffs_status_requested_at", "handoffs", ["status", "requested_at"])
    op.create_table(
        "contact_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("handoff_id", sa.Integer(), sa.ForeignKey("handoffs.id", ondelete="SET NULL"), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("contact_type", sa.String(8), nullable=False),
        sa.Column("contact", sa.String(320), nullable=False),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.Integer(), sa.ForeignKey("advisers.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_contact_requests_conversation_id", "contact_requests", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("contact_requests")
    op.drop_table("handoffs")
    op.drop_table("sign_in_failures")
    op.drop_table("adviser_sessions")
    op.drop_table("advisers")
