"""notifications: each user's webhook signing secret

Revision ID: 0004_webhook_secrets
Revises: 0003_firings_outbox_events

Webhook deliveries are signed (Standard Webhooks) with a secret of the rule's owner, so a
receiver can tell them from anyone else's requests; one secret per user, rotated on request.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_webhook_secrets"
down_revision: str | None = "0003_firings_outbox_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_secrets",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("webhook_secrets")
