"""``duban ledger list|decide|reverse`` and ``duban finding add``: the auditable deduction ledger."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from db.models import Unit
from duban.commands.engine import _ctx
from duban.config import load_unit_directory
from duban.context import default_actor, find_unit, now, parse_when
from duban.errors import UserError
from tasks.ledger import add_finding, decide_entry, list_ledger, reverse_entry, rulebook_for

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="扣分台账 — list, decide discretionary lines, reverse (冲销).",
                  no_args_is_help=True)
finding_app = typer.Typer(help="督办员登记的事实（如拨测无人接听、函询未回复），按评分规则计分。",
                          no_args_is_help=True)
ConfigDir = Annotated[Path | None, typer.Option("--config", help="Configuration directory.")]
DbUrl = Annotated[str | None, typer.Option("--db", help="Database URL (default: settings/env).")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who records it (audit trail).")]


def _points(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise UserError(f"分值应是数字，例如 0.5，而不是 {text!r}") from exc
    if value <= 0:
        raise UserError("分值写正数（扣分或加分由规则决定）")
    return value


@app.command("list")
def list_(
    unit: Annotated[str | None, typer.Option("--unit", "-u")] = None,
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="Only lines awaiting a decision.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """The ledger, line by line: rule, unit, amount, what caused it, its state.

    Examples: duban ledger list --pending · duban ledger list --unit 北票市 --month 2020-09
    """
    ctx = _ctx(config, db)
    start = end = None
    if month:
        first = parse_when(f"{month}-01").date()
        start, end = first, parse_when(f"{month}-01").end_of("month").date()
    with ctx.session() as s:
        unit_id = find_unit(s, _directory(ctx), unit).id if unit else None
        rows = list_ledger(s, unit_id=unit_id, start=start, end=end, pending_only=pending)
    if as_json:
        print(json.dumps([{
            "id": r.id, "kind": r.kind, "state": r.state, "unit": r.unit, "rule": r.rule_code,
            "amount": str(r.amount) if r.amount is not None else None,
            "range": [str(x) for x in r.range] if r.range else None,
            "occurred_on": r.occurred_on.isoformat() if r.occurred_on else None,
            "item": r.item_code, "reason": r.reason, "refers_to": r.refers_to}
            for r in rows], ensure_ascii=False, indent=2))
        return
    table = Table("编号", "单位", "规则", "分值", "日期", "状态", "原因")
    for r in rows:
        amount = (str(r.amount) if r.amount is not None else
                  f"待定 {r.range[0]}~{r.range[1]}" if r.range else "—")
        table.add_row(str(r.id), r.unit, r.rule_code, amount,
                      r.occurred_on.isoformat() if r.occurred_on else "", r.state, r.reason)
    console.print(table)
    console.print(f"共 {len(rows)} 条" + ("（待裁定）" if pending else ""))


def _directory(ctx):
    return load_unit_directory(ctx.config_dir)


@app.command("decide")
def decide(
    entry: Annotated[int, typer.Argument(help="Ledger line number (see ledger list --pending).")],
    points: Annotated[str, typer.Option("--points", help="The amount decided, e.g. 0.5.")],
    reason: Annotated[str, typer.Option("--reason", help="Why this amount.")],
    by: ByOpt = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Decide a discretionary line ("视情况减0.1-2分") within its allowed range.

    Example: duban ledger decide 12 --points 0.5 --reason 已部分完成
    """
    ctx = _ctx(config, db)
    actor = by or default_actor()
    moment = now()
    with ctx.session(actor=actor, now=moment) as s, s.begin():
        row = decide_entry(ctx, s, entry_id=entry, magnitude=_points(points), reason=reason,
                           on=moment.date(), now=moment, actor=actor)
    console.print(f"第 {entry} 条已裁定：{row.amount} 分（第 {row.id} 条记录）")


@app.command("reverse")
def reverse(
    entry: Annotated[int, typer.Argument(help="Ledger line number to cancel.")],
    reason: Annotated[str, typer.Option("--reason", help="e.g. 延期已批准 / 申诉成立.")],
    by: ByOpt = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Cancel a line with a reversal (冲销) that keeps the history.

    Example: duban ledger reverse 12 --reason 延期已批准
    """
    ctx = _ctx(config, db)
    actor = by or default_actor()
    moment = now()
    with ctx.session(actor=actor, now=moment) as s, s.begin():
        reverse_entry(s, entry_id=entry, reason=reason, on=moment.date(), now=moment, actor=actor)
    console.print(f"第 {entry} 条已冲销")


@finding_app.command("add")
def finding_add(
    unit: Annotated[str, typer.Option("--unit", "-u")],
    rule: Annotated[str, typer.Option("--rule", help="Rule code from config/rules/<year>.yaml.")],
    on: Annotated[str, typer.Option("--on", help="When it happened (YYYY-MM-DD).")],
    note: Annotated[str, typer.Option("--note", help="What was found.")] = "",
    count: Annotated[int, typer.Option("--count", min=1, help="How many (每发现1家…).")] = 1,
    by: ByOpt = None,
    config: ConfigDir = None,
    db: DbUrl = None,
) -> None:
    """Record a finding (e.g. 拨测无人接听) for a scoring rule; the next monthly run scores it.

    Example: duban finding add --unit 北票市 --rule C4.2 --on 2020-09-08 --note 三次拨测无人接听
    """
    ctx = _ctx(config, db)
    day = parse_when(on).date()
    book = rulebook_for(ctx, day.year)
    if book is None or book.find(rule) is None:
        raise UserError(f"{day.year} 年的评分规则中没有规则 {rule!r}（见 config/rules/{day.year}.yaml）")
    actor = by or default_actor()
    moment = now()
    with ctx.session(actor=actor, now=moment) as s, s.begin():
        u = find_unit(s, _directory(ctx), unit)
        kind = s.scalar(sa.select(Unit.kind).where(Unit.id == u.id))
        rule_set = book.rule_set_for(kind.value)
        if rule_set is None or all(r.code != rule for _, r in rule_set.rules()):
            raise UserError(f"规则 {rule} 不适用于 {u.name}（{kind.value}）")
        row = add_finding(s, unit_id=u.id, rule_code=rule, occurred_on=day, note=note,
                          count=count, actor=actor, now=moment)
    console.print(f"已登记第 {row.id} 项：{unit} {rule} {day.isoformat()} {note}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ledger")
    root.add_typer(finding_app, name="finding")
