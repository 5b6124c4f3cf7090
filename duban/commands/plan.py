"""``duban plan load|show`` (and ``plan import``, from the importer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from db import repository as repo
from db.models import Plan
from duban.commands import plan_import
from duban.config import load_plan, load_units_file
from duban.context import default_actor, latest_plan, now, open_app
from duban.errors import UserError
from records.sync import LoadReport, load_plan_file, sync_units

app = typer.Typer(help="工作计划 — import a document, load a reviewed plan, show it.",
                  no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)

ConfigDir = Annotated[Path | None, typer.Option("--config", help="Configuration directory.")]
DbUrl = Annotated[str | None, typer.Option("--db", help="Database URL (default: settings/env).")]


@app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="Reviewed plan YAML (config/plans/<year>-<issuer>.yaml).")],
    config: ConfigDir = None,
    db: DbUrl = None,
    by: Annotated[str | None, typer.Option("--by", help="Who loads it (audit trail).")] = None,
) -> None:
    """Load or reload a plan: units, items and every obligation that follows.

    Idempotent: loading the same file twice changes nothing. A corrected plan updates items
    and obligations in place (see the audit trail), withdraws obligations of removed items and
    never touches completed ones.

    Example: duban db upgrade && duban plan load config/plans/2020-chaoyang.yaml
    """
    ctx = open_app(config, db)
    directory = ctx.directory
    plan = load_plan(file, directory)
    units = load_units_file(ctx.config_dir)
    with ctx.session(actor=by or default_actor(), at=now()) as session:
        report = LoadReport()
        sync_units(session, units, report)
        loaded = load_plan_file(session, plan, directory=directory, settings=ctx.settings,
                                source_path=file, config_dir=ctx.config_dir)
        loaded.units = report.units
    _print_report(loaded)


def _print_report(report) -> None:
    console.print(f"[bold]{escape(str(report.plan))}[/]")  # titles and names come from YAML
    for label, counter in (("单位 units", report.units), ("条目 items", report.items),
                           ("义务 obligations", report.obligations)):
        parts = [f"{k} {v}" for k, v in sorted(counter.items()) if v]
        console.print(f"  {label}: {', '.join(parts) or '—'}")
    for line in report.unresolved:
        console.print(f"  [yellow]未解析单位[/] {escape(line)}")
    if report.pending:
        console.print(f"  [yellow]{len(report.pending)} 项义务的截止日期待定[/]（缺少节假日数据），例如：")
        for line in report.pending[:5]:
            console.print(f"    {escape(line)}")
    console.print("  [green]无变化 (nothing changed)[/]" if not report.changed else "  已保存")


@app.command("show")
def show(
    config: ConfigDir = None,
    db: DbUrl = None,
    year: Annotated[int | None, typer.Option("--year", help="Plan year (default: latest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the plan's items with their units, time limits and obligation counts.

    Example: duban plan show --json
    """
    ctx = open_app(config, db)
    with ctx.session(actor=default_actor()) as session:
        plan = (session.query(Plan).filter(Plan.year == year).order_by(Plan.id.desc()).first()
                if year else latest_plan(session))
        if plan is None:
            raise UserError(f"没有 {year} 年的工作计划")
        rows = []
        for item in repo.list_items(session, plan=plan, active_only=False):
            obs = repo.list_obligations(session, item=item)
            counts: dict[str, int] = {}
            for o in obs:
                counts[o.status.value] = counts.get(o.status.value, 0) + 1
            rows.append({
                "code": item.code, "number": item.number, "title": item.title,
                "active": item.active, "lead_units": item.lead_units,
                "responsible_units": len(item.responsible_units),
                "time_limits": [tl.get("text") for tl in item.time_limits],
                "obligations": counts, "review": item.review,
            })
    if as_json:
        print(json.dumps({"plan": {"year": plan.year, "issuer": plan.issuer, "title": plan.title},
                          "items": rows}, ensure_ascii=False, indent=2))
        return
    table = Table("条目", "标题", "时限", "义务", title=f"{plan.year} {plan.title}")
    for r in rows:
        obligations = " ".join(f"{k}:{v}" for k, v in sorted(r["obligations"].items()))
        title = r["title"] if r["active"] else f"[strike]{r['title']}[/]（已撤销）"
        table.add_row(r["number"], title, "、".join(r["time_limits"]) or "[yellow]无[/]",
                      obligations or "—")
    console.print(table)


plan_import.register(app)
