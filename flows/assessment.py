"""Assessment scorecards: 年中 / 三季度末 / 年底, or any date range."""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.runtime import flow_run

from flows.clock import resolve_day
from tasks.prefect_tasks import get_context, run_assessment_task
from tasks.runs import assessment_period


def _name() -> str:
    p = flow_run.parameters
    return f"考核评分 {p.get('year') or ''}{p.get('period') or ''}".strip()


@flow(name="assessment", flow_run_name=_name)
async def assessment(period: str | None = "Y", year: int | None = None,
                     start: date | None = None, end: date | None = None,
                     as_of: date | None = None, config_dir: str | None = None,
                     db_url: str | None = None) -> dict:
    """Scorecards for ``period`` (H1/Q3/Y of ``year``) or for ``start``..``end``."""
    ctx = get_context(config_dir, db_url)
    day, now = resolve_day(ctx, as_of)
    p = assessment_period(ctx, year=year or (end or day).year, code=None if start else period,
                          start=start, end=end)
    summary = await run_assessment_task(p, now, config_dir, db_url)
    key = p.key.lower().replace("..", "-to-")
    await acreate_markdown_artifact(key=f"assessment-{key}", markdown=summary.markdown,
                                    description=p.name)
    await acreate_table_artifact(
        key=f"scorecard-{key}", description=f"{p.name}评分表",
        table=[{"单位": s.unit_name, "减分": str(s.deductions), "加分": str(s.bonuses),
                "得分": str(s.final), "状态": "暂定" if s.provisional else "确定"}
               for s in sorted(summary.scores, key=lambda s: (-s.final, s.unit_name))])
    return summary.as_dict()
