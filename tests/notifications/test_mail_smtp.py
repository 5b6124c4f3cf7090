"""SmtpTransport against a real aiosmtpd server on loopback: what arrives, and how it fails."""

from __future__ import annotations

import logging
import ssl
import time
from email.message import EmailMessage

import pytest

from notifications.mail import MailConfigError, MailSettings, SmtpTransport
from notifications.models import DeliveryStatus
from notifications.xlsx import XLSX_MIME
from tests.notifications.conftest import PASSWORD, USER, XLSX_BYTES, settings_for
from tests.notifications.smtp_server import (
    HOST,
    Faults,
    SmtpTestServer,
    closed_port,
    silent_server,
)

DELIVERED = DeliveryStatus.DELIVERED
TRANSIENT = DeliveryStatus.TRANSIENT_FAILURE
PERMANENT = DeliveryStatus.PERMANENT_FAILURE


def _parts(msg: EmailMessage) -> tuple[str, str, list[EmailMessage]]:
    text = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")
    return text, html, list(msg.iter_attachments())


def test_plain_relay_batch_arrives_complete_and_decoded_over_one_connection(make_message):
    batch = [make_message(i) for i in range(3)]
    with SmtpTestServer("plain") as server:
        results = SmtpTransport(settings_for(server)).deliver(batch)

    assert [r.status for r in results] == [DELIVERED] * 3
    assert [r.attempts for r in results] == [1, 1, 1]
    assert (server.counters.connections, server.counters.ehlo, server.counters.quit) == (1, 1, 1)
    assert len(server.received) == 3
    for sent, received in zip(batch, server.received, strict=True):
        raw = received.data
        raw.decode("ascii")  # everything on the wire is 7-bit: RFC 2047/2231 + base64
        assert received.rcpt_tos == [sent.recipient_address]
        assert received.mail_from == "noreply@duban.example.gov.cn"
        msg = received.message
        assert msg["Subject"] == sent.subject
        assert msg["From"].addresses[0].display_name == "督办提醒系统"
        assert msg["From"].addresses[0].addr_spec == "noreply@duban.example.gov.cn"
        assert str(msg["To"]) == f"张三 <{sent.recipient_address}>"
        assert msg["Message-ID"] == f"<{sent.message_id}>"
        assert msg.get_content_type() == "multipart/mixed"
        text, html, attachments = _parts(msg)
        assert text == sent.text
        assert html == sent.html
        assert "<b>不是标签</b>" in text  # the text part is the real text, not HTML source
        assert len(attachments) == 1
        att = attachments[0]
        assert att.get_filename() == "督办事项清单.xlsx"
        assert att.get_content_type() == XLSX_MIME
        assert att.get_content() == sent.attachments[0].content
        assert b"filename*=utf-8''%E7%9D%A3%E5%8A%9E" in raw  # RFC 2231, not a mangled type
    ids = [m["Message-ID"] for m in server.messages()]
    assert len(set(ids)) == 3


def test_date_header_is_shanghai_time(make_message):
    with SmtpTestServer("plain") as server:
        SmtpTransport(settings_for(server)).deliver([make_message(1)])
    assert server.messages()[0]["Date"].endswith("+0800")


def test_starttls_with_auth_verifies_certificate_against_cafile(
    make_message, server_tls_context, cafile, smtp_password
):
    users = {USER: PASSWORD}
    with SmtpTestServer("starttls", tls_context=server_tls_context, users=users) as server:
        settings = settings_for(server, cafile=cafile)
        results = SmtpTransport(settings).deliver([make_message(i) for i in range(3)])

    assert [r.status for r in results] == [DELIVERED] * 3
    c = server.counters
    # one connection: EHLO before and after STARTTLS, one AUTH, one QUIT
    assert (c.connections, c.ehlo, c.auth_ok, c.quit) == (1, 2, 1, 1)
    assert len(server.received) == 3


def test_starttls_refuses_self_signed_certificate_without_cafile(
    make_message, server_tls_context, smtp_password
):
    users = {USER: PASSWORD}
    with SmtpTestServer("starttls", tls_context=server_tls_context, users=users) as server:
        results = SmtpTransport(settings_for(server)).deliver([make_message(1), make_message(2)])

    assert [r.status for r in results] == [TRANSIENT, TRANSIENT]
    assert "certificate verify failed" in results[0].reply
    assert results[0].attempts == 1  # a TLS verification failure is not retried
    assert results[1].attempts == 0  # and the rest of the batch is left for the next run
    assert not results[0].connected  # the message itself never left
    assert server.received == []
    assert server.counters.auth_ok == 0


def test_smtps_with_auth_delivers(make_message, server_tls_context, cafile, smtp_password):
    users = {USER: PASSWORD}
    with SmtpTestServer("ssl", tls_context=server_tls_context, users=users) as server:
        results = SmtpTransport(settings_for(server, cafile=cafile)).deliver(
            [make_message(i) for i in range(2)]
        )
    assert [r.status for r in results] == [DELIVERED, DELIVERED]
    c = server.counters
    assert (c.connections, c.auth_ok, c.quit) == (1, 1, 1)
    assert [m["Subject"] for m in server.messages()] == [
        "【催办】市财政局综合科：0项工作已逾期",
        "【催办】市财政局综合科：1项工作已逾期",
    ]


def test_wrong_password_is_not_retried_and_never_logged(
    make_message, server_tls_context, cafile, monkeypatch, caplog
):
    monkeypatch.setenv("DUBAN_TEST_SMTP_PASSWORD", "wrong-password-123")
    users = {USER: PASSWORD}
    caplog.set_level(logging.DEBUG)
    with SmtpTestServer("starttls", tls_context=server_tls_context, users=users) as server:
        results = SmtpTransport(settings_for(server, cafile=cafile)).deliver(
            [make_message(1), make_message(2)]
        )
    assert [r.status for r in results] == [TRANSIENT, TRANSIENT]
    assert results[0].code == 535
    # one connection, one login (smtplib tries PLAIN then LOGIN), no retries: no lock-out
    assert server.counters.connections == 1
    assert server.counters.auth_failed == 2
    assert server.counters.quit == 1
    assert "wrong-password-123" not in caplog.text
    assert all("wrong-password-123" not in r.reply for r in results)


def test_missing_password_variable_is_a_config_error_naming_it(make_message, monkeypatch):
    monkeypatch.delenv("DUBAN_TEST_SMTP_PASSWORD", raising=False)
    settings = MailSettings(
        host=HOST, port=closed_port(), username=USER, password_env="DUBAN_TEST_SMTP_PASSWORD"
    )
    with pytest.raises(MailConfigError, match="DUBAN_TEST_SMTP_PASSWORD"):
        SmtpTransport(settings).deliver([make_message(1)])


def test_username_without_password_source_is_rejected():
    with pytest.raises(ValueError, match="password_env"):
        MailSettings(username="someone")


def test_server_down_is_transient_and_fast(make_message):
    settings = MailSettings(
        host=HOST, port=closed_port(), timeout=5, max_retries=2, backoff_seconds=0.01
    )
    started = time.monotonic()
    results = SmtpTransport(settings).deliver([make_message(i) for i in range(3)])
    elapsed = time.monotonic() - started

    assert elapsed < 2.0  # no yagmail 3+6+9 s sleeps
    assert [r.status for r in results] == [TRANSIENT] * 3
    assert "ConnectionRefusedError" in results[0].reply
    assert [r.attempts for r in results] == [3, 0, 0]  # bounded retries, then give up the batch
    assert not results[0].connected


def test_refused_recipient_does_not_stop_the_batch(make_message):
    faults = Faults(refuse_rcpt={"nobody@example.com"})
    batch = [make_message(1), make_message(2, address="nobody@example.com"), make_message(3)]
    with SmtpTestServer("plain", faults=faults) as server:
        results = SmtpTransport(settings_for(server)).deliver(batch)

    assert [r.status for r in results] == [DELIVERED, PERMANENT, DELIVERED]
    assert results[1].code == 550
    assert "User unknown" in results[1].reply
    assert results[1].attempts == 1
    assert [r.rcpt_tos for r in server.received] == [["user1@example.com"], ["user3@example.com"]]
    assert server.counters.connections == 1


def test_connection_dropped_mid_batch_reconnects_and_delivers_each_once(make_message):
    faults = Faults(drop_at_data={2})
    batch = [make_message(i) for i in range(4)]
    with SmtpTestServer("plain", faults=faults) as server:
        results = SmtpTransport(settings_for(server)).deliver(batch)

    assert [r.status for r in results] == [DELIVERED] * 4
    assert [r.attempts for r in results] == [1, 2, 1, 1]
    ids = [m["Message-ID"] for m in server.messages()]
    assert sorted(ids) == sorted(f"<{m.message_id}>" for m in batch)  # each exactly once
    assert server.counters.connections == 2
    assert server.counters.quit == 1  # the dropped connection got no QUIT, the new one did


def test_421_on_mail_from_is_transient(make_message):
    faults = Faults(mail_from_reply="421 4.7.0 HL:ICC too many connections")
    with SmtpTestServer("plain", faults=faults) as server:
        results = SmtpTransport(settings_for(server, max_retries=1)).deliver(
            [make_message(1), make_message(2)]
        )
    assert results[0].status is TRANSIENT
    assert results[0].code == 421
    assert "HL:ICC" in results[0].reply
    assert results[0].attempts == 2
    assert results[1].status is TRANSIENT and results[1].attempts == 0
    assert server.received == []


def test_421_once_then_accepted_after_reconnect(make_message):
    faults = Faults(mail_from_reply="421 4.7.0 try again", mail_from_fail_times=1)
    with SmtpTestServer("plain", faults=faults) as server:
        results = SmtpTransport(settings_for(server)).deliver([make_message(1), make_message(2)])
    assert [r.status for r in results] == [DELIVERED, DELIVERED]
    assert results[0].attempts == 2
    assert server.counters.connections == 2


def test_554_at_data_is_permanent_and_the_batch_goes_on(make_message):
    faults = Faults(data_reply={2: "554 5.7.1 DT:SPM message rejected as spam"})
    with SmtpTestServer("plain", faults=faults) as server:
        results = SmtpTransport(settings_for(server)).deliver([make_message(i) for i in range(3)])
    assert [r.status for r in results] == [DELIVERED, PERMANENT, DELIVERED]
    assert results[1].code == 554
    assert "DT:SPM" in results[1].reply
    assert results[1].attempts == 1
    assert len(server.received) == 2
    assert server.counters.connections == 1


def test_server_that_never_greets_times_out_within_the_configured_timeout(make_message):
    with silent_server() as port:
        settings = MailSettings(host=HOST, port=port, timeout=0.5, max_retries=0)
        started = time.monotonic()
        results = SmtpTransport(settings).deliver([make_message(1)])
        elapsed = time.monotonic() - started
    assert results[0].status is TRANSIENT
    assert "timed out" in results[0].reply
    assert 0.4 < elapsed < 2.0


def test_per_connection_cap_reconnects_with_quit(make_message):
    with SmtpTestServer("plain") as server:
        results = SmtpTransport(settings_for(server, max_messages_per_connection=2)).deliver(
            [make_message(i) for i in range(5)]
        )
    assert all(r.delivered for r in results)
    assert (server.counters.connections, server.counters.quit) == (3, 3)


def test_verify_false_accepts_self_signed_certificate(
    make_message, server_tls_context, smtp_password
):
    users = {USER: PASSWORD}
    with SmtpTestServer("starttls", tls_context=server_tls_context, users=users) as server:
        results = SmtpTransport(settings_for(server, verify=False)).deliver([make_message(1)])
    assert results[0].delivered


def test_bad_cafile_is_a_config_error(tmp_path):
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("nonsense")
    settings = MailSettings(security="starttls", cafile=bad)
    with pytest.raises(MailConfigError, match=r"not-a-ca\.pem"):
        settings.tls_context()
    assert isinstance(MailSettings(security="starttls").tls_context(), ssl.SSLContext)


def test_attachment_bytes_survive_exactly(make_message):
    msg = make_message(7)
    with SmtpTestServer("plain") as server:
        SmtpTransport(settings_for(server)).deliver([msg])
    (att,) = server.messages()[0].iter_attachments()
    assert att.get_content() == XLSX_BYTES + bytes([7])


def test_password_from_a_prefect_secret_block_is_read_only_at_send_time(
    make_message, server_tls_context, cafile, monkeypatch
):
    # The secret store is the outside world here: stand in for Prefect's API.
    from prefect.blocks import system

    loads: list[str] = []

    class FakeSecret:
        def get(self) -> str:
            return PASSWORD

    def load(name: str, *args, **kwargs) -> FakeSecret:
        loads.append(name)
        return FakeSecret()

    monkeypatch.setattr(system.Secret, "load", staticmethod(load))
    with SmtpTestServer(
        "starttls", tls_context=server_tls_context, users={USER: PASSWORD}
    ) as server:
        settings = settings_for(server, cafile=cafile, password_env=None, password_block="smtp-pw")
        transport = SmtpTransport(settings)
        assert loads == []  # nothing resolved when settings/transport are created
        results = transport.deliver([make_message(1)])
    assert results[0].delivered
    assert loads == ["smtp-pw"]
    assert server.counters.auth_ok == 1
