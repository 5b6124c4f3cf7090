"""``duban config check``: validate every configuration file, write nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from duban.config import check_config

app = typer.Typer(help="配置文件检查 — validate config/ (settings, units, calendars, plans).",
                  no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


@app.command("check")
def check(
    directory: Annotated[
        Path | None, typer.Argument(help="Configuration directory (default: config/).")
    ] = None,
) -> None:
    """Validate everything and report each problem as file:line: field: message.

    Exit code 2 when there are errors; warnings (items to review, unparsed time limits) do not
    fail the check. Nothing is written to the database.

    Example: duban config check config/
    """
    report = check_config(directory)
    for p in report.problems:
        console.print(f"[red]error[/]   {p}")
    for w in report.warnings:
        console.print(f"[yellow]warning[/] {w}")
    status = "[green]OK[/]" if report.ok else "[red]FAILED[/]"
    console.print(
        f"{status}: {len(report.checked)} file group(s) checked, "
        f"{len(report.problems)} error(s), {len(report.warnings)} warning(s)"
    )
    raise typer.Exit(0 if report.ok else 2)
