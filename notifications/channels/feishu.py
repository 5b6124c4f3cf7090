"""Feishu (飞书) custom bot, rich-text ``post`` messages, optional 签名校验."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar
from urllib.parse import quote

from notifications.channels.base import WebhookRobot, int_or_none, truncate_utf8
from notifications.models import Recipient, RenderedMessage


def feishu_sign(timestamp_s: str, secret: str) -> str:
    """base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg=b"")) — Feishu's own recipe."""
    key = f"{timestamp_s}\n{secret}".encode()
    digest = hmac.new(key, b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class FeishuRobot(WebhookRobot):
    """``POST {base}/open-apis/bot/v2/hook/{token}`` with ``timestamp``/``sign`` in the body."""

    name = "feishu"
    default_base_url = "https://open.feishu.cn"
    # 9499: too many requests; 11232: frequency limited (100/min, 5/s per bot).
    transient_codes: ClassVar[frozenset[int]] = frozenset({9499, 11232})

    def __init__(self, *, token: str, secret: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.token = token
        self.secret = secret

    def build_request(
        self, message: RenderedMessage, recipient: Recipient
    ) -> tuple[str, dict[str, Any]]:
        url = f"{self.base_url}/open-apis/bot/v2/hook/{quote(self.token, safe='')}"
        # The post format shows text as is (no markdown), so use the plain-text body.
        text = truncate_utf8(message.text, self.max_body_bytes)
        lines: list[list[dict[str, str]]] = [
            [{"tag": "text", "text": line}] for line in text.splitlines()
        ]
        if recipient.im_user_id:
            lines.append([{"tag": "at", "user_id": recipient.im_user_id}])
        payload: dict[str, Any] = {
            "msg_type": "post",
            "content": {"post": {"zh_cn": {"title": message.subject, "content": lines}}},
        }
        if self.secret:
            ts = str(int(self._clock()))
            payload["timestamp"] = ts
            payload["sign"] = feishu_sign(ts, self.secret)
        return url, payload

    def result_code(self, body: dict[str, Any]) -> tuple[int | None, str]:
        if "code" in body:
            return int_or_none(body.get("code")), str(body.get("msg", ""))
        # Older hook versions answer {"StatusCode": 0, "StatusMessage": "success"}.
        return int_or_none(body.get("StatusCode")), str(body.get("StatusMessage", ""))
