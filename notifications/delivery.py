"""The delivery entry point the outbox drives.

Contract with the outbox (db layer, later):

1. The outbox writes one row per message first, under a unique key (run, contact, kind,
   day...), and derives ``message_id`` from the row id (``make_message_id``).
2. It hands the not-yet-delivered rows to ``Deliverer.deliver`` and records every
   ``DeliveryResult`` as it arrives (``on_result`` is called per message, before the batch
   ends, so a crash mid-batch loses at most the message in flight).
3. ``transient_failure`` rows are retried next run with the *same* message id;
   ``permanent_failure`` rows are not.

Calling ``deliver`` again with messages that already went out is only safe when the
transport can tell (``transport.detects_duplicates``: the file transport can, SMTP cannot —
for SMTP the outbox's "delivered" state is what prevents a second send).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from notifications.models import DeliveryResult, OutgoingMessage


class Transport(Protocol):
    """What ``SmtpTransport`` and ``FileTransport`` provide."""

    name: str
    detects_duplicates: bool

    def deliver(
        self,
        batch: Sequence[OutgoingMessage],
        *,
        on_result: Callable[[DeliveryResult], None] | None = None,
    ) -> list[DeliveryResult]: ...


class Deliverer:
    """Splits messages into batches (one connection each) and returns results in order."""

    def __init__(self, transport: Transport, *, batch_size: int = 500):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.transport = transport
        self.batch_size = batch_size

    def deliver(
        self,
        messages: Sequence[OutgoingMessage],
        *,
        on_result: Callable[[DeliveryResult], None] | None = None,
    ) -> list[DeliveryResult]:
        seen: set[str] = set()
        for m in messages:
            if m.message_id in seen:
                # Two rows with one id would make a retry ambiguous: an outbox bug, say so.
                raise ValueError(f"duplicate message id in one delivery: {m.message_id}")
            seen.add(m.message_id)
        results: list[DeliveryResult] = []
        for start in range(0, len(messages), self.batch_size):
            chunk = messages[start : start + self.batch_size]
            batch_results = self.transport.deliver(chunk, on_result=on_result)
            if [r.message_id for r in batch_results] != [m.message_id for m in chunk]:
                raise RuntimeError(f"transport {self.transport.name} returned results out of order")
            results.extend(batch_results)
        return results
