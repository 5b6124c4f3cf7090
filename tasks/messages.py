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

from db.models import Contact, Escalation, Item, Notice, Obligation, OutboxMessage, Unit
from deadlines.ladder import working_days_left
from duban.vocab import ContactRole, OutboxStatus
from notifications.models import RenderedMessage
from notifications.render import (
    CoordinatorDigestContext,
    CoordinatorRow,
    DigestContext,
    DigestRow,
    EscalationContext,
    OutboxBacklog,
)
from tasks.checks import COLOUR_RANK, item_flow_name, one_of
from tasks.context import EngineContext
from tasks.outbox import NewMessage, OutboxKey, enqueue_messages, next_send_time

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


@dataclass(frozen=True)
class _Item:
    id: int
    number: str
    title: str
    time_limits: list
    flow_name: str


@dataclass(frozen=True)
class _Contact:
    id: int
    unit_id: int
    name: str
    role: ContactRole
    email: str | None


def _requirement(item: _Item | Item, rule_index: int) -> str:
    limits = item.time_limits or []
    if rule_index < len(limits):
        tl = limits[rule_index]
        return (tl.get("sentence") or tl.get("text") or "").strip()
    return item.title


def _chunked(ids, size: int = 5000):
    ids = sorted(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def write_messages(ctx: EngineContext, *, as_of: date, now: datetime,
                   attach_xlsx_from: int = 4, batch: int = 500) -> MessageSummary:
    """Write today's messages for every contact with pending notices (see module docs).

    Contacts are handled ``batch`` at a time: render their messages, write the outbox rows in
    one statement, then point their notices at them — a province's thousands of digests cost a
    few dozen statements, not a few per contact.
    """
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
        backlog = outbox_backlog(session)
        if not rows and backlog is None:
            return summary
        contacts: dict[int, _Contact] = {}
        for part in _chunked({r.contact_id for r in rows}):
            contacts.update((c[0], _Contact(*c)) for c in session.execute(
                sa.select(*_CONTACT_COLUMNS).where(one_of(session.connection(), Contact.id, part))))
        if backlog is not None:  # coordinators hear of it even on a day without notices
            contacts.update((c[0], _Contact(*c)) for c in session.execute(
                sa.select(*_CONTACT_COLUMNS).where(
                    Contact.role == ContactRole.COORDINATOR,
                    sa.or_(Contact.active_from.is_(None), Contact.active_from <= as_of),
                    sa.or_(Contact.active_to.is_(None), Contact.active_to >= as_of))))
        items = {i.id: _Item(i.id, i.number, i.title, i.time_limits,
                             item_flow_name(i.number, i.title))
                 for i in session.execute(
                     sa.select(Item.id, Item.number, Item.title, Item.time_limits)
                     .where(Item.id.in_({r.item_id for r in rows})))}
        unit_ids = {r.unit_id for r in rows} | {c.unit_id for c in contacts.values()}
        units: dict[int, str] = {}
        for part in _chunked(unit_ids):
            units.update((uid, name) for uid, name in session.execute(
                sa.select(Unit.id, Unit.name).where(one_of(session.connection(), Unit.id, part))))
        liaisons = _liaison_names(session, {c.unit_id for c in contacts.values()
                                            if c.role != ContactRole.COORDINATOR})
        by_contact: dict[int, list] = defaultdict(list)
        for r in rows:
            by_contact[r.contact_id].append(r)
        if backlog is not None:
            for c in contacts.values():
                if c.role == ContactRole.COORDINATOR:
                    by_contact.setdefault(c.id, [])
        look = _Lookups(ctx, items, units, liaisons, as_of)

        pending: list[tuple[str, list[int], NewMessage]] = []

        def flush() -> None:
            ids = enqueue_messages(session, [m for _, _, m in pending], domain=domain,
                                   created_at=now)
            links = []
            for (kind, notice_ids, _), row_id in zip(pending, ids, strict=True):
                if row_id is None:
                    summary.waiting_notices += len(notice_ids)
                    continue
                links.extend({"notice_id": n, "row_id": row_id} for n in notice_ids)
                summary.messages += 1
                if kind == "coordinator_digest":
                    summary.coordinator += 1
                elif kind == "escalation":
                    summary.escalations += 1
                else:
                    summary.digests += 1
            if links:
                session.connection().execute(_LINK_NOTICE, links)
            pending.clear()

        # in key order: two overlapping runs lock the same keys in the same order (no deadlock)
        for contact_id, notices in sorted(by_contact.items(),
                                          key=lambda kv: f"contact:{kv[0]}:email"):
            contact = contacts[contact_id]
            if not contact.email:
                continue  # IM-only contacts: delivered by their robot channel (not e-mail)
            cal = ctx.calendar_for_unit(contact.unit_id)
            if contact.role == ContactRole.COORDINATOR:
                kind, rendered = "coordinator_digest", _coordinator(ctx, notices, look, contact,
                                                                   as_of, now, office, backlog)
            else:
                kind, rendered = _unit_message(ctx, notices, look, contact, as_of, now, office,
                                               attach_xlsx_from)
            not_before = next_send_time(as_of, calendar=cal, hour=ctx.settings.reminder_hour,
                                        sending_hours=ctx.settings.sending_hours)
            pending.append((kind, [n.id for n in notices], NewMessage(
                key=OutboxKey(scope=f"contact:{contact_id}:email", kind=kind, level="",
                              period=as_of.isoformat()),
                rendered=rendered, recipient_name=contact.name, recipient_address=contact.email,
                not_before=not_before, contact_id=contact_id)))
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
    return summary


_CONTACT_COLUMNS = (Contact.id, Contact.unit_id, Contact.name, Contact.role, Contact.email)


def outbox_backlog(session) -> OutboxBacklog | None:
    """Messages of earlier runs that are still undelivered after a failed attempt (the mail
    server was unreachable, say); None when there are none.  Rows being sent right now
    (``sending``, by an overlapping run) are not a backlog."""
    waiting = sa.and_(OutboxMessage.status == OutboxStatus.PENDING,
                      OutboxMessage.last_reply.is_not(None))  # a delivery was tried and failed
    count, since = session.execute(
        sa.select(sa.func.count(), sa.func.min(OutboxMessage.period)).where(waiting)).one()
    if not count:
        return None
    last_reply = session.scalar(
        sa.select(OutboxMessage.last_reply).where(waiting, OutboxMessage.last_reply.is_not(None))
        .order_by(OutboxMessage.id.desc()).limit(1))
    return OutboxBacklog(waiting=count, since=since, last_reply=(last_reply or "无答复")[:200])


_NOTICE = Notice.__table__
_LINK_NOTICE = (sa.update(_NOTICE).where(_NOTICE.c.id == sa.bindparam("notice_id"))
                .values(outbox_id=sa.bindparam("row_id")))


def _liaison_names(session, unit_ids: set[int]) -> dict[int, str]:
    """The first liaison (by id) of each unit — named on its 督办单 as the contact person."""
    out: dict[int, str] = {}
    for part in _chunked(unit_ids):
        for unit_id, name in session.execute(
            sa.select(Contact.unit_id, Contact.name)
            .where(one_of(session.connection(), Contact.unit_id, part),
                   Contact.role == ContactRole.LIAISON)
            .order_by(Contact.id)
        ):
            out.setdefault(unit_id, name)
    return out


class _Lookups:
    """Per-run caches: items, unit names, working days left per (unit calendar, due date)."""

    def __init__(self, ctx: EngineContext, items: dict[int, _Item], units: dict[int, str],
                 liaisons: dict[int, str], as_of: date):
        self.ctx, self.items, self.units, self.liaisons, self.as_of = (ctx, items, units,
                                                                       liaisons, as_of)
        self._left: dict[tuple[int, date], int] = {}
        self._requirement: dict[tuple[int, int], str] = {}

    def left(self, unit_id: int, due: date) -> int:
        cal = self.ctx.calendar_for_unit(unit_id)
        key = (id(cal), due)
        value = self._left.get(key)
        if value is None:
            value = self._left[key] = working_days_left(self.as_of, due, cal).value
        return value

    def requirement(self, item_id: int, rule_index: int) -> str:
        key = (item_id, rule_index)
        value = self._requirement.get(key)
        if value is None:
            value = self._requirement[key] = _requirement(self.items[item_id], rule_index)
        return value


def _digest_rows(notices, look: _Lookups) -> list[DigestRow]:
    best: dict[tuple[int, int, date | None], tuple] = {}
    for n in notices:  # one row per obligation, at its most advanced step
        key = (n.item_id, n.unit_id, n.due_date)
        if key not in best or COLOUR_RANK[n.colour] >= COLOUR_RANK[best[key].colour]:
            best[key] = n
    return [DigestRow(item=look.items[n.item_id].flow_name,
                      requirement=look.requirement(n.item_id, n.rule_index), due_date=n.due_date,
                      working_days_left=look.left(n.unit_id, n.due_date),
                      status=STEP_STATUS.get(n.kind, ""))
            for n in best.values()]


def _unit_message(ctx, notices, look: _Lookups, contact: _Contact, as_of, now, office,
                  attach_xlsx_from) -> tuple[str, RenderedMessage]:
    rows = _digest_rows(notices, look)
    unit_name = look.units[contact.unit_id]
    escalated = [n for n in notices if n.kind == "escalation" and n.role == "to"]
    if escalated:
        colour = max((n.colour for n in escalated), key=lambda c: COLOUR_RANK[c])
        ctx_ = EscalationContext(
            leader_name=contact.name, unit_name=unit_name,
            contact_name=look.liaisons.get(contact.unit_id, "—"), level=colour,
            sheet_no=f"督〔{as_of.year}〕{as_of:%m%d}-{contact.id}号", rows=tuple(rows),
            issued_at=now, reply_by=ctx.national.add_working_days(as_of, 2),
            office_name=office)
        return "escalation", ctx.renderer.render("escalation", ctx_)
    digest = DigestContext(recipient_name=contact.name, unit_name=unit_name, rows=tuple(rows),
                           generated_at=now, office_name=office)
    rendered = ctx.renderer.render_digest(digest, attach_xlsx=len(rows) >= attach_xlsx_from)
    return "digest", rendered


def _coordinator(ctx, notices, look: _Lookups, contact: _Contact, as_of, now,
                 office, backlog: OutboxBacklog | None) -> RenderedMessage:
    rows = []
    seen = set()
    for n in notices:
        key = (n.item_id, n.unit_id, n.due_date)
        if key in seen:
            continue
        seen.add(key)
        rows.append(CoordinatorRow(
            unit_name=look.units[n.unit_id], item=look.items[n.item_id].flow_name,
            due_date=n.due_date, working_days_left=look.left(n.unit_id, n.due_date),
            status=STEP_STATUS.get(n.kind, ""), escalation_level=n.colour))
    digest = CoordinatorDigestContext(coordinator_name=contact.name, report_date=as_of,
                                      rows=tuple(rows), generated_at=now, office_name=office,
                                      backlog=backlog)
    return ctx.renderer.render("coordinator_digest", digest)
