"""Killed at random points, re-run, and nothing due is lost and nothing duplicated.

The process running the day (``duban remind``) or the month (``duban escalate``) — what a
Prefect worker runs — is killed with SIGKILL at random instants, five times in each, and each
time simply started again; then the outcome is compared with an identical world that ran once,
without a kill.  The only duplicate allowed is the documented lost-reply case: a message the
mail server accepted while the sender was being killed, before its reply was recorded — sent
again with the same Message-ID, at most once per kill.  The mail server here waits a little
before replying, so kills do land mid-delivery.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.models import Escalation, LedgerEntry, Obligation
from tests.notifications.smtp_server import Faults, SmtpTestServer
from tests.support.world import LATE_DAY, MONTH_DAY, make_config, seed_world

ROOT = Path(__file__).resolve().parents[2]
KILLS_PER_RUN = 5
SEED = int(os.environ.get("DUBAN_CRASH_SEED", "20201016"))


def cli(world, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "duban.cli", *args, "--no-prefect", "--config", str(world.config),
         "--db", world.url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)


def run_to_end(world, *args: str) -> float:
    started = time.monotonic()
    proc = cli(world, *args)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return time.monotonic() - started


def run_with_kills(world, args: tuple[str, ...], duration: float, rng: random.Random) -> int:
    """Start the run, kill it at a random instant, start it again … ``KILLS_PER_RUN`` times,
    then let it finish; returns how many kills landed before the run had finished."""
    landed = 0
    for _ in range(KILLS_PER_RUN):
        proc = cli(world, *args)
        try:
            proc.wait(timeout=rng.uniform(0.15, 0.95) * duration)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            landed += 1
        proc.communicate()
    run_to_end(world, *args)
    return landed


def outcome(world) -> dict:
    return {
        "outbox": sorted((kind, period, to, status.value)
                         for _, status, kind, period, to in world.outbox()),
        "steps": sorted(world.rows(
            sa.select(Obligation.item_id, Obligation.unit_id, Escalation.step, Escalation.cycle)
            .join(Obligation, Obligation.id == Escalation.obligation_id))),
        "ledger": sorted(world.rows(sa.select(LedgerEntry.entry_key, LedgerEntry.amount))),
    }


@pytest.mark.postgres
@pytest.mark.slow
def test_runs_killed_at_random_points_lose_nothing_and_duplicate_nothing(postgres_databases,
                                                                         tmp_path):
    rng = random.Random(SEED)
    faults = Faults(reply_delay_s=0.02)
    with SmtpTestServer("plain", faults=faults) as ref_mail, \
            SmtpTestServer("plain", faults=faults) as mail:
        ref = seed_world(make_config(tmp_path / "ref", smtp_port=ref_mail.port),
                         postgres_databases.create())
        world = seed_world(make_config(tmp_path / "crash", smtp_port=mail.port),
                           postgres_databases.create())
        day = ("remind", "--as-of", LATE_DAY.isoformat())
        month = ("escalate", "--as-of", MONTH_DAY.isoformat())
        day_s = run_to_end(ref, *day)
        month_s = run_to_end(ref, *month)

        landed = run_with_kills(world, day, day_s, rng)
        landed += run_with_kills(world, month, month_s, rng)

        expected = outcome(ref)
        assert expected["outbox"] and expected["ledger"]
        assert outcome(world) == expected  # nothing lost, nothing written twice
        ref_ids = Counter(m["Message-ID"] for m in ref_mail.messages())
        assert set(ref_ids.values()) == {1}
        sent = Counter(m["Message-ID"].strip("<>") for m in mail.messages())
    outbox_ids = {mid for mid, *_ in world.outbox()}
    assert set(sent) == outbox_ids  # every message arrived …
    twice = {mid: n for mid, n in sent.items() if n > 1}
    # … once, except a message in flight at a kill: same Message-ID, at most one per kill
    assert sum(n - 1 for n in twice.values()) <= landed, twice
    assert landed >= KILLS_PER_RUN, f"only {landed} kills landed mid-run (seed {SEED})"
    print(f"crash test: seed {SEED}, {landed} kills landed, lost-reply resends: {len(twice)}")
