"""The deduction ledger in the database: facts from the record, entries posted once by key.

Pure scoring (which rule, how much, caps) lives in :mod:`scoring`; this module reads the facts
(late/early completions, obligations still open, escalation steps reached, the coordinator's
findings), posts the entry specs with ``INSERT … ON CONFLICT (entry_key) DO NOTHING`` — so
re-running a month or an assessment adds nothing — and reads ledger lines back for scorecards.
Entries are append-only: a correction is a reversal line, a decision on a discretionary line is
a decision line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pendulum
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.models import Escalation, Item, LedgerEntry, Obligation, Unit
from db.models import Finding as FindingRow
from db.session import dialect_insert
from deadlines.due import TZ
from duban.errors import UserError
from duban.vocab import ObligationStatus
from scoring.engine import (
    EarlyCompletion,
    EntrySpec,
    EscalationReached,
    Fact,
    Finding,
    LateCompletion,
    LedgerLine,
    Missed,
    decision_for,
    reversal_of,
)
from scoring.rules import RuleBook, load_rulebook, rulebook_path
from tasks.checks import one_of
from tasks.context import EngineContext


def entry_key(spec: EntrySpec) -> str:
    if spec.reverses is not None:
        return f"reverse:{spec.reverses}"
    if spec.decides is not None:
        return f"decide:{spec.decides}"
    return f"{spec.rule_code}|{spec.subject_key}|{spec.period_key}"


def rulebook_for(ctx: EngineContext, year: int) -> RuleBook | None:
    path = rulebook_path(year, ctx.config_dir)
    return load_rulebook(path) if path.exists() else None


_LOCAL = ZoneInfo(TZ.name)


def _local_day(value: datetime) -> date:
    return value.astimezone(_LOCAL).date()


def collect_facts(ctx: EngineContext, session: Session, *, start: date, end: date,
                  as_of: date) -> list[Fact]:
    """What happened between ``start`` and ``end`` (inclusive), as scoring facts."""
    facts: list[Fact] = []
    unit_code = dict(session.execute(sa.select(Unit.id, Unit.code)).all())
    items = {i.id: (i.code, i.title) for i in session.scalars(sa.select(Item))}
    lo = pendulum.datetime(start.year, start.month, start.day, tz=TZ)
    hi = pendulum.datetime(end.year, end.month, end.day, tz=TZ).add(days=1)
    done = session.execute(
        sa.select(Obligation.id, Obligation.unit_id, Obligation.item_id, Obligation.period_key,
                  Obligation.due_date, Obligation.done_at, Obligation.late_working_days)
        .where(Obligation.status == ObligationStatus.DONE, Obligation.done_at >= lo,
               Obligation.done_at < hi, Obligation.due_date.is_not(None))
    ).all()
    between: dict[tuple, int] = {}
    calendars: dict[int, object] = {}
    for ob_id, unit_id, item_id, period_key, due, done_at, late in done:
        code, title = items[item_id]
        if late:
            facts.append(LateCompletion(ob_id, unit_code[unit_id], code, period_key, due, done_at,
                                        late, title))
        else:
            cal = calendars.get(unit_id)
            if cal is None:
                cal = calendars[unit_id] = ctx.calendar_for_unit(unit_id)
            key = (id(cal), _local_day(done_at), due)  # a year's completions share few days
            early = between.get(key)
            if early is None:
                early = between[key] = cal.working_days_between(key[1], due)
            if early > 0:
                facts.append(EarlyCompletion(ob_id, unit_code[unit_id], code, period_key, due,
                                             done_at, early, title))
    missed = session.execute(
        sa.select(Obligation.id, Obligation.unit_id, Obligation.item_id, Obligation.period_key,
                  Obligation.due_date)
        .where(Obligation.status == ObligationStatus.OPEN, Obligation.due_date < as_of,
               Obligation.paused.is_(False))
    ).all()
    for ob_id, unit_id, item_id, period_key, due in missed:
        code, title = items[item_id]
        facts.append(Missed(ob_id, unit_code[unit_id], code, period_key, due, as_of, title))
    reached = session.execute(
        sa.select(Escalation.id, Escalation.obligation_id, Escalation.step, Escalation.fired_on,
                  Escalation.cycle, Obligation.unit_id, Obligation.item_id)
        .join(Obligation, Obligation.id == Escalation.obligation_id)
        .where(Escalation.kind == "escalation", Escalation.fired_on >= start,
               Escalation.fired_on <= end)
    ).all()
    for esc_id, ob_id, step, fired_on, cycle, unit_id, item_id in reached:
        code, title = items[item_id]
        facts.append(EscalationReached(esc_id, ob_id, unit_code[unit_id], code, step, fired_on,
                                       cycle, title))
    for f in session.scalars(sa.select(FindingRow).where(FindingRow.occurred_on >= start,
                                                         FindingRow.occurred_on <= end)):
        facts.append(Finding(f.id, unit_code[f.unit_id], f.rule_code, f.occurred_on, f.count,
                             f.note))
    return facts


_LEDGER = LedgerEntry.__table__
# What a scoring line needs of a row (not the audit columns: timestamps cost a conversion each)
_LINE_COLUMNS = tuple(_LEDGER.c[n] for n in (
    "id", "kind", "unit_id", "rule_code", "subject_key", "period_key", "amount", "range_min",
    "range_max", "refers_to_id", "reason", "occurred_on", "item_code"))


def post_entries(session: Session, specs: Iterable[EntrySpec], *, now: datetime,
                 actor: str) -> int:
    """Insert the specs not yet in the ledger; returns how many were new."""
    keyed = [(entry_key(spec), spec) for spec in specs]
    if not keyed:
        return 0
    units = dict(session.execute(sa.select(Unit.code, Unit.id)).all())
    before = session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
    conn = session.connection()
    # A month or an assessment re-derives many lines already posted: skip those up front (the
    # unique key still decides, for a concurrent run).  Many specs: the keys posted in their
    # days, read once; few: looked up by key.
    known: set[str] | None = None
    if len(keyed) > 5000:
        days = [spec.occurred_on for _, spec in keyed]
        known = set(conn.execute(sa.select(_LEDGER.c.entry_key).where(
            _LEDGER.c.occurred_on.between(min(days), max(days)))).scalars())
    for chunk in range(0, len(keyed), 5000):
        part = keyed[chunk:chunk + 5000]
        seen = known if known is not None else set(conn.execute(
            sa.select(_LEDGER.c.entry_key).where(
                one_of(conn, _LEDGER.c.entry_key, [k for k, _ in part]))).scalars())
        new = [_entry_row(key, spec, units, now=now, actor=actor) for key, spec in part
               if key not in seen]
        for start in range(0, len(new), 2000):
            session.execute(dialect_insert(session, LedgerEntry).on_conflict_do_nothing(
                index_elements=["entry_key"]), new[start:start + 2000])
    return session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) - before


def _entry_row(key: str, spec: EntrySpec, units: dict[str, int], *, now: datetime,
               actor: str) -> dict:
    return {
        "entry_key": key,
        "kind": ("reversal" if spec.reverses is not None else
                 "decision" if spec.decides is not None else
                 "pending" if spec.pending else "scored"),
        "rule_code": spec.rule_code, "unit_id": units[spec.unit_code],
        "subject_key": spec.subject_key, "period_key": spec.period_key,
        "occurred_on": spec.occurred_on, "item_code": spec.item_code,
        "amount": spec.amount,
        "range_min": spec.pending_range[0] if spec.pending_range else None,
        "range_max": spec.pending_range[1] if spec.pending_range else None,
        "refers_to_id": spec.reverses if spec.reverses is not None else spec.decides,
        "obligation_id": spec.links.obligation_id, "escalation_id": spec.links.escalation_id,
        "finding_id": spec.links.finding_id, "reason": spec.reason,
        "recorded_by": actor, "recorded_at": now, "created_at": now,
    }


def _line(row, unit_code: str) -> LedgerLine:
    """A ledger row (ORM object or plain row) as a scoring line."""
    rng = (row.range_min, row.range_max) if row.range_min is not None else None
    amount = row.amount
    decides = row.refers_to_id if row.kind == "decision" else None
    reverses = row.refers_to_id if row.kind == "reversal" else None
    return LedgerLine(row.rule_code, unit_code, row.subject_key, row.period_key, amount, rng,
                      reverses, row.id, row.reason, row.occurred_on, row.item_code, decides)


def _window(stmt, start: date | None, end: date | None):
    """Only the rows a period between ``start`` and ``end`` needs: those that occurred in it
    (or carry no date) and every reversal and decision, which may refer to them from later."""
    if start is None and end is None:
        return stmt
    c = _LEDGER.c
    inside = sa.and_(*([c.occurred_on >= start] if start else []),
                     *([c.occurred_on <= end] if end else []))
    return stmt.where(sa.or_(inside, c.occurred_on.is_(None),
                             c.kind.in_(("reversal", "decision"))))


def ledger_lines(session: Session, *, unit_id: int | None = None, start: date | None = None,
                 end: date | None = None) -> list[LedgerLine]:
    """Scoring lines (all, or a unit's); with ``start``/``end`` only what a scorecard of that
    period reads (its lines, the undated ones, every reversal and decision)."""
    session.flush()  # plain rows below: no autoflush of their own
    units = dict(session.execute(sa.select(Unit.id, Unit.code)).all())
    stmt = _window(sa.select(*_LINE_COLUMNS).order_by(_LEDGER.c.id), start, end)  # a year: ~200k
    if unit_id is not None:
        stmt = stmt.where(_LEDGER.c.unit_id == unit_id)
    out = []
    # all rows at once (row-by-row fetching costs as much as the query), unpacked by position
    for (id_, kind, unit_id, rule_code, subject_key, period_key, amount, range_min, range_max,
         refers_to, reason, occurred_on, item_code) in session.connection().execute(stmt).all():
        out.append(LedgerLine(
            rule_code, units[unit_id], subject_key, period_key, amount,
            (range_min, range_max) if range_min is not None else None,
            refers_to if kind == "reversal" else None, id_, reason, occurred_on, item_code,
            refers_to if kind == "decision" else None))
    return out


@dataclass
class LedgerRow:
    """A ledger line as people read it (ledger list, 通报, detail sheets)."""

    id: int
    kind: str
    unit: str
    rule_code: str
    amount: Decimal | None
    range: tuple[Decimal, Decimal] | None
    occurred_on: date | None
    item_code: str | None
    reason: str
    refers_to: int | None
    state: str  # 有效 / 待裁定 / 已裁定 / 已冲销


def list_ledger(session: Session, *, unit_id: int | None = None, start: date | None = None,
                end: date | None = None, pending_only: bool = False) -> list[LedgerRow]:
    session.flush()  # plain rows: no autoflush of their own
    rows = session.connection().execute(
        _window(sa.select(_LEDGER).order_by(_LEDGER.c.id), start, end)).all()
    names = dict(session.execute(sa.select(Unit.id, Unit.name)).all())
    reversed_ids = {r.refers_to_id for r in rows if r.kind == "reversal"}
    decided = {r.refers_to_id: r for r in rows if r.kind == "decision"
               and r.id not in reversed_ids}
    out = []
    for r in rows:
        if unit_id is not None and r.unit_id != unit_id:
            continue
        if start and r.occurred_on and r.occurred_on < start:
            continue
        if end and r.occurred_on and r.occurred_on > end:
            continue
        if r.id in reversed_ids:
            state = "已冲销"
        elif r.kind == "pending":
            state = "已裁定" if r.id in decided else "待裁定"
        else:
            state = "有效"
        if pending_only and state != "待裁定":
            continue
        rng = (r.range_min, r.range_max) if r.range_min is not None else None
        out.append(LedgerRow(r.id, r.kind, names[r.unit_id], r.rule_code, r.amount, rng,
                             r.occurred_on, r.item_code, r.reason, r.refers_to_id, state))
    return out


def _get_line(session: Session, entry_id: int) -> tuple[LedgerEntry, LedgerLine]:
    row = session.get(LedgerEntry, entry_id)
    if row is None:
        raise UserError(f"台账中没有第 {entry_id} 条")
    code = session.scalar(sa.select(Unit.code).where(Unit.id == row.unit_id))
    return row, _line(row, code)


def decide_entry(ctx: EngineContext, session: Session, *, entry_id: int, magnitude: Decimal,
                 reason: str, on: date, now: datetime, actor: str) -> LedgerRow:
    """The coordinator's decision on a discretionary (pending) line: a decision line."""
    row, line = _get_line(session, entry_id)
    if row.kind != "pending":
        raise UserError(f"第 {entry_id} 条不是待裁定的视情况扣分项")
    book = _book_for_line(ctx, row)
    spec = decision_for(line, rulebook=book, magnitude=magnitude, reason=reason, on=on)
    if not post_entries(session, [spec], now=now, actor=actor):
        raise UserError(f"第 {entry_id} 条已经裁定过；如需更改，请先冲销该裁定")
    return next(r for r in list_ledger(session) if r.refers_to == entry_id
                and r.kind == "decision")


def reverse_entry(session: Session, *, entry_id: int, reason: str, on: date, now: datetime,
                  actor: str) -> None:
    """A correction (approved extension, appeal): a reversal line that cancels the entry."""
    row, line = _get_line(session, entry_id)
    if row.kind == "reversal":
        raise UserError(f"第 {entry_id} 条本身是冲销记录，不能再冲销")
    if not post_entries(session, [reversal_of(line, reason=reason, on=on)], now=now, actor=actor):
        raise UserError(f"第 {entry_id} 条已经冲销过")


def _book_for_line(ctx: EngineContext, row: LedgerEntry) -> RuleBook:
    year = (row.occurred_on or row.recorded_at.date()).year
    book = rulebook_for(ctx, year)
    if book is None:
        raise UserError(f"没有 {year} 年的评分规则文件 config/rules/{year}.yaml")
    return book


def unit_maps(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    rows = session.execute(sa.select(Unit.code, Unit.kind, Unit.name).order_by(Unit.code)).all()
    return ({c: k.value for c, k, _ in rows}, {c: n for c, _, n in rows})


def add_finding(session: Session, *, unit_id: int, rule_code: str, occurred_on: date,
                note: str, count: int, actor: str, now: datetime) -> FindingRow:
    existing = session.scalars(sa.select(FindingRow).where(
        FindingRow.unit_id == unit_id, FindingRow.rule_code == rule_code,
        FindingRow.occurred_on == occurred_on, FindingRow.note == note)).one_or_none()
    if existing is not None:
        return existing
    row = FindingRow(unit_id=unit_id, rule_code=rule_code, occurred_on=occurred_on, note=note,
                     count=count, recorded_by=actor, created_at=now)
    session.add(row)
    session.flush()
    return row


def reports_dir(ctx: EngineContext, name: str) -> Path:
    path = ctx.var_dir / "reports" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


__all__ = ["add_finding", "collect_facts", "decide_entry", "entry_key",
           "ledger_lines", "list_ledger", "post_entries", "reports_dir", "reverse_entry",
           "rulebook_for", "unit_maps"]
