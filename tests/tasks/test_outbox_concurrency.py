"""Several deliverers at once: each message goes out once; a dead deliverer's rows are taken
over at once, a live one's never (real processes, real SMTP, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.locks import NAMESPACE, LeaseTimeout, deliverer_lease, live_tokens
from db.models import OutboxMessage
from duban.vocab import OutboxStatus
from notifications.mail import MailSettings, SmtpTransport
from tests.notifications.smtp_server import SmtpTestServer
from tests.tasks.test_outbox import deliver, fill, smtp, statuses

ROOT = Path(__file__).resolve().parents[2]

DELIVERER = textwrap.dedent("""
    import json, os, sys, time
    import pendulum
    from db.session import make_engine
    from deadlines.calendar import load_calendar
    from notifications.mail import MailSettings, SmtpTransport
    from tasks.outbox import deliver_outbox

    url, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    transport = SmtpTransport(MailSettings(mode="smtp", host="127.0.0.1", port=port,
                                           from_address="duban@chaoyang.example.gov.cn",
                                           timeout=5, max_retries=0))
    cal = load_calendar()
    engine = make_engine(url)
    while not os.path.exists(go):          # all deliverers start at the same instant
        time.sleep(0.005)
    summary = deliver_outbox(engine, transport,
                             now=pendulum.datetime(2020, 9, 16, 9, tz="Asia/Shanghai"),
                             calendar_for_contact=lambda _c: cal, sending_hours=(8, 20),
                             claim_batch=5)
    print(json.dumps(summary.as_dict()))
""")


def run_deliverers(url: str, port: int, n: int, tmp_path: Path) -> list[dict]:
    script = tmp_path / "deliverer.py"
    script.write_text(DELIVERER, encoding="utf-8")
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), url, str(port), str(go)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
             for _ in range(n)]
    time.sleep(2.5)  # let every process import and connect before the start signal
    go.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def test_four_deliverers_at_once_send_every_message_exactly_once(db, migrated_url, tmp_path,
                                                                 db_backend):
    fill(db, 120)
    with SmtpTestServer("plain") as server:
        summaries = run_deliverers(migrated_url, server.port, 4, tmp_path)
        ids = Counter(m["Message-ID"] for m in server.messages())
    assert sum(s["delivered"] for s in summaries) == 120
    assert len(ids) == 120 and set(ids.values()) == {1}  # each message once
    assert statuses(db) == ["delivered"] * 120
    if db_backend == "postgres":
        # SKIP LOCKED claims: the deliverers really shared the work, side by side
        assert sum(1 for s in summaries if s["delivered"]) >= 2, summaries


def _claim_for(engine, token: int, n: int) -> None:
    """Leave the first ``n`` rows as a deliverer with ``token`` leaves them mid-send."""
    with engine.begin() as conn:
        ids = conn.scalars(sa.select(OutboxMessage.id).order_by(OutboxMessage.id).limit(n)).all()
        conn.execute(sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                     .values(status=OutboxStatus.SENDING, claim_token=token, attempts=1))


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_rows_of_a_live_deliverer_are_left_alone_and_taken_over_once_it_is_gone(db, db_backend):
    fill(db, 3)
    with SmtpTestServer("plain") as server:
        with deliverer_lease(db) as lease:
            assert lease.token in live_tokens(db)
            _claim_for(db, lease.token, 2)  # a live deliverer is sending these two
            assert deliver(db, smtp(server)).delivered == 1
            assert statuses(db) == ["sending", "sending", "delivered"]
        assert lease.token not in live_tokens(db)
        # the holder is gone (its lock went with its connection): the rows are taken over
        assert deliver(db, smtp(server)).delivered == 2
        assert len(server.received) == 3
    assert statuses(db) == ["delivered"] * 3


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_rows_of_a_crashed_deliverer_are_taken_over_at_once(db, migrated_url, db_backend):
    fill(db, 2)
    # a process takes a lease, claims the rows, and dies without a word (SIGKILL)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        import sqlalchemy as sa
        from db.locks import deliverer_lease
        from db.models import OutboxMessage
        from db.session import make_engine
        engine = make_engine({migrated_url!r})
        with deliverer_lease(engine) as lease:
            with engine.begin() as conn:
                conn.execute(sa.update(OutboxMessage).values(status="sending",
                             claim_token=lease.token, attempts=1))
            print(lease.token, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """)], cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, text=True)
    token = int(proc.stdout.readline())
    assert proc.wait(timeout=30) == -9
    deadline = time.monotonic() + 10  # the server notices the closed connection within moments
    while token in live_tokens(db) and time.monotonic() < deadline:
        time.sleep(0.05)
    with SmtpTestServer("plain") as server:
        assert deliver(db, smtp(server)).delivered == 2
    assert statuses(db) == ["delivered", "delivered"]


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_sqlite_allows_one_deliverer_at_a_time(db, db_backend):
    with deliverer_lease(db), pytest.raises(LeaseTimeout, match=r"deliver\.lock"), \
            deliverer_lease(db, wait_s=0.2):
        pass
    with deliverer_lease(db, wait_s=0.2):  # released: the next one gets it at once
        pass


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_sqlite_takes_over_rows_left_sending_by_a_crashed_deliverer(db, db_backend):
    fill(db, 2)
    _claim_for(db, 4242, 2)  # whoever claimed these no longer holds the lock
    with SmtpTestServer("plain") as server:
        assert deliver(db, smtp(server)).delivered == 2
    with Session(db) as s:
        assert s.scalars(sa.select(OutboxMessage.claim_token)).all() == [None, None]


def test_two_runs_enqueueing_the_same_day_at_once_write_each_message_once(db, db_backend):
    """Two overlapping runs write the same 300 messages at the same instant (in opposite
    orders): the database decides, each key is written once, and exactly one of the two runs
    counts it as written."""
    import threading

    from sqlalchemy.orm import Session

    from tasks.outbox import NewMessage, OutboxKey, enqueue_messages
    from tests.tasks.test_outbox import DOMAIN, NOW, rendered

    batch = [NewMessage(key=OutboxKey(f"contact:{i}:email", "digest", "", "2020-09-16"),
                        rendered=rendered(i), recipient_name=f"联系人{i}",
                        recipient_address=f"user{i}@example.gov.cn", not_before=NOW)
             for i in range(300)]
    orders = {"forward": batch, "backward": list(reversed(batch))}
    barrier = threading.Barrier(2)
    written: dict[str, dict] = {}

    def run(name: str) -> None:
        with Session(db) as s, s.begin():
            barrier.wait()
            ids = enqueue_messages(s, orders[name], domain=DOMAIN, created_at=NOW)
        written[name] = {m.key: i is not None for m, i in zip(orders[name], ids, strict=True)}

    threads = [threading.Thread(target=run, args=(name,)) for name in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(written) == set(orders)
    assert all(written["forward"][m.key] != written["backward"][m.key] for m in batch)
    with Session(db) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 300
        assert s.scalar(sa.select(sa.func.count(sa.distinct(OutboxMessage.message_id)))) == 300


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_row_left_sending_on_its_last_attempt_is_marked_failed_not_left_stuck(db, db_backend):
    fill(db, 1)
    with db.begin() as conn:  # a deliverer died sending it for the 5th and last time
        conn.execute(sa.update(OutboxMessage).values(status=OutboxStatus.SENDING,
                                                     claim_token=4242, attempts=5))
    with SmtpTestServer("plain") as server:
        summary = deliver(db, smtp(server))
        assert server.received == []  # not sent a 6th time …
    assert summary.failed == 1 and "无法确认" in summary.failures[0]
    assert statuses(db) == ["failed"]  # … and the coordinator's failure list shows it


def test_an_unreachable_mail_server_uses_up_no_attempts(db, db_backend):
    from tests.notifications.smtp_server import closed_port

    fill(db, 2)
    transport = SmtpTransport(MailSettings(mode="smtp", host="127.0.0.1", port=closed_port(),
                                           security="plain", from_address="duban@example.gov.cn",
                                           timeout=2, max_retries=0))
    for _ in range(7):  # more runs than max_attempts, all during the outage
        assert deliver(db, transport).transient == 2
    with Session(db) as s:
        rows = s.scalars(sa.select(OutboxMessage)).all()
    assert [(r.status.value, r.attempts) for r in rows] == [("pending", 0)] * 2
    with SmtpTestServer("plain") as server:  # the server is back: they go out
        assert deliver(db, smtp(server)).delivered == 2


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_a_deliverer_whose_lease_is_cut_stops_and_the_next_one_sends_the_rest_once(db, db_backend):
    import threading

    from db.locks import LeaseLost
    from tests.notifications.smtp_server import Faults

    fill(db, 8)
    errors: list[BaseException] = []
    with SmtpTestServer("plain", faults=Faults(reply_delay_s=0.3)) as server:
        def first() -> None:
            try:
                deliver(db, smtp(server))
            except BaseException as exc:  # the lease is cut under it
                errors.append(exc)

        t = threading.Thread(target=first)
        t.start()
        deadline = time.monotonic() + 20
        while not server.received and time.monotonic() < deadline:
            time.sleep(0.02)
        with db.connect() as conn:  # an administrator terminates the lease holder's session
            pids = conn.scalars(sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :ns "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"ns": NAMESPACE}).all()
            assert len(pids) == 1
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
        t.join(30)
        assert errors and isinstance(errors[0], LeaseLost), errors
        deliver(db, smtp(server))  # the next deliverer takes the rest over
        sent = Counter(m["Message-ID"] for m in server.messages())
    assert len(sent) == 8
    assert sum(n - 1 for n in sent.values()) <= 1  # at most the message in flight at the cut
    assert statuses(db) == ["delivered"] * 8
