"""The monthly escalation: score last month, publish the 通报, send it — once per month."""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run

from flows.clock import resolve_day
from tasks.prefect_tasks import get_context, record_run_task, run_month_task
from tasks.runs import first_working_day, previous_month


def _name() -> str:
    p = flow_run.parameters
    return f"月度督办通报 {p.get('month') or p.get('as_of') or '上月'}"


@flow(name="monthly-escalation", flow_run_name=_name)
async def monthly_escalation(month: str | None = None, as_of: date | None = None,
                             send: bool = True, config_dir: str | None = None,
                             db_url: str | None = None) -> dict:
    """Scheduled on days 1–7: acts only on the month's first working day, for the previous
    month (or for ``month`` "YYYY-MM" when given explicitly). Idempotent per month."""
    ctx = get_context(config_dir, db_url)
    day, now = resolve_day(ctx, as_of)
    if month is None:
        first = first_working_day(ctx, day.year, day.month)
        if day != first:
            await record_run_task("monthly-check", day.isoformat(), "skipped_not_first_working_day",
                            now, {"first_working_day": first.isoformat()}, config_dir, db_url)
            return {"skipped": f"{day} is not the first working day ({first})"}
        target = previous_month(day)
    else:
        year, mon = (int(x) for x in month.split("-"))
        target = date(year, mon, 1)
    summary = await run_month_task(target, now, send, config_dir, db_url)
    await acreate_markdown_artifact(key=f"tongbao-{target:%Y-%m}", markdown=summary.markdown,
                                    description=f"{target.year}年{target.month}月督办通报")
    return summary.as_dict()
