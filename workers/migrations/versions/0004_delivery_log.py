"""The delivery log: each delivery, hold and refusal, one row per story (newsmon/deliverylog.py).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("desk", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(100)),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("delivery_key", sa.Text),
        sa.Column("slot", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("story_id", sa.String(40)),
        sa.Column("cluster_id", sa.String(40)),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("outlet", sa.String(200)),
        sa.Column("language", sa.String(10)),
    )
    op.create_index("ix_deliveries_at", "deliveries", ["at"])
    op.create_index("ix_deliveries_story", "deliveries", ["story_id"])
    op.create_index("ix_deliveries_desk_at", "deliveries", ["desk", "at"])


def downgrade() -> None:
    op.drop_table("deliveries")
