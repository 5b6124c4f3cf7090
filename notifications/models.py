"""Value types shared by rendering, mail delivery and the IM channels.

They are plain frozen dataclasses so that the outbox (db layer) can persist them column by
column and rebuild them for a retry without any knowledge of SMTP or HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

# A Message-ID left part and domain restricted to characters that are safe both in the
# ``Message-ID:`` header (dot-atom) and as a file name in ``var/outbox/``.
_MESSAGE_ID = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,190}@[A-Za-z0-9]([A-Za-z0-9.-]{0,60}[A-Za-z0-9])?$"
)


class DeliveryStatus(StrEnum):
    """Outcome of one delivery attempt round for one message."""

    DELIVERED = "delivered"
    # Worth retrying on the next run: 4xx replies, dropped connections, timeouts, HTTP 5xx.
    TRANSIENT_FAILURE = "transient_failure"
    # Retrying will not help: 5xx replies, refused recipients, robot errcode != 0 (bad sign...).
    PERMANENT_FAILURE = "permanent_failure"


class Attachment(NamedTuple):
    """One file attached to a mail; a plain ``(filename, bytes, mime)`` tuple also works."""

    filename: str
    content: bytes
    mime: str = "application/octet-stream"


@dataclass(frozen=True, kw_only=True)
class Recipient:
    """Who a message is for; each channel uses the field it needs."""

    name: str
    email: str | None = None
    # Mobile number for DingTalk @-mentions; WeCom/Feishu user ids for their own mentions.
    mobile: str | None = None
    im_user_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class RenderedMessage:
    """Output of ``notifications.render``: one subject line and the bodies for every channel."""

    kind: str
    subject: str
    text: str
    html: str
    # Markdown for the IM robots (DingTalk/WeCom markdown, Feishu post lines); None → use text.
    markdown: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OutgoingMessage:
    """One mail ready to go: what the outbox stores and what a transport delivers.

    ``message_id`` (``left@domain``, no angle brackets) is derived by the caller from the
    outbox row id (see ``make_message_id``), so a retried send carries the same Message-ID
    and a file transport can recognise a message it already wrote.
    """

    message_id: str
    kind: str
    recipient_name: str
    recipient_address: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        check_message_id(self.message_id)
        if "@" not in self.recipient_address or any(
            c in self.recipient_address for c in "\r\n<>, "
        ):
            raise ValueError(f"invalid recipient address {self.recipient_address!r}")
        # Normalise plain tuples into Attachment so callers may pass (name, bytes, mime).
        object.__setattr__(self, "attachments", tuple(Attachment(*a) for a in self.attachments))

    @classmethod
    def from_rendered(
        cls, rendered: RenderedMessage, *, message_id: str, recipient: Recipient
    ) -> OutgoingMessage:
        """Pair a rendered message with its outbox id and recipient address."""
        if not recipient.email:
            raise ValueError(f"recipient {recipient.name!r} has no email address")
        return cls(
            message_id=message_id,
            kind=rendered.kind,
            recipient_name=recipient.name,
            recipient_address=recipient.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            attachments=rendered.attachments,
        )


@dataclass(frozen=True, kw_only=True)
class DeliveryResult:
    """What happened to one message. ``code``/``reply`` are the server's (SMTP code or errcode)."""

    message_id: str
    status: DeliveryStatus
    code: int | None = None
    reply: str = ""
    attempts: int = 0
    # True when the transport recognised the message as delivered earlier (file mode).
    already_delivered: bool = False
    # False when no connection to the server could be made: the message never left
    connected: bool = True
    channel: str = field(default="mail")

    @property
    def delivered(self) -> bool:
        return self.status is DeliveryStatus.DELIVERED


def check_message_id(message_id: str) -> str:
    """Reject ids that would be unsafe as a header value or as a file name."""
    if not _MESSAGE_ID.match(message_id) or ".." in message_id or ".@" in message_id:
        raise ValueError(
            f"invalid message id {message_id!r}: expected 'left@domain' with letters, digits, . _ = + -"
        )
    return message_id


def make_message_id(key: str | int, domain: str) -> str:
    """Deterministic Message-ID for an outbox row: ``duban.<key>@<domain>``.

    The same key always gives the same id, which is what makes a retry recognisable.
    """
    left = re.sub(r"[^A-Za-z0-9._=+-]", "-", f"duban.{key}")
    left = re.sub(r"\.{2,}", ".", left).rstrip(".")  # dot-atom: no empty atoms
    return check_message_id(f"{left}@{domain}")
