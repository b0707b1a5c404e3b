"""Stories and story clusters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("source_id", sa.String(100), nullable=False),
        sa.Column("outlet", sa.String(200), nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("canonical_url", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.Text),
        sa.Column("published", sa.DateTime(timezone=True)),
        sa.Column("fetched", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feed_guid", sa.Text),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("duplicate_of", sa.String(40)),
        sa.Column("cluster_id", sa.String(40), nullable=False),
        sa.Column("dedupe_kind", sa.String(10), nullable=False),
        sa.Column("similarity", sa.Float),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("config_version", sa.String(40), nullable=False),
    )
    op.create_index("ix_stories_published", "stories", ["published"])
    op.create_index("ix_stories_content_hash", "stories", ["content_hash"])
    op.create_index("ix_stories_cluster", "stories", ["cluster_id"])
    op.create_table(
        "clusters",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("first_story_id", sa.String(40), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False),
        sa.Column("outlets", sa.JSON, nullable=False),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("topics", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("clusters")
    op.drop_table("stories")
