"""Fan-out of the daily run: one Prefect flow run per plan (a city's plan, a region's), on
whichever worker picks it up, exactly one per plan and day however often the day is run.

``run_partition`` creates the plan's run with ``run_deployment(…, idempotency_key=…)``: the
key is ``daily:<day>:plan<id>:<generation>``, so a retried or overlapping daily run gets the
same flow run back instead of a second one, and waits for it.  Only when that run ended without
completing (failed, crashed, cancelled) does the next generation's key create a new run — a
re-run after an outage completes the day.

A worker killed with ``kill -9`` leaves its flow run "Running" for ever in Prefect's eyes.  The
partition flow holds a named lease for its plan and day while it works (``db/locks.py``: an
advisory lock on PostgreSQL, visible from every host), so a run that says Running but whose
lease nobody holds — after ``start_grace_s`` for the process to get going — is a zombie: it is
marked Crashed, and the next generation takes over.  The engine's database keys make whatever
the dead run had already done count once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Crashed

from db.locks import lease_held
from tasks.context import EngineContext
from tasks.runs import partition_done

PARTITION_DEPLOYMENT = "daily-partition/daily-partition"


def partition_lease_name(as_of: date, plan_id: int) -> str:
    return f"daily-{as_of.isoformat()}-plan{plan_id}"


@dataclass(frozen=True)
class FanOutSettings:
    deployment: str = PARTITION_DEPLOYMENT
    poll_s: float = 2.0
    start_grace_s: float = 60.0  # a Pending/Running run may take this long to take its lease
    max_generations: int = 3  # partition runs one daily run waits for, per plan, at most
    timeout_s: float = 4 * 3600.0  # a daily run waits for a plan's check this long, at most

    @classmethod
    def from_settings(cls, prefect_settings: dict[str, Any]) -> FanOutSettings:
        given = prefect_settings.get("fan_out") or {}
        return cls(**{k: v for k, v in given.items() if k in cls.__dataclass_fields__})


class PartitionFailed(RuntimeError):
    """A plan's check did not complete in any generation."""


MAX_KEYS = 100  # generation numbers tried per plan and day, however many runs failed before
CONFIRM_S = 3.0  # a lease-less run must stay so this long before it is declared dead


async def run_partition(ctx: EngineContext, *, plan_id: int, as_of: date, now: datetime,
                        config_dir: str | None, db_url: str | None,
                        settings: FanOutSettings) -> None:
    """Run (or join) the plan's partition run for ``as_of`` and wait until the plan is checked.

    A plan already checked that day (its run record) needs no run at all.  Runs that ended
    badly before this call are skipped, not counted: only the runs this call waits for count
    against ``max_generations`` — so a re-run after an outage always gets its own attempts.
    """
    if await asyncio.to_thread(partition_done, ctx, as_of, plan_id):
        return
    lease = partition_lease_name(as_of, plan_id)
    deadline = time.monotonic() + settings.timeout_s
    waited, last = 0, "未运行"
    for generation in range(1, MAX_KEYS + 1):
        run = await run_deployment(
            settings.deployment, timeout=0, idempotency_key=f"{lease}:{generation}",
            parameters={"plan_id": plan_id, "as_of": as_of, "now": now,
                        "config_dir": config_dir, "db_url": db_url},
            tags=[f"plan:{plan_id}", f"as_of:{as_of.isoformat()}"])
        if run.state is not None and run.state.is_final() and not run.state.is_completed():
            continue  # an earlier call's failed run: on to the next generation
        run = await wait_for_partition(ctx, run.id, lease, settings, as_of=as_of,
                                       plan_id=plan_id, deadline=deadline)
        if run is None:  # the plan's check is recorded
            return
        waited += 1
        last = run.state.name if run.state else "未知"
        if waited >= settings.max_generations:
            break
    raise PartitionFailed(f"计划{plan_id} {as_of} 的检查经 {waited} 次运行仍未完成（最后状态：{last}）")


async def wait_for_partition(ctx: EngineContext, run_id: UUID, lease: str,
                             settings: FanOutSettings, *, as_of: date, plan_id: int,
                             deadline: float) -> FlowRun | None:
    """Wait until the plan's check is recorded (None) or the run ended without it (the run).

    A run seen Pending or Running past the start grace without its lease, twice a few seconds
    apart (a run that has just released its lease is about to report Completed), and without
    its check recorded, is dead: it is proposed Crashed — which Prefect refuses if the run has
    meanwhile ended — and the caller starts the next generation."""
    suspect_since: float | None = None
    async with get_client() as client:
        while True:
            if await asyncio.to_thread(partition_done, ctx, as_of, plan_id):
                return None
            run = await client.read_flow_run(run_id)
            state = run.state
            if state is not None and state.is_final():
                return run
            if time.monotonic() > deadline:
                raise PartitionFailed(f"计划{plan_id} {as_of} 的检查超时未完成（{run.name}）")
            if (state is not None and (state.is_running() or state.is_pending())
                    and _age_s(run.start_time or state.timestamp) > settings.start_grace_s
                    and not await asyncio.to_thread(lease_held, ctx.engine, lease)):
                if suspect_since is None:
                    suspect_since = time.monotonic()
                elif time.monotonic() - suspect_since >= CONFIRM_S:
                    await client.set_flow_run_state(
                        run_id, Crashed(message="运行进程已不在（worker 被终止？）：未持有分区租约"))
                    suspect_since = None
                    continue
            else:
                suspect_since = None
            await asyncio.sleep(min(settings.poll_s, CONFIRM_S))


def _age_s(start: datetime) -> float:
    return time.time() - start.timestamp()


__all__ = ["PARTITION_DEPLOYMENT", "FanOutSettings", "PartitionFailed", "partition_lease_name",
           "run_partition", "wait_for_partition"]
