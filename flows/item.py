"""One plan item's daily check — its own flow in the UI, named after the item.

The status table artifact lists every unit while the item has at most
``settings.prefect.artifact_row_limit`` units (default 200).  A province-sized item (thousands
of units) would make a table too big for the UI and slow to store on every run, so above the
limit it lists only the units needing attention, most urgent first, up to the limit, and its
description gives the count of units in each standing.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from prefect import Flow, flow, tags
from prefect.artifacts import acreate_table_artifact
from prefect.context import TagsContext

from deadlines.ladder import SEVERITY
from tasks.checks import ItemRef, ItemReport
from tasks.context import EngineContext
from tasks.prefect_tasks import check_item_task, get_context, publish_units

ARTIFACT_ROW_LIMIT = 200
ITEM_CONCURRENCY = 1


def status_table(report: ItemReport, *, limit: int = ARTIFACT_ROW_LIMIT) -> tuple[list[dict],
                                                                                   str]:
    """The rows and description of the item's status table (see the module docs)."""
    described = f"{report.flow_name} — {report.as_of.isoformat()} 各单位落实情况"
    if len(report.units) <= limit:
        return [u.as_row() for u in report.units], described
    attention = [u for u in report.units if u.needs_attention]  # units are most urgent first
    shown = attention[:limit]
    counts = sorted(report.counts().items(), key=lambda kv: -SEVERITY[kv[0]])
    which = (f"最紧急的{len(shown)}个" if len(attention) > limit else f"全部{len(shown)}个")
    return [u.as_row() for u in shown], (
        f"{described}（共{len(report.units)}个单位："
        + "，".join(f"{standing}{n}个" for standing, n in counts)
        + f"。单位较多，表中只列需关注单位中{which}）")


@flow(name="item-check", log_prints=False)
async def item_check(item_id: int, as_of: date, now: datetime, config_dir: str | None = None,
                     db_url: str | None = None) -> dict:
    """Check one item on ``as_of``: ladder steps, unit standings, the status table."""
    with _task_tags():
        report: ItemReport = await check_item_task(item_id, as_of, now, config_dir, db_url)
    prefect_settings = get_context(config_dir, db_url).settings.prefect
    limit = int(prefect_settings.get("unit_task_limit", 100))
    rows, description = status_table(
        report, limit=int(prefect_settings.get("artifact_row_limit", ARTIFACT_ROW_LIMIT)))
    # the artifact's round trip to the server overlaps with the unit task runs
    with _task_tags():
        await asyncio.gather(
            acreate_table_artifact(
                key=f"plan{report.plan_id}-item-{report.code}".lower().replace("_", "-"),
                table=rows, description=description),
            publish_units(report, limit=limit))
    return report.summary()


def _task_tags() -> TagsContext:
    """The item's task runs carry the run's tags but not ``item:…``: the item is their flow
    run.  Prefect looks up tag concurrency limits once per distinct tag set (a request, a
    client and a thread each), so one set for all items instead of one per item."""
    current = TagsContext.get().current_tags
    return TagsContext(current_tags={t for t in current if not t.startswith("item:")})


def item_flow(name: str) -> Flow:
    """The item's own flow: flow name and run name are the item ("条目6 集中发布…")."""
    return item_check.with_options(name=name, flow_run_name=name)


async def check_items(ctx: EngineContext, items: list[ItemRef], *, as_of: date, now: datetime,
                      config_dir: str | None, db_url: str | None) -> list[dict]:
    """Run the items' flows, ``settings.prefect.item_concurrency`` at a time (see
    ``flows/daily.py``).  A failing item does not stop the others: every item is checked, then
    the first error is raised."""
    gate = asyncio.Semaphore(max(1, int(ctx.settings.prefect.get("item_concurrency",
                                                                   ITEM_CONCURRENCY))))

    async def check(item: ItemRef) -> dict:
        async with gate:
            return await item_flow(item.flow_name)(
                item_id=item.id, as_of=as_of, now=now, config_dir=config_dir, db_url=db_url)

    runs = []
    for item in items:
        with tags(f"plan:{item.plan_id}", f"item:{item.code}", f"as_of:{as_of.isoformat()}"):
            runs.append(asyncio.ensure_future(check(item)))  # the task keeps these tags
    results = await asyncio.gather(*runs, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    return results
