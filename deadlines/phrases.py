"""Chinese time-limit phrases (时限表述) → typed rules.

Two entry points:

- `parse_time_limit(text)`: one phrase (a table cell, a YAML value, a CLI argument) → a rule.
- `find_time_limits(paragraph)`: every time limit in a plan item's text, with the sentence it
  came from and, for relative limits, the subject/event that triggers it.

The grammar is a list of regular expressions over a normalised copy of the text (full-width
digits → ASCII, the few traditional characters that occur in time phrases → simplified; the
mapping is one character to one character, so offsets into the original stay valid). At each
position the longest match wins (leftmost-longest), so "每年1月10日前" is read as one recurring
rule and never as a by-date rule plus leftovers.

Principle: **never guess**. Text that looks like a time limit but does not say exactly when
("3月内": March, or three months?; "9月15日前后": around; "三季度前": before it starts or ends?;
"10日前": which month?) comes back as `Unparsed(text, reason)` so a human decides. Vague words
("及时", "持续", "常态化"…) are not time limits at all: `find_time_limits` returns nothing for them
and `find_vague_limits` tells the importer which words it saw.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from deadlines.rules import (
    ByDate,
    CalendarDays,
    Hours,
    Months,
    Recurring,
    Rule,
    Unparsed,
    WorkingDays,
)

__all__ = [
    "VAGUE_WORDS",
    "FoundLimit",
    "chinese_number",
    "find_time_limits",
    "find_vague_limits",
    "parse_time_limit",
]

# --------------------------------------------------------------------------- normalisation

_TRADITIONAL = "個內後時號兩週於須應結終過離為間當從務並歷數幾國華來"
_SIMPLIFIED = "个内后时号两周于须应结终过离为间当从务并历数几国华来"
_TABLE = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},  # ０-９
        **dict(zip(_TRADITIONAL, _SIMPLIFIED, strict=True)),
        "\u3000": " ",
    }
)


def _normalise(text: str) -> str:
    """Same length as `text` (one char → one char), so match offsets index the original."""
    out = text.translate(_TABLE)
    assert len(out) == len(text)
    return out


# --------------------------------------------------------------------------- numbers

_CN_DIGITS = {
    "〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100}


def chinese_number(s: str) -> int:
    """Arabic or Chinese numeral → int: "15", "十五", "二十", "三十一", "两", "一百零五",
    "二〇二〇" (digit by digit, as years are written). Raises ValueError on anything else."""
    s = s.strip().translate(_TABLE)
    if not s:
        raise ValueError("empty number")
    if s.isascii() and s.isdigit():
        return int(s)
    if all(c in _CN_DIGITS for c in s):
        if len(s) == 1:
            return _CN_DIGITS[s]
        if "两" in s:
            raise ValueError(f"not a number: {s!r}")
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    total, digit, last_unit, after_zero = 0, None, 1000, False
    for c in s:
        if c in _CN_DIGITS:
            if digit is not None and not after_zero:
                raise ValueError(f"not a number: {s!r}")
            digit = _CN_DIGITS[c]
            after_zero = digit == 0
        elif c in _CN_UNITS:
            unit = _CN_UNITS[c]
            if unit >= last_unit or digit == 0:
                raise ValueError(f"not a number: {s!r}")
            total += (1 if digit is None else digit) * unit
            digit, last_unit, after_zero = None, unit, False
        else:
            raise ValueError(f"not a number: {s!r}")
    return total + (digit or 0)


# --------------------------------------------------------------------------- grammar pieces

_CN = "〇零一二两三四五六七八九十百"
_NUM = rf"(?:[0-9]{{1,3}}|[{_CN}]{{1,4}})"
_YEAR = r"(?:[0-9]{4}|[〇零一二三四五六七八九]{4})"
_MON = r"(?:[0-9]{1,2}|十[一二]?|[一二三四五六七八九])"
_DAY = r"(?:[0-9]{1,2}|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_NB = rf"(?<![0-9.．·{_CN}])"  # do not start inside a number ("0.5", "5·15", "二十")
_BEFORE = r"(?:之前|以前|前)"
_WITHIN = r"(?:以内|之内|内)"
_S = r"\s*"
_DAYS_UNIT = r"(?:个工作日|工作日|个自然日|自然日|日|天)"
_COUNT_UNIT = r"(?:个工作日|工作日|个自然日|自然日|个月|个小时|小时|日|天)"

_EVERY = {"月": "month", "个月": "month", "季度": "quarter", "季": "quarter",
          "半年": "half_year", "年": "year", "年度": "year"}  # fmt: skip

Handler = Callable[[re.Match[str], str, bool], "Rule | Unparsed | None"]


@dataclass(frozen=True)
class _Pattern:
    name: str
    regex: re.Pattern[str]
    handler: Handler


def _int(m: re.Match[str], group: str) -> int | None:
    value = m.group(group)
    return None if value is None else chinese_number(value)


def _count_rule(n: int, unit: str, event: str | None = None) -> Rule:
    """A relative rule from a count and a Chinese unit."""
    unit = unit.removeprefix("个")
    if unit == "工作日":
        return WorkingDays(n, event)
    if unit in ("日", "天", "自然日"):
        return CalendarDays(n, event)
    if unit in ("周", "星期"):
        return CalendarDays(7 * n, event)
    if unit == "月":
        return Months(n, event)
    if unit == "季度":
        return Months(3 * n, event)
    if unit == "年":
        return Months(12 * n, event)
    if unit == "小时":
        return Hours(n, event)
    raise ValueError(f"unknown unit {unit!r}")


def _unparsed(m: re.Match[str], reason: str) -> Unparsed:
    return Unparsed(m.group(0), reason)


# --------------------------------------------------------------------------- handlers
# Each handler gets (match, normalised text, find_mode). It returns a rule, an Unparsed, or
# None for "this span is not a time limit" (the span still blocks shorter overlapping matches).


def _h_recurring_after(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    n = _int(m, "n")
    assert n is not None
    after = _count_rule(n, m.group("u"))
    assert isinstance(after, WorkingDays | CalendarDays)
    return Recurring(_EVERY[m.group("p")], after_period=after)  # type: ignore[arg-type]


def _h_recurring_month_day(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return Recurring("month", day=_int(m, "d"))


def _h_recurring_year_date(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return Recurring("year", month=_int(m, "m"), day=_int(m, "d"))


def _h_recurring_plain(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return Recurring(_EVERY[m.group("p")])  # type: ignore[arg-type]


def _h_period_unsupported(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return _unparsed(m, f"“{m.group(0)}”：按日、按周的周期不是支持的规则类型，请人工设置")


def _h_date(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    suffix, prefix = m.group("suf"), m.group("pre")
    if suffix == "前后":
        return _unparsed(m, "“前后”指该日前后，而不是截止该日，没有确切期限")
    if find and not suffix and not prefix:
        return None  # a plain date ("2020年8月25日" = the issue date) is not a time limit
    hour = _int(m, "hh")
    if hour is not None and (hour != 24 or m.group("mm")):
        return _unparsed(m, "截止到24时以外的具体时刻，按日期的规则无法表示，请人工核对")
    return ByDate(month=_int(m, "m"), day=_int(m, "d"), year=_int(m, "y"))  # type: ignore[arg-type]


def _h_month_end(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return ByDate(month=_int(m, "m"), year=_int(m, "y"))  # type: ignore[arg-type]


_XUN_DAY = {"上旬": 10, "中旬": 20, "下旬": None}


def _h_month_xun(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    if m.group("suf"):
        return _unparsed(m, f"“{m.group('x')}前”有歧义：是该旬开始前还是结束前？")
    return ByDate(month=_int(m, "m"), day=_XUN_DAY[m.group("x")], year=_int(m, "y"))  # type: ignore[arg-type]


def _h_month_bare(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    suffix, year = m.group("suf"), _int(m, "y")
    month = _int(m, "m")
    assert month is not None
    if suffix in ("前", "之前", "以前"):
        return _unparsed(m, f"“{month}月前”有歧义：是{month}月开始前还是{month}月底前？请写明日期")
    if suffix:  # 内
        if year is None:
            return _unparsed(m, f"“{month}月内”有歧义：是在{month}月内还是{month}个月内？")
        return ByDate(month=month, year=year)
    if find:
        return None
    return ByDate(month=month, year=year)  # a time-limit cell "8月"/"8月份": during August


def _h_year_end(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return ByDate(month=12, year=_int(m, "y"))


def _h_mid_year(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    month = 12 if m.group("w") == "下半年" else 6
    return ByDate(month=month, year=_int(m, "y"))


def _h_quarter(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    q = _int(m, "q")
    assert q is not None
    suffix = m.group("suf")
    if not q or q > 4:
        return None
    if suffix == "前":
        return _unparsed(m, "“季度前”有歧义：是该季度开始前还是季度末前？")
    if not suffix:
        if "度" not in m.group(0):
            return None  # "一年四季" is not a deadline
        # "年中及三季度考核" names a quarter without saying "by"; only "三季度完成…" is a limit.
        if find and not s.startswith("完成", m.end()):
            return None
    return ByDate(month=3 * q, year=_int(m, "y"))


def _h_relative(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    n = _int(m, "n")
    assert n is not None
    unit = m.group("u")
    if unit == "年" and n >= 1000:  # "二〇二〇年内" is a year, not 2020 years
        return ByDate(month=12, year=n)
    if n < 1:
        return _unparsed(m, "期限为零，不是有效时限")
    return _count_rule(n, unit)


def _h_relative_before(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return _unparsed(m, "从之后的某个事件往前倒数（“…前”），只支持自事件起算的时限")


def _h_half(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    if m.group("u") == "年":
        return Months(6)
    return _unparsed(m, f"“半{m.group('u')}”没有法定的确切长度，请写明天数")


_EVENT_TAIL = re.compile(r"(?:的时间|时间|之日|日期|的)+$")


def _clean_event(raw: str | None) -> str | None:
    if raw is None:
        return None
    event = _EVENT_TAIL.sub("", raw.strip()).strip()
    return event or None


def _h_exceed(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    n = _int(m, "n")
    assert n is not None
    if n < 1:
        return _unparsed(m, "期限为零，不是有效时限")
    return _count_rule(n, m.group("u"), _clean_event(m.group("ev")))


def _h_day_only(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return _unparsed(m, "“N日前”没有写明月份（也可能指事件前N日），请写明月份或起算事件")


def _h_short_year(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return _unparsed(m, f"年份“{m.group('y')}年”不是四位数的年份（如2020年），无法确定是哪一年")


def _h_relative_month(m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    return _unparsed(m, "没有写明具体月份（当月、次月、月底随上下文而定），请写明")


# --------------------------------------------------------------------------- patterns
# Order breaks ties between equally long matches at the same position (earlier wins).

_PATTERNS: tuple[_Pattern, ...] = tuple(
    _Pattern(name, re.compile(regex), handler)
    for name, regex, handler in [
        (
            "recurring_after",
            rf"(?:每|按)(?:个)?(?P<p>个月|月|季度|季|半年|年度|年)(?:结束|终了|末)?(?:之后|以后|后)"
            rf"{_S}(?P<n>{_NUM}){_S}(?P<u>{_DAYS_UNIT}){_WITHIN}",
            _h_recurring_after,
        ),
        (
            "recurring_month_day",
            rf"每(?:个)?月(?:的)?{_S}(?P<d>{_DAY}){_S}[日号](?:{_BEFORE}|{_WITHIN})?(?!后)",
            _h_recurring_month_day,
        ),
        (
            "recurring_year_date",
            rf"每年(?:的)?{_S}(?P<m>{_MON}){_S}月(?:{_S}(?P<d>{_DAY}){_S}[日号]|份?(?:底|末))"
            rf"(?:{_BEFORE})?(?!后)",
            _h_recurring_year_date,
        ),
        (
            "recurring_plain",
            rf"每(?:个)?(?P<p>月|季度|季|半年|年度|年)"
            rf"(?:月底|月末|季度末|季末|年底|年末|末|底)?(?:{_BEFORE})?"
            rf"(?![度减扣加0-9{_CN}])",
            _h_recurring_plain,
        ),
        ("recurring_by", r"按(?P<p>月|季度|季)(?![度减扣加份])", _h_recurring_plain),
        (
            "period_unsupported",
            r"每(?:个)?(?:周|星期|日|天|旬|工作日)(?![减扣加])",
            _h_period_unsupported,
        ),
        (
            "date",
            rf"{_NB}(?P<pre>截至|截止到|截止至|截止)?{_S}(?:(?P<y>{_YEAR}){_S}年{_S})?"
            rf"(?P<m>{_MON}){_S}月{_S}(?P<d>{_DAY}){_S}[日号]"
            rf"(?:{_S}(?P<hh>[0-9]{{1,2}}|二十[一二三四]?|十[一二三四五六七八九]?|[一二三四五六七八九])[时点]"
            rf"(?:(?P<mm>[0-9]{{1,2}})分?)?)?"
            rf"(?P<suf>前后|之前|以前|前|为止|止|截止)?",
            _h_date,
        ),
        (
            "month_end",
            rf"{_NB}(?:(?P<y>{_YEAR}){_S}年{_S})?(?P<m>{_MON}){_S}月份?(?:底|末)(?:{_BEFORE})?",
            _h_month_end,
        ),
        (
            "month_xun",
            rf"{_NB}(?:(?P<y>{_YEAR}){_S}年{_S})?(?P<m>{_MON}){_S}月份?(?P<x>上旬|中旬|下旬)"
            rf"(?P<suf>{_BEFORE})?",
            _h_month_xun,
        ),
        (
            "month_bare",
            rf"{_NB}(?:(?P<y>{_YEAR}){_S}年{_S})?(?P<m>{_MON}){_S}月份?"
            rf"(?P<suf>{_BEFORE}|{_WITHIN})?(?![0-9{_CN}底末上中下])",
            _h_month_bare,
        ),
        (
            "year_end",
            rf"(?<![上去前明下每多近历往几数年{_CN}0-9])"
            rf"(?:(?P<y>{_YEAR}){_S}年?|(?:本|今|当)年?)?年(?:底|末)(?:{_BEFORE})?",
            _h_year_end,
        ),
        (
            "year_within",
            rf"(?<![上去前明下每多近历往几数年{_CN}0-9])"
            rf"(?:(?P<y>{_YEAR}){_S}年?|(?:本|今|当|全)年?)?年{_WITHIN}(?![容部外涵])",
            _h_year_end,
        ),
        (
            "mid_year",
            rf"(?<![多近历往几数每全当{_CN}0-9])(?:(?P<y>{_YEAR}){_S}年?|(?:本|今)年?)?"
            rf"(?P<w>年中|上半年|下半年)(?:{_BEFORE}|底|末|{_WITHIN})?(?![国央华共期心间])",
            _h_mid_year,
        ),
        (
            "quarter",
            rf"(?<![前后每个两{_CN}0-9])(?:(?P<y>{_YEAR}){_S}年{_S})?第?(?P<q>[一二三四1-4])季度?"
            r"(?P<suf>末前|末|底前|底|结束前|结束|以内|之内|内|前)?(?!后)",
            _h_quarter,
        ),
        (
            "relative",
            rf"(?<![0-9.．·{_CN}月第])(?P<n>{_NUM}){_S}"
            r"(?P<u>个工作日|工作日|个自然日|自然日|个月|个季度|季度|个小时|小时|个星期|星期|周|日|天|年)"
            rf"{_WITHIN}",
            _h_relative,
        ),
        (
            "relative_before",
            rf"(?<![0-9.．·{_CN}月第每])(?P<n>{_NUM}){_S}"
            rf"(?P<u>个工作日|工作日|个自然日|自然日|天|个月|个小时|小时){_BEFORE}(?!后)",
            _h_relative_before,
        ),
        ("half", rf"(?<![上下每前后{_CN}])半(?P<u>个月|月|年|个季度){_WITHIN}", _h_half),
        (
            "exceed",
            rf"超过(?P<ev>[^，,。；;：:、]{{0,30}}?){_S}(?P<n>{_NUM}){_S}(?P<u>{_COUNT_UNIT})"
            rf"(?![0-9{_CN}期])",
            _h_exceed,
        ),
        (
            "distance",
            rf"距(?:离)?(?P<ev>[^，,。；;：:、]{{1,30}}?)(?:已经|已)?(?:超过|逾|满){_S}"
            rf"(?P<n>{_NUM}){_S}(?P<u>{_COUNT_UNIT})(?![0-9{_CN}期])",
            _h_exceed,
        ),
        (
            "day_only",
            rf"(?<![0-9.．·{_CN}月第每])(?P<d>{_NUM}){_S}[日号]{_BEFORE}(?!后)",
            _h_day_only,
        ),
        (
            "relative_month",
            rf"(?<![0-9{_CN}每月个])(?:当月|本月|次月|下个月|下月|月)"
            rf"(?:月?(?:底|末)|{_S}{_DAY}{_S}[日号])(?:{_BEFORE})?",
            _h_relative_month,
        ),
        (
            # "20年9月15日前", "999年底前": without this the date after it would be read and the
            # year silently dropped (→ the plan year), a guess.
            "short_year",
            rf"(?<![0-9{_CN}])(?P<y>[0-9]{{1,3}}|[0-9]{{5,}}|[{_CN}]{{1,3}}){_S}年{_S}"
            rf"(?:{_MON}{_S}月|上半年|下半年|年中|年?[底末]|第?[一二三四1-4]季度)",
            _h_short_year,
        ),
    ]
)

_RELATIVE_KINDS = (WorkingDays, CalendarDays, Months, Hours)


# --------------------------------------------------------------------------- scanning


def _safe(handler: Handler, m: re.Match[str], s: str, find: bool) -> Rule | Unparsed | None:
    """Run a handler; impossible values ("2月30日", "十十") become Unparsed, never an exception."""
    try:
        return handler(m, s, find)
    except ValueError as exc:
        return Unparsed(m.group(0), f"日期或数字无效：{exc}")


def _scan(s: str) -> list[tuple[int, int, Rule | Unparsed]]:
    """Leftmost-longest, non-overlapping time limits in normalised text `s` (find mode)."""
    candidates: list[tuple[int, int, int, Rule | Unparsed | None]] = []
    for priority, pattern in enumerate(_PATTERNS):
        for m in pattern.regex.finditer(s):
            if m.end() == m.start():
                continue
            result = _safe(pattern.handler, m, s, True)
            candidates.append((m.start(), m.end(), priority, result))
    candidates.sort(key=lambda c: (c[0], -(c[1] - c[0]), c[2]))
    chosen: list[tuple[int, int, Rule | Unparsed]] = []
    taken_until = -1
    for start, end, _priority, result in candidates:
        if start < taken_until:
            continue
        taken_until = end
        if result is not None:  # None = "not a limit" but still consumes its span
            chosen.append((start, end, result))
    return chosen


_SENTENCE_END = re.compile(r"[。；;！？!?\n]")


def _sentences(paragraph: str) -> list[tuple[int, int]]:
    """(start, end) spans of sentences; the terminator stays with its sentence."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(paragraph):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(paragraph):
        spans.append((start, len(paragraph)))
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_CLAUSE_BREAK = re.compile(r"[，,：:、（）()“”\"‘’]")
_TRAIL_PREP = re.compile(r"(?:于|在|从)$")
_TRAIL_MODAL = re.compile(r"(?:应当|必须|务必|需要|原则上|一律|一般|须|应|需|要|均|并|可)$")
_TRAIL_EVENT = re.compile(r"(?:之日起|之日后|之日|之后|以后|起|后)$")
_LEAD = re.compile(r"^(?:自从|自|从|在|于|对|凡|由)")


def _event_before(norm: str, orig: str) -> str | None:
    """The subject/event phrase before a relative limit in the same sentence.

    "新出台的相关政策文件须于5个工作日内" → "新出台的相关政策文件"; "印发之后2小时内" → "印发";
    "自收到申请之日起15个工作日内" → "收到申请". Walks back over clauses that hold only
    connectors ("…，应在5日内").
    """
    end = len(norm)
    breaks = [m.start() for m in _CLAUSE_BREAK.finditer(norm)]
    bounds = [*breaks, end]
    starts = [0] + [b + 1 for b in breaks]
    for start, stop in reversed(list(zip(starts, bounds, strict=True))):
        a, b = _strip_span(norm, start, stop)
        piece = norm[a:b]
        for regex, times in (
            (_TRAIL_PREP, 1),
            (_TRAIL_MODAL, 2),
            (_TRAIL_PREP, 1),
            (_TRAIL_EVENT, 1),
        ):
            for _ in range(times):
                m = regex.search(piece)
                if m:
                    piece = piece[: m.start()]
                    b = a + len(piece)
        m = _LEAD.search(piece)
        if m:
            a += m.end()
        a, b = _strip_span(norm, a, b)
        if b > a:
            return orig[a:b]
    return None


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class FoundLimit:
    """One time limit found in a paragraph.

    `text` is the phrase as written, `sentence` the sentence holding it (split on 。；;),
    `event` the trigger of a relative limit (also stored on the rule), `start`/`end` offsets of
    `text` in the paragraph.
    """

    text: str
    sentence: str
    rule: Rule | Unparsed
    event: str | None = None
    start: int = 0
    end: int = 0


def find_time_limits(paragraph: str) -> list[FoundLimit]:
    """Every readable (or suspicious-but-ambiguous → Unparsed) time limit in `paragraph`.

    Numbers that are not time limits ("第6版", "26个国家试点领域", "12345", "2020年度",
    "5·15政务公开日", "0.2分", a plain date such as the issue date) are not reported.
    """
    norm = _normalise(paragraph)
    found: list[FoundLimit] = []
    for s_start, s_end in _sentences(paragraph):
        a, b = _strip_span(paragraph, s_start, s_end)
        if a == b:
            continue
        sentence = paragraph[a:b]
        for start, end, rule in _scan(norm[a:b]):
            text = sentence[start:end]
            event: str | None = None
            if isinstance(rule, Unparsed):
                rule = Unparsed(text, rule.reason)
            elif isinstance(rule, _RELATIVE_KINDS):
                event = rule.event
                if event is None:
                    event = _event_before(norm[a : a + start], sentence[:start])
                    if event is not None:
                        rule = replace(rule, event=event)
            found.append(FoundLimit(text, sentence, rule, event, a + start, a + end))
    return found


VAGUE_WORDS: tuple[str, ...] = (
    "及时", "持续", "常态化", "定期", "适时", "尽快", "第一时间", "限时", "实时", "长期",
)  # fmt: skip
_VAGUE = re.compile("|".join(VAGUE_WORDS))


def find_vague_limits(paragraph: str) -> list[str]:
    """Vague time words in `paragraph` ("及时", "持续", "常态化", "定期", "适时"…), each once, in
    order of first appearance. They mean "no readable deadline", which the importer reports."""
    seen: list[str] = []
    for m in _VAGUE.finditer(_normalise(paragraph)):
        if m.group(0) not in seen:
            seen.append(m.group(0))
    return seen


_LEAD_FILLER = re.compile(
    r"^(?:时限|期限|完成时限|时间)?[:：]?\s*(?:力争|争取|务必|须|应当|应|要|需)?(?:于|在)?"
)
_TRAIL_FILLER = re.compile(r"(?:完成|办结|报送|上报|提交)?[\s。；;，,.、!！]*$")


def parse_time_limit(text: str) -> Rule | Unparsed:
    """One time-limit phrase → a rule; anything unreadable or ambiguous → `Unparsed`.

    Accepts the bare forms a time-limit cell uses ("9月15日", "一季度", "8月份") as well as the
    forms found in running text, with light filler around them ("力争在年底前完成"). A phrase
    holding a full clause ("新出台的相关政策文件须于5个工作日内上传") is read if it contains
    exactly one time limit.
    """
    original = text
    norm = _normalise(text).strip()
    if not norm:
        return Unparsed(original, "时限为空")
    core = _TRAIL_FILLER.sub("", _LEAD_FILLER.sub("", norm, count=1), count=1)
    for pattern in _PATTERNS:
        m = pattern.regex.fullmatch(core)
        if m is None:
            continue
        result = _safe(pattern.handler, m, core, False)
        if result is not None:
            return Unparsed(original, result.reason) if isinstance(result, Unparsed) else result
    found = find_time_limits(text)
    if len(found) == 1:
        rule = found[0].rule
        return Unparsed(original, rule.reason) if isinstance(rule, Unparsed) else rule
    if len(found) > 1:
        listed = "、".join(f.text for f in found)
        return Unparsed(original, f"包含{len(found)}个时限（{listed}），请逐个给出")
    vague = find_vague_limits(text)
    if vague:
        return Unparsed(original, f"用语含糊（{'、'.join(vague)}），没有日期或天数")
    return Unparsed(original, "未识别出时限")
