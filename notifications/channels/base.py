"""One contract for every channel: ``send(message, recipient) -> DeliveryResult``.

A channel never raises for a delivery failure. For the IM robots, "delivered" means the
platform said so in the JSON body (``errcode == 0`` / ``code == 0``): DingTalk, WeCom and
Feishu answer HTTP 200 to bad signatures, unknown keywords and rate limits too.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import httpx

from notifications.models import DeliveryResult, DeliveryStatus, Recipient, RenderedMessage

log = logging.getLogger(__name__)

# A webhook URL is a credential: whoever holds DingTalk's access_token, WeCom's key or Feishu's
# hook token can post to the group. httpx logs every request URL at INFO; keep the host and
# path, hide the tokens (and DingTalk's sign/timestamp, replayable for an hour).
_WEBHOOK_CREDENTIALS = re.compile(r"(\b(?:access_token|key|sign|timestamp)=)[^&\s\"']+"
                                  r"|(/bot/v2/hook/)[^/?\s\"']+")


def redact_webhook(text: str) -> str:
    """``text`` with webhook tokens and signatures replaced by ``***``."""
    return _WEBHOOK_CREDENTIALS.sub(lambda m: f"{m.group(1) or m.group(2)}***", text)


class _RedactWebhookUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_webhook(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


if not any(isinstance(f, _RedactWebhookUrls) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactWebhookUrls())


class Channel(Protocol):
    name: str

    def send(
        self, message: RenderedMessage, recipient: Recipient, *, message_id: str = ""
    ) -> DeliveryResult: ...


def int_or_none(value: object) -> int | None:
    """A result code as int (robots sometimes send strings); None when absent/garbled."""
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def truncate_utf8(text: str, max_bytes: int, suffix: str = "\n……（内容过长，详见邮件）") -> str:
    """Cut ``text`` so that it fits ``max_bytes`` of UTF-8, marking the cut."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    budget = max_bytes - len(suffix.encode("utf-8"))
    cut = text.encode("utf-8")[: max(budget, 0)].decode("utf-8", "ignore")
    return cut + suffix


class WebhookRobot:
    """A group-robot webhook: POST JSON, read a result code from the JSON reply."""

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    # Result codes that mean "try again later" (rate limits, system busy).
    transient_codes: ClassVar[frozenset[int]] = frozenset()
    max_body_bytes: ClassVar[int] = 18000

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.timeout = timeout
        self._client = client
        self._clock = clock

    # Subclasses: build (url, payload) and read (code, message) from the reply.
    def build_request(
        self, message: RenderedMessage, recipient: Recipient
    ) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def result_code(self, body: dict[str, Any]) -> tuple[int | None, str]:
        raise NotImplementedError

    def send(
        self, message: RenderedMessage, recipient: Recipient, *, message_id: str = ""
    ) -> DeliveryResult:
        def result(status: DeliveryStatus, code: int | None, reply: str) -> DeliveryResult:
            return DeliveryResult(
                message_id=message_id,
                status=status,
                code=code,
                reply=redact_webhook(reply)[:1000],  # error texts may quote the URL
                attempts=1,
                channel=self.name,
            )

        try:
            url, payload = self.build_request(message, recipient)
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers = {"Content-Type": "application/json; charset=utf-8"}
            if self._client is not None:
                resp = self._client.post(url, content=body, headers=headers, timeout=self.timeout)
            else:
                with httpx.Client(timeout=self.timeout) as client:
                    resp = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return result(DeliveryStatus.TRANSIENT_FAILURE, None, f"timeout: {exc}")
        except httpx.HTTPError as exc:
            return result(DeliveryStatus.TRANSIENT_FAILURE, None, f"{type(exc).__name__}: {exc}")

        text = resp.text
        if resp.status_code >= 500 or resp.status_code == 429:
            return result(
                DeliveryStatus.TRANSIENT_FAILURE,
                resp.status_code,
                f"HTTP {resp.status_code}: {text}",
            )
        if resp.status_code >= 400:
            return result(
                DeliveryStatus.PERMANENT_FAILURE,
                resp.status_code,
                f"HTTP {resp.status_code}: {text}",
            )
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return result(
                DeliveryStatus.PERMANENT_FAILURE, resp.status_code, f"not a robot reply: {text}"
            )
        code, msg = self.result_code(data)
        if code == 0:
            return result(DeliveryStatus.DELIVERED, 0, msg or "ok")
        log.warning("%s robot refused the message: %s %s", self.name, code, msg)
        status = (
            DeliveryStatus.TRANSIENT_FAILURE
            if code in self.transient_codes
            else DeliveryStatus.PERMANENT_FAILURE
        )
        return result(status, code, msg or text)
