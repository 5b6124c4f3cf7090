"""Notification channels by name; every class implements ``send(message, recipient)``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from notifications.channels.base import Channel, WebhookRobot
from notifications.channels.dingtalk import DingTalkRobot, dingtalk_sign
from notifications.channels.feishu import FeishuRobot, feishu_sign
from notifications.channels.mail import MailChannel
from notifications.channels.wecom import WeComRobot

CHANNELS: dict[str, type] = {
    "mail": MailChannel,
    "dingtalk": DingTalkRobot,
    "wecom": WeComRobot,
    "feishu": FeishuRobot,
}

ROBOTS = ("dingtalk", "wecom", "feishu")


def robot_from_webhook(channel: str, webhook: str, *, secret: str | None = None,
                       timeout: float = 10.0) -> WebhookRobot:
    """The robot for a webhook URL as the platform shows it (own hosts allowed):

    * DingTalk ``https://oapi.dingtalk.com/robot/send?access_token=T`` (+ 加签 secret)
    * WeCom ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K``
    * Feishu ``https://open.feishu.cn/open-apis/bot/v2/hook/T`` (+ 签名校验 secret)
    """
    parts = urlsplit(webhook)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not a webhook URL: {webhook!r}")
    query = parse_qs(parts.query)

    def base(marker: str) -> str:
        prefix = parts.path.split(marker, 1)[0] if marker in parts.path else ""
        return f"{parts.scheme}://{parts.netloc}{prefix}"

    if channel == "dingtalk":
        token = (query.get("access_token") or [""])[0]
        if not token or "/robot/send" not in parts.path:
            raise ValueError(f"DingTalk webhook needs /robot/send?access_token=…: {webhook!r}")
        return DingTalkRobot(access_token=token, secret=secret, base_url=base("/robot/send"),
                             timeout=timeout)
    if channel == "wecom":
        key = (query.get("key") or [""])[0]
        if not key or "/cgi-bin/webhook/send" not in parts.path:
            raise ValueError(f"WeCom webhook needs /cgi-bin/webhook/send?key=…: {webhook!r}")
        return WeComRobot(key=key, base_url=base("/cgi-bin/webhook/send"), timeout=timeout)
    if channel == "feishu":
        marker = "/open-apis/bot/v2/hook/"
        if marker not in parts.path or not parts.path.split(marker, 1)[1]:
            raise ValueError(f"Feishu webhook needs {marker}<token>: {webhook!r}")
        return FeishuRobot(token=parts.path.split(marker, 1)[1], secret=secret,
                           base_url=base(marker), timeout=timeout)
    raise ValueError(f"unknown robot channel {channel!r} (expected one of {', '.join(ROBOTS)})")


__all__ = [
    "CHANNELS",
    "ROBOTS",
    "Channel",
    "DingTalkRobot",
    "FeishuRobot",
    "MailChannel",
    "WeComRobot",
    "WebhookRobot",
    "dingtalk_sign",
    "feishu_sign",
    "robot_from_webhook",
]
