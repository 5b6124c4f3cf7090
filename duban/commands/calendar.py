"""``duban calendar``: import the State Council holiday notice, check data freshness, show a year.

The calendar data (``config/calendars/cn/<year>.yaml``) must be extended every year: the
notice for year Y+1 is usually published between late October and mid December of year Y,
and without it no deadline in Y+1 can be computed (the engine refuses to guess).
``status`` therefore warns from 1 November on when next year's file is missing.

The freshness check is pure (:func:`freshness_warnings` takes ``today``); only the command
reads the clock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import pendulum
import typer
from rich.console import Console
from rich.markup import escape

from deadlines.calendar import (
    CalendarError,
    LoadedYear,
    Source,
    YearFile,
    build_calendar,
    default_config_dir,
    load_calendar,
    read_region_file,
    read_year_files,
)
from deadlines.notice import NoticeParseError, dump_year_file, parse_notice
from duban.errors import UserError
from duban.inputs import InputTooLarge, read_bounded
from duban.yamlio import ConfigError, parse_yaml, validate_doc

app = typer.Typer(
    help="节假日日历 — import the State Council holiday notice, check coverage, show a year.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

_WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_ERRORS = (UserError, ConfigError, CalendarError, NoticeParseError)
ConfigDirOption = Annotated[
    Path | None,
    typer.Option(
        "--config-dir", help="Configuration directory (default: config/ or $DUBAN_CONFIG_DIR)."
    ),
]


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]错误[/]: {escape(str(exc))}")
    return typer.Exit(getattr(exc, "exit_code", 2) if isinstance(exc, UserError) else 2)


def _fmt(d: date) -> str:
    return f"{d.isoformat()}（{_WEEKDAY_ZH[d.weekday()]}）"


# --------------------------------------------------------------------------- pure helpers


def year_ranges(years: Iterable[int]) -> list[tuple[int, int]]:
    """[2004, 2005, 2007] → [(2004, 2005), (2007, 2007)]."""
    out: list[tuple[int, int]] = []
    for y in sorted(set(years)):
        if out and out[-1][1] == y - 1:
            out[-1] = (out[-1][0], y)
        else:
            out.append((y, y))
    return out


def format_ranges(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}–{b}" if a != b else str(a) for a, b in ranges) or "none"


def freshness_warnings(years: Iterable[int], today: date) -> list[str]:
    """Warnings about missing calendar years as of ``today`` (pure: no clock)."""
    covered = set(years)
    warnings: list[str] = []
    y = today.year
    if covered and y not in covered and y > min(covered):
        warnings.append(
            f"本年度 {y} 没有节假日数据：{y} 年的任何期限都无法计算。"
            f"请导入《国务院办公厅关于{y}年部分节假日安排的通知》"
            f"(duban calendar import-notice <file>)。"
        )
    elif today >= date(y, 11, 1) and (y + 1) not in covered:
        days_left = (date(y, 12, 31) - today).days
        warnings.append(
            f"{y + 1} 年节假日数据缺失（距年底还有 {days_left} 天）：跨入 {y + 1} 年的期限将无法计算。"
            f"《国务院办公厅关于{y + 1}年部分节假日安排的通知》通常在 10–12 月发布，"
            f"发布后请运行 duban calendar import-notice <file>。"
        )
    return warnings


@dataclass(frozen=True)
class RegionStatus:
    code: str
    name: str | None
    detail: str


@dataclass(frozen=True)
class CalendarStatus:
    config_dir: Path
    years: tuple[int, ...]
    sources: dict[int, list[Source]]
    regions: list[RegionStatus]
    warnings: list[str] = field(default_factory=list)

    @property
    def ranges(self) -> list[tuple[int, int]]:
        return year_ranges(self.years)


def calendar_status(config_dir: Path, today: date) -> CalendarStatus:
    """Validate all calendar files under ``config_dir`` and report coverage as of ``today``.

    Raises ConfigError / CalendarError when a data file is invalid.
    """
    loaded = read_year_files(config_dir)
    years = tuple(y.year for y in loaded)
    if loaded:
        build_calendar(loaded)  # cross-file conflicts (a date rest in one file, work in another)
    regions: list[RegionStatus] = []
    region_dir = config_dir / "calendars" / "regions"
    for path in sorted(region_dir.glob("*.yaml")):
        _doc, reg = read_region_file(config_dir, path.stem)
        parts = [
            f"{a.month}月{a.day}日 {a.name}" + (f"（{a.length}天）" if a.length > 1 else "")
            for a in reg.annual
        ]
        parts += [f"{h.name} {h.rest.from_}–{h.rest.to}" for h in reg.holidays if h.rest]
        regions.append(RegionStatus(reg.region, reg.name, "；".join(parts) or "(no days)"))
    return CalendarStatus(
        config_dir=config_dir,
        years=years,
        sources={y.year: y.model.all_sources() for y in loaded},
        regions=regions,
        warnings=freshness_warnings(years, today),
    )


def read_notice_file(path: Path) -> str:
    """Notice text: UTF-8 (with or without BOM), GB18030, UTF-16 or Big5, as the importer reads
    documents. Refuses, naming the file: a file over the input limit (unread), empty or binary
    data."""
    from importer.readers import decode_text

    try:
        raw = read_bounded(path)
    except InputTooLarge as exc:
        raise UserError(f"无法读取文件 {path}：{exc.reason}") from exc
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    text, _encoding = decode_text(raw, path)
    return text


def _calendar_root(out: Path) -> Path | None:
    """``<root>`` when ``out`` is ``<root>/calendars/cn/<year>.yaml``, else None."""
    if out.parent.name == "cn" and out.parent.parent.name == "calendars":
        return out.parent.parent.parent
    return None


def _check_against_other_years(model: YearFile, others: list[LoadedYear]) -> None:
    """A date may not be a rest day in one year file and a make-up working day in another.

    Checked both ways here because a cross-year entry of the new file can collide with a day
    that an *earlier* year file already declared.
    """
    rest: dict[date, tuple[str, Path]] = {}
    work: dict[date, tuple[str, Path]] = {}
    for y in others:
        for h in y.model.holidays:
            for d in h.rest.days() if h.rest else []:
                rest[d] = (h.name, y.path)
            for d in h.work:
                work[d] = (h.name, y.path)
    for h in model.holidays:
        for d in h.rest.days() if h.rest else []:
            if d in work:
                name, path = work[d]
                raise UserError(
                    f"{d} is a rest day of {h.name} in this notice but a make-up working day "
                    f"of {name} in {path}"
                )
        for d in h.work:
            if d in rest:
                name, path = rest[d]
                raise UserError(
                    f"{d} is a make-up working day of {h.name} in this notice but a rest day "
                    f"of {name} in {path}"
                )


# --------------------------------------------------------------------------- commands


@app.command("import-notice")
def import_notice(
    file: Annotated[Path, typer.Argument(help="Text of the notice (UTF-8, GB18030, UTF-16).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Where to write (default: config/calendars/cn/<year>.yaml)."
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Notice year, when the text has no title line.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing year file.")] = False,
    config_dir: ConfigDirOption = None,
) -> None:
    """Turn 国务院办公厅关于YYYY年部分节假日安排的通知 into a validated year file.

    Example: duban calendar import-notice notice-2027.txt
    """
    try:
        _import_notice(file, output, year, force, config_dir)
    except _ERRORS as exc:
        raise _fail(exc) from exc


def _import_notice(
    file: Path, output: Path | None, year: int | None, force: bool, config_dir: Path | None
) -> None:
    text = read_notice_file(file)
    data = parse_notice(text, year=year, source_name=str(file))
    notice_year: int = data["year"]
    cfg = config_dir or default_config_dir()
    out = output or cfg / "calendars" / "cn" / f"{notice_year}.yaml"
    if out.stem.isdigit() and int(out.stem) != notice_year:
        raise UserError(f"{out} is named for {out.stem} but the notice is for {notice_year}")
    old_text: str | None = None
    if out.exists():
        if not force:
            raise UserError(f"{out} already exists; use --force to replace it")
        old_text = out.read_text(encoding="utf-8")

    # Validate exactly what will be written, with the engine's rules, before touching disk.
    yaml_text = dump_year_file(data)
    doc = parse_yaml(yaml_text, str(out))
    model = validate_doc(YearFile, doc, context={"year": notice_year})
    root = _calendar_root(out)
    if root is not None and (root / "calendars" / "cn").is_dir():
        others = [y for y in read_year_files(root) if y.path.resolve() != out.resolve()]
        _check_against_other_years(model, others)
        build_calendar([*others, LoadedYear(notice_year, out, model, doc)])

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(yaml_text, encoding="utf-8")
    os.replace(tmp, out)

    working_days: int | None = None
    if root is not None:
        try:  # prove the written file loads through the engine
            cal = load_calendar(config_dir=root)
            working_days = len(
                cal.working_days_in(date(notice_year, 1, 1), date(notice_year, 12, 31))
            )
        except _ERRORS:
            if old_text is None:
                out.unlink(missing_ok=True)
            else:
                out.write_text(old_text, encoding="utf-8")
            raise

    rest = sorted({d for h in model.holidays if h.rest for d in h.rest.days()})
    work = sorted({d for h in model.holidays for d in h.work})
    weekday_rest = [d for d in rest if d.weekday() < 5]
    console.print(f"[green]已写入[/] {escape(str(out))}（{escape(model.all_sources()[0].title)}）")
    console.print(
        f"  {len(model.holidays)} 个节日；放假 {len(rest)} 天（其中工作日 {len(weekday_rest)} 天）；"
        f"调休上班 {len(work)} 天：" + ("、".join(_fmt(d) for d in work) or "无")
    )
    if working_days is not None:
        console.print(f"  {notice_year} 年共 {working_days} 个工作日。")


@app.command("status")
def status(
    today: Annotated[
        str | None,
        typer.Option(
            "--today", help="Pretend today is YYYY-MM-DD (default: now in Asia/Shanghai)."
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when there is a warning.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    config_dir: ConfigDirOption = None,
) -> None:
    """Years covered, the notice behind each year, regional overlays, freshness warnings.

    Example: duban calendar status --today 2026-11-05
    """
    try:
        day = _parse_day(today) if today else pendulum.now("Asia/Shanghai").date()
        report = calendar_status(config_dir or default_config_dir(), day)
    except _ERRORS as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps({
            "today": day.isoformat(), "years": list(report.years),
            "sources": {str(y): [s.model_dump(mode="json", exclude_none=True) for s in src]
                        for y, src in report.sources.items()},
            "regions": [{"code": r.code, "name": r.name, "detail": r.detail}
                        for r in report.regions],
            "warnings": report.warnings}, ensure_ascii=False, indent=2))
        raise typer.Exit(1 if strict and report.warnings else 0)
    console.print(
        f"节假日数据 {report.config_dir / 'calendars' / 'cn'}：{format_ranges(report.ranges)}"
        f"（{len(report.years)} 年）  今天 {day.isoformat()}"
    )
    for y in sorted(report.years, reverse=True):
        parts = []
        for s in report.sources[y]:
            extra = "，".join(x for x in (s.document, s.published and f"{s.published}") if x)
            parts.append(s.title + (f"（{extra}）" if extra else ""))
        console.print(f"  {y}  " + "；".join(parts))
    if report.regions:
        console.print("地方日历：")
        for r in report.regions:
            console.print(f"  {r.code}  {r.name}：{r.detail}")
    else:
        console.print("地方日历：无")
    for w in report.warnings:
        console.print(f"[bold yellow]警告[/] {w}")
    raise typer.Exit(1 if strict and report.warnings else 0)


@app.command("show")
def show(
    year: Annotated[int, typer.Argument(help="Year to list.")],
    region: Annotated[
        str | None, typer.Option("--region", help="Regional overlay, e.g. yanbian.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    config_dir: ConfigDirOption = None,
) -> None:
    """List a year's rest days (放假) and make-up working days (调休上班).

    Example: duban calendar show 2026
    """
    try:
        cfg = config_dir or default_config_dir()
        cal = load_calendar(region=region, config_dir=cfg)
        first, last = date(year, 1, 1), date(year, 12, 31)
        working = cal.working_days_in(first, last)  # raises CalendarYearMissing
        loaded = {y.year: y for y in read_year_files(cfg)}
    except _ERRORS as exc:
        raise _fail(exc) from exc
    model = loaded[year].model
    if as_json:
        days = [cal.day_info(first + timedelta(days=k)) for k in range((last - first).days + 1)]
        print(json.dumps({
            "year": year, "calendar": cal.name, "working_days": len(working),
            "sources": [s.title for s in model.all_sources()],
            "rest_days": [{"date": i.date.isoformat(), "name": i.name} for i in days
                          if not i.is_working and i.kind != "weekend"],
            "makeup_working_days": [{"date": i.date.isoformat(), "name": i.name} for i in days
                                    if i.kind == "makeup_workday"]}, ensure_ascii=False, indent=2))
        return
    console.print(f"{year} 年 — " + "；".join(s.title for s in model.all_sources()))
    for h in model.holidays:
        line = f"  {h.name}："
        if h.rest:
            n = (h.rest.to - h.rest.from_).days + 1
            span = _fmt(h.rest.from_) + (f" 至 {_fmt(h.rest.to)}" if n > 1 else "")
            line += f"{span} 放假，共{n}天"
        if h.work:
            line += "；上班 " + "、".join(_fmt(d) for d in h.work)
        console.print(line)
    if region:
        extra = []
        d = first
        while d <= last:
            info = cal.day_info(d)
            if info.kind == "region_holiday":
                extra.append(f"{_fmt(d)} {info.name}")
            d += timedelta(days=1)
        console.print(f"  地方（{region}）：" + ("、".join(extra) or "无"))
    console.print(f"  全年工作日 {len(working)} 天。")


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"--today must be a date like 2026-11-01, not {text!r}") from exc
