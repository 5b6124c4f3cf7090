"""The outbox: one row per key, delivered once over real SMTP, crash-safe, failures recorded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pendulum
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.models import DeliveryAttempt, OutboxMessage
from deadlines.calendar import load_calendar
from notifications.mail import FileTransport, MailSettings, SmtpTransport
from notifications.models import RenderedMessage
from tasks.outbox import OutboxKey, deliver_outbox, enqueue_message, next_send_time
from tests.notifications.smtp_server import Faults, SmtpTestServer, closed_port

CAL = load_calendar()
NOW = pendulum.datetime(2020, 9, 16, 9, tz="Asia/Shanghai")  # a Wednesday, 09:00
DOMAIN = "chaoyang.example.gov.cn"


def rendered(i: int) -> RenderedMessage:
    return RenderedMessage(kind="digest", subject=f"【督办提醒】第{i}封", text=f"正文{i}",
                           html=f"<p>正文{i}</p>")


def fill(engine, n: int, *, addresses: list[str] | None = None, not_before=NOW) -> list[int]:
    ids = []
    with Session(engine, expire_on_commit=False) as s, s.begin():
        for i in range(n):
            address = addresses[i] if addresses else f"user{i}@example.gov.cn"
            row, created = enqueue_message(
                s, key=OutboxKey(f"contact:{i}:email", "digest", "", "2020-09-16"),
                rendered=rendered(i), recipient_name=f"联系人{i}", recipient_address=address,
                not_before=not_before, domain=DOMAIN, created_at=NOW)
            assert created
            ids.append(row.id)
    return ids


def smtp(server: SmtpTestServer, **kw) -> SmtpTransport:
    return SmtpTransport(MailSettings(mode="smtp", host="127.0.0.1", port=server.port,
                                      security="plain", from_address=f"duban@{DOMAIN}",
                                      timeout=3, max_retries=1, backoff_seconds=0.01, **kw))


def deliver(engine, transport, now=NOW):
    return deliver_outbox(engine, transport, now=now, calendar_for_contact=lambda _c: CAL,
                          sending_hours=(8, 20))


def statuses(engine) -> list[str]:
    with Session(engine) as s:
        return [r.status.value for r in s.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))]


def test_same_key_twice_is_one_row_with_a_message_id_from_the_row(db):
    [row_id] = fill(db, 1)
    with Session(db, expire_on_commit=False) as s, s.begin():
        again, created = enqueue_message(
            s, key=OutboxKey("contact:0:email", "digest", "", "2020-09-16"), rendered=rendered(9),
            recipient_name="x", recipient_address="x@example.gov.cn", not_before=NOW,
            domain=DOMAIN, created_at=NOW)
    assert not created and again.id == row_id
    with Session(db) as s:
        rows = s.scalars(sa.select(OutboxMessage)).all()
    assert len(rows) == 1 and rows[0].message_id == f"duban.{row_id}@{DOMAIN}"
    assert rows[0].subject == "【督办提醒】第0封"  # the first write wins


def test_delivers_each_message_once_and_a_rerun_sends_nothing(db):
    fill(db, 3)
    with SmtpTestServer("plain") as server:
        first = deliver(db, smtp(server))
        second = deliver(db, smtp(server))
        assert first.delivered == 3 and second.delivered == 0
        assert len(server.received) == 3
        ids = sorted(m["Message-ID"] for m in server.messages())
    assert statuses(db) == ["delivered"] * 3
    with Session(db) as s:
        expected = sorted(f"<{r.message_id}>" for r in s.scalars(sa.select(OutboxMessage)))
    assert ids == expected


def test_server_down_is_transient_and_the_next_run_delivers(db):
    fill(db, 2)
    down = SmtpTransport(MailSettings(mode="smtp", host="127.0.0.1", port=closed_port(),
                                      from_address=f"duban@{DOMAIN}", timeout=2, max_retries=0))
    result = deliver(db, down)
    assert result.delivered == 0 and result.transient == 2
    assert statuses(db) == ["pending", "pending"]
    with Session(db) as s:
        attempts = s.scalars(sa.select(DeliveryAttempt)).all()
    assert len(attempts) == 2 and all(a.status == "transient_failure" for a in attempts)
    with SmtpTestServer("plain") as server:
        assert deliver(db, smtp(server)).delivered == 2
        assert len(server.received) == 2


def test_refused_recipient_fails_permanently_and_the_batch_goes_on(db):
    fill(db, 3, addresses=["a@example.gov.cn", "bad@example.gov.cn", "c@example.gov.cn"])
    with SmtpTestServer("plain", faults=Faults(refuse_rcpt={"bad@example.gov.cn"})) as server:
        result = deliver(db, smtp(server))
        assert result.delivered == 2 and result.failed == 1
        assert "bad@example.gov.cn" in result.failures[0] and "550" in result.failures[0]
        assert deliver(db, smtp(server)).delivered == 0  # a failed row is not retried
        assert len(server.received) == 2
    assert statuses(db) == ["delivered", "failed", "delivered"]
    with Session(db) as s:
        failed = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.status == "failed")).one()
    assert failed.last_code == 550


def test_nothing_is_sent_on_a_rest_day_or_outside_sending_hours(db, tmp_path):
    fill(db, 1)
    transport = FileTransport(MailSettings(mode="file", outbox_dir=tmp_path,
                                           from_address=f"duban@{DOMAIN}"))
    saturday = pendulum.datetime(2020, 9, 19, 10, tz="Asia/Shanghai")
    evening = pendulum.datetime(2020, 9, 16, 21, tz="Asia/Shanghai")
    assert deliver(db, transport, saturday).waiting == 1
    assert deliver(db, transport, evening).waiting == 1
    assert not list(tmp_path.glob("*.eml"))
    assert deliver(db, transport, NOW).delivered == 1
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_next_send_time_waits_for_the_next_working_day():
    # Thu 2020-10-01 is National Day: the first working day is Fri 10-09
    at = next_send_time(pendulum.date(2020, 10, 1), calendar=CAL, hour=9, sending_hours=(8, 20))
    assert at == pendulum.datetime(2020, 10, 9, 9, tz="Asia/Shanghai")


CRASHING_SENDER = textwrap.dedent("""
    import os, signal, sys
    import pendulum
    from db.session import make_engine
    from deadlines.calendar import load_calendar
    from notifications.mail import MailSettings, SmtpTransport
    import tasks.outbox as outbox

    url, port, kill_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    recorded = 0
    real_record = outbox._record_many

    def record_then_maybe_die(*args, **kwargs):
        global recorded
        real_record(*args, **kwargs)
        recorded += 1
        if recorded == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)   # killed between two messages

    outbox._record_many = record_then_maybe_die
    transport = SmtpTransport(MailSettings(mode="smtp", host="127.0.0.1", port=port,
                                           from_address="duban@chaoyang.example.gov.cn",
                                           timeout=3, max_retries=0))
    cal = load_calendar()
    outbox.deliver_outbox(make_engine(url), transport,
                          now=pendulum.datetime(2020, 9, 16, 9, tz="Asia/Shanghai"),
                          calendar_for_contact=lambda _c: cal, sending_hours=(8, 20))
""")


def test_killed_sender_rerun_delivers_the_rest_without_duplicates(db, migrated_url, tmp_path):
    fill(db, 5)
    script = tmp_path / "sender.py"
    script.write_text(CRASHING_SENDER, encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    with SmtpTestServer("plain") as server:
        proc = subprocess.run([sys.executable, str(script), migrated_url, str(server.port), "2"],
                              cwd=root, capture_output=True, text=True, timeout=60,
                              env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == -9, proc.stderr
        assert len(server.received) == 2
        assert statuses(db) == ["delivered", "delivered", "sending", "sending", "sending"]
        assert deliver(db, smtp(server)).delivered == 3
        assert deliver(db, smtp(server)).delivered == 0
        subjects = sorted(m["Subject"] for m in server.messages())
    assert subjects == sorted(f"【督办提醒】第{i}封" for i in range(5))  # each exactly once
