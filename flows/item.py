"""One plan item's daily check — its own flow in the UI, named after the item."""

from __future__ import annotations

from datetime import date, datetime

from prefect import Flow, flow
from prefect.artifacts import acreate_table_artifact

from tasks.checks import ItemReport
from tasks.prefect_tasks import check_item_task, get_context, publish_units


@flow(name="item-check", log_prints=False)
async def item_check(item_id: int, as_of: date, now: datetime, config_dir: str | None = None,
                     db_url: str | None = None) -> dict:
    """Check one item on ``as_of``: ladder steps, unit standings, the status table."""
    report: ItemReport = await check_item_task(item_id, as_of, now, config_dir, db_url)
    limit = int(get_context(config_dir, db_url).settings.prefect.get("unit_task_limit", 100))
    await acreate_table_artifact(
        key=f"plan{report.plan_id}-item-{report.code}".lower().replace("_", "-"),
        table=[u.as_row() for u in report.units],
        description=f"{report.flow_name} — {as_of.isoformat()} 各单位落实情况",
    )
    await publish_units(report, limit=limit)
    return report.summary()


def item_flow(name: str) -> Flow:
    """The item's own flow: flow name and run name are the item ("条目6 集中发布…")."""
    return item_check.with_options(name=name, flow_run_name=name)
