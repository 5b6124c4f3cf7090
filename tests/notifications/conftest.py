"""Fixtures for the notification tests: a throwaway CA (trustme), mail settings, messages."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import trustme

from notifications.mail import MailSettings
from notifications.models import Attachment, OutgoingMessage, make_message_id
from notifications.render import DigestContext, DigestRow
from notifications.xlsx import XLSX_MIME
from tests.notifications.smtp_server import HOST, SmtpTestServer

PASSWORD_ENV = "DUBAN_TEST_SMTP_PASSWORD"
USER = "duban-sender"
PASSWORD = "s3cret-授权码".encode().hex()  # ASCII, like a 163 授权码
NOW = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, a Wednesday


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="session")
def cafile(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "internal-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def smtp_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return PASSWORD


def settings_for(server: SmtpTestServer, **overrides: object) -> MailSettings:
    values: dict[str, object] = {
        "mode": "smtp",
        "host": HOST,
        "port": server.port,
        "security": server.mode,
        "from_address": "noreply@duban.example.gov.cn",
        "from_name": "督办提醒系统",
        "timeout": 5.0,
        "max_retries": 2,
        "backoff_seconds": 0.01,
    }
    if server.users:
        values.update(username=USER, password_env=PASSWORD_ENV)
    values.update(overrides)
    return MailSettings(**values)


def sample_digest(name: str = "张三", unit: str = "市财政局综合科") -> DigestContext:
    return DigestContext(
        recipient_name=name,
        unit_name=unit,
        generated_at=NOW,
        rows=(
            DigestRow(
                item="报送三季度预算执行情况",
                requirement="形成书面报告报市政府办公室",
                due_date=date(2026, 11, 23),
                working_days_left=-2,
            ),
            DigestRow(
                item="完善政府采购内控制度",
                requirement="印发制度文件",
                due_date=date(2026, 11, 25),
                working_days_left=0,
            ),
            DigestRow(
                item="部署年终决算工作",
                requirement="召开专题会议",
                due_date=date(2026, 11, 30),
                working_days_left=3,
                status="办理中",
            ),
        ),
    )


XLSX_BYTES = b"PK\x03\x04" + bytes(range(256)) * 20  # arbitrary binary payload


@pytest.fixture
def make_message() -> Callable[..., OutgoingMessage]:
    def make(i: int, *, address: str | None = None, name: str = "张三") -> OutgoingMessage:
        return OutgoingMessage(
            message_id=make_message_id(f"outbox.{i}", "duban.example.gov.cn"),
            kind="overdue",
            recipient_name=name,
            recipient_address=address or f"user{i}@example.com",
            subject=f"【催办】市财政局综合科：{i}项工作已逾期",
            text=f"正文 {i}\n第二行 <b>不是标签</b>\n",
            html=f"<html><body><p>正文 {i}</p><table><tr><td>事项</td></tr></table></body></html>\n",
            attachments=(
                Attachment("督办事项清单.xlsx", XLSX_BYTES + bytes([i % 256]), XLSX_MIME),
            ),
        )

    return make
