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

PARTITION_DEPLOYMENT = "daily-partition/daily-partition"


def partition_lease_name(as_of: date, plan_id: int) -> str:
    return f"daily-{as_of.isoformat()}-plan{plan_id}"


@dataclass(frozen=True)
class FanOutSettings:
    deployment: str = PARTITION_DEPLOYMENT
    poll_s: float = 2.0
    start_grace_s: float = 60.0  # a Running run may take this long to take its lease
    max_generations: int = 3

    @classmethod
    def from_settings(cls, prefect_settings: dict[str, Any]) -> FanOutSettings:
        given = prefect_settings.get("fan_out") or {}
        return cls(**{k: v for k, v in given.items() if k in cls.__dataclass_fields__})


class PartitionFailed(RuntimeError):
    """A plan's check did not complete in any generation."""


async def run_partition(ctx: EngineContext, *, plan_id: int, as_of: date, now: datetime,
                        config_dir: str | None, db_url: str | None,
                        settings: FanOutSettings) -> FlowRun:
    """Run (or join) the plan's partition run for ``as_of`` and wait until it completes."""
    lease = partition_lease_name(as_of, plan_id)
    last = None
    for generation in range(1, settings.max_generations + 1):
        run = await run_deployment(
            settings.deployment, timeout=0, idempotency_key=f"{lease}:{generation}",
            parameters={"plan_id": plan_id, "as_of": as_of, "now": now,
                        "config_dir": config_dir, "db_url": db_url},
            tags=[f"plan:{plan_id}", f"as_of:{as_of.isoformat()}"])
        last = await wait_for_partition(ctx, run.id, lease, settings)
        if last.state is not None and last.state.is_completed():
            return last
    raise PartitionFailed(
        f"条目分区 plan{plan_id} {as_of} 经 {settings.max_generations} 次运行仍未完成"
        f"（最后状态：{last.state.name if last and last.state else '未知'}）")


async def wait_for_partition(ctx: EngineContext, run_id: UUID, lease: str,
                             settings: FanOutSettings) -> FlowRun:
    """Poll the run until it is final.  A run seen Running without its lease twice, a few
    seconds apart (a run that has just released its lease is about to report Completed), is
    marked Crashed — its process is gone — and returned as such."""
    suspect_since: float | None = None
    async with get_client() as client:
        while True:
            run = await client.read_flow_run(run_id)
            state = run.state
            if state is not None and state.is_final():
                return run
            if (state is not None and state.is_running() and run.start_time is not None
                    and _age_s(run.start_time) > settings.start_grace_s
                    and not await asyncio.to_thread(lease_held, ctx.engine, lease)):
                if suspect_since is None:
                    suspect_since = time.monotonic()
                elif time.monotonic() - suspect_since >= CONFIRM_S:
                    await client.set_flow_run_state(
                        run_id, Crashed(message="运行进程已不在（worker 被终止？）：未持有分区租约"),
                        force=True)
                    continue
            else:
                suspect_since = None
            await asyncio.sleep(min(settings.poll_s, CONFIRM_S))


CONFIRM_S = 3.0  # a lease-less Running run must stay so this long before it is declared dead


def _age_s(start: datetime) -> float:
    return time.time() - start.timestamp()


__all__ = ["PARTITION_DEPLOYMENT", "FanOutSettings", "PartitionFailed", "partition_lease_name",
           "run_partition", "wait_for_partition"]
