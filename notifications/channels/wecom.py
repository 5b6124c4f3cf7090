"""WeCom (企业微信) group robot, markdown messages."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from notifications.channels.base import WebhookRobot, int_or_none, truncate_utf8
from notifications.models import Recipient, RenderedMessage


class WeComRobot(WebhookRobot):
    """``POST {base}/cgi-bin/webhook/send?key=…``; markdown content is limited to 4096 bytes."""

    name = "wecom"
    default_base_url = "https://qyapi.weixin.qq.com"
    # -1: system busy; 45009: API frequency limit (20 messages/minute per robot).
    transient_codes: ClassVar[frozenset[int]] = frozenset({-1, 45009})
    max_body_bytes = 4000

    def __init__(self, *, key: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.key = key

    def build_request(
        self, message: RenderedMessage, recipient: Recipient
    ) -> tuple[str, dict[str, Any]]:
        url = f"{self.base_url}/cgi-bin/webhook/send?key={quote(self.key, safe='')}"
        text = message.markdown or message.text
        if recipient.im_user_id:
            text = f"{text}\n<@{recipient.im_user_id}>"
        payload = {
            "msgtype": "markdown",
            "markdown": {"content": truncate_utf8(text, self.max_body_bytes)},
        }
        return url, payload

    def result_code(self, body: dict[str, Any]) -> tuple[int | None, str]:
        return int_or_none(body.get("errcode")), str(body.get("errmsg", ""))
