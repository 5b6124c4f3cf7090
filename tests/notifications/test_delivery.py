"""FileTransport, Deliverer and the mail channel adapter."""

from __future__ import annotations

import email
import email.policy

import pytest

from notifications.channels import CHANNELS, MailChannel
from notifications.delivery import Deliverer
from notifications.mail import FileTransport, MailSettings, SmtpTransport, make_transport
from notifications.models import DeliveryStatus, OutgoingMessage, Recipient, make_message_id
from notifications.render import render_digest
from tests.notifications.conftest import sample_digest, settings_for
from tests.notifications.smtp_server import SmtpTestServer


def test_file_transport_writes_one_eml_per_message_named_by_message_id(tmp_path, make_message):
    transport = FileTransport(MailSettings(mode="file", outbox_dir=tmp_path / "outbox"))
    msg = make_message(1)
    (result,) = transport.deliver([msg])

    assert result.status is DeliveryStatus.DELIVERED
    assert not result.already_delivered
    path = tmp_path / "outbox" / f"{msg.message_id}.eml"
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == f"<{msg.message_id}>"
    assert parsed["Subject"] == msg.subject
    assert str(parsed["To"]) == "张三 <user1@example.com>"
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]  # no temp file left


def test_file_transport_redelivery_overwrites_nothing_and_reports_already_delivered(
    tmp_path, make_message
):
    transport = FileTransport(MailSettings(mode="file", outbox_dir=tmp_path))
    first = make_message(1)
    transport.deliver([first])
    path = transport.path_for(first.message_id)
    before = path.read_bytes()

    # Same id, different content (e.g. a re-render): the earlier file stays as it was.
    changed = OutgoingMessage(**{**first.__dict__, "subject": "另一个标题"})
    results = Deliverer(transport).deliver([changed, make_message(2)])

    assert results[0].status is DeliveryStatus.DELIVERED
    assert results[0].already_delivered and results[0].attempts == 0
    assert not results[1].already_delivered
    assert path.read_bytes() == before
    assert len(list(tmp_path.glob("*.eml"))) == 2


def test_deliverer_refuses_duplicate_message_ids(tmp_path, make_message):
    transport = FileTransport(MailSettings(mode="file", outbox_dir=tmp_path))
    with pytest.raises(ValueError, match="duplicate message id"):
        Deliverer(transport).deliver([make_message(1), make_message(1)])
    assert list(tmp_path.iterdir()) == []


def test_deliverer_uses_one_connection_per_batch_and_reports_each_result(make_message):
    seen = []
    batch = [make_message(i) for i in range(5)]
    with SmtpTestServer("plain") as server:
        results = Deliverer(SmtpTransport(settings_for(server)), batch_size=2).deliver(
            batch, on_result=seen.append
        )
    assert [r.message_id for r in results] == [m.message_id for m in batch]
    assert seen == results  # reported one by one, in order, for the outbox to record
    assert (server.counters.connections, server.counters.quit) == (3, 3)
    assert len(server.received) == 5


def test_smtp_transport_cannot_detect_duplicates_but_file_transport_can(tmp_path):
    assert SmtpTransport.detects_duplicates is False
    assert FileTransport.detects_duplicates is True
    assert isinstance(make_transport(MailSettings(mode="file", outbox_dir=tmp_path)), FileTransport)
    assert isinstance(make_transport(MailSettings(mode="smtp")), SmtpTransport)


def test_message_ids_are_deterministic_per_outbox_row_and_file_safe():
    assert make_message_id(42, "duban.example.gov.cn") == "duban.42@duban.example.gov.cn"
    assert make_message_id(42, "duban.example.gov.cn") == make_message_id(
        "42", "duban.example.gov.cn"
    )
    assert "/" not in make_message_id("../../etc/passwd", "x.cn")
    with pytest.raises(ValueError):
        OutgoingMessage(
            message_id="../evil@x.cn",
            kind="k",
            recipient_name="n",
            recipient_address="a@b.cn",
            subject="s",
            text="t",
            html="h",
        )


def test_recipient_address_with_header_characters_is_refused(make_message):
    with pytest.raises(ValueError, match="invalid recipient address"):
        make_message(1, address="a@b.cn>\r\nBcc: x@evil.cn")


def test_mail_channel_delivers_a_rendered_digest_through_the_same_contract(tmp_path):
    channel = CHANNELS["mail"](
        FileTransport(MailSettings(mode="file", outbox_dir=tmp_path)),
        message_id_domain="duban.example.gov.cn",
    )
    rendered = render_digest(sample_digest(), attach_xlsx=True)
    result = channel.send(
        rendered, Recipient(name="张三", email="zs@example.com"), message_id="duban.7@x.cn"
    )
    assert result.delivered and result.message_id == "duban.7@x.cn"
    parsed = email.message_from_bytes(
        (tmp_path / "duban.7@x.cn.eml").read_bytes(), policy=email.policy.default
    )
    assert parsed["Subject"] == rendered.subject
    (att,) = parsed.iter_attachments()
    assert att.get_filename() == "督办事项清单_20261125.xlsx"


def test_mail_channel_without_address_is_a_permanent_failure_not_an_exception(tmp_path):
    channel = MailChannel(FileTransport(MailSettings(mode="file", outbox_dir=tmp_path)))
    result = channel.send(render_digest(sample_digest()), Recipient(name="无邮箱"))
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert "no email address" in result.reply
    assert list(tmp_path.iterdir()) == []
