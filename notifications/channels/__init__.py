"""Notification channels by name; every class implements ``send(message, recipient)``."""

from __future__ import annotations

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

__all__ = [
    "CHANNELS",
    "Channel",
    "DingTalkRobot",
    "FeishuRobot",
    "MailChannel",
    "WeComRobot",
    "WebhookRobot",
    "dingtalk_sign",
    "feishu_sign",
]
