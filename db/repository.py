"""Data access: small keyword-only functions that take a session, flush, and never commit.

The caller owns the transaction (``db.session.session_scope``), so one step of a flow can write
several rows atomically. No business rules live here: deadlines, working-day counts and
lateness are computed elsewhere (``deadlines/``) and passed in. What *is* enforced here is
idempotency — upserts find rows by their natural keys (which are also UNIQUE in the database),
and a done obligation is never rewritten by a re-run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.base import Base, ensure_aware
from db.models import (
    AuditEntry,
    Contact,
    ContactRole,
    Event,
    Extension,
    Item,
    Obligation,
    ObligationStatus,
    Pause,
    Plan,
    Unit,
    UnitKind,
    event_ref,
)


class RepositoryError(ValueError):
    """A request the data layer refuses (e.g. completing a withdrawn obligation)."""


def _set_changed(obj: Base, values: dict[str, Any]) -> bool:
    """Assign only the values that differ, so unchanged re-runs write no UPDATE (and no audit)."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _aware(value: datetime | None, what: str) -> datetime | None:
    return None if value is None else ensure_aware(value, what=what)


# --- units and contacts ---------------------------------------------------------------------


def get_unit_by_code(session: Session, *, code: str) -> Unit | None:
    return session.scalars(sa.select(Unit).where(Unit.code == code)).one_or_none()


def find_unit_by_name_or_alias(session: Session, *, name: str) -> Unit | None:
    """Match a unit by exact code, name or alias (whitespace-trimmed).

    Aliases live in a JSON list; the unit table is small (hundreds of rows), so matching them in
    Python keeps this identical on SQLite and PostgreSQL.
    """
    wanted = name.strip()
    if not wanted:
        return None
    exact = session.scalars(
        sa.select(Unit).where(sa.or_(Unit.name == wanted, Unit.code == wanted))
    ).first()
    if exact is not None:
        return exact
    for unit in session.scalars(sa.select(Unit).order_by(Unit.id)):
        if wanted in (alias.strip() for alias in unit.aliases or []):
            return unit
    return None


def upsert_unit(
    session: Session,
    *,
    code: str,
    name: str,
    kind: UnitKind | str,
    aliases: Sequence[str] = (),
    region: str | None = None,
    parent: Unit | None = None,
) -> Unit:
    """Create or update the unit with ``code``."""
    unit = _apply_unit(session, get_unit_by_code(session, code=code), code=code, name=name,
                       kind=kind, aliases=aliases, region=region, parent=parent)
    session.flush()
    return unit


def upsert_units(session: Session, units: Sequence[dict[str, Any]]) -> list[Unit]:
    """:func:`upsert_unit` for many units (dicts of its keyword arguments), in order: the
    existing units are read in one query and everything is written in one flush."""
    known = {u.code: u for u in session.scalars(sa.select(Unit))}
    out = []
    for values in units:
        unit = _apply_unit(session, known.get(values["code"]), **values)
        known[unit.code] = unit
        out.append(unit)
    session.flush()
    return out


def _apply_unit(
    session: Session,
    unit: Unit | None,
    *,
    code: str,
    name: str,
    kind: UnitKind | str,
    aliases: Sequence[str] = (),
    region: str | None = None,
    parent: Unit | None = None,
) -> Unit:
    values: dict[str, Any] = {
        "name": name,
        "kind": UnitKind(kind),
        "aliases": list(aliases),
        "region": region,
        "parent_id": parent.id if parent is not None else None,
    }
    if unit is None:
        unit = Unit(code=code, **values)
        session.add(unit)
    else:
        _set_changed(unit, values)
    return unit


def list_units(
    session: Session, *, kind: UnitKind | str | None = None, region: str | None = None
) -> list[Unit]:
    stmt = sa.select(Unit).order_by(Unit.code)
    if kind is not None:
        stmt = stmt.where(Unit.kind == UnitKind(kind))
    if region is not None:
        stmt = stmt.where(Unit.region == region)
    return list(session.scalars(stmt))


def upsert_contact(
    session: Session,
    *,
    unit: Unit,
    name: str,
    role: ContactRole | str,
    email: str | None = None,
    phone: str | None = None,
    im_webhook: str | None = None,
    im_channel: str | None = None,
    im_secret_env: str | None = None,
    active_from: date | None = None,
    active_to: date | None = None,
) -> Contact:
    """Create or update the contact keyed by (unit, role, name)."""
    role = ContactRole(role)
    contact = session.scalars(
        sa.select(Contact).where(
            Contact.unit_id == unit.id, Contact.role == role, Contact.name == name
        )
    ).one_or_none()
    contact = _apply_contact(session, contact, unit=unit, name=name, role=role, email=email,
                             phone=phone, im_webhook=im_webhook, im_channel=im_channel,
                             im_secret_env=im_secret_env, active_from=active_from,
                             active_to=active_to)
    session.flush()
    return contact


def upsert_contacts(session: Session, contacts: Sequence[dict[str, Any]]) -> list[Contact]:
    """:func:`upsert_contact` for many contacts (dicts of its keyword arguments), in order: the
    units' existing contacts are read in one query per 5,000 units, written in one flush."""
    unit_ids = sorted({c["unit"].id for c in contacts})
    known: dict[tuple[int, ContactRole, str], Contact] = {}
    for start in range(0, len(unit_ids), 5000):
        for contact in session.scalars(
            sa.select(Contact).where(Contact.unit_id.in_(unit_ids[start:start + 5000]))
        ):
            known[(contact.unit_id, contact.role, contact.name)] = contact
    out = []
    for values in contacts:
        role = ContactRole(values["role"])
        key = (values["unit"].id, role, values["name"])
        contact = _apply_contact(session, known.get(key), **{**values, "role": role})
        known[key] = contact
        out.append(contact)
    session.flush()
    return out


def _apply_contact(
    session: Session,
    contact: Contact | None,
    *,
    unit: Unit,
    name: str,
    role: ContactRole,
    email: str | None = None,
    phone: str | None = None,
    im_webhook: str | None = None,
    im_channel: str | None = None,
    im_secret_env: str | None = None,
    active_from: date | None = None,
    active_to: date | None = None,
) -> Contact:
    if active_from is not None and active_to is not None and active_to < active_from:
        raise RepositoryError(
            f"contact {name}: active_to {active_to} is before active_from {active_from}"
        )
    values: dict[str, Any] = {
        "email": email,
        "phone": phone,
        "im_webhook": im_webhook,
        "im_channel": im_channel,
        "im_secret_env": im_secret_env,
        "active_from": active_from,
        "active_to": active_to,
    }
    if contact is None:
        contact = Contact(unit_id=unit.id, name=name, role=role, **values)
        session.add(contact)
    else:
        _set_changed(contact, values)
    return contact


def list_contacts(
    session: Session,
    *,
    unit: Unit | None = None,
    role: ContactRole | str | None = None,
    on: date | None = None,
) -> list[Contact]:
    """Contacts, optionally of one unit/role, optionally only those active on date ``on``
    (``active_from``/``active_to`` are inclusive; a missing bound is open)."""
    stmt = sa.select(Contact).order_by(Contact.unit_id, Contact.role, Contact.name)
    if unit is not None:
        stmt = stmt.where(Contact.unit_id == unit.id)
    if role is not None:
        stmt = stmt.where(Contact.role == ContactRole(role))
    if on is not None:
        stmt = stmt.where(
            sa.or_(Contact.active_from.is_(None), Contact.active_from <= on),
            sa.or_(Contact.active_to.is_(None), Contact.active_to >= on),
        )
    return list(session.scalars(stmt))


# --- plans and items ------------------------------------------------------------------------


def get_plan(session: Session, *, year: int, issuer: str) -> Plan | None:
    return session.scalars(
        sa.select(Plan).where(Plan.year == year, Plan.issuer == issuer)
    ).one_or_none()


def upsert_plan(
    session: Session,
    *,
    year: int,
    issuer: str,
    title: str,
    issued: date,
    source_document: str,
    source_sha256: str,
) -> Plan:
    """Create or update the plan keyed by (year, issuer)."""
    values: dict[str, Any] = {
        "title": title,
        "issued": issued,
        "source_document": source_document,
        "source_sha256": source_sha256,
    }
    plan = get_plan(session, year=year, issuer=issuer)
    if plan is None:
        plan = Plan(year=year, issuer=issuer, **values)
        session.add(plan)
    else:
        _set_changed(plan, values)
    session.flush()
    return plan


def upsert_item(
    session: Session,
    *,
    plan: Plan,
    number: str,
    code: str,
    title: str,
    text: str,
    lead_units: Sequence[str],
    responsible_units: Sequence[str],
    time_limits: Sequence[dict[str, Any]],
    position: int,
    review: str | None = None,
    active: bool = True,
) -> Item:
    """Create or update the item keyed by (plan, number). ``active=False`` withdraws it."""
    values: dict[str, Any] = {
        "code": code,
        "title": title,
        "text": text,
        "lead_units": list(lead_units),
        "responsible_units": list(responsible_units),
        "time_limits": [dict(limit) for limit in time_limits],
        "position": position,
        "review": review,
        "active": active,
    }
    item = session.scalars(
        sa.select(Item).where(Item.plan_id == plan.id, Item.number == number)
    ).one_or_none()
    if item is None:
        item = Item(plan_id=plan.id, number=number, **values)
        session.add(item)
    else:
        _set_changed(item, values)
    session.flush()
    return item


def get_item_by_code(session: Session, *, code: str) -> Item | None:
    return session.scalars(sa.select(Item).where(Item.code == code)).one_or_none()


def list_items(session: Session, *, plan: Plan, active_only: bool = True) -> list[Item]:
    """The plan's items in printed order."""
    stmt = sa.select(Item).where(Item.plan_id == plan.id).order_by(Item.position, Item.id)
    if active_only:
        stmt = stmt.where(Item.active.is_(True))
    return list(session.scalars(stmt))


# --- events ---------------------------------------------------------------------------------


def add_event(
    session: Session,
    *,
    item: Item,
    unit: Unit,
    kind: str,
    title: str,
    occurred_at: datetime,
    recorded_by: str,
    doc_number: str | None = None,
    note: str | None = None,
) -> Event:
    """Record an event; recording the same one again returns the existing row unchanged.

    "The same" = same item, unit, kind, reference (document number, else title) and instant.
    """
    occurred_at = ensure_aware(occurred_at, what="occurred_at")
    ref = event_ref(doc_number=doc_number, title=title)
    if not ref:
        raise RepositoryError("an event needs a document number or a title")
    existing = session.scalars(
        sa.select(Event).where(
            Event.item_id == item.id,
            Event.unit_id == unit.id,
            Event.kind == kind,
            Event.ref == ref,
            Event.occurred_at == occurred_at,
        )
    ).one_or_none()
    if existing is not None:
        return existing
    event = Event(
        item_id=item.id,
        unit_id=unit.id,
        kind=kind,
        title=title,
        doc_number=doc_number,
        occurred_at=occurred_at,
        recorded_by=recorded_by,
        note=note,
    )
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session,
    *,
    item: Item | None = None,
    unit: Unit | None = None,
    kind: str | None = None,
) -> list[Event]:
    stmt = sa.select(Event).order_by(Event.occurred_at, Event.id)
    if item is not None:
        stmt = stmt.where(Event.item_id == item.id)
    if unit is not None:
        stmt = stmt.where(Event.unit_id == unit.id)
    if kind is not None:
        stmt = stmt.where(Event.kind == kind)
    return list(session.scalars(stmt))


# --- obligations ----------------------------------------------------------------------------


def get_obligation(
    session: Session, *, item: Item, unit: Unit, rule_index: int, period_key: str
) -> Obligation | None:
    return session.scalars(
        sa.select(Obligation).where(
            Obligation.item_id == item.id,
            Obligation.unit_id == unit.id,
            Obligation.rule_index == rule_index,
            Obligation.period_key == period_key,
        )
    ).one_or_none()


def upsert_obligation(
    session: Session,
    *,
    item: Item,
    unit: Unit,
    rule_index: int,
    period_key: str,
    due_date: date | None,
    due_at: datetime | None,
    status: ObligationStatus | str = ObligationStatus.OPEN,
    pending_reason: str | None = None,
    event: Event | None = None,
) -> Obligation:
    """Create or refresh the obligation with key (item, unit, rule_index, period_key).

    - A DONE obligation is returned untouched: a re-run never rewrites history.
    - ``due_at``/``due_date`` are the computed deadline; it is kept in ``original_due_at``.
      If an extension was granted, the obligation keeps the extended deadline.
    - ``status`` may be OPEN, PENDING_CALENDAR (with ``pending_reason``, due may be None) or
      WITHDRAWN; DONE is set only by :func:`record_completion`.
    """
    status, due_at = _checked_obligation(status, due_date, due_at, pending_reason)
    obligation = get_obligation(
        session, item=item, unit=unit, rule_index=rule_index, period_key=period_key
    )
    if obligation is not None and obligation.status is ObligationStatus.DONE:
        return obligation
    obligation = _apply_obligation(
        session, obligation, item=item, unit=unit, rule_index=rule_index,
        period_key=period_key, due_date=due_date, due_at=due_at, status=status,
        pending_reason=pending_reason, event=event,
        latest=lambda ob: _latest_extension(session, ob),
    )
    session.flush()
    return obligation


class ObligationBatch:
    """:func:`upsert_obligation` for one item's obligations by the thousand (a plan load, a
    province): the item's rows (of one unit, if given) and their latest extensions are read
    once, each :meth:`upsert` decides exactly as :func:`upsert_obligation` does, and nothing is
    written until the session flushes (:meth:`flush`)."""

    def __init__(self, session: Session, *, item: Item, unit: Unit | None = None):
        self.session, self.item = session, item
        rows = sa.select(Obligation).where(Obligation.item_id == item.id)
        extensions = (sa.select(Extension).join(Obligation, Obligation.id == Extension.obligation_id)
                      .where(Obligation.item_id == item.id)
                      .order_by(Extension.approved_at, Extension.id))
        if unit is not None:
            rows = rows.where(Obligation.unit_id == unit.id)
            extensions = extensions.where(Obligation.unit_id == unit.id)
        self.rows: dict[tuple[int, int, str], Obligation] = {
            (o.unit_id, o.rule_index, o.period_key): o for o in session.scalars(rows)
        }
        self._latest = {e.obligation_id: e for e in session.scalars(extensions)}  # last wins

    def get(self, *, unit: Unit, rule_index: int, period_key: str) -> Obligation | None:
        return self.rows.get((unit.id, rule_index, period_key))

    def upsert(
        self,
        *,
        unit: Unit,
        rule_index: int,
        period_key: str,
        due_date: date | None,
        due_at: datetime | None,
        status: ObligationStatus | str = ObligationStatus.OPEN,
        pending_reason: str | None = None,
        event: Event | None = None,
    ) -> Obligation:
        status, due_at = _checked_obligation(status, due_date, due_at, pending_reason)
        key = (unit.id, rule_index, period_key)
        obligation = self.rows.get(key)
        if obligation is not None and obligation.status is ObligationStatus.DONE:
            return obligation
        obligation = _apply_obligation(
            self.session, obligation, item=self.item, unit=unit, rule_index=rule_index,
            period_key=period_key, due_date=due_date, due_at=due_at, status=status,
            pending_reason=pending_reason, event=event,
            latest=lambda ob: self._latest.get(ob.id),
        )
        self.rows[key] = obligation
        return obligation

    def obligations(self) -> list[Obligation]:
        return list(self.rows.values())

    def flush(self) -> None:
        self.session.flush()


def _checked_obligation(
    status: ObligationStatus | str,
    due_date: date | None,
    due_at: datetime | None,
    pending_reason: str | None,
) -> tuple[ObligationStatus, datetime | None]:
    status = ObligationStatus(status)
    if status is ObligationStatus.DONE:
        raise RepositoryError("use record_completion to mark an obligation done")
    due_at = _aware(due_at, "due_at")
    if status is ObligationStatus.OPEN and (due_at is None or due_date is None):
        raise RepositoryError(
            "an open obligation needs due_date and due_at; use status pending_calendar "
            "with a pending_reason when the calendar year is missing"
        )
    if status is ObligationStatus.PENDING_CALENDAR and not pending_reason:
        raise RepositoryError("a pending_calendar obligation needs a pending_reason")
    return status, due_at


def _apply_obligation(
    session: Session,
    obligation: Obligation | None,
    *,
    item: Item,
    unit: Unit,
    rule_index: int,
    period_key: str,
    due_date: date | None,
    due_at: datetime | None,
    status: ObligationStatus,
    pending_reason: str | None,
    event: Event | None,
    latest: Any,
) -> Obligation:
    values: dict[str, Any] = {
        "status": status,
        "pending_reason": pending_reason if status is ObligationStatus.PENDING_CALENDAR else None,
        "event_id": event.id if event is not None else None,
        "original_due_at": due_at,
    }
    if obligation is None:
        obligation = Obligation(
            item_id=item.id,
            unit_id=unit.id,
            rule_index=rule_index,
            period_key=period_key,
            due_date=due_date,
            due_at=due_at,
            **values,
        )
        session.add(obligation)
    else:
        extension = latest(obligation)
        if extension is None:
            values.update(due_date=due_date, due_at=due_at)
        else:
            values.update(due_date=extension.new_due_date, due_at=extension.new_due_at)
        _set_changed(obligation, values)
    return obligation


def _latest_extension(session: Session, obligation: Obligation) -> Extension | None:
    return session.scalars(
        sa.select(Extension)
        .where(Extension.obligation_id == obligation.id)
        .order_by(Extension.approved_at.desc(), Extension.id.desc())
        .limit(1)
    ).first()


def list_obligations(
    session: Session,
    *,
    status: ObligationStatus | str | Iterable[ObligationStatus | str] | None = None,
    unit: Unit | None = None,
    item: Item | None = None,
    plan: Plan | None = None,
    due_before: datetime | None = None,
    due_from: datetime | None = None,
    paused: bool | None = None,
    limit: int | None = None,
) -> list[Obligation]:
    """Obligations matching every given filter, earliest deadline first (no deadline last).

    ``due_from <= due_at < due_before``; ``status`` may be one status or several.
    """
    stmt = sa.select(Obligation)
    if status is not None:
        statuses = (
            [ObligationStatus(status)]
            if isinstance(status, str)
            else [ObligationStatus(s) for s in status]
        )
        stmt = stmt.where(Obligation.status.in_(statuses))
    if unit is not None:
        stmt = stmt.where(Obligation.unit_id == unit.id)
    if item is not None:
        stmt = stmt.where(Obligation.item_id == item.id)
    if plan is not None:
        stmt = stmt.join(Item, Item.id == Obligation.item_id).where(Item.plan_id == plan.id)
    if due_before is not None:
        stmt = stmt.where(Obligation.due_at < ensure_aware(due_before, what="due_before"))
    if due_from is not None:
        stmt = stmt.where(Obligation.due_at >= ensure_aware(due_from, what="due_from"))
    if paused is not None:
        stmt = stmt.where(Obligation.paused.is_(paused))
    stmt = stmt.order_by(Obligation.due_at.is_(None), Obligation.due_at, Obligation.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def record_completion(
    session: Session,
    *,
    obligation: Obligation,
    done_at: datetime,
    recorded_by: str,
    evidence_url: str | None = None,
    evidence_doc: str | None = None,
    evidence_note: str | None = None,
    late_working_days: int | None = None,
) -> Obligation:
    """Mark an obligation done with its evidence. ``late_working_days`` is computed by the
    caller (working days past ``due_at``; 0 or None when on time).

    Recording the same completion again is a no-op; a different ``done_at`` for an obligation
    already done is refused (correct it deliberately, not by a re-run).
    """
    done_at = ensure_aware(done_at, what="done_at")
    if obligation.status is ObligationStatus.DONE:
        if obligation.done_at == done_at:
            return obligation
        raise RepositoryError(
            f"obligation {obligation.id} was already done at {obligation.done_at.isoformat()}"
            if obligation.done_at
            else f"obligation {obligation.id} is already done"
        )
    if obligation.status is ObligationStatus.WITHDRAWN:
        raise RepositoryError(f"obligation {obligation.id} was withdrawn; it cannot be completed")
    if late_working_days is not None and late_working_days < 0:
        raise RepositoryError("late_working_days cannot be negative")
    _set_changed(
        obligation,
        {
            "status": ObligationStatus.DONE,
            "done_at": done_at,
            "recorded_by": recorded_by,
            "evidence_url": evidence_url,
            "evidence_doc": evidence_doc,
            "evidence_note": evidence_note,
            "late_working_days": late_working_days,
            "pending_reason": None,
        },
    )
    session.flush()
    return obligation


def add_extension(
    session: Session,
    *,
    obligation: Obligation,
    new_due_at: datetime,
    new_due_date: date,
    reason: str,
    approved_by: str,
    approved_at: datetime,
) -> Extension:
    """Record an approved extension (延期) and move the obligation's deadline to it.

    ``original_due_at`` keeps the computed deadline. Re-recording the same extension returns
    the existing row.
    """
    new_due_at = ensure_aware(new_due_at, what="new_due_at")
    approved_at = ensure_aware(approved_at, what="approved_at")
    if obligation.status is not ObligationStatus.OPEN:
        raise RepositoryError(
            f"obligation {obligation.id} is {obligation.status.value}; only open obligations "
            "can be extended"
        )
    existing = session.scalars(
        sa.select(Extension).where(
            Extension.obligation_id == obligation.id, Extension.new_due_at == new_due_at
        )
    ).one_or_none()
    if existing is not None:
        return existing
    extension = Extension(
        obligation_id=obligation.id,
        new_due_at=new_due_at,
        new_due_date=new_due_date,
        reason=reason,
        approved_by=approved_by,
        approved_at=approved_at,
    )
    session.add(extension)
    values: dict[str, Any] = {"due_at": new_due_at, "due_date": new_due_date}
    if obligation.original_due_at is None:
        values["original_due_at"] = obligation.due_at
    _set_changed(obligation, values)
    session.flush()
    return extension


def get_open_pause(session: Session, *, obligation: Obligation) -> Pause | None:
    return session.scalars(
        sa.select(Pause).where(Pause.obligation_id == obligation.id, Pause.ended_at.is_(None))
    ).first()


def start_pause(
    session: Session, *, obligation: Obligation, started_at: datetime, reason: str
) -> Pause:
    """Stop the clock (暂停计时). Starting the same pause again returns it; a second
    concurrent pause is refused."""
    started_at = ensure_aware(started_at, what="started_at")
    if obligation.status is not ObligationStatus.OPEN:
        raise RepositoryError(
            f"obligation {obligation.id} is {obligation.status.value}; only open obligations "
            "can be paused"
        )
    current = get_open_pause(session, obligation=obligation)
    if current is not None:
        if current.started_at == started_at:
            return current
        raise RepositoryError(
            f"obligation {obligation.id} is already paused since {current.started_at.isoformat()}"
        )
    pause = Pause(obligation_id=obligation.id, started_at=started_at, reason=reason)
    session.add(pause)
    _set_changed(obligation, {"paused": True})
    session.flush()
    return pause


def end_pause(
    session: Session, *, pause: Pause, ended_at: datetime, paused_working_days: int
) -> Pause:
    """Restart the clock. ``paused_working_days`` is computed by the caller (calendar logic);
    moving the deadline by it is the caller's business too. Ending it again with the same
    values is a no-op."""
    ended_at = ensure_aware(ended_at, what="ended_at")
    if pause.ended_at is not None:
        if pause.ended_at == ended_at and pause.paused_working_days == paused_working_days:
            return pause
        raise RepositoryError(f"pause {pause.id} already ended at {pause.ended_at.isoformat()}")
    if ended_at < pause.started_at:
        raise RepositoryError(
            f"pause {pause.id} cannot end ({ended_at.isoformat()}) before it started "
            f"({pause.started_at.isoformat()})"
        )
    if paused_working_days < 0:
        raise RepositoryError("paused_working_days cannot be negative")
    _set_changed(pause, {"ended_at": ended_at, "paused_working_days": paused_working_days})
    obligation = session.get(Obligation, pause.obligation_id)
    if obligation is not None:
        _set_changed(obligation, {"paused": False})
    session.flush()
    return pause


# --- audit ----------------------------------------------------------------------------------


def list_audit(
    session: Session,
    *,
    entity: str | type[Base] | None = None,
    entity_id: int | None = None,
) -> list[AuditEntry]:
    """The audit trail, oldest first; ``entity`` is a table name or a model class."""
    stmt = sa.select(AuditEntry).order_by(AuditEntry.id)
    if entity is not None:
        name = entity if isinstance(entity, str) else entity.__table__.name
        stmt = stmt.where(AuditEntry.entity == name)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(stmt))
