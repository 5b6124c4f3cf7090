"""The outbox: every message is first a database row, then delivered — exactly once as far as
SMTP allows.

1. ``enqueue_message`` inserts a row under its unique key (scope, kind, level, period); the
   database refuses a second row, so re-running a reminder run writes nothing new.  The
   Message-ID is derived from the row id, so every retry carries the same id.
2. ``deliver_outbox`` claims due rows (status ``sending``, committed), hands them to the
   transport on one connection per batch and records each result as it arrives (committed per
   message).  A crash between two messages leaves the delivered ones ``delivered`` and the rest
   ``sending``/``pending``; the next run sends those.  The only possible duplicate is the message
   in flight whose server reply was lost — and it keeps its Message-ID.
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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db.models import DeliveryAttempt, OutboxAttachment, OutboxMessage
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


def _insert(session: Session):
    return (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)(
        OutboxMessage
    )


def next_send_time(day: date, *, calendar: WorkCalendar, hour: int,
                   sending_hours: tuple[int, int]) -> datetime:
    """The first allowed instant on or after ``day`` at ``hour``: a working day, in hours."""
    start, end = sending_hours
    hour = min(max(hour, start), end - 1)
    day = calendar.next_working_day(day)
    return pendulum.datetime(day.year, day.month, day.day, hour, tz=TZ)


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
    stmt = (
        _insert(session)
        .values(
            scope=key.scope, kind=key.kind, level=key.level, period=key.period, channel=channel,
            contact_id=contact_id, recipient_name=recipient_name,
            recipient_address=recipient_address, subject=rendered.subject,
            text_body=rendered.text, html_body=rendered.html, markdown_body=rendered.markdown,
            status=OutboxStatus.PENDING.value, not_before=not_before, attempts=0,
            created_at=created_at,
        )
        .on_conflict_do_nothing(index_elements=["scope", "kind", "level", "period"])
        .returning(OutboxMessage.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is None:
        existing = session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.scope == key.scope, OutboxMessage.kind == key.kind,
                OutboxMessage.level == key.level, OutboxMessage.period == key.period)
        ).one()
        return existing, False
    session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.id == new_id)
        .values(message_id=make_message_id(new_id, domain))
    )
    for att in rendered.attachments:
        session.add(OutboxAttachment(message_id=new_id, filename=att.filename, mime=att.mime,
                                     content=att.content))
    session.flush()
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


def _outgoing(row: OutboxMessage) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=row.message_id, kind=row.kind, recipient_name=row.recipient_name,
        recipient_address=row.recipient_address, subject=row.subject, text=row.text_body,
        html=row.html_body,
        attachments=tuple(Attachment(a.filename, a.content, a.mime) for a in row.attachments),
    )


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
    with Session(engine) as session:
        rows = session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                   OutboxMessage.channel == channel,
                   OutboxMessage.attempts < max_attempts)
            .order_by(OutboxMessage.id).limit(limit)
        ).all()
        ready: list[OutboxMessage] = []
        for row in rows:
            if row.not_before > now or not _may_send(local, calendar_for_contact(row.contact_id),
                                                     sending_hours):
                summary.waiting += 1
                continue
            ready.append(row)
        if not ready:
            return summary
        outgoing = [_outgoing(r) for r in ready]
        by_message_id = {r.message_id: r.id for r in ready}
        for row in ready:  # claim: a crash from here on leaves them to be retried
            row.status = OutboxStatus.SENDING
            row.attempts += 1
        session.commit()

    def on_result(result: DeliveryResult) -> None:
        _record(engine, by_message_id[result.message_id], result, now, max_attempts, summary)

    Deliverer(transport).deliver(outgoing, on_result=on_result)
    return summary


def _may_send(local: pendulum.DateTime, calendar: WorkCalendar,
              sending_hours: tuple[int, int]) -> bool:
    start, end = sending_hours
    return calendar.is_working_day(local.date()) and start <= local.hour < end


def _record(engine: Engine, row_id: int, result: DeliveryResult, now: datetime,
            max_attempts: int, summary: DeliverySummary) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(OutboxMessage, row_id)
        session.add(DeliveryAttempt(message_id=row_id, at=now, status=result.status.value,
                                    code=result.code, reply=result.reply or None))
        row.last_code, row.last_reply = result.code, result.reply or None
        if result.status is DeliveryStatus.DELIVERED:
            row.status = OutboxStatus.DELIVERED
            row.delivered_at = now
            summary.delivered += 1
        elif result.status is DeliveryStatus.TRANSIENT_FAILURE and row.attempts < max_attempts:
            row.status = OutboxStatus.PENDING
            summary.transient += 1
        else:
            row.status = OutboxStatus.FAILED
            summary.failed += 1
            summary.failures.append(
                f"{row.recipient_name} <{row.recipient_address}>: {result.code or ''} {result.reply}"
            )


def list_failed(session: Session, *, since: datetime | None = None) -> Sequence[OutboxMessage]:
    stmt = sa.select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    if since is not None:
        stmt = stmt.where(OutboxMessage.created_at >= since)
    return session.scalars(stmt.order_by(OutboxMessage.id)).all()


__all__ = [
    "DeliverySummary",
    "OutboxKey",
    "deliver_outbox",
    "enqueue_message",
    "list_failed",
    "next_send_time",
]
