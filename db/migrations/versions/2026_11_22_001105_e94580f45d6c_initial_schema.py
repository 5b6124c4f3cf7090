"""initial schema: units, contacts, plans, items, events, obligations, extensions, pauses, audit

Revision ID: e94580f45d6c
Revises:
Create Date: 2026-11-22 00:11:05+00:00

Types are frozen here (no imports from ``db``): ``db.base.UTCDateTime`` is stored as
``DateTime(timezone=True)`` and StrEnums as VARCHAR(32) + CHECK. The audit_entry table gets
triggers that refuse UPDATE and DELETE, so the trail is append-only even outside the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e94580f45d6c"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", Timestamp, nullable=False)


APPEND_ONLY_MESSAGE = "audit entries are append-only"

POSTGRES_TRIGGER_FUNCTION = f"""
CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
END;
$$
"""


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_TRIGGER_FUNCTION)
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
                "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
            )
    else:  # sqlite
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )


def _drop_append_only_triggers() -> None:
    for verb in ("update", "delete"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS audit_entry_no_{verb} ON audit_entry")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS audit_entry_no_{verb}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        _id(),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("entity", sa.String(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index(op.f("ix_audit_entry__at"), "audit_entry", ["at"])
    op.create_index(
        op.f("ix_audit_entry__entity_entity_id"), "audit_entry", ["entity", "entity_id"]
    )
    _create_append_only_triggers()

    op.create_table(
        "plan",
        _id(),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("issued", sa.Date(), nullable=False),
        sa.Column("source_document", sa.String(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
        sa.UniqueConstraint("year", "issuer", name=op.f("uq_plan__year_issuer")),
    )

    op.create_table(
        "unit",
        _id(),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column(
            "kind",
            _enum("unitkind", "county_gov", "city_dept", "affiliated", "zone", "other"),
            nullable=False,
        ),
        sa.Column("region", sa.String(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(["parent_id"], ["unit.id"], name=op.f("fk_unit__parent_id__unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
        sa.UniqueConstraint("code", name=op.f("uq_unit__code")),
        sa.UniqueConstraint("name", name=op.f("uq_unit__name")),
    )

    op.create_table(
        "contact",
        _id(),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", _enum("contactrole", "liaison", "leader", "coordinator"), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("im_webhook", sa.String(), nullable=True),
        sa.Column("active_from", sa.Date(), nullable=True),
        sa.Column("active_to", sa.Date(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_contact__unit_id__unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint("unit_id", "role", "name", name=op.f("uq_contact__unit_id_role_name")),
    )
    op.create_index(op.f("ix_contact__unit_id"), "contact", ["unit_id"])

    op.create_table(
        "item",
        _id(),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lead_units", sa.JSON(), nullable=False),
        sa.Column("responsible_units", sa.JSON(), nullable=False),
        sa.Column("time_limits", sa.JSON(), nullable=False),
        sa.Column("review", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], name=op.f("fk_item__plan_id__plan")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item")),
        sa.UniqueConstraint("code", name=op.f("uq_item__code")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_item__plan_id_number")),
    )
    op.create_index(op.f("ix_item__plan_id"), "item", ["plan_id"])

    op.create_table(
        "event",
        _id(),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("doc_number", sa.String(), nullable=True),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_event__item_id__item")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_event__unit_id__unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint(
            "item_id",
            "unit_id",
            "kind",
            "ref",
            "occurred_at",
            name=op.f("uq_event__item_id_unit_id_kind_ref_occurred_at"),
        ),
    )
    op.create_index(op.f("ix_event__unit_id"), "event", ["unit_id"])

    op.create_table(
        "obligation",
        _id(),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("rule_index", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_at", Timestamp, nullable=True),
        sa.Column("original_due_at", Timestamp, nullable=True),
        sa.Column(
            "status",
            _enum("obligationstatus", "open", "done", "withdrawn", "pending_calendar"),
            nullable=False,
        ),
        sa.Column("pending_reason", sa.String(), nullable=True),
        sa.Column("done_at", Timestamp, nullable=True),
        sa.Column("evidence_url", sa.String(), nullable=True),
        sa.Column("evidence_doc", sa.String(), nullable=True),
        sa.Column("evidence_note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(), nullable=True),
        sa.Column("late_working_days", sa.Integer(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_obligation__event_id__event")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_obligation__item_id__item")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_obligation__unit_id__unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_obligation")),
        sa.UniqueConstraint(
            "item_id",
            "unit_id",
            "rule_index",
            "period_key",
            name=op.f("uq_obligation__item_id_unit_id_rule_index_period_key"),
        ),
    )
    op.create_index(op.f("ix_obligation__due_at"), "obligation", ["due_at"])
    op.create_index(op.f("ix_obligation__status"), "obligation", ["status"])
    op.create_index(op.f("ix_obligation__unit_id"), "obligation", ["unit_id"])

    op.create_table(
        "extension",
        _id(),
        sa.Column("obligation_id", sa.Integer(), nullable=False),
        sa.Column("new_due_at", Timestamp, nullable=False),
        sa.Column("new_due_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.String(), nullable=False),
        sa.Column("approved_at", Timestamp, nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["obligation_id"],
            ["obligation.id"],
            name=op.f("fk_extension__obligation_id__obligation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension")),
        sa.UniqueConstraint(
            "obligation_id", "new_due_at", name=op.f("uq_extension__obligation_id_new_due_at")
        ),
    )
    op.create_index(op.f("ix_extension__obligation_id"), "extension", ["obligation_id"])

    op.create_table(
        "pause",
        _id(),
        sa.Column("obligation_id", sa.Integer(), nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("ended_at", Timestamp, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paused_working_days", sa.Integer(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["obligation_id"], ["obligation.id"], name=op.f("fk_pause__obligation_id__obligation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pause")),
        sa.UniqueConstraint(
            "obligation_id", "started_at", name=op.f("uq_pause__obligation_id_started_at")
        ),
    )
    op.create_index(op.f("ix_pause__obligation_id"), "pause", ["obligation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pause__obligation_id"), table_name="pause")
    op.drop_table("pause")
    op.drop_index(op.f("ix_extension__obligation_id"), table_name="extension")
    op.drop_table("extension")
    op.drop_index(op.f("ix_obligation__unit_id"), table_name="obligation")
    op.drop_index(op.f("ix_obligation__status"), table_name="obligation")
    op.drop_index(op.f("ix_obligation__due_at"), table_name="obligation")
    op.drop_table("obligation")
    op.drop_index(op.f("ix_event__unit_id"), table_name="event")
    op.drop_table("event")
    op.drop_index(op.f("ix_item__plan_id"), table_name="item")
    op.drop_table("item")
    op.drop_index(op.f("ix_contact__unit_id"), table_name="contact")
    op.drop_table("contact")
    op.drop_table("unit")
    op.drop_table("plan")
    _drop_append_only_triggers()
    op.drop_index(op.f("ix_audit_entry__entity_entity_id"), table_name="audit_entry")
    op.drop_index(op.f("ix_audit_entry__at"), table_name="audit_entry")
    op.drop_table("audit_entry")
