"""outbox, escalations, findings, ledger, run records

Revision ID: 08078c8ad926
Revises: e94580f45d6c
Create Date: 2026-11-22 00:25:48+00:00

The outbox (one row per message, unique per scope/kind/level/period, then delivery attempts),
the ladder steps fired per obligation (unique per obligation/step/cycle) and who was told,
the coordinator's findings, the append-only deduction ledger (unique entry keys; UPDATE and
DELETE refused by triggers) and the record of scheduled runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "08078c8ad926"
down_revision: str | Sequence[str] | None = "e94580f45d6c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
APPEND_ONLY_MESSAGE = "ledger entries are append-only"


def _ledger_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' "
            "USING ERRCODE = 'integrity_constraint_violation'; END; $$"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entry_no_{verb.lower()} BEFORE {verb} ON ledger_entry "
                "FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()"
            )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entry_no_{verb.lower()} BEFORE {verb} ON ledger_entry "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )


def _drop_ledger_append_only() -> None:
    for verb in ("update", "delete"):
        op.execute(
            f"DROP TRIGGER IF EXISTS ledger_entry_no_{verb}"
            + (" ON ledger_entry" if op.get_bind().dialect.name == "postgresql" else "")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_entry_append_only()")


def upgrade() -> None:
    op.create_table(
        "run_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("first_at", Timestamp, nullable=False),
        sa.Column("last_at", Timestamp, nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_record")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_run_record__kind_key")),
    )
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("rule_code", sa.String(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_finding__unit_id__unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding")),
        sa.UniqueConstraint(
            "unit_id",
            "rule_code",
            "occurred_on",
            "note",
            name=op.f("uq_finding__unit_id_rule_code_occurred_on_note"),
        ),
    )
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding__unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("recipient_name", sa.String(), nullable=False),
        sa.Column("recipient_address", sa.String(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("markdown_body", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "delivered",
                "failed",
                name="outboxstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("not_before", Timestamp, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("last_reply", sa.Text(), nullable=True),
        sa.Column("delivered_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_outbox_message__contact_id__contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message__message_id")),
        sa.UniqueConstraint(
            "scope",
            "kind",
            "level",
            "period",
            name=op.f("uq_outbox_message__scope_kind_level_period"),
        ),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_message__contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_message__status"), ["status"], unique=False)

    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_message.id"],
            name=op.f("fk_delivery_attempt__message_id__outbox_message"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempt")),
    )
    with op.batch_alter_table("delivery_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_attempt__message_id"), ["message_id"], unique=False
        )

    op.create_table(
        "outbox_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("mime", sa.String(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_message.id"],
            name=op.f("fk_outbox_attachment__message_id__outbox_message"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attachment")),
    )
    with op.batch_alter_table("outbox_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_attachment__message_id"), ["message_id"], unique=False
        )

    op.create_table(
        "escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("obligation_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("cycle", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("colour", sa.String(), nullable=True),
        sa.Column("feeds_ledger", sa.Boolean(), nullable=False),
        sa.Column("fired_on", sa.Date(), nullable=False),
        sa.Column("fired_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["obligation_id"],
            ["obligation.id"],
            name=op.f("fk_escalation__obligation_id__obligation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation")),
        sa.UniqueConstraint(
            "obligation_id", "step", "cycle", name=op.f("uq_escalation__obligation_id_step_cycle")
        ),
    )
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalation__fired_on"), ["fired_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_escalation__obligation_id"), ["obligation_id"], unique=False
        )

    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("rule_code", sa.String(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(), nullable=False),
        sa.Column("period_key", sa.String(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("item_code", sa.String(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=8, scale=3), nullable=True),
        sa.Column("range_min", sa.Numeric(precision=8, scale=3), nullable=True),
        sa.Column("range_max", sa.Numeric(precision=8, scale=3), nullable=True),
        sa.Column("refers_to_id", sa.Integer(), nullable=True),
        sa.Column("obligation_id", sa.Integer(), nullable=True),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation.id"],
            name=op.f("fk_ledger_entry__escalation_id__escalation"),
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["finding.id"], name=op.f("fk_ledger_entry__finding_id__finding")
        ),
        sa.ForeignKeyConstraint(
            ["obligation_id"],
            ["obligation.id"],
            name=op.f("fk_ledger_entry__obligation_id__obligation"),
        ),
        sa.ForeignKeyConstraint(
            ["refers_to_id"],
            ["ledger_entry.id"],
            name=op.f("fk_ledger_entry__refers_to_id__ledger_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_ledger_entry__unit_id__unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("entry_key", name=op.f("uq_ledger_entry__entry_key")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entry__period_key"), ["period_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_entry__rule_code"), ["rule_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entry__unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_notice__contact_id__contact")
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalation.id"], name=op.f("fk_notice__escalation_id__escalation")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox_message.id"], name=op.f("fk_notice__outbox_id__outbox_message")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        sa.UniqueConstraint(
            "escalation_id", "contact_id", name=op.f("uq_notice__escalation_id_contact_id")
        ),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice__contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notice__escalation_id"), ["escalation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notice__outbox_id"), ["outbox_id"], unique=False)

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("im_channel", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("im_secret_env", sa.String(), nullable=True))
    _ledger_append_only()


def downgrade() -> None:
    _drop_ledger_append_only()
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("im_secret_env")
        batch_op.drop_column("im_channel")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice__outbox_id"))
        batch_op.drop_index(batch_op.f("ix_notice__escalation_id"))
        batch_op.drop_index(batch_op.f("ix_notice__contact_id"))

    op.drop_table("notice")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry__unit_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entry__rule_code"))
        batch_op.drop_index(batch_op.f("ix_ledger_entry__period_key"))

    op.drop_table("ledger_entry")
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation__obligation_id"))
        batch_op.drop_index(batch_op.f("ix_escalation__fired_on"))

    op.drop_table("escalation")
    with op.batch_alter_table("outbox_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_attachment__message_id"))

    op.drop_table("outbox_attachment")
    with op.batch_alter_table("delivery_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempt__message_id"))

    op.drop_table("delivery_attempt")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message__status"))
        batch_op.drop_index(batch_op.f("ix_outbox_message__contact_id"))

    op.drop_table("outbox_message")
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding__unit_id"))

    op.drop_table("finding")
    op.drop_table("run_record")
