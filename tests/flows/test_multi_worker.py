"""The production shape, for real: PostgreSQL for duban and for the Prefect server, the
deployments of prefect.yaml, two process workers, a local SMTP server.

Three daily runs for the same day overlap across both workers; each fans out one partition run
per plan (two plans) — joined, not duplicated, thanks to the idempotency keys — and every due
message arrives exactly once, as an identical world run once in-process says it should.  The
same for a monthly escalation started on both workers (the ledger has no duplicate).  Then a worker is killed with
SIGKILL (with the flow runs it was running) in the middle of a fanned-out day, restarted, and
the day re-run: the dead partition run is recognised as such (no lease), the next generation
completes the day, and nothing is lost or sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.models import Escalation, LedgerEntry, Obligation, RunRecord
from duban.prefect_server import LocalServer, start_server
from tasks.context import build_context
from tasks.runs import run_day, run_month
from tests.notifications.smtp_server import Faults, SmtpTestServer
from tests.support.prefect import drain_client_workers, using
from tests.support.world import LATE_DAY, MONTH_DAY, RED_DAY, World, make_config, seed_world

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "duban-pool"
QUEUES = {"w1": "queue-w1", "w2": "queue-w2"}  # each worker also serves the pool's default queue


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@dataclass
class Cluster:
    server: LocalServer
    env: dict[str, str]
    home: Path
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    def cli(self, *args: str) -> None:
        proc = subprocess.run([str(BIN / "prefect"), *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, f"prefect {' '.join(args)}: {proc.stdout}{proc.stderr}"

    def start_worker(self, name: str) -> None:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - lives with the worker
        env = {**self.env, "PREFECT_HOME": str(self.home / name)}
        self.workers[name] = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", name,
             "--work-queue", "default", "--work-queue", QUEUES[name]],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and every flow-run process it started: a host lost."""
        proc = self.workers.pop(name)
        for pid in [proc.pid, *_descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.workers):
            proc = self.workers.pop(name)
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for pid in [proc.pid, *_descendants(proc.pid)]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(postgres_databases, tmp_path_factory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("prefect-pg")
    prefect_db = postgres_databases.create().replace("postgresql+psycopg://",
                                                     "postgresql+asyncpg://")
    server = start_server(home / "server", timeout=120, extra_env={
        "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db,
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # only the runs the test makes
    })
    env = {**os.environ, **server.client_env(), "DUBAN_HOME": str(ROOT),
           "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5",
           "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    c = Cluster(server, env, home)
    try:
        c.cli("work-pool", "create", POOL, "--type", "process")
        for queue in QUEUES.values():
            c.cli("work-queue", "create", queue, "--pool", POOL)
        c.cli("--no-prompt", "deploy", "--all")  # prefect.yaml, as in production
        for name in QUEUES:
            c.start_worker(name)
        yield c
    finally:
        c.stop()
        with using(server):
            drain_client_workers()
        server.stop()


@pytest.fixture(scope="module")
def worlds(postgres_databases, tmp_path_factory) -> Iterator[tuple[World, World, SmtpTestServer]]:
    """The world the workers run (PostgreSQL, its mail server) and its twin run in-process."""
    root = tmp_path_factory.mktemp("worlds")
    with SmtpTestServer("plain", faults=Faults(reply_delay_s=0.01)) as mail, \
            SmtpTestServer("plain") as ref_mail:
        world = seed_world(make_config(root / "w", smtp_port=mail.port),
                           postgres_databases.create(), plans=2, items=3)
        settings = world.config / "settings.yaml"  # notice dead partition runs quickly
        text = settings.read_text(encoding="utf-8")
        for old, new in (("start_grace_s: 60", "start_grace_s: 20"), ("poll_s: 2", "poll_s: 1")):
            assert old in text
            text = text.replace(old, new)
        settings.write_text(text, encoding="utf-8")
        ref = seed_world(make_config(root / "ref", smtp_port=ref_mail.port),
                         f"sqlite:///{root / 'ref.db'}", plans=2, items=3)
        yield world, ref, mail


def _in_process(ref: World, *, day: date | None = None, month_day: date | None = None) -> None:
    ctx = build_context(ref.config, ref.url, ref.config.parent / "var")
    try:
        if day:
            run_day(ctx, as_of=day, send=True)
        if month_day:
            run_month(ctx, month=date(month_day.year, month_day.month - 1, 1),
                      now=ctx.run_instant(month_day), send=True)
    finally:
        ctx.dispose()


async def _start(deployment: str, params: dict, queues: list[str]) -> list:
    from prefect.deployments import run_deployment

    return list(await asyncio.gather(*(
        run_deployment(deployment, parameters=params, timeout=0, work_queue_name=q)
        for q in queues)))


async def _wait_final(ids: list, timeout: float = 300) -> list:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            runs = [await client.read_flow_run(i) for i in ids]
            if all(r.state and r.state.is_final() for r in runs):
                return runs
            assert time.monotonic() < deadline, [(r.name, r.state_name) for r in runs]
            await asyncio.sleep(1)


async def _runs_of(deployment_name: str, tag: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterTags,
    )

    async with get_client() as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment_name])))


def _mail_ids(mail: SmtpTestServer) -> Counter:
    return Counter(m["Message-ID"].strip("<>") for m in mail.messages())


def _steps(world: World) -> list:
    return sorted(world.rows(
        sa.select(Obligation.item_id, Obligation.unit_id, Escalation.step, Escalation.cycle)
        .join(Obligation, Obligation.id == Escalation.obligation_id)))


def _outbox(world: World, status: bool = True) -> list:
    return sorted((k, p, to, s.value if status else "") for _, s, k, p, to in world.outbox())


def test_three_overlapping_daily_runs_on_two_workers_send_every_message_once(cluster, worlds):
    world, ref, mail = worlds
    _in_process(ref, day=LATE_DAY)
    params = {"as_of": LATE_DAY, "fan_out": True, **world.flow_kwargs()}
    with using(cluster.server):
        parents = asyncio.run(_start("daily-run/daily", params,
                                     [QUEUES["w1"], QUEUES["w2"], QUEUES["w1"]]))
        parents = asyncio.run(_wait_final([p.id for p in parents]))
        partitions = asyncio.run(_runs_of("daily-partition", f"as_of:{LATE_DAY}"))
    assert [p.state_name for p in parents] == ["Completed"] * 3, (
        [p.state for p in parents],
        [(p.name, p.state_name, p.state.message, p.start_time, p.end_time) for p in partitions])
    # the parents ran on both workers (each worker alone serves its queue) …
    assert {p.work_queue_name for p in parents} == set(QUEUES.values())
    # … and joined ONE partition run per plan instead of starting three
    assert sorted(p.parameters["plan_id"] for p in partitions) == sorted(world.plan_ids)
    assert {p.state_name for p in partitions} == {"Completed"}
    assert _steps(world) == _steps(ref)
    assert _outbox(world) == _outbox(ref)  # every due message written once, all delivered
    sent = _mail_ids(mail)
    assert set(sent.values()) == {1}  # … and received exactly once
    assert set(sent) == {mid for mid, *_ in world.outbox()}


def test_monthly_escalations_on_both_workers_score_once(cluster, worlds):
    world, ref, mail = worlds
    _in_process(ref, month_day=MONTH_DAY)
    params = {"as_of": MONTH_DAY, **world.flow_kwargs()}
    with using(cluster.server):
        runs = asyncio.run(_start("monthly-escalation/monthly", params, list(QUEUES.values())))
        runs = asyncio.run(_wait_final([r.id for r in runs]))
    assert [r.state_name for r in runs] == ["Completed"] * 2
    # every line once (row ids inside the keys differ between the twins: compare the facts)
    ledger = sa.select(LedgerEntry.kind, LedgerEntry.rule_code, LedgerEntry.unit_id,
                       LedgerEntry.item_code, LedgerEntry.period_key, LedgerEntry.amount)
    assert sorted(world.rows(ledger)) == sorted(ref.rows(ledger))
    assert world.rows(ledger), "the month scored something"
    assert _outbox(world) == _outbox(ref)
    assert set(_mail_ids(mail).values()) == {1}


def test_workers_killed_mid_day_are_replaced_and_the_rerun_completes_the_day(cluster, worlds):
    world, ref, mail = worlds
    _in_process(ref, day=RED_DAY)
    params = {"as_of": RED_DAY, "fan_out": True, **world.flow_kwargs()}
    red = (sa.select(sa.func.count()).select_from(Escalation)
           .where(Escalation.step == "+5", Escalation.cycle == date(2020, 9, 15)))
    with using(cluster.server):
        asyncio.run(_start("daily-run/daily", params, [QUEUES["w1"]]))
        deadline = time.monotonic() + 120
        while not world.scalar(red):  # a partition of the day is under way: lose both hosts
            assert time.monotonic() < deadline, "no partition of the day got going"
            time.sleep(0.05)
        for name in QUEUES:
            cluster.kill_worker(name)
        assert world.scalar(sa.select(sa.func.count()).select_from(RunRecord).where(
            RunRecord.kind == "daily-partition", RunRecord.key.like(f"{RED_DAY}:%"))) < 2
        for name in QUEUES:
            cluster.start_worker(name)
        [rerun] = asyncio.run(_start("daily-run/daily", params, [QUEUES["w2"]]))
        [rerun] = asyncio.run(_wait_final([rerun.id]))
        partitions = asyncio.run(_runs_of("daily-partition", f"as_of:{RED_DAY}"))
    assert rerun.state_name == "Completed", rerun.state
    states = Counter(p.state_name for p in partitions)
    # the killed runs were declared dead (no lease) and the next generation checked the plans;
    # (a run killed after recording its check, before reporting, may still say Running)
    assert states["Crashed"] >= 1 and states["Completed"] >= 1, states
    assert set(states) <= {"Completed", "Crashed", "Running"}, states
    done = world.rows(sa.select(RunRecord.key).where(RunRecord.kind == "daily-partition",
                                                    RunRecord.key.like(f"{RED_DAY}:%")))
    assert len(done) == len(world.plan_ids)
    assert _steps(world) == _steps(ref)
    assert _outbox(world) == _outbox(ref)
    sent = _mail_ids(mail)
    assert set(sent) == {mid for mid, *_ in world.outbox()}
    assert sum(n - 1 for n in sent.values()) <= 1  # at most the one in flight (lost reply)
