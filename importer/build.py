"""Assemble a plan (CONTRACTS.md plan format) from a read document, and write it as YAML.

The importer never decides for the reviewer: every item whose title was inferred, whose units
are unknown or missing, whose time limit is absent, vague, relative without a start event or
unreadable gets a ``review`` note saying exactly what to check. The YAML is written for a person
to read and correct (block style, unit lists and rules inline, long text as a literal block);
its header says where it came from and that it must be reviewed before ``duban plan load``.
Pure apart from what the caller passes in: the import date is a parameter.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import yaml

from deadlines.phrases import find_time_limits, find_vague_limits, parse_time_limit
from deadlines.rules import CalendarDays, Hours, Months, Unparsed, WorkingDays, rule_to_dict
from importer.metadata import extract_metadata, year_of
from importer.normalize import OcrFix, normalize_with_report
from importer.readers import Document, TableRow
from importer.segment import Item, Segmented, segment, split_title, split_unit_names

__all__ = [
    "ImportResult",
    "ImportSummary",
    "UnitResolver",
    "build_plan",
    "render_plan_yaml",
]

_RELATIVE = (WorkingDays, CalendarDays, Months, Hours)


class UnitResolver(Protocol):
    """What the importer needs from ``duban.config.UnitDirectory``."""

    def resolve(self, name: str) -> Any: ...


@dataclass
class ImportSummary:
    """Counts for the command's summary and for tests."""

    items: int = 0
    unit_names: int = 0  # distinct names in lead/responsible lists
    units_resolved: int = 0  # units and group words the directory knows
    units_unknown: list[str] = field(default_factory=list)
    units_spell_out: list[str] = field(default_factory=list)
    units_checked: bool = False
    time_limits_parsed: int = 0
    time_limits_unparsed: int = 0
    items_without_time_limit: int = 0
    items_needing_review: int = 0
    normalization: Counter[str] = field(default_factory=Counter)
    ocr_fixes: list[OcrFix] = field(default_factory=list)  # everywhere in the document
    ocr_fixes_in_items: list[OcrFix] = field(default_factory=list)  # inside imported items
    ignored_paragraphs: int = 0


@dataclass
class ImportResult:
    """The plan dict (ready for YAML), plan-level notes for the header, and the summary."""

    plan: dict[str, Any]
    notes: list[str]
    summary: ImportSummary


# --- time limits ------------------------------------------------------------------------------


def _limit_entries(paragraphs: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Time-limit entries (CONTRACTS.md shape) for the paragraphs, plus review notes."""
    entries: list[dict[str, Any]] = []
    notes: list[str] = []
    seen: set[tuple[str, str]] = set()
    for paragraph in paragraphs:
        for found in find_time_limits(paragraph):
            key = (found.text, found.sentence)
            if key in seen:
                continue
            seen.add(key)
            entry: dict[str, Any] = {"text": found.text, "sentence": found.sentence}
            if isinstance(found.rule, Unparsed):
                entry["unparsed"] = found.rule.reason
                notes.append(f"时限“{found.text}”未能识别：{found.rule.reason}")
            else:
                entry["rule"] = _Flow(rule_to_dict(found.rule))
                if isinstance(found.rule, _RELATIVE) and not (found.rule.event or found.event):
                    notes.append(f"“{found.text}”是相对时限，原文没有写明从何时起算，请补充 event")
            entries.append(entry)
    return entries, notes


def _duplicate_recurring_notes(entries: list[dict[str, Any]]) -> list[str]:
    """Two series for the same period ("按季度报送…每季度结束后10个工作日内") may be one duty."""
    recurring: dict[str, list[str]] = {}
    for entry in entries:
        rule = entry.get("rule") or {}
        if rule.get("kind") == "recurring":
            recurring.setdefault(rule["every"], []).append(entry["text"])
    return [
        "与".join(f"“{t}”" for t in texts) + "可能是同一项要求，请核对是否重复"
        for texts in recurring.values()
        if len(texts) > 1
    ]


def _missing_limit_note(text: str) -> str:
    vague = find_vague_limits(text)
    return f"无明确时限（{'、'.join(vague)}）" if vague else "无明确时限"


# --- units ------------------------------------------------------------------------------------


def _unit_notes(
    lead: list[str],
    responsible: list[str],
    units_found: bool,
    directory: UnitResolver | None,
    summary: ImportSummary,
    seen: dict[str, Any],
) -> list[str]:
    """Review notes for an item's units; counts each distinct name once in the summary."""
    notes: list[str] = []
    if not units_found and not lead and not responsible:
        notes.append("原文未标注牵头单位和责任单位")
    elif not lead:
        notes.append("原文未写明牵头单位")
    for name in [*lead, *responsible]:
        if name not in seen:
            ref = directory.resolve(name) if directory is not None else None
            seen[name] = ref
            summary.unit_names += 1
            status = ref.status if ref is not None else "unchecked"
            if status in ("unit", "group"):
                summary.units_resolved += 1
            elif status == "unknown":
                summary.units_unknown.append(name)
            elif status == "spell_out":
                summary.units_spell_out.append(name)
        ref = seen[name]
        if ref is None:
            continue
        if ref.status == "unknown":
            hint = f"，是否为“{ref.suggestion}”？" if ref.suggestion else ""
            notes.append(f"单位“{name}”不在单位目录中{hint}")
        elif ref.status == "spell_out":
            notes.append(f"“{name}”须写明具体单位")
    return notes


# --- items ------------------------------------------------------------------------------------


def _item_dict(
    *,
    number: str,
    title: str,
    section: str | None,
    text: str,
    lead: list[str],
    responsible: list[str],
    limits: list[dict[str, Any]],
    review: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {"number": number, "title": title}
    if section:
        out["section"] = section
    out["text"] = _Literal(text) if text else ""
    out["lead_units"] = _Flow(lead)
    out["responsible_units"] = _Flow(responsible)
    out["time_limits"] = limits
    out["review"] = "；".join(dict.fromkeys(review)) if review else None
    return out


def _ocr_notes(fixes: list[OcrFix]) -> list[str]:
    if not fixes:
        return []
    pairs = "、".join(f"“{f.before}”→“{f.after}”" for f in fixes)
    return [f"已按OCR误识修正数字：{pairs}"]


def _items_from_text(
    segmented: Segmented,
    text: str,
    ocr_fixes: list[OcrFix],
    directory: UnitResolver | None,
    summary: ImportSummary,
) -> list[dict[str, Any]]:
    line_starts = [0]
    for line in text.split("\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)
    seen: dict[str, Any] = {}
    items = []
    for item in segmented.items:
        lo, hi = line_starts[item.first_line], line_starts[item.last_line + 1]
        fixes = [f for f in ocr_fixes if lo <= f.position < hi]
        summary.ocr_fixes_in_items.extend(fixes)
        items.append(_text_item(item, fixes, directory, summary, seen))
    return items


def _text_item(
    item: Item,
    fixes: list[OcrFix],
    directory: UnitResolver | None,
    summary: ImportSummary,
    seen: dict[str, Any],
) -> dict[str, Any]:
    review = list(item.notes)
    paragraphs = [p for p in item.full_text.split("\n") if p.strip()]
    limits, limit_notes = _limit_entries(paragraphs)
    if not limits:
        review.append(_missing_limit_note(item.full_text))
    review.extend(limit_notes)
    review.extend(_duplicate_recurring_notes(limits))
    review.extend(
        _unit_notes(
            item.lead_units, item.responsible_units, item.units_found, directory, summary, seen
        )
    )
    review.extend(_ocr_notes(fixes))
    return _item_dict(
        number=item.number,
        title=item.title,
        section=item.section,
        text=item.text,
        lead=item.lead_units,
        responsible=item.responsible_units,
        limits=limits,
        review=review,
    )


def _title_from_cell(cell: str, review: list[str]) -> tuple[str, str]:
    """A short cell is its own title; a long one is split like an item's first line."""
    if len(cell) <= 40 and "。" not in cell.rstrip("。"):
        return cell.rstrip("。"), ""
    title, body, note = split_title(cell, [], unpunctuated_doc=False)
    if note:
        review.append(note)
    return title, body


def _items_from_rows(
    rows: tuple[TableRow, ...], directory: UnitResolver | None, summary: ImportSummary
) -> list[dict[str, Any]]:
    """One item per task-table row; a task cell shared by several rows becomes their section."""
    normalized: list[dict[str, str]] = []
    row_fixes: list[list[OcrFix]] = []
    for row in rows:
        cells: dict[str, str] = {}
        fixes: list[OcrFix] = []
        for role, value in row.cells.items():
            n = normalize_with_report(value)
            summary.normalization.update(n.changes)
            summary.ocr_fixes.extend(n.ocr_fixes)
            summary.ocr_fixes_in_items.extend(n.ocr_fixes)
            fixes.extend(n.ocr_fixes)
            cells[role] = n.text
        normalized.append(cells)
        row_fixes.append(fixes)
    task_counts = Counter(c.get("task", "") for c in normalized)
    number_counts = Counter(c.get("number", "") for c in normalized)
    sub_index: Counter[str] = Counter()
    seen: dict[str, Any] = {}
    items = []
    for index, (row, cells, fixes) in enumerate(zip(rows, normalized, row_fixes, strict=True), 1):
        task, requirement = cells.get("task", ""), cells.get("requirement", "")
        review: list[str] = []
        section = None
        if task and requirement and task_counts[task] > 1:
            section = task  # a merged 任务 cell: the rows are its measures
            title, body = _title_from_cell(requirement, review)
        elif task:
            title, body = task, (requirement if requirement != task else "")
        else:
            title, body = _title_from_cell(requirement, review)
        number = cells.get("number", "").rstrip("、.．") or str(index)
        if number_counts.get(cells.get("number", ""), 0) > 1 and cells.get("number"):
            sub_index[number] += 1
            number = f"{number}-{sub_index[number]}"
        lead = split_unit_names(cells.get("lead", ""))
        responsible = split_unit_names(cells.get("responsible", ""))
        limit_cell = cells.get("time_limit", "")
        limits, limit_notes = _limit_entries([limit_cell] if limit_cell else [])
        if limit_cell and not limits and not find_vague_limits(limit_cell):
            rule = parse_time_limit(limit_cell)
            if isinstance(rule, Unparsed):
                limits.append({"text": limit_cell, "sentence": limit_cell, "unparsed": rule.reason})
                limit_notes.append(f"时限“{limit_cell}”未能识别：{rule.reason}")
            else:
                limits.append(
                    {"text": limit_cell, "sentence": limit_cell, "rule": _Flow(rule_to_dict(rule))}
                )
        body_limits, body_notes = _limit_entries([p for p in (title, body) if p])
        if limits:  # the 时限 column is authoritative; other phrases only get a note
            extra = [e["text"] for e in body_limits if e["text"] not in limit_cell]
            if extra:
                quoted = "、".join(f"“{t}”" for t in extra)
                limit_notes.append(f"要求中另有时限表述{quoted}，未列入（以时限列为准），请核对")
        else:
            limits.extend(body_limits)
            limit_notes.extend(body_notes)
        if not limits:
            review.append(_missing_limit_note("\n".join([limit_cell, title, body])))
        review.extend(limit_notes)
        review.extend(_duplicate_recurring_notes(limits))
        review.extend(
            _unit_notes(lead, responsible, bool(lead or responsible), directory, summary, seen)
        )
        review.extend(_ocr_notes(fixes))
        if review:
            review.append(f"原表位置：{row.where}")
        items.append(
            _item_dict(
                number=number,
                title=title,
                section=section,
                text=body,
                lead=lead,
                responsible=responsible,
                limits=limits,
                review=review,
            )
        )
    return items


# --- the plan ---------------------------------------------------------------------------------


def build_plan(
    document: Document,
    *,
    year: int | None = None,
    issuer: str | None = None,
    directory: UnitResolver | None = None,
    imported_on: date | None = None,
) -> ImportResult:
    """Turn a read document into a plan dict; see the module docstring."""
    summary = ImportSummary(units_checked=directory is not None)
    normalized = normalize_with_report(document.text)
    summary.normalization.update(normalized.changes)
    summary.ocr_fixes.extend(normalized.ocr_fixes)
    text = normalized.text
    notes: list[str] = []

    if document.rows:
        titles = [normalize_with_report(t).text for t in document.table_titles]
        title = next((t for t in titles if year_of(t) or "表" in t or "要点" in t), None)
        meta = extract_metadata(text, None, None)
        meta.title = title or meta.title or document.path.stem
        meta.year = year_of(meta.title) or meta.year
        items = _items_from_rows(document.rows, directory, summary)
    else:
        segmented = segment(text)
        meta = extract_metadata(text, segmented.title, segmented.title_line)
        if meta.title is None:
            meta.title = document.path.stem
            notes.append("没有找到计划标题（如“…工作要点”），标题暂用文件名，请修改")
        items = _items_from_text(segmented, text, normalized.ocr_fixes, directory, summary)
        notes.extend(segmented.notes)
        summary.ignored_paragraphs = len(segmented.ignored)
        if segmented.ignored:
            first = segmented.ignored[0]
            short = first if len(first) <= 40 else first[:40] + "……"
            notes.append(
                f"{len(segmented.ignored)} 段未编号文字没有导入（如结束语、附注）：首段“{short}”"
            )
    notes.extend(meta.notes)

    if year is not None:
        if meta.year is not None and meta.year != year:
            notes.append(f"命令行指定年份 {year}，与文件中的 {meta.year} 不同")
        meta.year = year
    if issuer is not None:
        meta.issuer = issuer
    if meta.year is None:
        notes.append("没有找到年份：请填写 year，或用 --year 指定后重新导入")
    if meta.issuer is None:
        notes.append("没有找到发文单位：请填写 issuer，或用 --issuer 指定后重新导入")
    if directory is None:
        notes.append("没有核对单位名称（未加载单位目录）")
    if not items:
        notes.append("没有找到任何条目")

    source: dict[str, Any] = {"document": document.path.name, "sha256": document.sha256}
    if imported_on is not None:
        source["imported"] = imported_on
    plan: dict[str, Any] = {
        "year": meta.year,
        "issuer": meta.issuer,
        "title": meta.title,
        "issued": meta.issued,
        "source": source,
        "items": items,
    }
    summary.items = len(items)
    for item in items:
        for limit in item["time_limits"]:
            if "rule" in limit:
                summary.time_limits_parsed += 1
            else:
                summary.time_limits_unparsed += 1
        if not item["time_limits"]:
            summary.items_without_time_limit += 1
        if item["review"]:
            summary.items_needing_review += 1
    return ImportResult(plan=plan, notes=notes, summary=summary)


# --- YAML -------------------------------------------------------------------------------------


class _FlowList(list):  # type: ignore[type-arg]
    """A list written inline: [市政府办公室, 市委编办]."""


class _FlowDict(dict):  # type: ignore[type-arg]
    """A mapping written inline: {kind: by_date, month: 9, day: 15}."""


def _Flow(value: Any) -> Any:  # noqa: N802 - reads like a type at the call sites
    return _FlowDict(value) if isinstance(value, dict) else _FlowList(value)


class _Literal(str):
    """A string written as a literal block (|) so long item text stays readable."""


class _PlanDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # indent lists under their key, as in CONTRACTS.md


def _flow_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


def _flow_dict(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=True)


def _literal(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    text = re.sub(r"[ \t]+\n", "\n", str(value)).rstrip()
    style = "|" if len(text) > 40 or "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_PlanDumper.add_representer(_FlowList, _flow_list)
_PlanDumper.add_representer(_FlowDict, _flow_dict)
_PlanDumper.add_representer(_Literal, _literal)
_PlanDumper.add_multi_representer(
    date, yaml.representer.SafeRepresenter.represent_date
)  # pendulum.Date


_LINE_BREAKS_RE = re.compile("[\r\n\x85\u2028\u2029\x0b\x0c]+")


def _one_line(value: object) -> str:
    """Text for a header comment line: a line break (YAML also breaks at NEL and U+2028) would
    end the comment and turn the rest into YAML — e.g. from a file name holding a newline."""
    return _LINE_BREAKS_RE.sub(" ", str(value))


def render_plan_yaml(result: ImportResult, *, imported_on: date) -> str:
    """The plan as YAML with a header comment (source, import date, review notes)."""
    source = result.plan.get("source") or {}
    header = [
        f"# 本文件由 duban plan import 于 {imported_on.isoformat()} 从 {_one_line(source.get('document'))} 导入，尚未经人工核对。",
        "# 请逐条核对编号、标题、牵头/责任单位和时限（各条 review 写明了需要核对的地方），",
        "# 核对并删除或清空 review 后，再执行 duban plan load。",
    ]
    if result.notes:
        header.append("# 导入时发现：")
        header.extend(f"#   - {_one_line(note)}" for note in result.notes)
    body = yaml.dump(
        result.plan,
        Dumper=_PlanDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
    )
    return "\n".join(header) + "\n" + body
