"""The daily run: every active item's check (as subflows), then one message per contact.

``settings.prefect.item_concurrency`` item flows run side by side (default 1: one after the
other).  Each item flow costs about a dozen round trips to the Prefect server (create, name,
states, artifact); with a PostgreSQL Prefect server, 4 lets those overlap with other items'
checks (measured with ``bench/daily_run.py``: a province-sized run ~4 s faster), while a
SQLite server serialises its writes and gets slower with more than one.  The checks themselves
never overlap (``tasks.prefect_tasks.check_item_task``).  A failing
item no longer stops the others: every item is checked, then the run fails with the first
error, before any message is written.
"""

from __future__ import annotations

import asyncio
from datetime import date

from prefect import flow, tags
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run

from flows.clock import resolve_day
from flows.item import item_flow
from tasks.checks import ItemRef, active_items
from tasks.prefect_tasks import deliver_task, get_context, record_run_task, write_messages_task
from tasks.runs import rest_day_reason

ITEM_CONCURRENCY = 1


def _name() -> str:
    as_of = flow_run.parameters.get("as_of")
    return f"每日督办 {as_of or '今日'}"


@flow(name="daily-run", flow_run_name=_name)
async def daily_run(as_of: date | None = None, send: bool = True, config_dir: str | None = None,
                    db_url: str | None = None) -> dict:
    """On a working day: check every item, write one message per contact, deliver them.
    On a rest day: only record that the run skipped."""
    ctx = get_context(config_dir, db_url)
    as_of, now = resolve_day(ctx, as_of)
    reason = rest_day_reason(ctx, as_of)
    if reason:
        await record_run_task("daily", as_of.isoformat(), "skipped_rest_day", now,
                        {"skipped": reason}, config_dir, db_url)
        return {"as_of": as_of.isoformat(), "skipped": reason}
    gate = asyncio.Semaphore(max(1, int(ctx.settings.prefect.get("item_concurrency",
                                                                   ITEM_CONCURRENCY))))

    async def check(item: ItemRef) -> dict:
        async with gate:
            return await item_flow(item.flow_name)(
                item_id=item.id, as_of=as_of, now=now, config_dir=config_dir, db_url=db_url)

    runs = []
    for item in active_items(ctx):
        with tags(f"plan:{item.plan_id}", f"item:{item.code}", f"as_of:{as_of.isoformat()}"):
            runs.append(asyncio.ensure_future(check(item)))  # the task keeps these tags
    results = await asyncio.gather(*runs, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    messages = await write_messages_task(as_of, now, config_dir, db_url)
    delivery = await deliver_task(now, config_dir, db_url) if send else None
    summary = {"as_of": as_of.isoformat(), "items": len(results),
               "fired": sum(r["fired"] for r in results), "messages": messages.as_dict(),
               "delivery": delivery.as_dict() if delivery else None}
    await record_run_task("daily", as_of.isoformat(), "done", now, summary, config_dir, db_url)
    await acreate_markdown_artifact(
        key="daily-run", description=f"每日督办 {as_of.isoformat()}",
        markdown=(f"# 每日督办 {as_of.isoformat()}\n\n- 检查条目 {len(results)} 项，"
                  f"触发提醒/督办 {summary['fired']} 次\n- 写入发件箱 {messages.messages} 封"
                  f"（提醒 {messages.digests}，督办单 {messages.escalations}，"
                  f"督办员日报 {messages.coordinator}）\n"
                  + (f"- 投递成功 {delivery.delivered}，待重试 {delivery.transient}，"
                     f"失败 {delivery.failed}\n" if delivery else "")))
    return summary
