"""Recording what happened: ``event add``, ``done``, ``extend``, ``pause``, ``resume``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from duban.commands.done_xlsx import EXIT_HELP, run_done_from_xlsx
from duban.context import (
    default_actor,
    find_item,
    find_obligation,
    find_unit,
    now,
    open_app,
    parse_when,
)
from duban.errors import UserError
from records import lifecycle

console = Console(highlight=False, soft_wrap=True)
event_app = typer.Typer(help="事件 — record what starts a relative time limit (e.g. a policy "
                        "document issued).", no_args_is_help=True)

ConfigDir = Annotated[Path | None, typer.Option("--config", help="Configuration directory.")]
DbUrl = Annotated[str | None, typer.Option("--db", help="Database URL (default: settings/env).")]
ItemOpt = Annotated[str, typer.Option("--item", "-i", help="Item number as printed (6) or code (2020-6).")]
UnitOpt = Annotated[str, typer.Option("--unit", "-u", help="Unit name, alias or code.")]
PeriodOpt = Annotated[str | None, typer.Option("--period", help="Period key (2020-09, once, event:12); default: the earliest open one.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who records it (audit trail).")]


def _zh_due(ob) -> str:
    if ob.due_date is None:
        return f"截止日期待定（{ob.pending_reason}）"
    return f"截止 {ob.due_date.isoformat()}"


@event_app.command("add")
def event_add(
    item: ItemOpt,
    unit: UnitOpt,
    title: Annotated[str, typer.Option("--title", help="What happened, e.g. the document title.")],
    at: Annotated[str, typer.Option("--at", help="When it happened (2026-11-20 10:00).")],
    doc_number: Annotated[str | None, typer.Option("--doc-number", help="文号, e.g. 朝政发〔2026〕12号.")] = None,
    kind: Annotated[str, typer.Option("--kind", help="Event kind.")] = "policy_issued",
    note: Annotated[str | None, typer.Option("--note")] = None,
    by: ByOpt = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Record an event; the item's relative time limits create obligations from it.

    Example: duban event add --item 6 --unit 市司法局 --title 关于…的通知 --doc-number 朝司发〔2026〕3号 --at "2026-11-20 10:00"
    """
    ctx = open_app(config, db)
    occurred = parse_when(at)
    with ctx.session(actor=by or default_actor(), at=now()) as session:
        it = find_item(session, item)
        un = find_unit(session, ctx.directory, unit)
        event, created = lifecycle.record_event(
            session, item=it, unit=un, kind=kind, title=title, occurred_at=occurred,
            recorded_by=by or default_actor(), calendars=ctx.calendars, settings=ctx.settings,
            doc_number=doc_number, note=note)
        console.print(f"已记录事件 #{event.id}：{un.name}《{title}》 {occurred.format('YYYY-MM-DD HH:mm')}")
        for ob in created:
            console.print(f"  义务 #{ob.id} 条目{it.number} {_zh_due(ob)}")


def done(
    item: Annotated[str | None, typer.Option("--item", "-i", help="Item number as printed (6) or code (2020-6).")] = None,
    unit: Annotated[str | None, typer.Option("--unit", "-u", help="Unit name, alias or code.")] = None,
    period: PeriodOpt = None,
    at: Annotated[str | None, typer.Option("--at", help="When it was completed (default: now).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Evidence: where it was published.")] = None,
    doc: Annotated[str | None, typer.Option("--doc", help="Evidence: document number.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Evidence: a note.")] = None,
    from_xlsx: Annotated[Path | None, typer.Option("--from-xlsx", help="Record many completions from a 台账 (.xlsx/.xls/.csv). " + EXIT_HELP)] = None,
    by: ByOpt = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Record a completion with its evidence; a completion after the deadline is recorded as
    late, with how late in working days. With --from-xlsx, record every row of a 台账 and report
    row by row what was recorded and what was rejected (a bad row never stops the good ones).

    Examples: duban done --item 6 --unit 市司法局 --at 2020-09-14 --url http://…/zhuanlan ·
    duban done --from-xlsx 台账.xlsx
    """
    if from_xlsx is not None:
        if item or unit or period or at or url or doc or note:
            raise UserError("--from-xlsx 不能与 --item/--unit/--period/--at/--url/--doc/--note 同时使用")
        raise typer.Exit(run_done_from_xlsx(from_xlsx, config=config, db=db, by=by))
    if not (item and unit):
        raise UserError("请给出 --item 和 --unit（或用 --from-xlsx 批量导入台账）")
    ctx = open_app(config, db)
    when = parse_when(at, default=now())
    if not (url or doc or note):
        raise UserError("请提供完成佐证：--url、--doc 或 --note 至少一项")
    with ctx.session(actor=by or default_actor(), at=now()) as session:
        it = find_item(session, item)
        un = find_unit(session, ctx.directory, unit)
        ob = find_obligation(session, it, un, period=period)
        result = lifecycle.complete(
            session, obligation=ob, done_at=when, recorded_by=by or default_actor(),
            calendar=ctx.calendar_for(un), evidence_url=url, evidence_doc=doc, evidence_note=note)
        status = (f"[red]逾期完成，晚 {result.late_working_days} 个工作日[/]" if result.late
                  else "[green]按时完成[/]")
        console.print(f"{un.name} 条目{it.number}（{ob.period_key}）{status}")


def extend(
    item: ItemOpt,
    unit: UnitOpt,
    to: Annotated[str, typer.Option("--to", help="New due date (YYYY-MM-DD).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the extension was approved.")],
    period: PeriodOpt = None,
    approved_by: Annotated[str | None, typer.Option("--approved-by", help="Who approved it (default: --by).")] = None,
    by: ByOpt = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Record an approved extension (延期) with its new due date and reason.

    Example: duban extend --item 4 --unit 北票市 --to 2020-12-15 --reason 试点范围调整 --approved-by 李主任
    """
    ctx = open_app(config, db)
    new_day = parse_when(to).date()
    actor = by or default_actor()  # who records it (audit trail); the approver may differ
    moment = now()
    with ctx.session(actor=actor, at=moment) as session:
        it = find_item(session, item)
        un = find_unit(session, ctx.directory, unit)
        ob = find_obligation(session, it, un, period=period)
        lifecycle.extend(session, obligation=ob, new_due_date=new_day, reason=reason,
                         approved_by=approved_by or actor, approved_at=moment,
                         calendar=ctx.calendar_for(un), close=ctx.settings.business_close)
        console.print(f"{un.name} 条目{it.number}（{ob.period_key}）延期至 {new_day.isoformat()}")


def pause(
    item: ItemOpt,
    unit: UnitOpt,
    reason: Annotated[str, typer.Option("--reason", help="e.g. 征求第三方意见")],
    period: PeriodOpt = None,
    at: Annotated[str | None, typer.Option("--at", help="When the clock stops (default: now).")] = None,
    by: ByOpt = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Stop the clock on an obligation (暂停计时), e.g. while a third party is consulted.

    Example: duban pause --item 14 --unit 市卫健委 --reason 征求第三方意见
    """
    ctx = open_app(config, db)
    with ctx.session(actor=by or default_actor(), at=now()) as session:
        it = find_item(session, item)
        un = find_unit(session, ctx.directory, unit)
        ob = find_obligation(session, it, un, period=period)
        lifecycle.pause(session, obligation=ob, at=parse_when(at, default=now()), reason=reason)
        console.print(f"{un.name} 条目{it.number}（{ob.period_key}）已暂停计时")


def resume(
    item: ItemOpt,
    unit: UnitOpt,
    period: PeriodOpt = None,
    at: Annotated[str | None, typer.Option("--at", help="When the clock restarts (default: now).")] = None,
    by: ByOpt = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Restart the clock; the due date moves by the paused working days.

    Example: duban resume --item 14 --unit 市卫健委
    """
    ctx = open_app(config, db)
    actor = by or default_actor()
    with ctx.session(actor=actor, at=now()) as session:
        it = find_item(session, item)
        un = find_unit(session, ctx.directory, unit)
        ob = find_obligation(session, it, un, period=period)
        days = lifecycle.resume(session, obligation=ob, at=parse_when(at, default=now()),
                                actor=actor, calendar=ctx.calendar_for(un))
        console.print(f"{un.name} 条目{it.number}（{ob.period_key}）恢复计时，"
                      f"暂停 {days} 个工作日，{_zh_due(ob)}")


def register(app: typer.Typer) -> None:
    app.add_typer(event_app, name="event")
    for fn in (done, extend, pause, resume):
        app.command(fn.__name__)(fn)
