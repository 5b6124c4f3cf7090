"""``duban due``: read one Chinese time-limit phrase and show its deadline.

    duban due 5个工作日内 --from 2025-09-30
    5个工作日内 自 2025年9月30日 → 截止 2025年10月13日（周一）24:00

For an absolute phrase ("9月15日前") ``--from`` is the plan's issue date, which gives the year.
A phrase that cannot be read, or a year without holiday data, is one sentence and exit code 2.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Annotated, Any

import pendulum
import typer

from deadlines.calendar import CalendarError, WorkCalendar, load_calendar
from deadlines.due import END_OF_DAY, TZ, Due, due_for, local, periods_for
from deadlines.phrases import parse_time_limit
from deadlines.rules import ByDate, Recurring, Rule, Unparsed, describe, rule_to_dict
from duban.errors import UserError
from duban.yamlio import ConfigError

_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _parse_from(value: str) -> tuple[pendulum.DateTime, bool]:
    """ISO date or datetime → aware instant (Asia/Shanghai unless an offset is given).

    Returns the instant and whether a time of day was given.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return pendulum.datetime(d.year, d.month, d.day, tz=TZ), False
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--from “{value}” is not an ISO date or datetime (e.g. 2025-09-30 or 2025-09-30T10:00)"
        ) from None
    return local(pendulum.instance(moment, tz=TZ)), True


def _parse_close(value: str | None) -> time | None:
    if value is None:
        return None
    try:
        hh, mm = value.strip().split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise UserError(f"--close “{value}” is not a time of day like 17:30") from None


def _fmt_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _fmt_time(at: pendulum.DateTime) -> str:
    if at.time() == END_OF_DAY:
        return "24:00"
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def _fmt_due(due: Due, cal: WorkCalendar) -> str:
    text = f"{_fmt_date(due.date)}（{_WEEKDAYS[due.date.weekday()]}）{_fmt_time(due.at)}"
    if isinstance(due.rule, ByDate | Recurring) and not cal.is_working_day(due.date):
        info = cal.day_info(due.date)
        what = f"{info.name}假期" if info.name else "休息日"
        text += f"，当日为{what}（文件确定的日期，不顺延）"
    return text


def _due_json(due: Due) -> dict[str, Any]:
    return {
        "due_date": due.date.isoformat(),
        "due_at": due.at.replace(microsecond=0).isoformat(),
        "weekday": _WEEKDAYS[due.date.weekday()],
    }


def _rule_label(rule: Rule) -> str:
    label = describe(rule)
    event = getattr(rule, "event", None)
    return f"{label}（起算：{event}）" if event else label


def due(
    phrase: Annotated[
        str, typer.Argument(help="时限表述, e.g. 5个工作日内, 9月15日前, 每月10日前")
    ],
    from_: Annotated[
        str,
        typer.Option(
            "--from",
            help="Reference: event date/time for relative limits, the plan's issue date for "
            "absolute ones (ISO; Asia/Shanghai unless an offset is given).",
        ),
    ],
    region: Annotated[
        str | None, typer.Option("--region", help="Regional calendar overlay, e.g. yanbian.")
    ] = None,
    close: Annotated[
        str | None, typer.Option("--close", help="Business close time HH:MM (default 24:00).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Compute the deadline of one Chinese time-limit phrase.

    Example: duban due 5个工作日内 --from 2025-09-30
    """
    try:
        reference, has_time = _parse_from(from_)
        close_time = _parse_close(close)
        rule = parse_time_limit(phrase)
        if isinstance(rule, Unparsed):
            raise UserError(f"无法识别时限“{phrase}”：{rule.reason}")
        cal = load_calendar(region=region)
        if isinstance(rule, Recurring):
            _print_recurring(rule, phrase, reference, cal, close_time, as_json)
            return
        result = due_for(
            rule, reference=reference, calendar=cal, plan_year=reference.year, close=close_time
        )
        line_due = _fmt_due(result, cal)
    except (UserError, CalendarError, ConfigError) as exc:
        typer.echo(f"错误: {exc}", err=True)
        raise typer.Exit(2) from None

    if as_json:
        out = {
            "phrase": phrase,
            "rule": rule_to_dict(rule),
            "reference": reference.isoformat(),
            **_due_json(result),
            "calendar": cal.name,
        }
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if isinstance(rule, ByDate):
        plan_year = "" if rule.year else f"（{reference.year}年）"
        typer.echo(f"{describe(rule)}{plan_year} → 截止 {line_due}")
        return
    start = _fmt_date(reference.date()) + (f" {reference.strftime('%H:%M')}" if has_time else "")
    typer.echo(f"{_rule_label(rule)} 自 {start} → 截止 {line_due}")


def _print_recurring(
    rule: Recurring,
    phrase: str,
    reference: pendulum.DateTime,
    cal: WorkCalendar,
    close_time: time | None,
    as_json: bool,
) -> None:
    """All periods of the reference's year; the headline deadline is the next one not yet past."""
    periods = periods_for(rule, year=reference.year, calendar=cal, close=close_time)
    upcoming = next((p for p in periods if p.due.at >= reference), None)
    if as_json:
        out: dict[str, Any] = {
            "phrase": phrase,
            "rule": rule_to_dict(rule),
            "reference": reference.isoformat(),
        }
        if upcoming is not None:
            out.update(_due_json(upcoming.due))
            out["period"] = upcoming.key
        out["periods"] = [
            {
                "key": p.key,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                **_due_json(p.due),
            }
            for p in periods
        ]
        out["calendar"] = cal.name
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{describe(rule)}（{reference.year}年）")
    for p in periods:
        mark = " ←" if p is upcoming else ""
        typer.echo(
            f"  {p.key}  {_fmt_date(p.start)}–{_fmt_date(p.end)} → 截止 {_fmt_due(p.due, cal)}{mark}"
        )


def register(app: typer.Typer) -> None:
    """Add ``due`` as a top-level command of `app`."""
    app.command(name="due")(due)
