"""``duban plan import FILE``: turn a received work-plan document into a plan YAML for review.

The lead engineer's ``plan`` sub-app calls :func:`register`. The command reads the document
(.txt/.docx/.xlsx/.xls), builds the plan (``importer.build``), writes it — refusing to overwrite
without ``--force`` — and prints a summary of what needs a person's attention.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated

import pendulum
import typer
from rich.console import Console
from rich.markup import escape

from deadlines.calendar import CalendarError, default_config_dir
from duban.errors import UserError
from duban.yamlio import ConfigError

__all__ = ["register", "run_import"]

console = Console(highlight=False, soft_wrap=True, markup=False)  # file names, unit names
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _safe_file_part(text: str) -> str:
    return re.sub(r"[\\/:*?\"<>|\s]+", "_", text).strip("._") or "plan"


def run_import(
    file: Path,
    *,
    year: int | None = None,
    issuer: str | None = None,
    output: Path | None = None,
    config_dir: Path | None = None,
    force: bool = False,
) -> Path:
    """Import ``file`` and write the plan YAML; returns the path written. Raises UserError."""
    from duban.config import load_unit_directory
    from importer.build import build_plan, render_plan_yaml
    from importer.normalize import describe_changes
    from importer.readers import read_document

    cfg = config_dir or default_config_dir()
    directory = load_unit_directory(cfg) if (cfg / "units.yaml").exists() else None
    document = read_document(file)
    now = pendulum.now("Asia/Shanghai")
    today = date(now.year, now.month, now.day)  # a plain date: YAML does not know pendulum's
    result = build_plan(document, year=year, issuer=issuer, directory=directory, imported_on=today)
    plan = result.plan
    if not plan["items"]:
        raise UserError(
            f"在 {file} 中没有找到任何条目（需要“一、”“（一）”“1、”等编号，或任务分解表的表头）"
        )
    if output is None:
        missing = [
            w
            for w, v in (("年份（--year）", plan["year"]), ("发文单位（--issuer）", plan["issuer"]))
            if v is None
        ]
        if missing:
            raise UserError(
                f"无法确定{'和'.join(missing)}，不能自动命名输出文件：请指定{'、'.join(missing)}或用 -o 指定输出文件"
            )
        output = cfg / "plans" / f"{plan['year']}-{_safe_file_part(str(plan['issuer']))}.yaml"
    if output.exists() and not force:
        raise UserError(f"输出文件 {output} 已存在；如要覆盖请加 --force")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render_plan_yaml(result, imported_on=today), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"无法写入输出文件 {output}：{exc.strerror or exc}") from exc

    s = result.summary
    console.print(f"已导入 {file} → {output}")
    console.print(
        f"  条目：{s.items} 条，其中 {s.items_needing_review} 条需要核对（见各条 review）"
    )
    if s.units_checked:
        extra = ""
        if s.units_unknown:
            extra += f"；未知：{'、'.join(s.units_unknown)}"
        if s.units_spell_out:
            extra += f"；须写明具体单位：{'、'.join(s.units_spell_out)}"
        console.print(
            f"  单位名称：{s.unit_names} 个，已识别 {s.units_resolved} 个，未知 {len(s.units_unknown)} 个，"
            f"须写明 {len(s.units_spell_out)} 个{extra}"
        )
    else:
        console.print(f"  单位名称：{s.unit_names} 个，未核对（{cfg / 'units.yaml'} 不存在）")
    console.print(
        f"  时限：已识别 {s.time_limits_parsed} 个，未能识别 {s.time_limits_unparsed} 个；"
        f"无明确时限的条目 {s.items_without_time_limit} 条"
    )
    console.print(f"  文字规范化：{describe_changes(s.normalization)}")
    if s.ocr_fixes:
        shown = "、".join(f"{f.before}→{f.after}" for f in s.ocr_fixes_in_items[:10])
        outside = len(s.ocr_fixes) - len(s.ocr_fixes_in_items)
        line = f"  OCR 数字修正：条目中 {len(s.ocr_fixes_in_items)} 处"
        line += f"（{shown}）" if shown else ""
        line += f"，未导入部分 {outside} 处" if outside else ""
        console.print(line)
    for note in result.notes:
        console.print(f"  注意：{note}")
    console.print("请核对后再执行 duban plan load。")
    return output


def import_command(
    file: Annotated[Path, typer.Argument(help="收到的文件：.txt、.docx、.xlsx 或 .xls")],
    year: Annotated[
        int | None, typer.Option("--year", help="计划年份（默认取标题中的年份）")
    ] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="发文单位（默认取落款）")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="输出文件（默认 <config>/plans/<年份>-<发文单位>.yaml）"
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="配置目录（默认 config/），用于核对单位名称")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="覆盖已存在的输出文件")] = False,
) -> None:
    """把收到的工作要点/任务分解表导入为计划 YAML，供人工核对后再 duban plan load。

    Example: duban plan import 朝阳市2020年政务公开工作要点.txt -o config/plans/2020-朝阳.yaml
    """
    try:
        run_import(file, year=year, issuer=issuer, output=output, config_dir=config, force=force)
    except (UserError, ConfigError, CalendarError) as exc:
        err_console.print(f"[bold red]错误[/]：{escape(str(exc))}")
        raise typer.Exit(2) from exc


def register(plan_app: typer.Typer) -> None:
    """Add ``import`` to the ``plan`` sub-app."""
    plan_app.command(name="import")(import_command)
