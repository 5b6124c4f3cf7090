"""``duban demo`` (what ``make demo`` runs): the example city's year, end to end."""

from __future__ import annotations

import time
from datetime import date

import pendulum
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deadlines.calendar import CalendarYearMissing, load_calendar
from deadlines.due import due_for
from deadlines.phrases import parse_time_limit

console = Console(highlight=False)
WEEKDAYS = "一二三四五六日"

EXAMPLES: list[tuple[str, str]] = [
    ("5个工作日内", "2024-02-10T10:00"),
    ("5个工作日内", "2026-09-30T10:00"),
    ("5个工作日内", "2020-01-23T10:00"),
    ("5日内", "2025-09-26T10:00"),
    ("9月15日前", "2020-08-25T00:00"),
    ("5个工作日内", "2026-12-25T10:00"),
]


def _zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日（周{WEEKDAYS[d.weekday()]}）"


def show_deadline_examples() -> None:
    cal = load_calendar()
    console.rule("[bold]工作日期限（含调休）")
    table = Table("时限", "起算", "截止")
    for phrase, start in EXAMPLES:
        ref = pendulum.parse(start, tz="Asia/Shanghai")
        rule = parse_time_limit(phrase)
        try:
            due = due_for(rule, reference=ref, calendar=cal, plan_year=ref.year)
            table.add_row(phrase, ref.format("YYYY-MM-DD HH:mm"), f"{_zh(due.date)} 24:00")
        except CalendarYearMissing as exc:
            table.add_row(phrase, ref.format("YYYY-MM-DD HH:mm"),
                          f"[red]缺少 {exc.year} 年节假日数据[/]（不按周一至周五猜测）")
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        deadlines_only: bool = typer.Option(False, "--deadlines-only",
                                            help="Only show the deadline examples (seconds)."),
    ) -> None:
        """Run the main job on the embedded defaults: load the example city and its 2020 plan,
        replay the year day by day (daily runs, monthly escalations, three assessments) with a
        local Prefect server, and summarise. Everything lives in var/demo/; safe to re-run.

        Example: duban demo
        """
        show_deadline_examples()
        if deadlines_only:
            return
        from duban.demo import Demo

        started = time.monotonic()
        with Progress(TextColumn("[bold]回放 2020 年"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("准备", total=None)

            def step(label: str, done: int, total: int) -> None:
                progress.update(task, description=label, completed=done, total=total)

            demo = Demo(progress=step)
            result = demo.run()
        _summary(result, time.monotonic() - started)


def _summary(result, seconds: float) -> None:
    s = result.summary
    console.rule("[bold]演示结果")
    console.print(f"回放 {result.days} 天（{result.working_days} 个工作日），其中 {result.flows} 次以 "
                  f"Prefect 流程运行；记录新出台文件事件 {result.events} 件；用时 {seconds:.0f} 秒")
    console.print(f"义务 {s['obligations']} 项：" + "，".join(
        f"{k} {v}" for k, v in s["by_status"].items()))
    console.print(f"写入发件箱 {s['messages']} 封（" + "，".join(
        f"{k} {v}" for k, v in s["messages_by_kind"].items()) + f"）→ {s['outbox']}")
    names = {"blue": "蓝色催办", "yellow": "黄色督办", "red": "红色督办"}
    console.print("督办：" + "，".join(f"{names.get(k, k)} {v}" for k, v in
                                      sorted(s["escalations"].items())))
    console.print(f"扣分台账 {s['ledger_lines']} 条，合计减 {s['deductions']} 分（未封顶前）")
    table = Table("最好的五个单位", "得分", "最差的五个单位", "得分", title="2020年度考核（封顶后）")
    for (bn, bs), (wn, ws) in zip(s["best"], s["worst"], strict=False):
        table.add_row(bn, bs, wn, ws)
    console.print(table)
    console.print("导出文件：")
    for path in result.files:
        console.print(f"  {path}")
    if result.ui_url:
        console.print(f"[bold green]打开 Prefect 界面：{result.ui_url}[/]（{result.server_note}）")
