"""Notifications: render messages (pure), deliver them by mail or IM robots.

* ``notifications.render`` — typed contexts + Jinja2 templates → ``RenderedMessage``.
* ``notifications.xlsx`` — the digest table as an .xlsx attachment.
* ``notifications.mail`` — ``MailSettings``, ``SmtpTransport``, ``FileTransport``.
* ``notifications.delivery`` — ``Deliverer``, the entry point the outbox drives.
* ``notifications.channels`` — ``CHANNELS`` registry: mail, dingtalk, wecom, feishu.

Only the value types are re-exported here so that importing the package stays cheap and
pure (no SMTP/HTTP libraries are loaded by ``import notifications.render``).
"""

from __future__ import annotations

from notifications.models import (
    Attachment,
    DeliveryResult,
    DeliveryStatus,
    OutgoingMessage,
    Recipient,
    RenderedMessage,
    make_message_id,
)

__all__ = [
    "Attachment",
    "DeliveryResult",
    "DeliveryStatus",
    "OutgoingMessage",
    "Recipient",
    "RenderedMessage",
    "make_message_id",
]
