"""DingTalk (钉钉) custom group robot, markdown messages, optional 加签 signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar
from urllib.parse import quote

from notifications.channels.base import WebhookRobot, int_or_none, truncate_utf8
from notifications.models import Recipient, RenderedMessage


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)), not URL-encoded."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkRobot(WebhookRobot):
    """``POST {base}/robot/send?access_token=…[&timestamp=…&sign=…]``.

    The signature is URL-encoded exactly once here and the URL is sent as is: encoding it
    again (as some wrappers do via ``params=``) yields ``%252B`` and errcode 310000.
    """

    name = "dingtalk"
    default_base_url = "https://oapi.dingtalk.com"
    # 130101: sending too fast (20 messages/minute per robot); -1: system busy.
    transient_codes: ClassVar[frozenset[int]] = frozenset({-1, 130101})

    def __init__(self, *, access_token: str, secret: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.access_token = access_token
        self.secret = secret

    def build_request(
        self, message: RenderedMessage, recipient: Recipient
    ) -> tuple[str, dict[str, Any]]:
        url = f"{self.base_url}/robot/send?access_token={quote(self.access_token, safe='')}"
        if self.secret:
            ts = str(int(self._clock() * 1000))
            sign = dingtalk_sign(ts, self.secret)
            url += f"&timestamp={ts}&sign={quote(sign, safe='')}"
        text = message.markdown or message.text
        mobiles = [recipient.mobile] if recipient.mobile else []
        if mobiles:
            # DingTalk only notifies an @-mentioned member whose number also appears in the text.
            text = f"{text}\n\n@{recipient.mobile}"
        payload = {
            "msgtype": "markdown",
            "markdown": {
                "title": message.subject,
                "text": truncate_utf8(text, self.max_body_bytes),
            },
            "at": {"atMobiles": mobiles, "isAtAll": False},
        }
        return url, payload

    def result_code(self, body: dict[str, Any]) -> tuple[int | None, str]:
        return int_or_none(body.get("errcode")), str(body.get("errmsg", ""))
