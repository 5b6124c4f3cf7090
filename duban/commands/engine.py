"""The coordinator's routine from the command line: ``status``, ``remind``, ``escalate``,
``scorecard``.

``remind`` and ``escalate`` run the same steps as the scheduled flows.  When a Prefect server is
configured (``PREFECT_API_URL``) they run as Prefect flows, so the run shows in the UI; otherwise
they run the steps directly.  ``--dry-run`` does everything inside a database transaction that is
rolled back, and prints what would have been sent.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from db.models import OutboxMessage
from deadlines.ladder import Light
from duban.config import load_unit_directory
from duban.context import now as clock_now
from duban.context import open_app, parse_when
from duban.errors import UserError
from records.board import board
from tasks.context import EngineContext, build_context
from tasks.runs import (
    assessment_period,
    first_working_day,
    previous_month,
    run_assessment,
    run_day,
    run_month,
)

console = Console(highlight=False, soft_wrap=True)
ConfigDir = Annotated[Path | None, typer.Option("--config", help="Configuration directory.")]
DbUrl = Annotated[str | None, typer.Option("--db", help="Database URL (default: settings/env).")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="Run as of this day (YYYY-MM-DD); "
                                          "default today.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ICON = {Light.GREEN: "🟢", Light.YELLOW: "🟡", Light.RED: "🔴", Light.GREY: "⚪"}
COLOUR = {Light.GREEN: "green", Light.YELLOW: "yellow", Light.RED: "red", Light.GREY: "dim"}


def _ctx(config: Path | None, db: str | None) -> EngineContext:
    open_app(config, db)  # checks the schema is migrated; clear message otherwise
    return build_context(config, db)


def _day(as_of: str | None) -> date:
    return parse_when(as_of).date() if as_of else clock_now().date()


@contextmanager
def rolled_back(ctx: EngineContext) -> Iterator[EngineContext]:
    """A copy of ``ctx`` whose every write happens in one transaction rolled back at the end."""
    conn = ctx.engine.connect()
    outer = conn.begin()
    try:
        yield replace(ctx, _engine=conn, _sessions=None)
    finally:
        outer.rollback()
        conn.close()


def _use_prefect(flag: bool | None) -> bool:
    return bool(os.environ.get("PREFECT_API_URL")) if flag is None else flag


# --------------------------------------------------------------------------- status


def status(
    unit: Annotated[str | None, typer.Option("--unit", "-u", help="Only this unit.")] = None,
    item: Annotated[str | None, typer.Option("--item", "-i", help="Only this item (number/code).")] = None,
    colour: Annotated[str | None, typer.Option("--colour", help="Only green/yellow/red/grey.")] = None,
    plan: Annotated[int | None, typer.Option("--plan", help="Only this plan id.")] = None,
    as_of: AsOf = None,
    as_json: JsonOpt = False,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """The traffic-light board: each unit's standing on each item (nothing is written).

    Examples: duban status --colour red · duban status --unit 北票市 --json
    """
    ctx = _ctx(config, db)
    today = _day(as_of)
    with ctx.session() as session:
        cells = board(session, today=today, calendar_for=ctx.calendars.for_region,
                      warning_working_days=ctx.settings.warning_working_days, plan_id=plan)
    if unit:
        ref = load_unit_directory(ctx.config_dir).resolve(unit)
        codes = set(ref.codes) or {unit}
        if ref.status == "unknown" and not any(c.unit_code == unit for c in cells):
            hint = f"（是否指 {ref.suggestion}？）" if ref.suggestion else ""
            raise UserError(f"未知单位 {unit!r}{hint}")
        cells = [c for c in cells if c.unit_code in codes]
    if item:
        cells = [c for c in cells if item in (c.item_code, c.item_number)]
    if colour:
        if colour not in {lt.value for lt in Light}:
            raise UserError(f"--colour 只能是 green/yellow/red/grey，而不是 {colour!r}")
        cells = [c for c in cells if c.light.value == colour]
    if as_json:
        print(json.dumps({"as_of": today.isoformat(), "cells": [c.as_dict() for c in cells]},
                         ensure_ascii=False, indent=2))
        return
    counts = Counter(c.light for c in cells)
    console.print(f"[bold]督办看板 {today.isoformat()}[/]  " + "  ".join(
        f"{ICON[lt]} {counts.get(lt, 0)}" for lt in Light))
    table = Table("条目", "单位", "状态", "截止", "剩余/逾期", "督办")
    for c in cells:
        days = "—" if c.days_left is None else (
            f"剩{c.days_left}个工作日" if c.days_left > 0 else
            "今日到期" if c.days_left == 0 else f"逾期{-c.days_left}个工作日")
        table.add_row(f"{c.item_number}", c.unit_name,
                      f"[{COLOUR[c.light]}]{ICON[c.light]} {c.standing.value}[/]",
                      c.due_date.isoformat() if c.due_date else "待定", days,
                      {"blue": "蓝", "yellow": "黄", "red": "红"}.get(c.level or "", "—"))
    console.print(table)


# --------------------------------------------------------------------------- remind


def remind(
    as_of: AsOf = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent; write nothing.")] = False,
    send: Annotated[bool, typer.Option("--send/--no-send", help="Deliver the outbox after writing it.")] = True,
    prefect: Annotated[bool | None, typer.Option("--prefect/--no-prefect", help="Run as a Prefect flow (default: when PREFECT_API_URL is set).")] = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Run the daily run now: check every item, write one message per contact, deliver.

    On a rest day it only records that it skipped. Re-running the same day sends nothing new.
    Examples: duban remind · duban remind --as-of 2020-09-16 --dry-run
    """
    ctx = _ctx(config, db)
    day = _day(as_of)
    if dry_run:
        with rolled_back(ctx) as dry:
            summary = run_day(dry, as_of=day, send=False)
            _print_day(summary)
            _print_outbox(dry, period=day.isoformat())
        console.print("[yellow]演练（--dry-run）：以上内容未写入、未发送。[/]")
        return
    if _use_prefect(prefect):
        from flows.daily import daily_run

        result = asyncio.run(daily_run(as_of=day, send=send, config_dir=_s(config), db_url=db))
        console.print(f"已作为 Prefect 流程运行：{json.dumps(result, ensure_ascii=False)}")
        return
    _print_day(run_day(ctx, as_of=day, send=send))


def _s(p: Path | None) -> str | None:
    return str(p) if p else None


def _print_day(summary) -> None:
    if summary.skipped:
        console.print(f"{summary.as_of}：休息日，跳过（{summary.skipped}）")
        return
    fired = sum(r.fired for r in summary.items)
    m = summary.messages
    console.print(f"{summary.as_of}：检查 {len(summary.items)} 个条目，触发提醒/督办 {fired} 次；"
                  f"写入 {m.messages} 封（提醒 {m.digests}、督办单 {m.escalations}、"
                  f"督办员日报 {m.coordinator}）；投递 {summary.delivery.delivered}，"
                  f"待重试 {summary.delivery.transient}，失败 {summary.delivery.failed}")
    for line in summary.delivery.failures:
        console.print(f"  [red]投递失败[/] {line}")


def _print_outbox(ctx: EngineContext, *, period: str) -> None:
    with ctx.session() as s:
        rows = s.execute(sa.select(OutboxMessage.recipient_name, OutboxMessage.recipient_address,
                                   OutboxMessage.subject)
                         .where(OutboxMessage.period == period)
                         .order_by(OutboxMessage.id)).all()
    console.print(f"[bold]将发送的邮件（{len(rows)} 封）[/]")
    for name, addr, subject in rows:
        console.print(f"  {name} <{addr}>：{subject}")


# --------------------------------------------------------------------------- escalate


def escalate(
    month: Annotated[str | None, typer.Option("--month", help="Month to score (YYYY-MM); default the previous month.")] = None,
    as_of: AsOf = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the 通报 and deductions; write nothing.")] = False,
    send: Annotated[bool, typer.Option("--send/--no-send")] = True,
    prefect: Annotated[bool | None, typer.Option("--prefect/--no-prefect")] = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Monthly escalation: score the month, write the 通报 (.html, .xlsx), send it to the units'
    leaders and the coordinator. Idempotent per month.

    Examples: duban escalate --month 2020-09 · duban escalate --dry-run
    """
    ctx = _ctx(config, db)
    day = _day(as_of)
    if month:
        try:
            y, m = (int(x) for x in month.split("-"))
            target = date(y, m, 1)
        except ValueError as exc:
            raise UserError(f"--month 应写成 YYYY-MM，例如 2020-09，而不是 {month!r}") from exc
    else:
        target = previous_month(day)
        first = first_working_day(ctx, day.year, day.month)
        if day != first:
            console.print(f"[yellow]提示[/]：{day} 不是本月第一个工作日（{first}），"
                          f"按手动运行处理 {target:%Y-%m}。")
    now = ctx.run_instant(day).replace(hour=max(10, ctx.settings.reminder_hour))
    if dry_run:
        with rolled_back(ctx) as dry:
            summary = run_month(dry, month=target, now=now, send=False)
            console.print(summary.markdown)
        console.print("[yellow]演练（--dry-run）：台账与邮件均未写入。[/]（文件已生成以便预览："
                      + "、".join(str(p) for p in summary.files) + "）")
        return
    if _use_prefect(prefect):
        from flows.monthly import monthly_escalation

        result = asyncio.run(monthly_escalation(month=f"{target:%Y-%m}", as_of=day, send=send,
                                                config_dir=_s(config), db_url=db))
        console.print(f"已作为 Prefect 流程运行：{json.dumps(result, ensure_ascii=False)}")
        return
    summary = run_month(ctx, month=target, now=now, send=send)
    console.print(f"{target:%Y年%m月}：新增台账 {summary.new_entries} 条，扣分 {summary.deductions}，"
                  f"加分 {summary.bonuses}，待裁定 {summary.pending} 项；通报发送 "
                  f"{summary.messages} 封")
    for p in summary.files:
        console.print(f"  文件：{p}")


# --------------------------------------------------------------------------- scorecard


def scorecard(
    period: Annotated[str | None, typer.Option("--period", help="H1 (年中) / Q3 (三季度末) / Y (年底).")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Assessment year (default: this year).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Or any range: start date.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Or any range: end date.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", "-u", help="Explain this unit's score line by line.")] = None,
    as_json: JsonOpt = False,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Assessment scorecards (caps applied in the documented order) and the .xlsx 评分表.

    Examples: duban scorecard --period H1 --year 2020 · duban scorecard --period Y --unit 北票市
    """
    ctx = _ctx(config, db)
    today = clock_now().date()
    p = assessment_period(ctx, year=year or today.year, code=None if start else (period or "Y"),
                          start=parse_when(start).date() if start else None,
                          end=parse_when(end).date() if end else None)
    summary = run_assessment(ctx, period=p, now=clock_now())
    scores = sorted(summary.scores, key=lambda s: (-s.final, s.unit_name))
    if as_json:
        print(json.dumps({"period": p.key, "name": p.name, "file": str(summary.file), "units": [
            {"unit": s.unit_name, "kind": s.kind, "deductions": str(s.deductions),
             "bonuses": str(s.bonuses), "final": str(s.final), "provisional": s.provisional,
             "caps": [str(c) for c in s.caps]} for s in scores]}, ensure_ascii=False, indent=2))
        return
    if unit:
        for s in scores:
            if unit in (s.unit_name, s.unit_code):
                console.print("\n".join(s.explain()))
                return
        raise UserError(f"评分表中没有单位 {unit!r}")
    table = Table("名次", "单位", "减分", "加分", "得分", "状态", title=f"{p.name}评分")
    for rank, s in enumerate(scores, 1):
        table.add_row(str(rank), s.unit_name, str(s.deductions), str(s.bonuses), str(s.final),
                      "暂定" if s.provisional else "确定")
    console.print(table)
    console.print(f"评分表：{summary.file}（新增台账 {summary.new_entries} 条）")


def register(app: typer.Typer) -> None:
    for fn in (status, remind, escalate, scorecard):
        app.command(fn.__name__)(fn)
