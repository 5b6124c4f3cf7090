"""The outbox: every message is first a database row, then delivered — exactly once as far as
SMTP allows.

1. ``enqueue_message`` (one) and ``enqueue_messages`` (a run's thousands, in a few statements)
   insert rows under their unique key (scope, kind, level, period); the database refuses a
   second row, so re-running a reminder run writes nothing new.  The Message-ID is derived from
   the row id, so every retry carries the same id.
2. ``deliver_outbox`` claims due rows (status ``sending`` under its lease token, committed),
   hands them to the transport on one connection per batch and records each result as it
   arrives (committed per message).  Several deliverers may run at once, in any number of
   processes and hosts: claims lock rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one
   deliverer per file on SQLite) and a live deliverer's rows are never taken (``db/locks.py``).  A crash between two messages leaves the delivered ones ``delivered`` and the rest
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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pendulum
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db.locks import DelivererLease, deliverer_lease
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
    # Rows are inserted in key order whatever order the caller gave: two runs writing the same
    # messages then wait for each other on the first shared key instead of deadlocking.
    params.sort(key=lambda p: (p["scope"], p["kind"], p["level"], p["period"]))
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
    limit: int = 100_000,
    channel: str = "email",
    claim_batch: int = 500,
) -> DeliverySummary:
    """Deliver every due row of ``channel``; see the module docs for the guarantees.

    Safe to run in several processes at once: each holds a deliverer lease while it works and
    claims rows under it (``db/locks.py``), so every message goes out once; rows a crashed
    deliverer left ``sending`` are taken over by the next one.
    """
    summary = DeliverySummary()
    after_id = 0
    with deliverer_lease(engine) as lease:
        if after_id == 0:
            _fail_exhausted_orphans(engine, lease, summary, now=now, max_attempts=max_attempts,
                                    channel=channel)
        while limit > 0:  # claim a batch, send it, record it; then the next batch
            lease.check()
            claimed_rows, after_id = _claim(
                engine, lease, summary, now=now, calendar_for_contact=calendar_for_contact,
                sending_hours=sending_hours, max_attempts=max_attempts,
                batch=min(claim_batch, limit), channel=channel, after_id=after_id)
            if after_id is None:
                break
            if claimed_rows:
                _send(engine, transport, lease, claimed_rows, summary, now=now,
                      max_attempts=max_attempts)
                limit -= len(claimed_rows)
    return summary


UNKNOWN_OUTCOME = "投递进程在发送中途中断，已无重试次数，无法确认对方是否收到"


def _fail_exhausted_orphans(engine: Engine, lease: DelivererLease, summary: DeliverySummary, *,
                            now: datetime, max_attempts: int, channel: str) -> None:
    """Rows a dead deliverer left ``sending`` on their last attempt can never be claimed
    again: mark them failed (shown to the coordinator) instead of leaving them stuck."""
    stuck = sa.and_(_MSG.c.channel == channel, _MSG.c.status == OutboxStatus.SENDING,
                    _MSG.c.attempts >= max_attempts, lease.orphaned(_MSG.c.claim_token))
    with engine.begin() as conn:
        rows = conn.execute(sa.select(_MSG.c.id, _MSG.c.recipient_name,
                                      _MSG.c.recipient_address).where(stuck)).all()
        if not rows:
            return
        conn.execute(sa.update(_MSG).where(_MSG.c.id.in_([r.id for r in rows]))
                     .values(status=OutboxStatus.FAILED, last_reply=UNKNOWN_OUTCOME,
                             claim_token=None))
        conn.execute(_ADD_ATTEMPT, [{"message_id": r.id, "at": now, "status": "unknown",
                                     "code": None, "reply": UNKNOWN_OUTCOME} for r in rows])
    summary.failed += len(rows)
    summary.failures.extend(f"{r.recipient_name} <{r.recipient_address}>: {UNKNOWN_OUTCOME}"
                            for r in rows)


def _claim(engine: Engine, lease: DelivererLease, summary: DeliverySummary, *, now: datetime,
           calendar_for_contact: Callable[[int | None], WorkCalendar],
           sending_hours: tuple[int, int], max_attempts: int, batch: int, channel: str,
           after_id: int) -> tuple[list[tuple[Any, OutgoingMessage]], int | None]:
    """Claim the next due rows after ``after_id`` (committed ``sending`` under our token);
    returns them and the id to continue after (None: nothing left).  Rows due later or outside
    the recipient's working hours are counted as waiting and left alone; rows that fail now go
    back to ``pending`` behind the cursor, for the next run rather than this one."""
    local = pendulum.instance(now).in_tz(TZ)
    open_rows = sa.and_(
        _MSG.c.channel == channel, _MSG.c.attempts < max_attempts,
        sa.or_(_MSG.c.status == OutboxStatus.PENDING,
               sa.and_(_MSG.c.status == OutboxStatus.SENDING, lease.orphaned(_MSG.c.claim_token))))
    with engine.begin() as conn:
        if after_id == 0:
            summary.waiting += conn.scalar(
                sa.select(sa.func.count()).select_from(_MSG)
                .where(open_rows, _MSG.c.not_before > now)) or 0
        stmt = (sa.select(*_DUE_COLUMNS)
                .where(open_rows, _MSG.c.not_before <= now, _MSG.c.id > after_id)
                .order_by(_MSG.c.id).limit(batch))
        if lease.claims_skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = conn.execute(stmt).all()
        if not rows:
            return [], None
        ready = []
        for row in rows:
            if not _may_send(local, calendar_for_contact(row.contact_id), sending_hours):
                summary.waiting += 1
                continue
            ready.append(row)
        ids = [r.id for r in ready]
        files = _attachments(conn, ids)
        for start in range(0, len(ids), 5000):  # claim: a crash from here on leaves them to retry
            conn.execute(sa.update(_MSG).where(_MSG.c.id.in_(ids[start:start + 5000]))
                         .values(status=OutboxStatus.SENDING, attempts=_MSG.c.attempts + 1,
                                 claim_token=lease.token, claimed_at=now))
    return [(r, _outgoing(r, files.get(r.id, ()))) for r in ready], rows[-1].id


def _send(engine: Engine, transport: Transport, lease: DelivererLease,
          claimed_rows: list[tuple[Any, OutgoingMessage]], summary: DeliverySummary, *,
          now: datetime, max_attempts: int) -> None:
    by_message_id = {out.message_id: row.id for row, out in claimed_rows}
    claimed = {row.id: _Claimed(row.attempts + 1, row.recipient_name, row.recipient_address)
               for row, _ in claimed_rows}
    # A transport that recognises what it already delivered (the file outbox) makes a lost
    # record harmless — the next run finds the message there and records it then — so its
    # results are committed in groups; for SMTP every result is committed before the next send.
    group = RECORD_GROUP if getattr(transport, "detects_duplicates", False) else 1
    pending: list[tuple[int, DeliveryResult, _Claimed]] = []

    with engine.connect() as conn:  # one connection for all the records
        def on_result(result: DeliveryResult) -> None:
            row_id = by_message_id[result.message_id]
            pending.append((row_id, result, claimed[row_id]))
            if len(pending) >= group:
                _record_many(conn, pending, now, max_attempts, summary, lease.token)
                pending.clear()
            lease.check()  # lost it? stop before the next message: its row may be another's

        try:
            Deliverer(transport).deliver([out for _, out in claimed_rows], on_result=on_result)
        finally:
            if pending:
                _record_many(conn, pending, now, max_attempts, summary, lease.token)


RECORD_GROUP = 200
RECORD_RETRY_S = 120.0


def _may_send(local: pendulum.DateTime, calendar: WorkCalendar,
              sending_hours: tuple[int, int]) -> bool:
    start, end = sending_hours
    return calendar.is_working_day(local.date()) and start <= local.hour < end


_ADD_ATTEMPT = sa.insert(DeliveryAttempt.__table__)
# "… AND claim_token = ours": a deliverer that lost its lease (its database connection died)
# must not overwrite the record of the one that took its rows over
_OURS = sa.and_(_MSG.c.id == sa.bindparam("row_id"), _MSG.c.claim_token == sa.bindparam("token"))
_SET_DELIVERED = (sa.update(_MSG).where(_OURS)
                  .values(status=sa.bindparam("new_status"), delivered_at=sa.bindparam("at"),
                          last_code=sa.bindparam("code"), last_reply=sa.bindparam("reply"),
                          claim_token=None))
_SET_OUTCOME = (sa.update(_MSG).where(_OURS)
                .values(status=sa.bindparam("new_status"), last_code=sa.bindparam("code"),
                        last_reply=sa.bindparam("reply"), claim_token=None,
                        attempts=_MSG.c.attempts - sa.bindparam("refund")))


def _record_many(conn, results: Sequence[tuple[int, DeliveryResult, _Claimed]], now: datetime,
                 max_attempts: int, summary: DeliverySummary, token: int) -> None:
    """Record results (attempt rows and the messages' new status) in one transaction."""
    attempts, delivered, others, failures = [], [], [], []
    for row_id, result, row in results:
        reply = result.reply or None
        attempts.append({"message_id": row_id, "at": now, "status": result.status.value,
                         "code": result.code, "reply": reply})
        change = {"row_id": row_id, "code": result.code, "reply": reply, "token": token,
                  "refund": 0}
        if result.status is DeliveryStatus.DELIVERED:
            delivered.append({**change, "new_status": OutboxStatus.DELIVERED, "at": now})
        elif result.status is DeliveryStatus.TRANSIENT_FAILURE and (
                result.attempts == 0 or not result.connected):
            # never put on the wire (no connection, or the batch stopped before it): the
            # claim's attempt is given back, so an outage cannot use up a message's attempts
            others.append({**change, "new_status": OutboxStatus.PENDING, "refund": 1})
        elif result.status is DeliveryStatus.TRANSIENT_FAILURE and row.attempts < max_attempts:
            others.append({**change, "new_status": OutboxStatus.PENDING})
        else:
            others.append({**change, "new_status": OutboxStatus.FAILED})
            failures.append(f"{row.recipient_name} <{row.recipient_address}>: "
                            f"{result.code or ''} {result.reply}")
    # The messages have gone out: their record must not be lost to a busy database (SQLite
    # "database is locked" while another run writes) or a brief outage — retry for a while.
    deadline = time.monotonic() + RECORD_RETRY_S
    while True:
        try:
            with conn.begin():
                conn.execute(_ADD_ATTEMPT, attempts)
                if delivered:
                    conn.execute(_SET_DELIVERED, delivered)
                if others:
                    conn.execute(_SET_OUTCOME, others)
            break
        except sa.exc.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
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
