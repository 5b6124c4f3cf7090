"""IM robots against a local HTTP server that behaves like DingTalk / WeCom / Feishu.

The server checks the signature it receives the way the platforms do (parse the query
string once, recompute, compare), so a double-encoded ``sign`` fails here as it does there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from notifications.channels import CHANNELS, DingTalkRobot, FeishuRobot, WeComRobot
from notifications.models import DeliveryStatus, Recipient, RenderedMessage
from notifications.render import render_digest
from tests.notifications.conftest import sample_digest
from tests.notifications.smtp_server import closed_port

DING_TOKEN = "ding-token-1"
DING_SECRET = "SECd1ngs3cr3t+/=="
WECOM_KEY = "wecom-key-1"
FEISHU_TOKEN = "feishu-hook-1"
FEISHU_SECRET = "feishu-secret"
NOW_S = 1_795_000_000.123  # fixed clock for the robots (seconds)


@dataclass
class Robots:
    """State of the fake platform: what it received and what it should answer next."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    force_status: int | None = None  # e.g. 500
    force_body: dict | None = None  # e.g. {"errcode": 130101, ...}
    delay: float = 0.0


def _ding_expected(ts: str) -> str:
    mac = hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _feishu_expected(ts: str) -> str:
    mac = hmac.new(f"{ts}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _make_handler(state: Robots) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

        def _reply(self, status: int, body: dict | str) -> None:
            data = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
            raw = data.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self):
            length = int(self.headers["Content-Length"])
            payload = json.loads(self.rfile.read(length).decode("utf-8"))
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)  # decoded exactly once, like the platforms
            state.requests.append(
                {"path": parts.path, "raw_query": parts.query, "query": query, "json": payload}
            )
            if state.delay:
                time.sleep(state.delay)
            if state.force_status is not None:
                return self._reply(state.force_status, "<html>Internal Server Error</html>")
            if state.force_body is not None:
                return self._reply(200, state.force_body)
            if parts.path == "/robot/send":
                if query.get("access_token") != [DING_TOKEN]:
                    return self._reply(200, {"errcode": 300001, "errmsg": "token is not exist"})
                ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
                if sign != _ding_expected(ts):
                    return self._reply(
                        200,
                        {
                            "errcode": 310000,
                            "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
                        },
                    )
                return self._reply(200, {"errcode": 0, "errmsg": "ok"})
            if parts.path == "/cgi-bin/webhook/send":
                if query.get("key") != [WECOM_KEY]:
                    return self._reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
                return self._reply(200, {"errcode": 0, "errmsg": "ok"})
            if parts.path == f"/open-apis/bot/v2/hook/{FEISHU_TOKEN}":
                if payload.get("sign") != _feishu_expected(payload.get("timestamp", "")):
                    return self._reply(
                        200,
                        {
                            "code": 19021,
                            "data": {},
                            "msg": "sign match fail or timestamp is not within one hour from current time",
                        },
                    )
                return self._reply(200, {"code": 0, "data": {}, "msg": "success"})
            return self._reply(404, {"error": "not found"})

    return Handler


@pytest.fixture
def robots() -> Iterator[Robots]:
    state = Robots()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def message() -> RenderedMessage:
    return render_digest(sample_digest())


ZHANG = Recipient(name="张三", email="zs@example.com", mobile="13800138000", im_user_id="zhangsan")


def ding(robots: Robots, **kw) -> DingTalkRobot:
    opts = {
        "access_token": DING_TOKEN,
        "secret": DING_SECRET,
        "base_url": robots.url,
        "clock": lambda: NOW_S,
        "timeout": 2.0,
    }
    opts.update(kw)
    return DingTalkRobot(**opts)


# ---------------------------------------------------------------- DingTalk


def test_dingtalk_signed_markdown_is_delivered_when_errcode_is_zero(robots, message):
    result = ding(robots).send(message, ZHANG, message_id="duban.1@x.cn")
    assert result.status is DeliveryStatus.DELIVERED
    assert (result.code, result.channel, result.message_id) == (0, "dingtalk", "duban.1@x.cn")
    (req,) = robots.requests
    assert req["query"]["timestamp"] == [str(int(NOW_S * 1000))]
    assert "%25" not in req["raw_query"]  # the sign was URL-encoded once, not twice
    body = req["json"]
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == message.subject
    assert "报送三季度预算执行情况" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}
    assert body["markdown"]["text"].endswith("@13800138000")


def test_dingtalk_double_encoded_sign_is_what_the_platform_rejects(robots):
    # Sanity check of the fake platform: the mistake some wrappers make fails here.
    from urllib.parse import quote

    ts = str(int(NOW_S * 1000))
    sign = quote(quote(_ding_expected(ts), safe=""), safe="")
    reply = httpx.post(
        f"{robots.url}/robot/send?access_token={DING_TOKEN}&timestamp={ts}&sign={sign}", json={}
    )
    assert reply.status_code == 200 and reply.json()["errcode"] == 310000


def test_dingtalk_http_200_with_errcode_310000_is_a_failure_with_the_errmsg(robots, message):
    result = ding(robots, secret="SECwrong").send(message, ZHANG)
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert result.code == 310000
    assert "sign not match" in result.reply


def test_dingtalk_rate_limit_errcode_is_transient(robots, message):
    robots.force_body = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
    result = ding(robots).send(message, ZHANG)
    assert result.status is DeliveryStatus.TRANSIENT_FAILURE
    assert result.code == 130101


def test_http_500_is_transient(robots, message):
    robots.force_status = 500
    for robot in (
        ding(robots),
        WeComRobot(key=WECOM_KEY, base_url=robots.url),
        FeishuRobot(token=FEISHU_TOKEN, base_url=robots.url),
    ):
        result = robot.send(message, ZHANG)
        assert result.status is DeliveryStatus.TRANSIENT_FAILURE, robot.name
        assert result.code == 500


def test_unreachable_endpoint_is_transient_not_an_exception(message):
    robot = DingTalkRobot(access_token="t", base_url=f"http://127.0.0.1:{closed_port()}", timeout=2)
    result = robot.send(message, ZHANG)
    assert result.status is DeliveryStatus.TRANSIENT_FAILURE
    assert "ConnectError" in result.reply


def test_slow_endpoint_times_out_as_transient(robots, message):
    robots.delay = 1.0
    started = time.monotonic()
    result = ding(robots, timeout=0.3).send(message, ZHANG)
    assert result.status is DeliveryStatus.TRANSIENT_FAILURE
    assert result.reply.startswith("timeout")
    assert time.monotonic() - started < 0.9


def test_non_json_200_reply_is_not_success(robots, message):
    robots.force_body = None
    robot = ding(robots, base_url=robots.url + "/not-a-robot")  # 404 JSON from the server
    result = robot.send(message, ZHANG)
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert result.code == 404


# ---------------------------------------------------------------- WeCom


def test_wecom_markdown_is_delivered_and_mentions_the_user(robots, message):
    result = WeComRobot(key=WECOM_KEY, base_url=robots.url).send(message, ZHANG)
    assert result.delivered
    (req,) = robots.requests
    assert req["json"]["msgtype"] == "markdown"
    assert req["json"]["markdown"]["content"].endswith("<@zhangsan>")


def test_wecom_errcode_is_a_failure(robots, message):
    result = WeComRobot(key="wrong", base_url=robots.url).send(message, ZHANG)
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert (result.code, result.reply) == (93000, "invalid webhook url")


def test_wecom_long_content_is_cut_to_the_platform_limit(robots):
    long = RenderedMessage(
        kind="overdue", subject="s", text="t", html="h", markdown="催办事项\n" * 2000
    )
    result = WeComRobot(key=WECOM_KEY, base_url=robots.url).send(long, Recipient(name="a"))
    assert result.delivered
    content = robots.requests[0]["json"]["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.endswith("详见邮件）")


# ---------------------------------------------------------------- Feishu


def test_feishu_signed_post_is_delivered_when_code_is_zero(robots, message):
    robot = FeishuRobot(
        token=FEISHU_TOKEN, secret=FEISHU_SECRET, base_url=robots.url, clock=lambda: NOW_S
    )
    result = robot.send(message, ZHANG)
    assert result.delivered and result.code == 0
    body = robots.requests[0]["json"]
    assert body["timestamp"] == str(int(NOW_S))
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert post["title"] == message.subject
    lines = [
        "".join(seg["text"] for seg in line if seg["tag"] == "text") for line in post["content"]
    ]
    assert "1. 事项：报送三季度预算执行情况" in lines


def test_feishu_bad_signature_is_a_failure_with_the_message(robots, message):
    robot = FeishuRobot(token=FEISHU_TOKEN, secret="wrong", base_url=robots.url)
    result = robot.send(message, ZHANG)
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert result.code == 19021
    assert "sign match fail" in result.reply


# ---------------------------------------------------------------- registry


def test_registry_names_every_channel_with_one_send_contract():
    assert set(CHANNELS) == {"mail", "dingtalk", "wecom", "feishu"}
    for name, cls in CHANNELS.items():
        assert cls.name == name
        assert callable(cls.send)
