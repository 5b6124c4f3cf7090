"""duban's tables: units and their contacts, plans and items, events, obligations and their
extensions/pauses, and the append-only audit trail.

Every natural key that a re-run could duplicate is a UNIQUE constraint in the database — the
obligation key ``(item_id, unit_id, rule_index, period_key)`` above all — so idempotency does not
depend on application code being careful.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from db.base import Base, CreatedMixin, IdMixin
from duban.vocab import ContactRole, ObligationStatus, UnitKind

__all__ = ["ContactRole", "ObligationStatus", "UnitKind"]




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
    "Event",
    "Extension",
    "Item",
    "Obligation",
    "ObligationStatus",
    "Pause",
    "Plan",
    "Unit",
    "UnitKind",
    "event_ref",
]
