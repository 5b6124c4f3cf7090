"""Read a period's facts from the database into a :class:`~reports.tongbao.TongbaoData`.

Counters come from the record itself (obligations due in the period and how they stood on
``as_of``; escalation steps fired in the period); the table rows come from the ledger
(:func:`tasks.ledger.list_ledger`), one row per ledger line that counts, each joined to the
obligation, escalation or finding it was posted for. Reversed lines and reversals are left out;
a discretionary line that was decided shows the decision's amount (the decision itself is not a
separate row, whatever day it was taken on).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pendulum
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.models import Escalation, Item, LedgerEntry, Obligation, Plan
from db.models import Finding as FindingRow
from deadlines.due import TZ
from duban.vocab import ObligationStatus
from reports.tongbao import (
    COLOUR_LABELS,
    COLOUR_ORDER,
    DEFAULT_RECIPIENTS,
    TongbaoData,
    TongbaoFacts,
    TongbaoRow,
    cn_date,
    period_text,
)
from scoring.rules import RuleBook
from tasks.ledger import LedgerRow, list_ledger

_RANK = {c: i for i, c in enumerate(COLOUR_ORDER)}


def _local_day(value) -> date:
    return pendulum.instance(value).in_tz(TZ).date()


def _step_text(step: str) -> str:
    s = step.strip()
    if s.startswith("+") and s[1:].isdigit():
        return f"逾期第{s[1:]}个工作日"
    return f"第{s}步"


def _escalation_text(colour: str | None, fired_on: date, step: str) -> str:
    if colour is None:
        return "—"
    return f"{COLOUR_LABELS[colour]}督办（{cn_date(fired_on)}，{_step_text(step)}）"


def _completion_text(ob: Obligation, as_of: date) -> str:
    if ob.status is ObligationStatus.DONE and ob.done_at is not None:
        done = _local_day(ob.done_at)
        if done <= as_of:
            if ob.late_working_days:
                return f"逾期完成（{cn_date(done)}，逾期{ob.late_working_days}个工作日）"
            return f"按时完成（{cn_date(done)}）"
    if ob.status is ObligationStatus.WITHDRAWN:
        return "已撤销"
    paused = "，暂停计时中" if ob.paused else ""
    return f"截至{cn_date(as_of)}未完成{paused}"


def period_facts(session: Session, *, start: date, end: date, as_of: date) -> TongbaoFacts:
    """Obligations due in [start, end] as they stood on ``as_of``; 督办 fired in the period."""
    obs = session.execute(
        sa.select(Obligation.status, Obligation.done_at, Obligation.late_working_days)
        .where(Obligation.due_date >= start, Obligation.due_date <= end,
               Obligation.status != ObligationStatus.WITHDRAWN)).all()
    on_time = late = 0
    for status, done_at, late_days in obs:
        if status is ObligationStatus.DONE and done_at is not None and _local_day(done_at) <= as_of:
            if late_days:
                late += 1
            else:
                on_time += 1
    colours = Counter(session.scalars(
        sa.select(Escalation.colour).where(Escalation.colour.is_not(None),
                                           Escalation.fired_on >= start,
                                           Escalation.fired_on <= end)))
    return TongbaoFacts(due=len(obs), on_time=on_time, late=late, open=len(obs) - on_time - late,
                        escalations=tuple((c, colours.get(c, 0)) for c in COLOUR_ORDER))


def _counted(rows: list[LedgerRow], all_rows: list[LedgerRow]) -> list[tuple[LedgerRow,
                                                                              LedgerRow | None]]:
    """(line, its decision or None) for each line that counts in the table."""
    decisions = {r.refers_to: r for r in all_rows if r.kind == "decision" and r.state == "有效"}
    out = []
    for r in rows:
        if r.kind in ("reversal", "decision") or r.state == "已冲销":
            continue
        out.append((r, decisions.get(r.id) if r.kind == "pending" else None))
    return out


def ledger_rows(session: Session, *, start: date, end: date, as_of: date,
                rulebook: RuleBook | None = None) -> list[TongbaoRow]:
    """The 附件 table: each counting ledger line of the period, with what caused it."""
    all_rows = list_ledger(session)
    in_period = list_ledger(session, start=start, end=end)
    counted = _counted(in_period, all_rows)
    if not counted:
        return []
    ids = [r.id for r, _ in counted]
    links = {lid: (ob, esc, fnd) for lid, ob, esc, fnd in session.execute(
        sa.select(LedgerEntry.id, LedgerEntry.obligation_id, LedgerEntry.escalation_id,
                  LedgerEntry.finding_id).where(LedgerEntry.id.in_(ids)))}
    esc_ids = {esc for _, esc, _ in links.values() if esc is not None}
    escalations = {e.id: e for e in session.scalars(
        sa.select(Escalation).where(Escalation.id.in_(esc_ids)))} if esc_ids else {}
    ob_ids = {ob for ob, _, _ in links.values() if ob is not None}
    ob_ids |= {e.obligation_id for e in escalations.values()}
    obligations = {o.id: o for o in session.scalars(
        sa.select(Obligation).where(Obligation.id.in_(ob_ids)))} if ob_ids else {}
    items = {i.id: i for i in session.scalars(sa.select(Item).where(
        Item.id.in_({o.item_id for o in obligations.values()})))} if obligations else {}
    items_by_code = {i.code: i for i in items.values()}
    highest: dict[int, Escalation] = {}
    if ob_ids:
        for e in session.scalars(sa.select(Escalation).where(
                Escalation.obligation_id.in_(ob_ids), Escalation.colour.is_not(None),
                Escalation.fired_on <= as_of).order_by(Escalation.fired_on, Escalation.id)):
            best = highest.get(e.obligation_id)
            if best is None or _RANK[e.colour] >= _RANK[best.colour]:
                highest[e.obligation_id] = e
    fnd_ids = {f for _, _, f in links.values() if f is not None}
    findings = {f.id: f for f in session.scalars(
        sa.select(FindingRow).where(FindingRow.id.in_(fnd_ids)))} if fnd_ids else {}

    out: list[TongbaoRow] = []
    for line, decision in counted:
        ob_id, esc_id, fnd_id = links[line.id]
        esc = escalations.get(esc_id) if esc_id is not None else None
        ob = obligations.get(ob_id if ob_id is not None else (esc.obligation_id if esc else -1))
        if ob is not None:
            item = items[ob.item_id]
            when = period_text(ob.period_key)
            item_text = f"{item.number} {item.title}" + (f"（{when}）" if when else "")
            due = ob.due_date
            completion = _completion_text(ob, as_of)
            shown = esc or highest.get(ob.id)
            escalation = (_escalation_text(shown.colour, shown.fired_on, shown.step)
                          if shown else "—")
        else:
            item = items_by_code.get(line.item_code or "")
            item_text = f"{item.number} {item.title}" if item else (line.item_code or "—")
            due = None
            finding = findings.get(fnd_id) if fnd_id is not None else None
            completion = (f"登记问题（{cn_date(finding.occurred_on)}）"
                          + (f"：{finding.note}" if finding.note else "")) if finding else "—"
            escalation = "—"
        ref = rulebook.find(line.rule_code) if rulebook is not None else None
        rule_text = f"「{ref.rule.title}」：{ref.rule.describe()}" if ref else ""
        amount: Decimal | None = line.amount
        decision_id = None
        if decision is not None:
            amount, decision_id = decision.amount, decision.id
        out.append(TongbaoRow(
            ledger_id=line.id, unit=line.unit, item=item_text, due_date=due,
            completion=completion, escalation=escalation, amount=amount,
            rule_code=line.rule_code, rule_text=rule_text, pending_range=line.range,
            decision_id=decision_id))
    totals: dict[str, Decimal] = {}
    for r in out:
        if r.amount is not None and r.amount < 0:
            totals[r.unit] = totals.get(r.unit, Decimal(0)) - r.amount
    out.sort(key=lambda r: (-totals.get(r.unit, Decimal(0)), r.unit,
                            r.due_date or date.max, r.ledger_id))
    return out


def plan_title_for(session: Session, year: int) -> str | None:
    return session.scalar(sa.select(Plan.title).where(Plan.year == year)
                          .order_by(Plan.id.desc()).limit(1))


def tongbao_data(
    session: Session,
    *,
    start: date,
    end: date,
    office: str,
    issued_on: date,
    as_of: date | None = None,
    period_label: str | None = None,
    title: str | None = None,
    doc_number: str | None = None,
    rectify_by: date | None = None,
    recipients: str = DEFAULT_RECIPIENTS,
    rulebook: RuleBook | None = None,
    extra_attachments: tuple[str, ...] = (),
    top_n: int = 3,
) -> TongbaoData:
    """Everything the 通报 for [start, end] says, read from ``session``.

    ``as_of`` (default: ``issued_on``) is the day completion is stated for ("截至…").
    ``period_label`` defaults to "2020年9月" for a calendar month, else "…至…".
    """
    as_of = as_of or issued_on
    if period_label is None:
        whole_month = (start.day == 1 and end == pendulum.date(start.year, start.month, 1)
                       .end_of("month"))
        period_label = (f"{start.year}年{start.month}月" if whole_month
                        else f"{cn_date(start)}至{cn_date(end)}")
    return TongbaoData(
        office=office,
        title=title or f"关于{period_label}政务公开工作任务落实情况的通报",
        period_label=period_label, start=start, end=end, as_of=as_of, issued_on=issued_on,
        facts=period_facts(session, start=start, end=end, as_of=as_of),
        rows=tuple(ledger_rows(session, start=start, end=end, as_of=as_of, rulebook=rulebook)),
        doc_number=doc_number, recipients=recipients, rectify_by=rectify_by,
        plan_title=plan_title_for(session, start.year),
        rulebook_title=rulebook.title if rulebook is not None else None,
        extra_attachments=extra_attachments, top_n=top_n)


__all__ = ["ledger_rows", "period_facts", "plan_title_for", "tongbao_data"]
