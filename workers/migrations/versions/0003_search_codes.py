"""Rebuild the search index: letter–digit codes (K-1, K 1, كيه-1) are now indexed joined (k1) beside
their pieces, so a search for any spelling finds the others (`workers.search.index_text`).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from newsmon.workers.search import index_text

revision = "0003"
down_revision = "0002"

_BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    after = ""
    while True:
        rows = bind.execute(
            sa.text("SELECT id, title, text FROM stories WHERE id > :after ORDER BY id LIMIT :n"),
            {"after": after, "n": _BATCH},
        ).all()
        if not rows:
            break
        for story_id, title, body in rows:
            indexed = index_text(title, body)
            bind.execute(
                sa.text("UPDATE stories SET search_text = :t WHERE id = :id"), {"t": indexed, "id": story_id}
            )
            if sqlite:
                bind.execute(sa.text("DELETE FROM stories_fts WHERE story_id = :id"), {"id": story_id})
                bind.execute(sa.text("INSERT INTO stories_fts (story_id, body) VALUES (:id, :body)"),
                             {"id": story_id, "body": indexed})
        after = rows[-1][0]


def downgrade() -> None:
    """Nothing to undo: the older code reads the rebuilt index as it reads its own."""
