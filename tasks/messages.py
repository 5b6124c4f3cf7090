"""Turn the day's notices into messages: one per contact per run, written to the outbox.

Every notice not yet in a message is grouped by contact.  A contact who must receive a 督办单
(a yellow or red step addressed to them) gets one 督办单 listing all their rows at the highest
colour; anyone else gets one digest (the subject follows the most urgent row).  Coordinators
get one daily digest of what escalated today.  The outbox key (contact, kind, day) makes a
second run on the same day write nothing; notices that arrive after the day's message was
written wait for the next run's message.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from db.models import Contact, Escalation, Item, Notice, Obligation, Unit
from deadlines.ladder import working_days_left
from duban.vocab import ContactRole
from notifications.models import RenderedMessage
from notifications.render import (
    CoordinatorDigestContext,
    CoordinatorRow,
    DigestContext,
    DigestRow,
    EscalationContext,
)
from tasks.checks import COLOUR_RANK, item_flow_name
from tasks.context import EngineContext
from tasks.outbox import OutboxKey, enqueue_message, next_send_time

STEP_STATUS = {"upcoming": "即将到期", "due_today": "今日到期", "overdue": "已逾期（催办）",
               "escalation": "已督办"}


@dataclass
class MessageSummary:
    messages: int = 0
    digests: int = 0
    escalations: int = 0
    coordinator: int = 0
    waiting_notices: int = 0  # notices whose contact already has today's message

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _requirement(item: Item, rule_index: int) -> str:
    limits = item.time_limits or []
    if rule_index < len(limits):
        tl = limits[rule_index]
        return (tl.get("sentence") or tl.get("text") or "").strip()
    return item.title


def write_messages(ctx: EngineContext, *, as_of: date, now: datetime,
                   attach_xlsx_from: int = 4) -> MessageSummary:
    """Write today's messages for every contact with pending notices (see module docs)."""
    summary = MessageSummary()
    office = ctx.settings.office
    domain = ctx.mail.message_id_domain
    with ctx.session() as session, session.begin():
        rows = session.execute(
            sa.select(Notice.id, Notice.contact_id, Notice.role, Escalation.step, Escalation.kind,
                      Escalation.colour, Obligation.due_date, Obligation.rule_index,
                      Obligation.unit_id, Obligation.item_id)
            .join(Escalation, Escalation.id == Notice.escalation_id)
            .join(Obligation, Obligation.id == Escalation.obligation_id)
            .where(Notice.outbox_id.is_(None))
            .order_by(Notice.contact_id, Notice.id)
        ).all()
        if not rows:
            return summary
        contacts = {c.id: c for c in session.scalars(
            sa.select(Contact).where(Contact.id.in_({r.contact_id for r in rows})))}
        items = {i.id: i for i in session.scalars(
            sa.select(Item).where(Item.id.in_({r.item_id for r in rows})))}
        units = {u.id: u for u in session.scalars(
            sa.select(Unit).where(Unit.id.in_({r.unit_id for r in rows} |
                                              {c.unit_id for c in contacts.values()})))}
        by_contact: dict[int, list] = defaultdict(list)
        for r in rows:
            by_contact[r.contact_id].append(r)

        for contact_id, notices in by_contact.items():
            contact = contacts[contact_id]
            if not contact.email:
                continue  # IM-only contacts: delivered by their robot channel (not e-mail)
            cal = ctx.calendar_for_unit(contact.unit_id)
            if contact.role == ContactRole.COORDINATOR:
                kind, rendered = "coordinator_digest", _coordinator(ctx, notices, items, units,
                                                                   contact, as_of, now, office)
            else:
                kind, rendered = _unit_message(ctx, notices, items, units, contact, as_of, now,
                                               office, attach_xlsx_from)
            not_before = next_send_time(as_of, calendar=cal, hour=ctx.settings.reminder_hour,
                                        sending_hours=ctx.settings.sending_hours)
            row, created = enqueue_message(
                session, key=OutboxKey(scope=f"contact:{contact_id}:email", kind=kind, level="",
                                       period=as_of.isoformat()),
                rendered=rendered, recipient_name=contact.name, recipient_address=contact.email,
                not_before=not_before, domain=domain, contact_id=contact_id, created_at=now)
            if not created:
                summary.waiting_notices += len(notices)
                continue
            session.execute(sa.update(Notice).where(Notice.id.in_([n.id for n in notices]))
                            .values(outbox_id=row.id))
            summary.messages += 1
            if kind == "coordinator_digest":
                summary.coordinator += 1
            elif kind == "escalation":
                summary.escalations += 1
            else:
                summary.digests += 1
    return summary


def _digest_rows(ctx, notices, items, units, as_of) -> list[DigestRow]:
    best: dict[tuple[int, int, date | None], tuple] = {}
    for n in notices:  # one row per obligation, at its most advanced step
        key = (n.item_id, n.unit_id, n.due_date)
        if key not in best or COLOUR_RANK[n.colour] >= COLOUR_RANK[best[key].colour]:
            best[key] = n
    out = []
    for n in best.values():
        item = items[n.item_id]
        cal = ctx.calendar_for_unit(n.unit_id)
        left = working_days_left(as_of, n.due_date, cal).value
        out.append(DigestRow(item=item_flow_name(item.number, item.title),
                             requirement=_requirement(item, n.rule_index), due_date=n.due_date,
                             working_days_left=left, status=STEP_STATUS.get(n.kind, "")))
    return out


def _unit_message(ctx, notices, items, units, contact, as_of, now, office,
                  attach_xlsx_from) -> tuple[str, RenderedMessage]:
    rows = _digest_rows(ctx, notices, items, units, as_of)
    unit_name = units[contact.unit_id].name
    escalated = [n for n in notices if n.kind == "escalation" and n.role == "to"]
    if escalated:
        colour = max((n.colour for n in escalated), key=lambda c: COLOUR_RANK[c])
        ctx_ = EscalationContext(
            leader_name=contact.name, unit_name=unit_name,
            contact_name=_liaison_name(contact, units), level=colour,
            sheet_no=f"督〔{as_of.year}〕{as_of:%m%d}-{contact.id}号", rows=tuple(rows),
            issued_at=now, reply_by=ctx.national.add_working_days(as_of, 2),
            office_name=office)
        return "escalation", ctx.renderer.render("escalation", ctx_)
    digest = DigestContext(recipient_name=contact.name, unit_name=unit_name, rows=tuple(rows),
                           generated_at=now, office_name=office)
    rendered = ctx.renderer.render_digest(digest, attach_xlsx=len(rows) >= attach_xlsx_from)
    return "digest", rendered


def _liaison_name(contact: Contact, units) -> str:
    liaisons = [c for c in units[contact.unit_id].contacts if c.role == ContactRole.LIAISON]
    return liaisons[0].name if liaisons else "—"


def _coordinator(ctx, notices, items, units, contact, as_of, now, office) -> RenderedMessage:
    rows = []
    seen = set()
    for n in notices:
        key = (n.item_id, n.unit_id, n.due_date)
        if key in seen:
            continue
        seen.add(key)
        item = items[n.item_id]
        cal = ctx.calendar_for_unit(n.unit_id)
        rows.append(CoordinatorRow(
            unit_name=units[n.unit_id].name, item=item_flow_name(item.number, item.title),
            due_date=n.due_date, working_days_left=working_days_left(as_of, n.due_date, cal).value,
            status=STEP_STATUS.get(n.kind, ""), escalation_level=n.colour))
    digest = CoordinatorDigestContext(coordinator_name=contact.name, report_date=as_of,
                                      rows=tuple(rows), generated_at=now, office_name=office)
    return ctx.renderer.render("coordinator_digest", digest)
