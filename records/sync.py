"""Bring the database in line with the configuration: units, contacts, plans and obligations.

``load_plan_file`` is idempotent: loading the same plan twice changes nothing (no UPDATE, no
audit entry).  Loading a corrected plan updates items and obligations in place — the audit trail
shows each change — withdraws obligations of removed items (or of units no longer responsible)
without deleting them, and never touches obligations already completed.

Callers own the transaction: these functions flush, the caller commits.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import repository as repo
from db.models import Event, Item, Obligation, Plan, Unit
from deadlines.calendar import WorkCalendar, load_calendar
from deadlines.obligations import EventFact, ObligationSpec, obligations_for_item
from duban.config import PlanFile, Settings, UnitDirectory, UnitsFile, item_code, resolve_units
from duban.errors import UserError
from duban.vocab import ObligationStatus


@dataclass
class LoadReport:
    plan: str = ""
    units: Counter = field(default_factory=Counter)
    items: Counter = field(default_factory=Counter)
    obligations: Counter = field(default_factory=Counter)
    unresolved: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        keys = ("created", "updated", "withdrawn", "reinstated")
        return any(c[k] for c in (self.units, self.items, self.obligations) for k in keys)


def sync_units(session: Session, units: UnitsFile, report: LoadReport | None = None) -> None:
    """Create/update every unit and contact of ``units.yaml`` (never deletes: history stays).

    The existing units and contacts are read in one query each and written in one flush each
    (a province has thousands), with the same audit trail as one upsert at a time.
    """
    report = report or LoadReport()
    known = {u.code: u for u in session.scalars(sa.select(Unit))}
    snapshots = {code: _unit_snapshot(u) for code, u in known.items()}
    written = repo.upsert_units(session, [
        {"code": cfg.code, "name": cfg.name, "kind": cfg.kind, "aliases": cfg.aliases,
         "region": cfg.region} for cfg in units.units])
    by_code: dict[str, Unit] = {}
    for cfg, unit in zip(units.units, written, strict=True):
        by_code[cfg.code] = unit
        _count(report.units, known.get(cfg.code), snapshots.get(cfg.code), _unit_snapshot(unit))
    contacts = []
    for cfg in units.units:
        if cfg.parent:
            unit = by_code[cfg.code]
            if unit.parent_id != by_code[cfg.parent].id:
                unit.parent_id = by_code[cfg.parent].id
        for c in cfg.contacts:
            contacts.append({"unit": by_code[cfg.code], "name": c.name, "role": c.role,
                             "email": c.email, "phone": c.phone,
                             "im_webhook": c.im.webhook if c.im else None,
                             "im_channel": c.im.channel if c.im else None,
                             "im_secret_env": c.im.secret_env if c.im else None,
                             "active_from": c.active_from, "active_to": c.active_to})
    repo.upsert_contacts(session, contacts)
    session.flush()


def _unit_snapshot(unit: Unit | None) -> tuple | None:
    if unit is None:
        return None
    return (unit.name, unit.kind, tuple(unit.aliases or ()), unit.region)


def _count(counter: Counter, before: object, old: object, new: object) -> None:
    if before is None:
        counter["created"] += 1
    elif old != new:
        counter["updated"] += 1
    else:
        counter["unchanged"] += 1


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class CalendarCache:
    """One calendar per region, loaded once per run."""

    def __init__(self, config_dir: Path | None):
        self.config_dir = config_dir
        self._cache: dict[str | None, WorkCalendar] = {}

    def for_region(self, region: str | None) -> WorkCalendar:
        if region not in self._cache:
            self._cache[region] = load_calendar(region=region, config_dir=self.config_dir)
        return self._cache[region]


def load_plan_file(
    session: Session,
    plan: PlanFile,
    *,
    directory: UnitDirectory,
    settings: Settings,
    source_path: Path | None,
    config_dir: Path | None = None,
) -> LoadReport:
    """Load (or reload) a validated plan; returns what changed."""
    report = LoadReport(plan=f"{plan.year} {plan.issuer}《{plan.title}》")
    source_doc = (plan.source.document if plan.source and plan.source.document else
                  (source_path.name if source_path else ""))
    sha = (plan.source.sha256 if plan.source and plan.source.sha256 else
           (file_sha256(source_path) if source_path else ""))
    issued = plan.issued or date(plan.year, 1, 1)
    db_plan = repo.upsert_plan(session, year=plan.year, issuer=plan.issuer, title=plan.title,
                               issued=issued, source_document=source_doc, source_sha256=sha)
    units = {u.code: u for u in repo.list_units(session)}
    calendars = CalendarCache(config_dir)
    seen_items: set[int] = set()
    for position, cfg in enumerate(plan.items, start=1):
        codes, unresolved = resolve_units([*cfg.lead_units, *cfg.responsible_units], directory)
        for ref in unresolved:
            report.unresolved.append(f"item {cfg.number}: {ref.name} ({ref.status})")
        lead, _ = resolve_units(cfg.lead_units, directory)
        responsible, _ = resolve_units(cfg.responsible_units, directory)
        missing = [c for c in codes if c not in units]
        if missing:
            raise UserError(f"units {missing} of item {cfg.number} are not in the database; "
                            "run `duban plan load` after fixing units.yaml")
        time_limits = [tl.model_dump(exclude_none=True) for tl in cfg.time_limits]
        before = _item_by_number(session, db_plan, cfg.number)
        snapshot = _item_snapshot(before)
        item = repo.upsert_item(
            session, plan=db_plan, number=cfg.number, code=item_code(plan.year, cfg, position),
            title=cfg.title, text=cfg.text or cfg.title, lead_units=lead,
            responsible_units=responsible, time_limits=time_limits, position=position,
            review=cfg.review, active=cfg.active,
        )
        _count(report.items, before, snapshot, _item_snapshot(item))
        seen_items.add(item.id)
        sync_item_obligations(session, item, units=units, calendars=calendars,
                              plan_year=plan.year, issued=plan.issued, settings=settings,
                              report=report)
    for item in repo.list_items(session, plan=db_plan, active_only=False):
        if item.id not in seen_items and item.active:
            item.active = False
            report.items["withdrawn"] += 1
            _withdraw(session, item, keep=set(), report=report)
    session.flush()
    return report


def _item_by_number(session: Session, plan: Plan, number: str) -> Item | None:
    for item in repo.list_items(session, plan=plan, active_only=False):
        if item.number == number:
            return item
    return None


def _item_snapshot(item: Item | None) -> tuple | None:
    if item is None:
        return None
    return (item.title, item.text, tuple(item.lead_units), tuple(item.responsible_units),
            repr(item.time_limits), item.review, item.active, item.position)


def sync_item_obligations(
    session: Session,
    item: Item,
    *,
    units: dict[str, Unit],
    calendars: CalendarCache,
    plan_year: int,
    issued: date | None,
    settings: Settings,
    report: LoadReport,
    only: Unit | None = None,
) -> list[Obligation]:
    """Create/refresh the item's obligations; withdraw the ones that no longer follow.

    ``only`` limits all of it to one unit's obligations (an event of that unit changes nothing
    else); ``units`` then needs only that unit.  The item's rows are read once and written in
    one flush (:class:`db.repository.ObligationBatch`).
    """
    if not item.active:
        _withdraw(session, item, keep=set(), report=report)
        return []
    unit_ids = {u.id: code for code, u in units.items()}
    events = [
        EventFact(e.id, unit_ids[e.unit_id], e.occurred_at)
        for e in repo.list_events(session, item=item, unit=only)
    ]
    codes = [*item.lead_units, *item.responsible_units]
    if only is not None:
        codes = [c for c in codes if c == only.code]
    specs = obligations_for_item(
        plan_year=plan_year,
        issued=issued,
        time_limits=item.time_limits,
        unit_codes=codes,
        calendar_for=lambda code: calendars.for_region(units[code].region),
        events=events,
        close=settings.business_close,
    )
    batch = repo.ObligationBatch(session, item=item, unit=only)
    existing = dict(batch.rows)
    out = []
    keep: set[tuple[int, int, str]] = set()
    for spec in specs:
        unit = units[spec.unit_code]
        key = (unit.id, spec.rule_index, spec.period_key)
        keep.add(key)
        before = existing.get(key)
        snap = _obligation_snapshot(before)
        was_withdrawn = before is not None and before.status is ObligationStatus.WITHDRAWN
        ob = upsert_from_spec(session, item, unit, spec, batch=batch)
        _count(report.obligations, before, snap, _obligation_snapshot(ob))
        if was_withdrawn:
            report.obligations["reinstated"] += 1
        if spec.pending_reason:
            report.pending.append(f"{item.code} {unit.name} {spec.period_key}: {spec.pending_reason}")
        out.append(ob)
    batch.flush()
    _withdraw(session, item, keep=keep, report=report, obligations=batch.obligations())
    return out


def _obligation_snapshot(ob: Obligation | None) -> tuple | None:
    if ob is None:
        return None
    return (ob.due_at, ob.due_date, ob.status, ob.pending_reason)


def upsert_from_spec(session: Session, item: Item, unit: Unit, spec: ObligationSpec, *,
                     batch: repo.ObligationBatch | None = None) -> Obligation:
    event = session.get(Event, spec.event_id) if spec.event_id is not None else None
    if spec.due is None:
        values = dict(rule_index=spec.rule_index, period_key=spec.period_key, due_date=None,
                      due_at=None, status=ObligationStatus.PENDING_CALENDAR,
                      pending_reason=spec.pending_reason, event=event)
    else:
        values = dict(rule_index=spec.rule_index, period_key=spec.period_key,
                      due_date=spec.due.date, due_at=spec.due.at, event=event)
    if batch is not None:
        return batch.upsert(unit=unit, **values)
    return repo.upsert_obligation(session, item=item, unit=unit, **values)


def _withdraw(session: Session, item: Item, *, keep: set, report: LoadReport,
              obligations: list[Obligation] | None = None) -> None:
    if obligations is None:
        obligations = repo.list_obligations(session, item=item)
    for ob in obligations:
        key = (ob.unit_id, ob.rule_index, ob.period_key)
        if key in keep or ob.status in (ObligationStatus.DONE, ObligationStatus.WITHDRAWN):
            continue
        ob.status = ObligationStatus.WITHDRAWN
        report.obligations["withdrawn"] += 1
    session.flush()


__all__ = ["CalendarCache", "LoadReport", "load_plan_file", "sync_item_obligations", "sync_units"]
