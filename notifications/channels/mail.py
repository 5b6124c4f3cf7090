"""Mail as a channel: the same ``send(message, recipient)`` contract as the IM robots."""

from __future__ import annotations

import uuid
from typing import ClassVar

from notifications.delivery import Transport
from notifications.models import (
    DeliveryResult,
    DeliveryStatus,
    OutgoingMessage,
    Recipient,
    RenderedMessage,
    make_message_id,
)


class MailChannel:
    """Adapter: one message through a mail transport (SMTP or file).

    For many messages use ``Deliverer`` directly — it keeps one SMTP connection per batch.
    """

    name: ClassVar[str] = "mail"

    def __init__(self, transport: Transport, *, message_id_domain: str = "duban.local"):
        self.transport = transport
        self.message_id_domain = message_id_domain

    def send(
        self, message: RenderedMessage, recipient: Recipient, *, message_id: str = ""
    ) -> DeliveryResult:
        message_id = message_id or make_message_id(uuid.uuid4().hex, self.message_id_domain)
        try:
            outgoing = OutgoingMessage.from_rendered(
                message, message_id=message_id, recipient=recipient
            )
        except ValueError as exc:
            return DeliveryResult(
                message_id=message_id,
                status=DeliveryStatus.PERMANENT_FAILURE,
                reply=str(exc),
                attempts=0,
            )
        return self.transport.deliver([outgoing])[0]
