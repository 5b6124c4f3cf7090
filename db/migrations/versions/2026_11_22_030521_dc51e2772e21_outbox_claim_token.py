"""outbox claim token

Revision ID: dc51e2772e21
Revises: 08078c8ad926
Create Date: 2026-11-22 03:05:21+00:00

Several deliverers may now work side by side: a row being sent carries the lease token of the
deliverer holding it (``claim_token``) and when it was claimed, so a row left ``sending`` by a
crashed deliverer is taken over at once while a live one's rows are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "dc51e2772e21"
down_revision: str | Sequence[str] | None = "08078c8ad926"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claim_token")
