"""MIME building: equal to stock policy.SMTP, single-line headers, no header injection."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from duban.yamlio import ConfigError
from notifications.mail import MailSettings, build_mime, load_mail_settings, mime_bytes
from notifications.models import OutgoingMessage, Recipient
from notifications.render import render_digest
from tests.notifications.conftest import sample_digest

SENDER = MailSettings(from_address="noreply@duban.example.gov.cn").sender()
DATE = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)


def test_cached_policy_produces_the_same_bytes_as_stock_policy_smtp(make_message):
    for i in range(3):  # the second and third use the cached headers
        msg = make_message(i)
        ours = mime_bytes(msg, sender=SENDER, date=DATE)
        stock = build_mime(msg, sender=SENDER, date=DATE, policy=email.policy.SMTP).as_bytes()
        assert ours == stock


def test_same_message_gives_the_same_bytes_so_a_retry_is_identical(make_message):
    msg = make_message(1)
    assert mime_bytes(msg, sender=SENDER, date=DATE) == mime_bytes(msg, sender=SENDER, date=DATE)


def test_header_injection_through_names_and_subject_is_impossible():
    rendered = render_digest(sample_digest(name="张三\r\nBcc: spy@evil.cn", unit="单位\nX-Evil: 1"))
    msg = OutgoingMessage.from_rendered(
        rendered,
        message_id="duban.1@x.cn",
        recipient=Recipient(name="张三\r\nBcc: spy@evil.cn", email="zs@example.com"),
    )
    raw = mime_bytes(msg, sender=SENDER, date=DATE)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\r\nX-Evil:" not in head
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"].addresses[0].addr_spec == "zs@example.com"
    assert parsed["To"].addresses[0].display_name == "张三 Bcc: spy@evil.cn"
    assert "\n" not in parsed["Subject"]
    assert parsed.get_all("Bcc") is None


def test_mail_settings_file_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "mail.yaml"
    path.write_text("host: smtp.example.gov.cn\nport: not-a-number\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mail\.yaml:2: port"):
        load_mail_settings(path)


def test_mail_settings_reject_unknown_keys(tmp_path):
    path = tmp_path / "mail.yaml"
    path.write_text("host: a\npasword_env: X\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mail\.yaml:2: pasword_env"):
        load_mail_settings(path)
