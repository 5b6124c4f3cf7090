"""The outbox: every message is first a database row, then delivered — exactly once as far as
SMTP allows.

1. ``enqueue_message`` (one) and ``enqueue_messages`` (a run's thousands, in a few statements)
   insert rows under their unique key (scope, kind, level, period); the database refuses a
   second row, so re-running a reminder run writes nothing new.  The Message-ID is derived from
   the row id, so every retry carries the same id.
2. ``deliver_outbox`` claims due rows (status ``sending``, committed), hands them to the
   transport on one connection per batch and records each result as it arrives (committed per
   message).  A crash between two messages leaves the delivered ones ``delivered`` and the rest
   ``sending``/``pending``; the next run sends those.  The only possible duplicate is the message
   in flight whose server reply was lost — and it keeps its Message-ID.  A transport that
   recognises what it already delivered (the file outbox) has its results committed in groups:
   a crash there loses only records, and the next run finds those messages delivered.
3. Transient failures (4xx, dropped connections, timeouts) go back to ``pending`` for the next
   run, up to ``max_attempts``; permanent failures (5xx, refused recipient, robot errcode) are
   ``failed`` with the server's reply, shown to the coordinator.

Nothing is sent on a rest day of the recipient's calendar or outside the sending hours: such
rows wait (``not_before``) for the next working day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pendulum
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db.models import DeliveryAttempt, OutboxAttachment, OutboxMessage
from db.session import dialect_insert
from deadlines.calendar import WorkCalendar
from deadlines.due import TZ
from duban.vocab import OutboxStatus
from notifications.delivery import Deliverer, Transport
from notifications.models import (
    Attachment,
    DeliveryResult,
    DeliveryStatus,
    OutgoingMessage,
    RenderedMessage,
    make_message_id,
)


@dataclass(frozen=True)
class OutboxKey:
    scope: str  # "contact:12:email"
    kind: str  # digest | escalation | coordinator_digest | monthly_notice
    level: str  # escalation colour, or ""
    period: str  # "2020-09-16", "2020-09"


def next_send_time(day: date, *, calendar: WorkCalendar, hour: int,
                   sending_hours: tuple[int, int]) -> datetime:
    """The first allowed instant on or after ``day`` at ``hour``: a working day, in hours."""
    start, end = sending_hours
    hour = min(max(hour, start), end - 1)
    day = calendar.next_working_day(day)
    return pendulum.datetime(day.year, day.month, day.day, hour, tz=TZ)


@dataclass(frozen=True)
class NewMessage:
    """One message for :func:`enqueue_messages`."""

    key: OutboxKey
    rendered: RenderedMessage
    recipient_name: str
    recipient_address: str
    not_before: datetime
    contact_id: int | None = None
    channel: str = "email"


_KEY_COLUMNS = ("scope", "kind", "level", "period")
_MSG = OutboxMessage.__table__
_SET_MESSAGE_ID = (sa.update(_MSG).where(_MSG.c.id == sa.bindparam("row_id"))
                   .values(message_id=sa.bindparam("new_message_id")))


def enqueue_messages(session: Session, messages: Sequence[NewMessage], *, domain: str,
                     created_at: datetime) -> list[int | None]:
    """Write many message rows at once; per message its new row id, or None when a row with
    its key already exists (then nothing is written for it).

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` per batch of rows: the database decides
    which keys are new, so a concurrent run cannot make a message count as written twice.
    Message-IDs come from the row ids, attachments follow in one more statement.
    """
    if not messages:
        return []
    conn = session.connection()
    params, seen = [], set()
    for m in messages:
        k = m.key
        if (k.scope, k.kind, k.level, k.period) in seen:
            continue  # the same key twice in one call: the first one wins, as row by row
        seen.add((k.scope, k.kind, k.level, k.period))
        r = m.rendered
        params.append({
            "scope": k.scope, "kind": k.kind, "level": k.level, "period": k.period,
            "channel": m.channel, "contact_id": m.contact_id, "recipient_name": m.recipient_name,
            "recipient_address": m.recipient_address, "subject": r.subject,
            "text_body": r.text, "html_body": r.html, "markdown_body": r.markdown,
            "status": OutboxStatus.PENDING.value, "not_before": m.not_before, "attempts": 0,
            "created_at": created_at,
        })
    stmt = (dialect_insert(session, OutboxMessage)
            .on_conflict_do_nothing(index_elements=list(_KEY_COLUMNS))
            .returning(_MSG.c.id, *(_MSG.c[c] for c in _KEY_COLUMNS)))
    created: dict[tuple[str, str, str, str], int] = {}
    for start in range(0, len(params), 500):
        for row_id, *key in conn.execute(stmt, params[start:start + 500]):
            created[tuple(key)] = row_id
    ids: list[int | None] = []
    updates, attachments = [], []
    for m in messages:
        k = m.key
        row_id = created.pop((k.scope, k.kind, k.level, k.period), None)
        ids.append(row_id)
        if row_id is None:
            continue
        updates.append({"row_id": row_id, "new_message_id": make_message_id(row_id, domain)})
        attachments.extend({"message_id": row_id, "filename": a.filename, "mime": a.mime,
                            "content": a.content} for a in m.rendered.attachments)
    if updates:
        conn.execute(_SET_MESSAGE_ID, updates)
    if attachments:
        conn.execute(sa.insert(OutboxAttachment.__table__), attachments)
    return ids


def enqueue_message(
    session: Session,
    *,
    key: OutboxKey,
    rendered: RenderedMessage,
    recipient_name: str,
    recipient_address: str,
    not_before: datetime,
    domain: str,
    contact_id: int | None = None,
    channel: str = "email",
    created_at: datetime,
) -> tuple[OutboxMessage, bool]:
    """Write the message row unless its key exists; returns (row, created)."""
    [new_id] = enqueue_messages(
        session, [NewMessage(key=key, rendered=rendered, recipient_name=recipient_name,
                             recipient_address=recipient_address, not_before=not_before,
                             contact_id=contact_id, channel=channel)],
        domain=domain, created_at=created_at)
    if new_id is None:
        existing = session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.scope == key.scope, OutboxMessage.kind == key.kind,
                OutboxMessage.level == key.level, OutboxMessage.period == key.period)
        ).one()
        return existing, False
    return session.get(OutboxMessage, new_id), True


@dataclass
class DeliverySummary:
    delivered: int = 0
    transient: int = 0
    failed: int = 0
    waiting: int = 0  # due later (rest day, outside hours)
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"delivered": self.delivered, "transient": self.transient, "failed": self.failed,
                "waiting": self.waiting}


_ATT = OutboxAttachment.__table__
_DUE_COLUMNS = (_MSG.c.id, _MSG.c.contact_id, _MSG.c.not_before, _MSG.c.attempts,
                _MSG.c.message_id, _MSG.c.kind, _MSG.c.recipient_name, _MSG.c.recipient_address,
                _MSG.c.subject, _MSG.c.text_body, _MSG.c.html_body)


def _outgoing(row, attachments: Sequence[Attachment] = ()) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=row.message_id, kind=row.kind, recipient_name=row.recipient_name,
        recipient_address=row.recipient_address, subject=row.subject, text=row.text_body,
        html=row.html_body, attachments=tuple(attachments),
    )


def _attachments(conn, ids: list[int]) -> dict[int, list[Attachment]]:
    out: dict[int, list[Attachment]] = {}
    for start in range(0, len(ids), 5000):
        for message_id, filename, content, mime in conn.execute(
            sa.select(_ATT.c.message_id, _ATT.c.filename, _ATT.c.content, _ATT.c.mime)
            .where(_ATT.c.message_id.in_(ids[start:start + 5000])).order_by(_ATT.c.id)
        ):
            out.setdefault(message_id, []).append(Attachment(filename, content, mime))
    return out


@dataclass(frozen=True)
class _Claimed:
    """What recording a result needs to know about its row (as claimed)."""

    attempts: int
    recipient_name: str
    recipient_address: str


def deliver_outbox(
    engine: Engine,
    transport: Transport,
    *,
    now: datetime,
    calendar_for_contact: Callable[[int | None], WorkCalendar],
    sending_hours: tuple[int, int],
    max_attempts: int = 5,
    limit: int = 10_000,
    channel: str = "email",
) -> DeliverySummary:
    """Deliver every due row of ``channel``; see the module docs for the guarantees."""
    summary = DeliverySummary()
    local = pendulum.instance(now).in_tz(TZ)
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(*_DUE_COLUMNS)
            .where(_MSG.c.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                   _MSG.c.channel == channel, _MSG.c.attempts < max_attempts)
            .order_by(_MSG.c.id).limit(limit)
        ).all()
        ready = []
        for row in rows:
            if row.not_before > now or not _may_send(local, calendar_for_contact(row.contact_id),
                                                     sending_hours):
                summary.waiting += 1
                continue
            ready.append(row)
        if not ready:
            return summary
        ids = [r.id for r in ready]
        files = _attachments(conn, ids)
        outgoing = [_outgoing(r, files.get(r.id, ())) for r in ready]
        for start in range(0, len(ids), 5000):  # claim: a crash from here on leaves them to retry
            conn.execute(sa.update(_MSG).where(_MSG.c.id.in_(ids[start:start + 5000]))
                         .values(status=OutboxStatus.SENDING, attempts=_MSG.c.attempts + 1))
    by_message_id = {r.message_id: r.id for r in ready}
    claimed = {r.id: _Claimed(r.attempts + 1, r.recipient_name, r.recipient_address)
               for r in ready}
    # A transport that recognises what it already delivered (the file outbox) makes a lost
    # record harmless — the next run finds the message there and records it then — so its
    # results are committed in groups; for SMTP every result is committed before the next send.
    group = RECORD_GROUP if getattr(transport, "detects_duplicates", False) else 1
    pending: list[tuple[int, DeliveryResult, _Claimed]] = []

    with engine.connect() as conn:  # one connection for all the records
        def on_result(result: DeliveryResult) -> None:
            row_id = by_message_id[result.message_id]
            if group == 1:
                _record(conn, row_id, result, now, max_attempts, summary, claimed[row_id])
                return
            pending.append((row_id, result, claimed[row_id]))
            if len(pending) >= group:
                _record_many(conn, pending, now, max_attempts, summary)
                pending.clear()

        try:
            Deliverer(transport).deliver(outgoing, on_result=on_result)
        finally:
            if pending:
                _record_many(conn, pending, now, max_attempts, summary)
    return summary


RECORD_GROUP = 200


def _may_send(local: pendulum.DateTime, calendar: WorkCalendar,
              sending_hours: tuple[int, int]) -> bool:
    start, end = sending_hours
    return calendar.is_working_day(local.date()) and start <= local.hour < end


_ADD_ATTEMPT = sa.insert(DeliveryAttempt.__table__)
_SET_DELIVERED = (sa.update(_MSG).where(_MSG.c.id == sa.bindparam("row_id"))
                  .values(status=sa.bindparam("new_status"), delivered_at=sa.bindparam("at"),
                          last_code=sa.bindparam("code"), last_reply=sa.bindparam("reply")))
_SET_OUTCOME = (sa.update(_MSG).where(_MSG.c.id == sa.bindparam("row_id"))
                .values(status=sa.bindparam("new_status"), last_code=sa.bindparam("code"),
                        last_reply=sa.bindparam("reply")))


def _record(conn, row_id: int, result: DeliveryResult, now: datetime, max_attempts: int,
            summary: DeliverySummary, row: _Claimed) -> None:
    """Record one result and commit it before the next message goes out."""
    _record_many(conn, [(row_id, result, row)], now, max_attempts, summary)


def _record_many(conn, results: Sequence[tuple[int, DeliveryResult, _Claimed]], now: datetime,
                 max_attempts: int, summary: DeliverySummary) -> None:
    """Record results (attempt rows and the messages' new status) in one transaction."""
    attempts, delivered, others, failures = [], [], [], []
    for row_id, result, row in results:
        reply = result.reply or None
        attempts.append({"message_id": row_id, "at": now, "status": result.status.value,
                         "code": result.code, "reply": reply})
        change = {"row_id": row_id, "code": result.code, "reply": reply}
        if result.status is DeliveryStatus.DELIVERED:
            delivered.append({**change, "new_status": OutboxStatus.DELIVERED, "at": now})
        elif result.status is DeliveryStatus.TRANSIENT_FAILURE and row.attempts < max_attempts:
            others.append({**change, "new_status": OutboxStatus.PENDING})
        else:
            others.append({**change, "new_status": OutboxStatus.FAILED})
            failures.append(f"{row.recipient_name} <{row.recipient_address}>: "
                            f"{result.code or ''} {result.reply}")
    with conn.begin():
        conn.execute(_ADD_ATTEMPT, attempts)
        if delivered:
            conn.execute(_SET_DELIVERED, delivered)
        if others:
            conn.execute(_SET_OUTCOME, others)
    summary.delivered += len(delivered)
    summary.transient += sum(1 for o in others if o["new_status"] is OutboxStatus.PENDING)
    summary.failed += len(failures)
    summary.failures.extend(failures)


def list_failed(session: Session, *, since: datetime | None = None) -> Sequence[OutboxMessage]:
    stmt = sa.select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    if since is not None:
        stmt = stmt.where(OutboxMessage.created_at >= since)
    return session.scalars(stmt.order_by(OutboxMessage.id)).all()


__all__ = [
    "DeliverySummary",
    "NewMessage",
    "OutboxKey",
    "deliver_outbox",
    "enqueue_message",
    "enqueue_messages",
    "list_failed",
    "next_send_time",
]
