"""Events: each story's event (the reports of one happening across languages) and the evidence that put
it there (workers/events.py).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("event_id", sa.String(40)))
        batch.add_column(sa.Column("event_evidence", sa.JSON))
    op.create_index("ix_stories_event", "stories", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_stories_event", "stories")
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("event_evidence")
        batch.drop_column("event_id")
