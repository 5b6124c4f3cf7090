"""One plan's share of the daily run — the unit of fan-out across workers (``tasks/partitions.py``).

It checks the plan's items (each its own item flow, as in the daily run) while holding the
plan's lease for the day, so its parent can tell it is alive, and records what it did.
"""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow
from prefect.runtime import flow_run

from db.locks import named_lease
from flows.item import check_items
from tasks.checks import active_items
from tasks.partitions import partition_lease_name
from tasks.prefect_tasks import get_context, record_run_task


def _name() -> str:
    p = flow_run.parameters
    return f"每日督办 {p.get('as_of')} 计划{p.get('plan_id')}"


@flow(name="daily-partition", flow_run_name=_name)
async def daily_partition(plan_id: int, as_of: date, now: datetime, config_dir: str | None = None,
                          db_url: str | None = None) -> dict:
    """Check every active item of plan ``plan_id`` on ``as_of``."""
    ctx = get_context(config_dir, db_url)
    with named_lease(ctx.engine, partition_lease_name(as_of, plan_id)):
        results = await check_items(ctx, active_items(ctx, plan_id=plan_id), as_of=as_of,
                                    now=now, config_dir=config_dir, db_url=db_url)
        summary = {"plan_id": plan_id, "as_of": as_of.isoformat(), "items": len(results),
                   "fired": sum(r["fired"] for r in results)}
        await record_run_task("daily-partition", f"{as_of.isoformat()}:plan{plan_id}", "done",
                              now, summary, config_dir, db_url)
    return summary
