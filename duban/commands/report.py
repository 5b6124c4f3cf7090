"""``duban report``: the 通报 a 政务公开办 sends out, as .docx (for the file) and .html (for mail).

A month's 通报 reads what the monthly run scored (``duban escalate --month``) and writes nothing to
the database. An assessment's 通报 runs the assessment first (idempotent: it posts what the
period's facts imply and writes the 评分表 .xlsx) and puts the 评分表 beside the 通报.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console

from db.models import RunRecord
from duban.commands.engine import _ctx
from duban.context import now as clock_now
from duban.context import parse_when
from duban.errors import UserError
from reports.collect import tongbao_data
from reports.tongbao import DEFAULT_RECIPIENTS, TongbaoData, render_docx, render_html
from scoring.rules import fmt_points
from tasks.context import EngineContext
from tasks.ledger import reports_dir, rulebook_for
from tasks.runs import assessment_period, month_end, run_assessment

RECTIFY_WORKING_DAYS = 10  # default time to put things right: ten working days after issue


def _month(text: str) -> date:
    try:
        y, m = (int(x) for x in text.strip().split("-"))
        return date(y, m, 1)
    except ValueError:
        raise UserError(f"--month 应写成 YYYY-MM，例如 2020-09，而不是 {text!r}") from None


def _write(data: TongbaoData, folder: Path, stem: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    docx = render_docx(data, folder / f"{stem}.docx")
    html = folder / f"{stem}.html"
    html.write_text(render_html(data), encoding="utf-8")
    return [docx, html]


def _scored_month(ctx: EngineContext, month: date) -> None:
    key = month.strftime("%Y-%m")
    with ctx.session() as s:
        done = s.scalar(sa.select(RunRecord.id).where(RunRecord.kind == "monthly",
                                                      RunRecord.key == key))
    if done is None:
        raise UserError(f"{month.year}年{month.month}月尚未评分：请先运行 duban escalate --month {key}")


def report(
    month: Annotated[str | None, typer.Option("--month", help="The month's 通报 (YYYY-MM).")] = None,
    period: Annotated[str | None, typer.Option("--period", help="Or an assessment's: H1 (年中) / Q3 / Y (年度).")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Assessment year (default: this year).")] = None,
    doc_number: Annotated[str | None, typer.Option("--doc-number", help="文号, e.g. 朝政公办〔2020〕9号 (default: a blank to fill in).")] = None,
    on: Annotated[str | None, typer.Option("--date", help="Date of issue under the signature; completion is stated as of this day (default: today).")] = None,
    rectify_by: Annotated[str | None, typer.Option("--rectify-by", help=f"整改期限 (default: {RECTIFY_WORKING_DAYS} working days after --date).")] = None,
    recipients: Annotated[str, typer.Option("--recipients", help="主送 line.")] = DEFAULT_RECIPIENTS,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder to write to (default: var/reports/tongbao).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Configuration directory.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: settings/env).")] = None,
) -> None:
    """Write the 通报 as .docx and .html (and, for an assessment, the 评分表 .xlsx).

    Examples: duban report --month 2020-09 --doc-number 朝政公办〔2020〕9号 ·
    duban report --period H1 --year 2020 -o ~/通报
    """
    if bool(month) == bool(period):
        raise UserError("请给出 --month YYYY-MM（月度通报）或 --period H1/Q3/Y（考核通报）其中之一")
    ctx = _ctx(config, db)
    issued = parse_when(on).date() if on else clock_now().date()
    rectify = (parse_when(rectify_by).date() if rectify_by
               else ctx.national.add_working_days(issued, RECTIFY_WORKING_DAYS))
    if rectify < issued:
        raise UserError(f"整改期限 {rectify} 早于通报日期 {issued}")
    folder = out or reports_dir(ctx, "tongbao")
    console = Console(highlight=False, soft_wrap=True)
    if month:
        first = _month(month)
        _scored_month(ctx, first)
        with ctx.session() as s:
            data = tongbao_data(s, start=first, end=month_end(first), office=ctx.settings.office,
                                issued_on=issued, doc_number=doc_number, rectify_by=rectify,
                                recipients=recipients, rulebook=rulebook_for(ctx, first.year))
        files = _write(data, folder, f"通报-{data.period_label}")
    else:
        code, the_year = period.strip().upper(), year or issued.year
        book = rulebook_for(ctx, the_year)
        if book is not None and code not in {a.code for a in book.assessments}:
            known = "、".join(f"{a.code}（{a.name}）" for a in book.assessments)
            raise UserError(f"{the_year}年的评分规则中没有考核期 {period!r}：可选 {known}")
        p = assessment_period(ctx, year=the_year, code=code)
        summary = run_assessment(ctx, period=p, now=clock_now())
        sheet = folder / summary.file.name
        folder.mkdir(parents=True, exist_ok=True)
        if sheet.resolve() != summary.file.resolve():
            shutil.copyfile(summary.file, sheet)
        with ctx.session() as s:
            data = tongbao_data(s, start=p.start, end=p.end, office=ctx.settings.office,
                                issued_on=issued, period_label=p.name,
                                title=f"关于{p.name}情况的通报", doc_number=doc_number,
                                rectify_by=rectify, recipients=recipients,
                                rulebook=rulebook_for(ctx, p.end.year),
                                extra_attachments=(f"{p.name}评分表（{sheet.name}）",))
        files = [*_write(data, folder, f"通报-{p.name}"), sheet]
    console.print(f"{data.title}：明细 {len(data.rows)} 条，扣分 {fmt_points(data.deductions)}，"
                  f"待裁定 {data.pending} 项")
    for path in files:
        console.print(f"  文件：{path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)


__all__ = ["register", "report"]
