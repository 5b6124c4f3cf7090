"""``duban demo``: the main job on the embedded defaults.

Until the engine flows exist this shows the deadline engine at work on the real calendar:
the worked examples of the statutory counting rules, and the explicit refusal to guess a year
without a State Council notice.
"""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console
from rich.table import Table

from deadlines.calendar import CalendarYearMissing, load_calendar
from deadlines.due import due_for
from deadlines.phrases import parse_time_limit

console = Console(highlight=False)
WEEKDAYS = "一二三四五六日"

EXAMPLES: list[tuple[str, str]] = [
    ("5个工作日内", "2024-02-08T10:00"),
    ("5个工作日内", "2024-02-10T10:00"),
    ("5个工作日内", "2026-09-30T10:00"),
    ("5个工作日内", "2026-02-13T10:00"),
    ("5个工作日内", "2020-01-23T10:00"),
    ("5日内", "2025-09-26T10:00"),
    ("1个月内", "2024-01-31T10:00"),
    ("2小时内", "2026-09-30T23:00"),
    ("9月15日前", "2020-08-25T00:00"),
    ("8月底前", "2020-08-25T00:00"),
    ("5个工作日内", "2026-12-25T10:00"),
]


def _zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日（周{WEEKDAYS[d.weekday()]}）"


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Run the main job on the embedded defaults (safe to re-run).

        Example: duban demo
        """
        import pendulum

        cal = load_calendar()
        console.rule("[bold]duban 督办 — 工作日期限演示")
        console.print(f"日历：全国法定节假日 {cal.first_year}–{cal.last_year} 年（含调休上班日）")
        table = Table("时限", "起算", "截止", "说明")
        for phrase, start in EXAMPLES:
            ref = pendulum.parse(start, tz="Asia/Shanghai")
            rule = parse_time_limit(phrase)
            try:
                due = due_for(rule, reference=ref, calendar=cal, plan_year=ref.year)
                end = due.at.format("HH:mm") if phrase.endswith("小时内") else "24:00"
                table.add_row(phrase, ref.format("YYYY-MM-DD HH:mm"), f"{_zh(due.date)} {end}",
                              _note(cal, ref.date(), due.date))
            except CalendarYearMissing as exc:
                table.add_row(phrase, ref.format("YYYY-MM-DD HH:mm"), "[red]无法计算[/]",
                              f"[red]缺少 {exc.year} 年节假日数据[/]（不按周一至周五猜测）")
        console.print(table)
        console.print("下一步：duban calendar status · duban due \"5个工作日内\" --from 2026-09-30")


def _note(cal, start: date, due: date) -> str:
    days = [cal.day_info(date.fromordinal(o)) for o in range(start.toordinal() + 1,
                                                            due.toordinal() + 1)]
    makeup = [i for i in days if i.kind == "makeup_workday"]
    rest = [i for i in days if not i.is_working and i.kind == "holiday"]
    parts = []
    if rest:
        parts.append(f"跨越{rest[0].name}假期 {len(rest)} 天")
    if makeup:
        parts.append("含调休上班日 " + "、".join(f"{i.date.month}月{i.date.day}日" for i in makeup))
    return "；".join(parts) or "—"


__all__ = ["register"]
