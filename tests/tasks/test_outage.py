"""Outages: the mail server down for a whole run; PostgreSQL restarted in the middle of one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.models import Escalation, OutboxMessage
from tasks.context import build_context
from tasks.runs import run_day
from tests.notifications.smtp_server import SmtpTestServer
from tests.support.postgres import PostgresUnavailable, start_throwaway_cluster
from tests.support.world import LATE_DAY, make_config, seed_world

ROOT = Path(__file__).resolve().parents[2]
NEXT_DAY = date(2020, 9, 17)


def day(world, as_of: date):
    ctx = build_context(world.config, world.url, world.config.parent / "var")
    try:
        return run_day(ctx, as_of=as_of, send=True)
    finally:
        ctx.dispose()


def test_mail_server_down_for_a_whole_run_everything_waits_then_goes_out_once_and_the_coordinator_is_told(
        db_url, tmp_path):
    mail = SmtpTestServer("plain")  # its port is reserved, but nothing listens until `with`
    world = seed_world(make_config(tmp_path, smtp_port=mail.port), db_url)

    down = day(world, LATE_DAY)
    written = down.messages.messages
    assert written > 0
    assert (down.delivery.delivered, down.delivery.transient) == (0, written)
    assert {status.value for _, status, *_ in world.outbox()} == {"pending"}  # all kept

    with mail:
        up = day(world, NEXT_DAY)
    assert up.delivery.delivered == written + up.messages.messages
    ids = Counter(m["Message-ID"].strip("<>") for m in mail.messages())
    assert set(ids.values()) == {1}
    assert set(ids) == {mid for mid, *_ in world.outbox()}  # yesterday's and today's, once each
    [digest] = [m for m in mail.messages()
                if m["Subject"].startswith("【督办日报】") and "9月17日" in m["Subject"]]
    assert f"发件箱待重发{written}封" in digest["Subject"]
    text = digest.get_body(("plain",)).get_content()
    assert f"自{LATE_DAY.isoformat()}起有{written}封消息因投递失败仍在发件箱中" in text
    assert "Connection refused" in text or "拒绝" in text or "111" in text


@pytest.fixture
def private_postgres():
    """A PostgreSQL of our own, which the test may restart (never the shared one)."""
    try:
        cluster = start_throwaway_cluster()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL binaries to start a private cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.postgres
def test_postgres_restarted_mid_run_fails_cleanly_and_the_rerun_completes(private_postgres,
                                                                         tmp_path):
    import psycopg

    with psycopg.connect(private_postgres.admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE duban")
    url = private_postgres.admin_url.rsplit("/", 1)[0] + "/duban"
    with SmtpTestServer("plain") as mail, SmtpTestServer("plain") as ref_mail:
        world = seed_world(make_config(tmp_path / "w", smtp_port=mail.port), url, plans=2)
        ref = seed_world(make_config(tmp_path / "ref", smtp_port=ref_mail.port),
                         f"sqlite:///{tmp_path / 'ref.db'}", plans=2)
        day(ref, LATE_DAY)
        args = [sys.executable, "-m", "duban.cli", "remind", "--as-of", LATE_DAY.isoformat(),
                "--no-prefect", "--config", str(world.config), "--db", url]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while world.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        private_postgres.restart()  # the checks have begun: the server goes away under them
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 3, err
        assert "数据库连接中断" in err and "Traceback" not in err
        rerun = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        sent = Counter(m["Message-ID"].strip("<>") for m in mail.messages())
    expected = sorted((k, p, to) for _, _, k, p, to in ref.outbox())
    assert sorted((k, p, to) for _, _, k, p, to in world.outbox()) == expected
    assert {status.value for _, status, *_ in world.outbox()} == {"delivered"}
    assert set(sent.values()) == {1} and len(sent) == len(expected)
    assert world.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == len(expected)
