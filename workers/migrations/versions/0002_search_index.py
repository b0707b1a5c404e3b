"""Full-text search over normalized text: FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("stories", sa.Column("search_text", sa.Text, nullable=False, server_default=""))
    op.create_index("ix_stories_processed", "stories", ["processed"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE stories_fts USING fts5(story_id UNINDEXED, body, tokenize='unicode61')"
        )
    else:
        op.execute("ALTER TABLE stories ADD COLUMN search_vector tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED")
        op.execute("CREATE INDEX ix_stories_search ON stories USING GIN (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE stories_fts")
    else:
        op.execute("DROP INDEX ix_stories_search")
        op.execute("ALTER TABLE stories DROP COLUMN search_vector")
    op.drop_index("ix_stories_processed", "stories")
    op.drop_column("stories", "search_text")
