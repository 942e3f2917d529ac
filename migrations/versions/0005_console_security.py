"""console security and two concurrency fixes: trusted sign-in devices, one open handoff
per conversation, one feedback per message and kind, the adviser's last action

- sign_in_failures.device: attempts from a trusted device count only against it;
- sign_in_devices: OWASP's device cookies (SHA-256 of the token);
- handoffs.adviser_active_at: the adviser inactivity timeout counts from it;
- uq_handoffs_open_conversation: a partial unique index (SQLite and PostgreSQL) so a
  conversation has at most one open handoff. Existing duplicates are ended first as
  `duplicate` (kept: the one with an adviser, else the newest);
- feedback_claims: one row per (message, kind), filled from the messages' old
  `feedback_given` markers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import json
from collections import defaultdict
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The statuses that end a handoff, as of this revision (bot/store/models.py HANDOFF_ENDED).
ENDED = ("closed", "user_left", "contact_requested", "declined", "duplicate")
OPEN = sa.text("status NOT IN ({})".format(", ".join(f"'{s}'" for s in ENDED)))

handoffs = sa.table("handoffs", sa.column("id", sa.Integer), sa.column("conversation_id", sa.String),
                    sa.column("status", sa.String), sa.column("ended_at", sa.DateTime(timezone=True)),
                    sa.column("pending_contact", sa.Text))
conversations = sa.table("conversations", sa.column("id", sa.String), sa.column("state", sa.String))
messages = sa.table("messages", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))
feedback_claims = sa.table("feedback_claims", sa.column("message_id", sa.Integer), sa.column("kind", sa.String),
                           sa.column("created_at", sa.DateTime(timezone=True)))


def _end_duplicate_handoffs(connection: sa.engine.Connection, now: datetime) -> None:
    rows = connection.execute(
        sa.select(handoffs.c.id, handoffs.c.conversation_id, handoffs.c.status)
        .where(handoffs.c.status.notin_(ENDED)).order_by(handoffs.c.id)
    ).all()
    by_conversation: dict[str, list] = defaultdict(list)
    for row in rows:
        by_conversation[row.conversation_id].append(row)
    for conversation_id, open_rows in by_conversation.items():
        if len(open_rows) < 2:
            continue
        kept = max(open_rows, key=lambda r: (r.status == "with_adviser", r.id))
        ended = [r.id for r in open_rows if r.id != kept.id]
        connection.execute(handoffs.update().where(handoffs.c.id.in_(ended))
                           .values(status="duplicate", ended_at=now, pending_contact=None))
        if kept.status in ("waiting", "with_adviser"):
            connection.execute(conversations.update().where(conversations.c.id == conversation_id)
                               .values(state=kept.status))


def _claims_from_markers(connection: sa.engine.Connection, now: datetime) -> None:
    rows = connection.execute(
        sa.select(messages.c.id, messages.c.payload)
        .where(sa.cast(messages.c.payload, sa.Text).like("%feedback_given%"))
    ).all()
    claims = []
    for message_id, payload in rows:
        if isinstance(payload, str):
            payload = json.loads(payload)
        for kind in sorted(set((payload or {}).get("feedback_given") or [])):
            claims.append({"message_id": message_id, "kind": str(kind)[:8], "created_at": now})
    if claims:
        connection.execute(feedback_claims.insert(), claims)


def upgrade() -> None:
    now = datetime.now(timezone.utc)
    connection = op.get_bind()
    op.add_column("sign_in_failures", sa.Column("device", sa.String(64), nullable=True))
    op.create_index("ix_sign_in_failures_device", "sign_in_failures", ["device"])
    op.create_table(
        "sign_in_devices",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("adviser_id", sa.Integer(), sa.ForeignKey("advisers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_devices_adviser_id", "sign_in_devices", ["adviser_id"])
    op.add_column("handoffs", sa.Column("adviser_active_at", sa.DateTime(timezone=True), nullable=True))
    _end_duplicate_handoffs(connection, now)
    op.create_index("uq_handoffs_open_conversation", "handoffs", ["conversation_id"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_table(
        "feedback_claims",
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "kind"),
    )
    _claims_from_markers(connection, now)


def downgrade() -> None:
    op.drop_table("feedback_claims")
    op.drop_index("uq_handoffs_open_conversation", table_name="handoffs")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("adviser_active_at")
    op.drop_index("ix_sign_in_devices_adviser_id", table_name="sign_in_devices")
    op.drop_table("sign_in_devices")
    op.drop_index("ix_sign_in_failures_device", table_name="sign_in_failures")
    with op.batch_alter_table("sign_in_failures") as batch:
        batch.drop_column("device")
