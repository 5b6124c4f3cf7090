"""Split a 工作要点 text into plan items (pure: text in, items out).

Official documents number their parts in a fixed hierarchy: "一、" > "（一）" > "1、/1./1．" >
"（1）". Which level is the *item* level differs: the Chaoyang 2020 plan has sections "一、…"
and items "1、…24、" numbered across sections; the Panjin 2024 plan has sections and items
"1.…20."; other plans use only "一、" or "（一）". We take the highest level whose lines are
short headings as sections and the next level down as items; if the top level's lines carry
body text or units, the top level is the item level. Deeper levels stay inside an item's text.

The plan starts after its title line ("…工作要点") and ends at an attachment marker ("附件2"),
a signature/date block or a closing paragraph after the last item ("各地区、各部门要…").

Each item's units come from "（牵头单位：…；责任单位：…）" (also 牵头部门/责任部门/配合单位,
a "；" typo after the role word, or a missing lead part), from lines that start with a role,
or from a closing "（市司法局牵头，市政府各部门配合）" / "（市政府办公室负责）".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "LEAD_ROLES",
    "RESPONSIBLE_ROLES",
    "Item",
    "Segmented",
    "find_plan_start",
    "parse_units",
    "segment",
    "split_title",
    "split_unit_names",
]

_CN_DIGITS = "一二三四五六七八九十百零〇两"
_STYLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cn", re.compile(rf"^(?P<num>[{_CN_DIGITS}]{{1,4}})\s*[、.．](?P<rest>.*)$")),
    ("pcn", re.compile(rf"^(?P<num>[（(][{_CN_DIGITS}]{{1,4}}[）)])\s*(?P<rest>.*)$")),
    ("ar", re.compile(r"^(?P<num>\d{1,3})\s*(?:[、．]|\.(?!\d))(?P<rest>.*)$")),
    ("par", re.compile(r"^(?P<num>[（(]\d{1,3}[）)])\s*(?P<rest>.*)$")),
    ("circ", re.compile(r"^(?P<num>[①-⑳])\s*(?P<rest>.*)$")),
)
_RANK = {name: rank for rank, (name, _) in enumerate(_STYLES)}
_MISSING_CN_RE = re.compile(r"^[、](?P<rest>[^。]{2,40})$")  # "、深化政策公开…": number lost

LEAD_ROLES = ("牵头单位", "牵头部门", "主办单位", "牵头")
RESPONSIBLE_ROLES = (
    "责任单位",
    "责任部门",
    "配合单位",
    "配合部门",
    "协办单位",
    "参与单位",
)
_ROLE_RE = re.compile(
    "(?P<role>" + "|".join(sorted(LEAD_ROLES + RESPONSIBLE_ROLES, key=len, reverse=True)) + r")"
    r"\s*(?P<sep>[:：;；]|(?=\S))"
)
_UNIT_PAREN_START_RE = re.compile(
    r"[（(]\s*(?=(?:" + "|".join(LEAD_ROLES + RESPONSIBLE_ROLES) + r")\s*[:：;；])"
)
_UNIT_LINE_RE = re.compile(r"^(?:" + "|".join(LEAD_ROLES + RESPONSIBLE_ROLES) + r")\s*[:：;；]")

_TITLE_LINE_RE = re.compile(
    r"^(?!附)[^《》“”，。：:,；;]{0,40}"
    r"(?:工作要点|要点|工作方案|实施方案|任务分解表|任务分工|重点任务|任务清单|工作安排)$"
)
_END_RE = re.compile(
    r"^(?:附件\s*[0-9一二三四五六七八九十]*\s*(?:[:：].*)?$|附[:：]"
    r"|上一篇|下一篇|【?打印本页|【?关闭窗口|扫一扫|相关附件)"
)
_CLOSING_RE = re.compile(r"^各(?:地区|地|部门|单位|级|县|区|市|有关)[^。]{0,12}要")

# Words that begin an item's body when the document puts no punctuation after the title
# ("1.做好…工作公开聚焦攻坚之年…"): adverbs and subjects, not the verbs titles start with.
_BODY_STARTERS = (
    "聚焦",
    "持续",
    "落实",
    "加强",
    "通过",
    "依托",
    "认真",
    "做好",
    "探索",
    "进一步",
    "充分",
    "更好",
    "没有",
    "各级",
    "各地",
    "各部门",
    "各单位",
    "县乡",
    "市政府",
    "市直",
    "围绕",
    "按照",
    "根据",
    "坚持",
    "结合",
    "利用",
    "严格",
    "切实",
    "积极",
    "着力",
    "深入",
    "不断",
    "注重",
    "针对",
    "对于",
)
_BODY_START_RE = re.compile(
    "(?:" + "|".join(_BODY_STARTERS) + r"|以[^，。；]{1,30}为|“[^”]{2,30}”为)"
)
_TITLE_MAX = 40
_TITLE_MIN = 6


@dataclass
class Item:
    """One plan item as printed. ``full_text`` is everything but the number and the units."""

    number: str
    title: str
    text: str
    full_text: str
    lead_units: list[str] = field(default_factory=list)
    responsible_units: list[str] = field(default_factory=list)
    units_found: bool = False
    section: str | None = None
    notes: list[str] = field(default_factory=list)
    first_line: int = 0  # 0-based line index in the text
    last_line: int = 0
    title_inferred: bool = False


@dataclass
class Segmented:
    """The items of a plan text, and what the segmenter noticed about the document."""

    items: list[Item]
    title: str | None = None
    title_line: int | None = None
    item_style: str | None = None
    section_style: str | None = None
    notes: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # unnumbered paragraphs not imported
    end_line: int | None = None


@dataclass
class _Heading:
    style: str
    number: str | None
    rest: str
    line: int


def _classify(line: str, index: int) -> _Heading | None:
    for style, pattern in _STYLES:
        m = pattern.match(line)
        if m:
            return _Heading(style, m.group("num"), m.group("rest").strip(), index)
    m = _MISSING_CN_RE.match(line)
    if m:
        return _Heading("cn", None, m.group("rest").strip(), index)
    return None


def find_plan_start(lines: list[str]) -> tuple[int, str] | None:
    """The plan's own title line ("2020年政务公开工作要点"), if any: (index, text)."""
    for i, line in enumerate(lines):
        if _TITLE_LINE_RE.match(line) and _classify(line, i) is None:
            return i, line
    return None


def _is_heading_line(h: _Heading) -> bool:
    rest = h.rest.rstrip("。")
    return (
        bool(rest)
        and len(rest) <= _TITLE_MAX
        and "。" not in rest
        and not _UNIT_PAREN_START_RE.search(rest)
    )


def _choose_levels(headings: list[_Heading]) -> tuple[str | None, str | None]:
    """(section_style, item_style) from the numbered lines of the plan body."""
    styles = sorted({h.style for h in headings}, key=_RANK.__getitem__)
    if not styles:
        return None, None
    top = styles[0]
    if len(styles) == 1:
        return None, top
    top_lines = [h for h in headings if h.style == top]
    headings_share = sum(_is_heading_line(h) for h in top_lines) / len(top_lines)
    if headings_share >= 0.8:
        return top, styles[1]
    return None, top


# --- units ----------------------------------------------------------------------------------


def split_unit_names(text: str) -> list[str]:
    """Split "市政府办公室、市委编办" on 、，,；; outside parentheses ("市(中、省)直单位" stays)."""
    names: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        if depth == 0 and ch in "、，,；;":
            names.append("".join(current))
            current = []
            continue
        current.append(ch)
    names.append("".join(current))
    return [n.strip().strip("。. ") for n in names if n.strip().strip("。. ")]


@dataclass
class Units:
    lead: list[str] = field(default_factory=list)
    responsible: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_units(spec: str) -> Units:
    """Parse "牵头单位：A、B；责任单位：C" (the inside of the parentheses) into role lists."""
    units = Units()
    marks = list(_ROLE_RE.finditer(spec))
    for k, m in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(spec)
        names = split_unit_names(spec[m.end() : end])
        role = m.group("role")
        if m.group("sep") in (";", "；"):
            units.notes.append(f"原文“{role}{m.group('sep')}”用了分号，已按冒号处理")
        target = units.lead if role in LEAD_ROLES else units.responsible
        for name in names:
            if name not in target:
                target.append(name)
    return units


def _find_unit_paren(line: str) -> tuple[int, int] | None:
    """Span of the last "（牵头单位：…）" in ``line`` (nested parentheses allowed)."""
    starts = list(_UNIT_PAREN_START_RE.finditer(line))
    if not starts:
        return None
    start = starts[-1].start()
    depth = 0
    for i in range(start, len(line)):
        if line[i] in "（(":
            depth += 1
        elif line[i] in "）)":
            depth -= 1
            if depth == 0:
                return start, i + 1
    return start, len(line)  # unclosed: take the rest of the line


_LEAD_PHRASE_RE = re.compile(
    r"^(?P<lead>[^，,；;]+?)(?:牵头|负责)"
    r"(?:[，,；;]\s*(?P<resp>[^，,；;].*?)(?:配合|参与|按职责分工负责|按职责负责|分别负责|负责|落实))?$"
)


def _trailing_paren(line: str) -> tuple[int, str] | None:
    """Start and inside of a parenthesis that closes ``line`` ("…。（市司法局牵头）")."""
    end = len(line.rstrip("。；; "))
    if end == 0 or line[end - 1] not in "）)":
        return None
    depth = 0
    for i in range(end - 1, -1, -1):
        if line[i] in "）)":
            depth += 1
        elif line[i] in "（(":
            depth -= 1
            if depth == 0:
                return i, line[i + 1 : end - 1]
    return None


def _lead_phrase_units(line: str) -> tuple[str, Units] | None:
    """ "（市司法局牵头，市政府各部门配合）" / "（市政府办公室负责）" at the end of a line."""
    found = _trailing_paren(line)
    if found is None:
        return None
    start, inside = found
    m = _LEAD_PHRASE_RE.match(inside.strip())
    if m is None:
        return None
    units = Units(
        lead=split_unit_names(m.group("lead")),
        responsible=split_unit_names(m.group("resp") or ""),
    )
    return line[:start].rstrip(), units


def _extract_units(lines: list[str]) -> tuple[list[str], Units | None]:
    """Remove unit statements from an item's lines; return the cleaned lines and the units."""
    found: Units | None = None
    cleaned: list[str] = []
    for line in lines:
        specs: list[str] = []
        span = _find_unit_paren(line)
        while span is not None:
            specs.insert(
                0,
                line[span[0] + 1 : span[1] - 1]
                if line[span[1] - 1] in "）)"
                else line[span[0] + 1 :],
            )
            line = (line[: span[0]] + line[span[1] :]).rstrip()
            span = _find_unit_paren(line)
        if _UNIT_LINE_RE.match(line):
            specs.append(line)
            line = ""
        parsed_specs = [parse_units(spec) for spec in specs]
        if not specs and (phrase := _lead_phrase_units(line)) is not None:
            line, phrase_units = phrase
            parsed_specs.append(phrase_units)
        for parsed in parsed_specs:
            if found is None:
                found = Units()
            for name in parsed.lead:
                if name not in found.lead:
                    found.lead.append(name)
            for name in parsed.responsible:
                if name not in found.responsible:
                    found.responsible.append(name)
            found.notes.extend(parsed.notes)
        if line.strip():
            cleaned.append(line.rstrip())
    return cleaned, found


# --- titles ---------------------------------------------------------------------------------


def _sentence_title(first: str) -> str | None:
    m = re.search(r"[。！？；]", first)
    if m and 0 < m.start() <= _TITLE_MAX:
        return first[: m.start()]
    return None


def _starter_split(first: str) -> int | None:
    for m in _BODY_START_RE.finditer(first, _TITLE_MIN):
        if m.start() > _TITLE_MAX:
            return None
        before = first[m.start() - 1]
        if before in "，、；：“”（(":
            continue  # the title already ended or we are inside a list/quote
        return m.start()
    return None


def split_title(
    first: str, rest_lines: list[str], unpunctuated_doc: bool
) -> tuple[str, str, str | None]:
    """(title, body, note) for an item whose first line (after the number) is ``first``."""
    first = first.strip()
    body_after = "\n".join(rest_lines)
    if (
        rest_lines
        and first
        and len(first) <= _TITLE_MAX
        and not re.search(r"[。！？；]", first.rstrip("。"))
    ):
        return first.rstrip("。：:"), body_after, None  # heading line, body on the next lines
    sentence = _sentence_title(first)
    split = _starter_split(first) if unpunctuated_doc or sentence is None else None
    if split is not None and (sentence is None or split < len(sentence)):
        title, body = first[:split], first[split:]
        note = f"标题由导入程序推断（原文标题与正文之间没有标点）：“{title}”，请核对"
    elif sentence is not None:
        title, body, note = sentence, first[len(sentence) + 1 :], None
    else:
        comma = re.search(r"[，,]", first)
        if comma and _TITLE_MIN <= comma.start() <= _TITLE_MAX:
            title, body = first[: comma.start()], first[comma.start() + 1 :]
        elif len(first) <= _TITLE_MAX:
            title, body = first, ""
        else:
            title, body = first[:30] + "……", first
        note = f"标题由导入程序推断：“{title}”，请核对"
    body = body.lstrip("，,。；; ")
    if body_after:
        body = f"{body}\n{body_after}" if body else body_after
    return title.strip(), body.strip(), note


# --- the segmenter --------------------------------------------------------------------------


def _cn_value(num: str) -> int | None:
    """Value of a Chinese numeral up to 99 ("十九" → 19), parentheses ignored."""
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
    num = num.strip("（()）")
    if not num:
        return None
    if "十" in num:
        tens, _, ones = num.partition("十")
        if (tens and tens not in digits) or (ones and ones not in digits):
            return None
        return (digits[tens] if tens else 1) * 10 + (digits[ones] if ones else 0)
    if len(num) == 1 and num in digits:
        return digits[num]
    return None


def _cn_numeral(n: int) -> str:
    ones = "零一二三四五六七八九"
    if n < 10:
        return ones[n]
    if n < 20:
        return "十" + (ones[n - 10] if n > 10 else "")
    return ones[n // 10] + "十" + (ones[n % 10] if n % 10 else "")


def _number_value(number: str) -> int | None:
    digits = re.sub(r"\D", "", number)
    return int(digits) if digits else _cn_value(number)


def _find_end(lines: list[str], start: int) -> int:
    for i in range(start, len(lines)):
        if _END_RE.match(lines[i]):
            return i
    return len(lines)


def segment(text: str) -> Segmented:
    """Split normalised plan text into items (see the module docstring)."""
    lines = text.split("\n")
    result = Segmented(items=[])
    found_title = find_plan_start(lines)
    start = 0
    if found_title is not None:
        result.title_line, result.title = found_title
        start = found_title[0] + 1
    end = _find_end(lines, start)
    result.end_line = end
    headings = [h for i in range(start, end) if lines[i] and (h := _classify(lines[i], i))]
    section_style, item_style = _choose_levels(headings)
    result.section_style, result.item_style = section_style, item_style
    if item_style is None:
        result.notes.append("没有找到编号条目（如“一、”“（一）”“1、”）")
        return result
    by_line = {h.line: h for h in headings}

    # Group lines into blocks: an item heading and its continuation lines. A section heading
    # closes the open item; unnumbered lines after it (a section's intro) belong to no item.
    blocks: list[tuple[_Heading, str | None, list[int]]] = []
    open_item = False
    section: str | None = None
    section_value = 0
    for i in range(start, end):
        line = lines[i]
        if not line:
            continue
        h = by_line.get(i)
        if h is not None and h.style == section_style:
            number = h.number
            if number is None:
                number = _cn_numeral(section_value + 1)
                result.notes.append(
                    f"有一个部分标题缺少编号（原文“{line}”），已按顺序补为“{number}、”，请核对"
                )
            section_value = _cn_value(number) or section_value + 1
            section = f"{number}、{h.rest}"
            open_item = False
        elif h is not None and h.style == item_style:
            blocks.append((h, section, []))
            open_item = True
        elif open_item:
            blocks[-1][2].append(i)
        elif blocks:
            result.ignored.append(line)

    # Documents that put no punctuation between title and body ("1.做好…工作公开聚焦…").
    punctuated = sum(
        1
        for h, _, _ in blocks
        if (sentence := _sentence_title(h.rest)) and _starter_split(sentence) is None
    )
    unpunctuated_doc = bool(blocks) and punctuated < 0.5 * len(blocks)

    for index, (h, sec, extra) in enumerate(blocks):
        raw = [h.rest] + [lines[i] for i in extra]
        line_ids = [h.line, *extra]
        if index == len(blocks) - 1:
            keep = _last_item_length(raw)
            result.ignored.extend(raw[keep:])
            raw, line_ids = raw[:keep], line_ids[:keep]
        cleaned, units = _extract_units(raw)
        first = cleaned[0] if cleaned else ""
        title, body, title_note = split_title(first, cleaned[1:], unpunctuated_doc)
        item = Item(
            number=h.number or "",
            title=title,
            text=body,
            full_text="\n".join(cleaned),
            section=sec,
            first_line=h.line,
            last_line=line_ids[-1],
            title_inferred=title_note is not None,
        )
        if title_note:
            item.notes.append(title_note)
        if units is not None:
            item.units_found = True
            item.lead_units = units.lead
            item.responsible_units = units.responsible
            item.notes.extend(units.notes)
        result.items.append(item)

    _check_numbering(result)
    return result


def _has_units(line: str) -> bool:
    return (
        _find_unit_paren(line) is not None
        or bool(_UNIT_LINE_RE.match(line))
        or _lead_phrase_units(line) is not None
    )


def _last_item_length(raw: list[str]) -> int:
    """How many of the last item's lines belong to it.

    Cut at a closing paragraph ("各地区、各部门要…"), at a signature + date block, or after the
    unit statement when that statement closes the item's body (units on a body line, not on a
    heading line whose body follows).
    """
    from importer.metadata import parse_date

    for k in range(1, len(raw)):
        line = raw[k]
        if _CLOSING_RE.match(line):
            return k
        if parse_date(line) is not None:
            signer = raw[k - 1]
            return k - 1 if k >= 2 and len(signer) <= 30 and "。" not in signer else k
    unit_lines = [k for k, line in enumerate(raw) if _has_units(line)]
    if unit_lines:
        last = unit_lines[-1]
        heading_only = last == 0 and len(raw) > 1 and "。" not in re.sub(r"[（(].*", "", raw[0])
        if not heading_only:
            return last + 1
    return len(raw)


def _check_numbering(result: Segmented) -> None:
    """Note gaps and repeats; numbers restarting in every section get the section's ("二-1")."""
    numbers = [item.number for item in result.items]
    if len(set(numbers)) != len(numbers):
        if all(item.section for item in result.items):
            for item in result.items:
                assert item.section is not None
                item.number = f"{item.section.split('、', 1)[0]}-{item.number}"
            result.notes.append(
                "条目编号在各部分重复（每部分重新编号），已在编号前加上部分序号，如“二-1”"
            )
        else:
            repeated = sorted({n for n in numbers if numbers.count(n) > 1})
            result.notes.append(f"条目编号重复：{'、'.join(repeated)}，请核对")
        return
    previous: int | None = None
    for item in result.items:
        value = _number_value(item.number)
        if value is not None and previous is not None and value != previous + 1:
            result.notes.append(f"条目编号不连续：{previous} 之后是 {item.number}，请核对是否漏条")
        if value is not None:
            previous = value
