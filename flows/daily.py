"""The daily run: every active item's check (as subflows), then one message per contact.

``settings.prefect.item_concurrency`` item flows run side by side (default 1: one after the
other).  Each item flow costs about a dozen round trips to the Prefect server (create, name,
states, artifact); with a PostgreSQL Prefect server, 4 lets those overlap with other items'
checks (measured with ``bench/daily_run.py``: a province-sized run ~4 s faster), while a
SQLite server serialises its writes and gets slower with more than one.  The checks themselves
never overlap within a process (``tasks.prefect_tasks.check_item_task``).  A failing
item no longer stops the others: every item is checked, then the run fails with the first
error, before any message is written.

With ``fan_out=True`` (the production deployment) the checks run as one ``daily-partition``
flow run per plan, created with ``run_deployment`` and an idempotency key, so the plans are
checked in parallel on whichever workers are free and a retried or overlapping daily run joins
the same partition runs instead of starting new ones (``tasks/partitions.py``).  Messages are
written and delivered once every plan is checked; any number of overlapping runs write each
message once (outbox keys) and send it once (deliverer leases).
"""

from __future__ import annotations

import asyncio
from datetime import date

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run

from flows.clock import resolve_day
from flows.item import check_items
from tasks.checks import active_items
from tasks.partitions import FanOutSettings, run_partition
from tasks.prefect_tasks import deliver_task, get_context, record_run_task, write_messages_task
from tasks.runs import partition_summaries, rest_day_reason


def _name() -> str:
    as_of = flow_run.parameters.get("as_of")
    return f"每日督办 {as_of or '今日'}"


@flow(name="daily-run", flow_run_name=_name)
async def daily_run(as_of: date | None = None, send: bool = True, config_dir: str | None = None,
                    db_url: str | None = None, fan_out: bool = False) -> dict:
    """On a working day: check every item, write one message per contact, deliver them.
    On a rest day: only record that the run skipped."""
    ctx = get_context(config_dir, db_url)
    as_of, now = resolve_day(ctx, as_of)
    reason = rest_day_reason(ctx, as_of)
    if reason:
        await record_run_task("daily", as_of.isoformat(), "skipped_rest_day", now,
                        {"skipped": reason}, config_dir, db_url)
        return {"as_of": as_of.isoformat(), "skipped": reason}
    items = active_items(ctx)
    if fan_out:
        fan = FanOutSettings.from_settings(ctx.settings.prefect)
        await asyncio.gather(*(
            run_partition(ctx, plan_id=plan_id, as_of=as_of, now=now, config_dir=config_dir,
                          db_url=db_url, settings=fan)
            for plan_id in sorted({i.plan_id for i in items})))
        checked = partition_summaries(ctx, as_of)
    else:
        checked = await check_items(ctx, items, as_of=as_of, now=now, config_dir=config_dir,
                                    db_url=db_url)
    n_items = sum(c.get("items", 1) for c in checked)
    messages = await write_messages_task(as_of, now, config_dir, db_url)
    delivery = await deliver_task(now, config_dir, db_url) if send else None
    summary = {"as_of": as_of.isoformat(), "items": n_items,
               "fired": sum(c["fired"] for c in checked), "messages": messages.as_dict(),
               "delivery": delivery.as_dict() if delivery else None}
    await record_run_task("daily", as_of.isoformat(), "done", now, summary, config_dir, db_url)
    await acreate_markdown_artifact(
        key="daily-run", description=f"每日督办 {as_of.isoformat()}",
        markdown=(f"# 每日督办 {as_of.isoformat()}\n\n- 检查条目 {n_items} 项，"
                  f"触发提醒/督办 {summary['fired']} 次\n- 写入发件箱 {messages.messages} 封"
                  f"（提醒 {messages.digests}，督办单 {messages.escalations}，"
                  f"督办员日报 {messages.coordinator}）\n"
                  + (f"- 投递成功 {delivery.delivered}，待重试 {delivery.transient}，"
                     f"失败 {delivery.failed}\n" if delivery else "")))
    return summary
