"""Robots are built from the webhook URL a platform shows (government hosts included)."""

from __future__ import annotations

import pytest

from notifications.channels import DingTalkRobot, FeishuRobot, WeComRobot, robot_from_webhook


def test_dingtalk_webhook_gives_token_base_and_secret():
    robot = robot_from_webhook("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=T1",
                               secret="SEC")
    assert isinstance(robot, DingTalkRobot)
    assert (robot.base_url, robot.access_token, robot.secret) == (
        "https://oapi.dingtalk.com", "T1", "SEC")


def test_wecom_webhook_on_an_own_host_with_a_path_prefix():
    robot = robot_from_webhook("wecom", "http://10.1.2.3:8080/gw/cgi-bin/webhook/send?key=K")
    assert isinstance(robot, WeComRobot)
    assert (robot.base_url, robot.key) == ("http://10.1.2.3:8080/gw", "K")


def test_feishu_webhook_token_from_the_path():
    robot = robot_from_webhook("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/abc-1")
    assert isinstance(robot, FeishuRobot) and robot.token == "abc-1"


@pytest.mark.parametrize(("channel", "url", "message"), [
    ("dingtalk", "https://oapi.dingtalk.com/robot/send", "access_token"),
    ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "key"),
    ("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/", "hook"),
    ("qq", "https://example.gov.cn/x", "unknown robot channel"),
    ("dingtalk", "oapi.dingtalk.com/robot/send?access_token=x", "not a webhook URL"),
])
def test_bad_webhooks_are_refused_with_the_reason(channel, url, message):
    with pytest.raises(ValueError, match=message):
        robot_from_webhook(channel, url)
