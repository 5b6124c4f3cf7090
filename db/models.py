"""duban's tables: units and their contacts, plans and items, events, obligations and their
extensions/pauses, and the append-only audit trail.

Every natural key that a re-run could duplicate is a UNIQUE constraint in the database — the
obligation key ``(item_id, unit_id, rule_index, period_key)`` above all — so idempotency does not
depend on application code being careful.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from db.base import Base, CreatedMixin, IdMixin
from duban.vocab import ContactRole, ObligationStatus, OutboxStatus, UnitKind


class Unit(CreatedMixin, Base):
    """A responsible body (单位). ``code`` is the stable key; names and aliases are for matching."""

    code: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(unique=True)
    aliases: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    kind: Mapped[UnitKind]
    region: Mapped[str | None]  # calendar overlay code (config/calendars/regions/<region>.yaml)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))

    parent: Mapped[Unit | None] = relationship(remote_side="Unit.id", back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")
    contacts: Mapped[list[Contact]] = relationship(back_populates="unit")

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.name}>"


class Contact(CreatedMixin, Base):
    """A person to remind or escalate to, valid between ``active_from`` and ``active_to``."""

    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    name: Mapped[str]
    role: Mapped[ContactRole]
    email: Mapped[str | None]
    phone: Mapped[str | None]
    im_webhook: Mapped[str | None]
    im_channel: Mapped[str | None]  # dingtalk | wecom | feishu
    im_secret_env: Mapped[str | None]  # name of the env var holding the robot's signing secret
    active_from: Mapped[date | None]
    active_to: Mapped[date | None]

    unit: Mapped[Unit] = relationship(back_populates="contacts")

    __table_args__ = (sa.UniqueConstraint("unit_id", "role", "name"),)

    def __repr__(self) -> str:
        return f"<Contact {self.name} ({self.role}) unit_id={self.unit_id}>"


class Plan(CreatedMixin, Base):
    """An annual work plan (工作要点) as issued, with the checksum of its source document."""

    year: Mapped[int]
    issuer: Mapped[str]
    title: Mapped[str]
    issued: Mapped[date]
    source_document: Mapped[str]
    source_sha256: Mapped[str] = mapped_column(sa.String(64))

    items: Mapped[list[Item]] = relationship(back_populates="plan", order_by="Item.position")

    __table_args__ = (sa.UniqueConstraint("year", "issuer"),)

    def __repr__(self) -> str:
        return f"<Plan {self.year} {self.issuer}>"


class Item(CreatedMixin, Base):
    """One numbered task of a plan. Withdrawn items stay (``active=False``) so history survives."""

    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan.id"), index=True)
    number: Mapped[str]  # as printed: "6", "（十九）", "三"
    code: Mapped[str] = mapped_column(unique=True)  # stable id used in tags, e.g. "2020-6"
    title: Mapped[str] = mapped_column(sa.Text)
    text: Mapped[str] = mapped_column(sa.Text)
    lead_units: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # unit codes
    responsible_units: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # unit codes
    # [{text, sentence, rule: {...}} | {text, sentence, unparsed: reason}] — see CONTRACTS.md
    time_limits: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    review: Mapped[str | None] = mapped_column(sa.Text)
    position: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)

    plan: Mapped[Plan] = relationship(back_populates="items")

    __table_args__ = (sa.UniqueConstraint("plan_id", "number"),)

    def __repr__(self) -> str:
        return f"<Item {self.code} active={self.active}>"


class Event(CreatedMixin, Base):
    """Something a unit did that starts a relative deadline (e.g. a policy document issued).

    ``ref`` is the document number when there is one, else the title: together with item, unit,
    kind and ``occurred_at`` it is unique, so recording the same event twice is a no-op.
    """

    item_id: Mapped[int] = mapped_column(sa.ForeignKey("item.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    kind: Mapped[str]  # e.g. "policy_issued"
    title: Mapped[str]
    doc_number: Mapped[str | None]
    ref: Mapped[str]
    occurred_at: Mapped[datetime]
    recorded_by: Mapped[str]
    note: Mapped[str | None] = mapped_column(sa.Text)

    item: Mapped[Item] = relationship()
    unit: Mapped[Unit] = relationship()

    __table_args__ = (sa.UniqueConstraint("item_id", "unit_id", "kind", "ref", "occurred_at"),)

    @validates("doc_number", "title")
    def _derive_ref(self, key: str, value: str | None) -> str | None:
        doc_number = value if key == "doc_number" else self.doc_number
        title = value if key == "title" else self.title
        self.ref = event_ref(doc_number=doc_number, title=title)
        return value

    def __repr__(self) -> str:
        return f"<Event {self.kind} {self.ref} unit_id={self.unit_id}>"


def event_ref(*, doc_number: str | None, title: str | None) -> str:
    """The dedup reference of an event: its document number if any, else its title."""
    return (doc_number or "").strip() or (title or "").strip()


class Obligation(CreatedMixin, Base):
    """What one unit owes for one time limit of one item in one period — the unit of reminding,
    escalation and scoring. ``(item_id, unit_id, rule_index, period_key)`` is the idempotency key.
    """

    item_id: Mapped[int] = mapped_column(sa.ForeignKey("item.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    rule_index: Mapped[int]  # index into Item.time_limits
    period_key: Mapped[str]  # "once", "2020-09", "2020-Q3", "event:<event_id>"
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("event.id"))
    due_date: Mapped[date | None]  # local (Asia/Shanghai) date; None while pending
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    original_due_at: Mapped[datetime | None]  # as computed, before any extension
    status: Mapped[ObligationStatus] = mapped_column(default=ObligationStatus.OPEN, index=True)
    pending_reason: Mapped[str | None]  # e.g. "due date pending the 2027 calendar"
    done_at: Mapped[datetime | None]
    evidence_url: Mapped[str | None]
    evidence_doc: Mapped[str | None]
    evidence_note: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by: Mapped[str | None]
    late_working_days: Mapped[int | None]
    paused: Mapped[bool] = mapped_column(default=False)

    item: Mapped[Item] = relationship()
    unit: Mapped[Unit] = relationship()
    event: Mapped[Event | None] = relationship()
    extensions: Mapped[list[Extension]] = relationship(
        back_populates="obligation", order_by="Extension.approved_at"
    )
    pauses: Mapped[list[Pause]] = relationship(
        back_populates="obligation", order_by="Pause.started_at"
    )

    __table_args__ = (sa.UniqueConstraint("item_id", "unit_id", "rule_index", "period_key"),)

    def __repr__(self) -> str:
        return (
            f"<Obligation item_id={self.item_id} unit_id={self.unit_id} rule={self.rule_index} "
            f"period={self.period_key} {self.status}>"
        )


class Extension(CreatedMixin, Base):
    """An approved deadline extension (延期); the obligation's ``due_at`` follows the latest one."""

    obligation_id: Mapped[int] = mapped_column(sa.ForeignKey("obligation.id"), index=True)
    new_due_at: Mapped[datetime]
    new_due_date: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.Text)
    approved_by: Mapped[str]
    approved_at: Mapped[datetime]

    obligation: Mapped[Obligation] = relationship(back_populates="extensions")

    __table_args__ = (sa.UniqueConstraint("obligation_id", "new_due_at"),)


class Pause(CreatedMixin, Base):
    """A stop of the clock (暂停计时); ``paused_working_days`` is filled when it ends."""

    obligation_id: Mapped[int] = mapped_column(sa.ForeignKey("obligation.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(sa.Text)
    paused_working_days: Mapped[int | None]

    obligation: Mapped[Obligation] = relationship(back_populates="pauses")

    __table_args__ = (sa.UniqueConstraint("obligation_id", "started_at"),)


class AuditEntry(IdMixin, Base):
    """Append-only trail written by the session's flush hooks (``db.audit``), never by hand.

    ``changes`` maps each field to ``[old, new]``: ``[null, v]`` on create, ``[v, null]`` on
    delete. Values are JSON-ready (dates and datetimes as ISO strings, enums as their values).
    """

    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str]
    entity: Mapped[str]  # table name
    entity_id: Mapped[int]
    action: Mapped[str]  # create / update / delete / withdraw
    changes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    __table_args__ = (sa.Index(None, "entity", "entity_id"),)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.action} {self.entity}#{self.entity_id} by {self.actor}>"


# --- outbox: every message is a row first (unique key), then delivered ----------------------


class OutboxMessage(CreatedMixin, Base):
    """One message to one recipient. Its key (scope, kind, level, period) is unique, so a
    re-run can never write a second copy; delivery attempts are recorded beside it."""

    __table_args__ = (sa.UniqueConstraint("scope", "kind", "level", "period"),)

    scope: Mapped[str]  # whose message: "contact:12", "coordinator:3", "unit:ssfj"
    kind: Mapped[str]  # digest | escalation | coordinator_digest | monthly_notice | …
    level: Mapped[str] = mapped_column(default="")  # e.g. escalation colour, or "" for digests
    period: Mapped[str]  # "2020-09-16" (a day), "2020-09" (a month)
    channel: Mapped[str] = mapped_column(default="email")  # email | dingtalk | wecom | feishu
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contact.id"), index=True)
    recipient_name: Mapped[str]
    recipient_address: Mapped[str]
    subject: Mapped[str] = mapped_column(sa.Text)
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    markdown_body: Mapped[str | None] = mapped_column(sa.Text)
    message_id: Mapped[str | None] = mapped_column(unique=True)  # from the row id
    status: Mapped[OutboxStatus] = mapped_column(default=OutboxStatus.PENDING, index=True)
    not_before: Mapped[datetime]  # earliest send time (working day, sending hours)
    attempts: Mapped[int] = mapped_column(default=0)
    last_code: Mapped[int | None]
    last_reply: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[datetime | None]
    # while ``sending``: the deliverer holding the row (a lease token, see ``db/locks.py``);
    # a row whose holder is gone is taken over by the next deliverer
    claim_token: Mapped[int | None] = mapped_column(sa.BigInteger)
    claimed_at: Mapped[datetime | None]

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        back_populates="message", order_by="OutboxAttachment.id"
    )

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.scope}/{self.kind}/{self.period} {self.status}>"


class OutboxAttachment(IdMixin, Base):
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox_message.id"), index=True)
    filename: Mapped[str]
    mime: Mapped[str]
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)

    message: Mapped[OutboxMessage] = relationship(back_populates="attachments")


class DeliveryAttempt(IdMixin, Base):
    """One try to deliver one outbox message, with the server's answer."""

    message_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox_message.id"), index=True)
    at: Mapped[datetime]
    status: Mapped[str]  # delivered | transient_failure | permanent_failure
    code: Mapped[int | None]
    reply: Mapped[str | None] = mapped_column(sa.Text)


# --- the engine: ladder steps fired, who was told, findings, the ledger, run records ---------


class Escalation(IdMixin, Base):
    """A ladder step that fired for an obligation. Unique per (obligation, step, cycle) —
    the cycle is the due date the step was counted from, so an approved extension starts a
    new cycle but a re-run never fires a step twice."""

    __table_args__ = (sa.UniqueConstraint("obligation_id", "step", "cycle"),)

    obligation_id: Mapped[int] = mapped_column(sa.ForeignKey("obligation.id"), index=True)
    step: Mapped[str]  # "-3", "0", "+1", "+5"
    cycle: Mapped[date]  # the due date it was counted from
    kind: Mapped[str]  # upcoming | due_today | overdue | escalation
    colour: Mapped[str | None]  # blue | yellow | red
    feeds_ledger: Mapped[bool] = mapped_column(default=False)
    fired_on: Mapped[date] = mapped_column(index=True)  # local working day it fired
    fired_at: Mapped[datetime]

    obligation: Mapped[Obligation] = relationship()


class Notice(IdMixin, Base):
    """That a contact must be (or was) told about an escalation: grouped into one digest per
    contact per run; ``outbox_id`` is set once the digest row is written."""

    __table_args__ = (sa.UniqueConstraint("escalation_id", "contact_id"),)

    escalation_id: Mapped[int] = mapped_column(sa.ForeignKey("escalation.id"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contact.id"), index=True)
    role: Mapped[str] = mapped_column(default="to")  # to | cc
    outbox_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_message.id"), index=True)

    escalation: Mapped[Escalation] = relationship()
    contact: Mapped[Contact] = relationship()


class Finding(CreatedMixin, Base):
    """A fact the coordinator records by hand for a scoring rule (e.g. a failed 拨测 call)."""

    __table_args__ = (sa.UniqueConstraint("unit_id", "rule_code", "occurred_on", "note"),)

    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    rule_code: Mapped[str]
    occurred_on: Mapped[date]
    count: Mapped[int] = mapped_column(default=1)
    note: Mapped[str] = mapped_column(default="")
    recorded_by: Mapped[str]

    unit: Mapped[Unit] = relationship()


class LedgerEntry(CreatedMixin, Base):
    """One line of the deduction ledger — append-only.

    ``entry_key`` is unique: ``rule|subject|period`` for a scored fact (so re-running a month
    adds nothing), ``decide:<id>`` for the coordinator's decision on a discretionary line,
    ``reverse:<id>`` for a correction that cancels a line while keeping its history.
    """

    entry_key: Mapped[str] = mapped_column(unique=True)
    kind: Mapped[str]  # scored | pending | decision | reversal
    rule_code: Mapped[str] = mapped_column(index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    subject_key: Mapped[str]
    period_key: Mapped[str] = mapped_column(index=True)
    occurred_on: Mapped[date | None]  # the day the scored fact happened (period filtering)
    item_code: Mapped[str | None]
    amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 3))
    range_min: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 3))
    range_max: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 3))
    refers_to_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_entry.id"))
    obligation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("obligation.id"))
    escalation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("escalation.id"))
    finding_id: Mapped[int | None] = mapped_column(sa.ForeignKey("finding.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    recorded_by: Mapped[str]
    recorded_at: Mapped[datetime]

    unit: Mapped[Unit] = relationship()


class RunRecord(IdMixin, Base):
    """That a scheduled run happened (or skipped), per kind and key (a day, a month)."""

    __table_args__ = (sa.UniqueConstraint("kind", "key"),)

    kind: Mapped[str]  # daily | monthly | assessment
    key: Mapped[str]  # "2020-09-16", "2020-09", "2020-H1"
    outcome: Mapped[str]  # done | skipped_rest_day | skipped_not_first_working_day
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    runs: Mapped[int] = mapped_column(default=1)
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


AUDITED_MODELS: tuple[type[Base], ...] = (
    Unit,
    Contact,
    Plan,
    Item,
    Event,
    Obligation,
    Extension,
    Pause,
)

__all__ = [
    "AUDITED_MODELS",
    "AuditEntry",
    "Base",
    "Contact",
    "ContactRole",
    "DeliveryAttempt",
    "Escalation",
    "Event",
    "Extension",
    "Finding",
    "Item",
    "LedgerEntry",
    "Notice",
    "Obligation",
    "ObligationStatus",
    "OutboxAttachment",
    "OutboxMessage",
    "OutboxStatus",
    "Pause",
    "Plan",
    "RunRecord",
    "Unit",
    "UnitKind",
    "event_ref",
]
