"""Parse the State Council's yearly holiday notice into a calendar year file.

Every autumn 国务院办公厅 publishes 《国务院办公厅关于YYYY年部分节假日安排的通知》.  Its
holiday lines follow one pattern, e.g.::

    二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。
    2月14日（周六）、2月28日（周六）上班。

:func:`parse_notice` turns such a text into the dict of ``config/calendars/cn/<year>.yaml``
(see CONTRACTS.md) and :func:`dump_year_file` writes that dict as hand-readable YAML.

The parser is deliberately strict: a holiday line it does not fully understand raises
:class:`NoticeParseError` naming the source, line and text — it never guesses and never
skips a holiday line.  Checks that catch typos in a notice or in a transcription:

* the stated length (``共N天`` / ``放假N天``) must equal the length of the date range;
* a weekday annotation (``（周六）``, ``（星期日）``) must match the date;
* a make-up working day (``上班``) must be a Saturday or Sunday and not a rest day.

Non-holiday lines (title, document number, addressees, preamble, closing, signature) are
ignored.  Only the modern notice style (2010 onwards) is understood; the older style with
"其中……调至……" sentences is rejected line by line, with the reason.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "HOLIDAY_NAMES",
    "NoticeParseError",
    "dump_year_file",
    "notice_title",
    "parse_notice",
]

_WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class NoticeParseError(ValueError):
    """A notice (or one of its holiday lines) could not be understood."""

    def __init__(self, source: str, line: int | None, text: str, reason: str):
        self.source = source
        self.line = line
        self.text = text
        self.reason = reason
        where = f"{source}:{line}" if line else source
        shown = f": 「{text}」" if text else ""
        super().__init__(f"{where}: {reason}{shown}")


def notice_title(year: int) -> str:
    """The official title of the yearly notice."""
    return f"国务院办公厅关于{year}年部分节假日安排的通知"


# Names as printed in notices → the canonical names used in the year files.
HOLIDAY_NAMES: dict[str, str] = {
    "元旦": "元旦",
    "新年": "元旦",
    "春节": "春节",
    "清明": "清明节",
    "清明节": "清明节",
    "劳动节": "劳动节",
    "五一": "劳动节",
    "五一劳动节": "劳动节",
    "国际劳动节": "劳动节",
    "五一国际劳动节": "劳动节",
    "端午": "端午节",
    "端午节": "端午节",
    "中秋": "中秋节",
    "中秋节": "中秋节",
    "国庆": "国庆节",
    "国庆节": "国庆节",
    "十一": "国庆节",
    "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日": (
        "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日"
    ),
}
_QUOTES = "“”\"'‘’「」『』《》〈〉"

# --------------------------------------------------------------------------- numerals

_CN_DIGITS = {
    "〇": 0,
    "○": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def _to_int(s: str) -> int:
    """'15' → 15, '十五' → 15, '二十八' → 28, '二〇二六' → 2026.

    Raises ValueError for a malformed numeral ("十十", "三十十"), never KeyError.
    """
    if s.isdecimal():
        return int(s)
    if not s or any(ch not in _CN_DIGITS and ch != "十" for ch in s):
        raise ValueError(f"「{s}」 is not a number")
    if "十" not in s:  # positional: 二〇二六
        value = 0
        for ch in s:
            value = value * 10 + _CN_DIGITS[ch]
        return value
    tens, _, ones = s.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        raise ValueError(f"「{s}」 is not a number")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


_NUM = r"(?:\d{1,2}|[一二三四五六七八九十两]{1,3})"
_YNUM = r"(?:\d{4}|[〇○零一二三四五六七八九]{4})"
_DATE_RE = re.compile(
    rf"(?:(?P<y>{_YNUM})年)?(?:(?P<m>{_NUM})月)?(?P<d>{_NUM})日(?:\((?P<p>[^()]*)\))?"
)
_FULL_DATE_RE = re.compile(rf"^(?P<y>{_YNUM})年(?P<m>{_NUM})月(?P<d>{_NUM})日$")
_TITLE_RE = re.compile(rf"关于(?P<y>{_YNUM})年部分节假日安排的通知")
_DOC_RE = re.compile(r"国办发明电[〔\[(](?P<y>\d{4})[〕\])](?P<n>\d+)号")
_NUMBERING_RE = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十\d]+\)|\d+[、.]|——|-)"
)
_HEADING_RE = re.compile(r"^(?P<label>[^:,。;]{1,40}):(?P<body>.*)$")
_WEEKDAY_RE = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天])")
_WEEKDAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}

_RANGE = r"(?:至|到|—|–|-|~)"
_REST_PATTERNS = [
    # 1月1日至3日放假调休,共3天 / 4月5日放假,共1天 / 9月27日放假 / 9月3日至5日调休放假,共3天
    ("range", re.compile(rf"^D(?:{_RANGE}D)?(?:调休)?放假(?:调休|公休)?(?:,共(?P<n>{_NUM})天)?$")),
    # 1月1日放假1天 / 1月1日(周三)放假1天,不调休
    ("range", re.compile(rf"^D放假(?P<n>{_NUM})天(?:,不调休)?$")),
    # 1月1日放假,与周末连休  (the weekend is rest anyway: only the stated day is listed)
    ("range", re.compile(r"^D放假,与周[末六日]连休$")),
    # 4月5日放假,4月7日(星期一)补休  → rest from the first to the 补休 day
    ("buxiu", re.compile(r"^D放假,D补休$")),
]
_WORK_RE = re.compile(r"^D(?:[、,和及]D)*上班$")
_NONBINDING_PREFIXES = ("鼓励",)  # "鼓励各单位……安排职工在除夕休息": advice, not a schedule


# --------------------------------------------------------------------------- parsing


@dataclass
class _Tok:
    y: int | None
    m: int | None
    d: int
    weekday: int | None  # from an annotation like （周六）
    raw: str


@dataclass
class _Line:
    no: int
    text: str


def _normalise(line: str) -> str:
    """Full-width → ASCII punctuation/digits (NFKC) and drop all whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", line))


def _canonical_name(label: str) -> str | None:
    """'中秋节、国庆节' → '中秋节、国庆节'; '“五一”' → '劳动节'; None if not a holiday label."""
    parts = [p.strip(_QUOTES) for p in re.split(r"[、和及]", label)]
    names = []
    for p in parts:
        key = p.strip(_QUOTES)
        if key in HOLIDAY_NAMES:
            names.append(HOLIDAY_NAMES[key])
        else:
            stripped = re.sub(f"[{_QUOTES}]", "", key)
            if stripped in HOLIDAY_NAMES:
                names.append(HOLIDAY_NAMES[stripped])
            elif stripped.endswith(("节", "纪念日")) and 2 <= len(stripped) <= 40:
                names.append(stripped)  # a holiday the table does not know yet
            else:
                return None
    return "、".join(names)


class _Parser:
    def __init__(self, text: str, year: int | None, source_name: str):
        self.source = source_name
        self.raw_lines = text.splitlines()
        self.lines = [_Line(i + 1, _normalise(t)) for i, t in enumerate(self.raw_lines)]
        self.year_arg = year

    def fail(self, line: _Line | None, reason: str) -> NoticeParseError:
        if line is None:
            return NoticeParseError(self.source, None, "", reason)
        return NoticeParseError(self.source, line.no, self.raw_lines[line.no - 1].strip(), reason)

    # ------------------------------------------------------------ whole document

    def parse(self) -> dict[str, Any]:
        year = self._year()
        source: dict[str, Any] = {"title": notice_title(year)}
        for ln in self.lines:
            m = _DOC_RE.search(ln.text)
            if m:
                source["document"] = f"国办发明电〔{m['y']}〕{m['n']}号"
                break
        for ln in reversed(self.lines):
            m = _FULL_DATE_RE.match(ln.text)
            if m:
                try:
                    source["published"] = date(_to_int(m["y"]), _to_int(m["m"]), _to_int(m["d"]))
                except ValueError as exc:
                    raise self.fail(ln, f"signature date is not a real date ({exc})") from exc
                break

        holidays: list[dict[str, Any]] = []
        rest_seen: dict[date, tuple[str, int]] = {}
        work_seen: dict[date, tuple[str, int]] = {}
        for ln in self._logical_lines():
            entry = self._holiday_line(ln, year)
            if entry is None:
                continue
            rest_days = _days(entry["rest"]["from"], entry["rest"]["to"])
            for d in rest_days:
                if d in rest_seen:
                    name, no = rest_seen[d]
                    raise self.fail(ln, f"{d} is already a rest day of {name} (line {no})")
                if d in work_seen:
                    name, no = work_seen[d]
                    raise self.fail(
                        ln, f"{d} is a working day of {name} (line {no}) and a rest day here"
                    )
                rest_seen[d] = (entry["name"], ln.no)
            for d in entry.get("work", []):
                if d in rest_seen:
                    name, no = rest_seen[d]
                    raise self.fail(
                        ln, f"make-up working day {d} is a rest day of {name} (line {no})"
                    )
                work_seen[d] = (entry["name"], ln.no)
            holidays.append(entry)
        if not holidays:
            raise self.fail(
                None,
                "no holiday lines found (expected lines like '一、元旦：1月1日至3日放假调休，共3天。')",
            )
        return {"year": year, "source": source, "holidays": holidays}

    def _logical_lines(self) -> list[_Line]:
        """Join a bare heading ("一、元旦：") with the line that carries its dates."""
        out: list[_Line] = []
        pending: _Line | None = None
        for ln in self.lines:
            if not ln.text:
                continue
            if pending is not None:
                out.append(_Line(pending.no, pending.text + ln.text))
                pending = None
                continue
            numbered = _NUMBERING_RE.match(ln.text)
            rest_text = ln.text[numbered.end() :] if numbered else ln.text
            heading = _HEADING_RE.match(rest_text)
            if heading and not heading["body"] and _canonical_name(heading["label"]):
                pending = ln
            else:
                out.append(ln)
        if pending is not None:
            out.append(pending)
        return out

    def _year(self) -> int:
        joined = ""
        starts: list[tuple[int, _Line]] = []
        for ln in self.lines:
            starts.append((len(joined), ln))
            joined += ln.text
        m = _TITLE_RE.search(joined)
        title_year = _to_int(m["y"]) if m else None
        title_line = None
        if m:
            title_line = next(ln for pos, ln in reversed(starts) if pos <= m.start())
        if title_year is not None and self.year_arg is not None and title_year != self.year_arg:
            raise self.fail(
                title_line, f"the title says {title_year} but the year {self.year_arg} was given"
            )
        year = title_year if title_year is not None else self.year_arg
        if year is None:
            raise self.fail(
                None,
                "cannot tell which year the notice is for: no title line "
                "'国务院办公厅关于YYYY年部分节假日安排的通知' and no year given",
            )
        if not 1949 < year < 2200:
            raise self.fail(title_line, f"implausible notice year {year}")
        return year

    # ------------------------------------------------------------ one holiday line

    def _holiday_line(self, ln: _Line, year: int) -> dict[str, Any] | None:
        text = ln.text
        numbered = _NUMBERING_RE.match(text)
        rest_text = text[numbered.end() :] if numbered else text
        heading = _HEADING_RE.match(rest_text)
        name = _canonical_name(heading["label"]) if heading else None
        if name is None:
            if (
                numbered
                and _DATE_RE.search(rest_text)
                and ("放假" in rest_text or "上班" in rest_text)
            ):
                raise self.fail(
                    ln,
                    "numbered item gives dates but no holiday heading like '元旦：' — "
                    "cannot tell which holiday it is",
                )
            return None
        assert heading is not None
        body = heading["body"]
        sentences = [s for s in re.split(r"[。;]", body) if s]
        if not sentences:
            raise self.fail(ln, f"holiday line for {name} has no dates")

        toks: list[_Tok] = []
        clauses: list[tuple[str, str, list[int]]] = []  # (kind, shape, token indexes)
        for sentence in sentences:
            if sentence.startswith(_NONBINDING_PREFIXES):
                continue
            shape, idx = self._shape(ln, sentence, toks)
            clauses.extend(self._classify(ln, sentence, shape, idx))

        rests = [c for c in clauses if c[0] in ("range", "buxiu")]
        if not rests:
            raise self.fail(ln, f"no rest days (…放假) found for {name}")
        if len(rests) > 1:
            raise self.fail(ln, f"more than one rest period given for {name}")
        kind, shape, idx = rests[0]

        self._inherit(toks)
        first = toks[idx[0]]
        last = toks[idx[-1]]
        to_d = self._resolve_plain(ln, last, year) if len(idx) > 1 else None
        from_d = self._resolve_plain(ln, first, year)
        if to_d is None:
            to_d = from_d
        if from_d > to_d and first.y is None and first.m == 12 and to_d.month == 1:
            from_d = self._make(ln, first, year - 1)  # "12月31日至1月2日": starts last year
        if to_d < from_d:
            raise self.fail(ln, f"the rest period ends ({to_d}) before it starts ({from_d})")
        self._check_near_year(ln, from_d, year)
        self._check_near_year(ln, to_d, year)
        n_days = (to_d - from_d).days + 1
        if kind == "buxiu" and not 1 < n_days <= 4:
            raise self.fail(ln, f"补休 day {to_d} is not within three days after {from_d}")
        m = re.search(rf"(?:共|放假)(?P<n>{_NUM})天", shape)
        if m:
            try:
                stated = _to_int(m["n"])
            except ValueError as exc:
                raise self.fail(ln, f"the day count 「{m.group(0)}」 is not a number") from exc
            if stated != n_days:
                raise self.fail(
                    ln,
                    f"day count mismatch: the notice says 共{stated}天 but "
                    f"{from_d}–{to_d} is {n_days} days",
                )
        rest_days = set(_days(from_d, to_d))
        self._check_weekday(ln, first, from_d)
        self._check_weekday(ln, last, to_d)

        work: list[date] = []
        for kind2, _shape2, idx2 in clauses:
            if kind2 != "work":
                continue
            for i in idx2:
                tok = toks[i]
                d = self._resolve_near(ln, tok, year, from_d, to_d)
                self._check_near_year(ln, d, year)
                self._check_weekday(ln, tok, d)
                if d.weekday() < 5:
                    raise self.fail(
                        ln,
                        f"make-up working day {d} is a {_WEEKDAY_ZH[d.weekday()]}, "
                        "not a Saturday or Sunday",
                    )
                if d in rest_days:
                    raise self.fail(ln, f"{d} is listed both as rest day and as working day")
                if d in work:
                    raise self.fail(ln, f"make-up working day {d} is listed twice")
                work.append(d)

        entry: dict[str, Any] = {"name": name, "rest": {"from": from_d, "to": to_d}}
        if work:
            entry["work"] = sorted(work)
        if any(d.year != year for d in [from_d, to_d, *work]):
            entry["cross_year"] = True
        return entry

    def _shape(self, ln: _Line, sentence: str, toks: list[_Tok]) -> tuple[str, list[int]]:
        """Replace each date by 'D'; collect the date tokens."""
        out: list[str] = []
        idx: list[int] = []
        pos = 0
        for m in _DATE_RE.finditer(sentence):
            out.append(sentence[pos : m.start()])
            out.append("D")
            pos = m.end()
            weekday = None
            if m["p"] is not None:
                w = _WEEKDAY_RE.findall(m["p"])
                if len(set(w)) > 1:
                    raise self.fail(ln, f"two different weekdays in 「{m.group(0)}」")
                weekday = _WEEKDAY_INDEX[w[0]] if w else None
            try:
                tok = _Tok(
                    y=_to_int(m["y"]) if m["y"] else None,
                    m=_to_int(m["m"]) if m["m"] else None,
                    d=_to_int(m["d"]),
                    weekday=weekday,
                    raw=m.group(0),
                )
            except ValueError as exc:
                raise self.fail(ln, f"「{m.group(0)}」 is not a date: {exc}") from exc
            toks.append(tok)
            idx.append(len(toks) - 1)
        out.append(sentence[pos:])
        shape = "".join(out)
        # Annotations not attached to a date, e.g. "（即农历除夕至正月初六）": no schedule in them.
        shape = re.sub(r"\([^()D]*\)", "", shape)
        return shape, idx

    def _classify(
        self, ln: _Line, sentence: str, shape: str, idx: list[int]
    ) -> list[tuple[str, str, list[int]]]:
        for kind, rx in _REST_PATTERNS:
            if rx.match(shape):
                return [(kind, shape, idx)]
        if _WORK_RE.match(shape):
            return [("work", shape, idx)]
        # "…放假调休,共7天,9月20日(周日)上班": rest and work in one sentence.
        for cut in [i for i, ch in enumerate(shape) if ch == ","]:
            left, right = shape[:cut], shape[cut + 1 :]
            if _WORK_RE.match(right):
                n_left = left.count("D")
                for kind, rx in _REST_PATTERNS:
                    if rx.match(left):
                        return [(kind, left, idx[:n_left]), ("work", right, idx[n_left:])]
        raise self.fail(ln, f"cannot understand 「{sentence}」")

    @staticmethod
    def _inherit(toks: list[_Tok]) -> None:
        """'1月1日至3日': a day without month takes month (and year) of the date before it."""
        prev: _Tok | None = None
        for t in toks:
            if t.m is None and prev is not None:
                t.m = prev.m
                if t.y is None:
                    t.y = prev.y
            prev = t

    def _make(self, ln: _Line, tok: _Tok, year: int) -> date:
        if tok.m is None:
            raise self.fail(ln, f"「{tok.raw}」 has no month")
        try:
            return date(year, tok.m, tok.d)
        except ValueError as exc:
            raise self.fail(ln, f"「{tok.raw}」 is not a real date in {year} ({exc})") from exc

    def _resolve_plain(self, ln: _Line, tok: _Tok, year: int) -> date:
        return self._make(ln, tok, tok.y if tok.y is not None else year)

    def _resolve_near(self, ln: _Line, tok: _Tok, year: int, start: date, end: date) -> date:
        """A make-up day without a year belongs to the year that puts it nearest the holiday.

        Notices write "12月31日（星期六）上班" for the day before a 1 January holiday; the
        weekday annotation, when present, is checked afterwards.
        """
        if tok.y is not None:
            return self._make(ln, tok, tok.y)
        best: date | None = None
        for y in (year, year - 1):
            try:
                d = date(y, tok.m or 0, tok.d)
            except ValueError:
                continue
            dist = min(abs((d - start).days), abs((d - end).days))
            if best is None or dist < min(abs((best - start).days), abs((best - end).days)):
                best = d
        if best is None:
            return self._make(ln, tok, year)  # raises with the reason
        return best

    def _check_near_year(self, ln: _Line, d: date, year: int) -> None:
        """A notice reaches at most into the neighbouring year ("12月31日至1月2日")."""
        if abs(d.year - year) > 1:
            raise self.fail(ln, f"{d} is neither in {year} nor in a neighbouring year")

    def _check_weekday(self, ln: _Line, tok: _Tok, d: date) -> None:
        if tok.weekday is not None and tok.weekday != d.weekday():
            raise self.fail(
                ln,
                f"{d} is a {_WEEKDAY_ZH[d.weekday()]} but the notice says "
                f"{_WEEKDAY_ZH[tok.weekday]} (「{tok.raw}」)",
            )


def _days(a: date, b: date) -> list[date]:
    return [date.fromordinal(o) for o in range(a.toordinal(), b.toordinal() + 1)]


def parse_notice(
    text: str, *, year: int | None = None, source_name: str = "<text>"
) -> dict[str, Any]:
    """Parse a 国务院办公厅关于YYYY年部分节假日安排的通知 text into a year-file dict.

    The year comes from the title line, or from ``year`` when the text has no title (both
    given and different → error).  ``source.document`` and ``source.published`` are filled
    from the document-number line and the signature date when the text has them.
    Raises :class:`NoticeParseError` for any holiday line it cannot fully understand.
    """
    return _Parser(text, year, source_name).parse()


# --------------------------------------------------------------------------- YAML output

_SOURCE_KEYS = ("title", "document", "published", "url", "note")
_ENTRY_KEYS = ("name", "rest", "work", "cross_year", "note")
_FILE_KEYS = ("year", "source", "sources", "provisional", "holidays")


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | date):
        return str(v) if not isinstance(v, date) else v.isoformat()
    if isinstance(v, str):
        import yaml  # local: only the writer needs it

        try:
            plain_ok = yaml.safe_load(f"k: {v}") == {"k": v} and yaml.safe_load(f"[{v}]") == [v]
        except yaml.YAMLError:
            plain_ok = False
        return v if plain_ok and v.strip() == v and v else json.dumps(v, ensure_ascii=False)
    raise TypeError(f"cannot write {type(v).__name__} value {v!r} to a year file")


def _check_keys(d: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = set(d) - set(allowed)
    if unknown:
        raise ValueError(f"unknown {what} key(s): {', '.join(sorted(unknown))}")


def _source_lines(src: dict[str, Any], indent: str, first: str) -> list[str]:
    _check_keys(src, _SOURCE_KEYS, "source")
    out = []
    lead = first
    for k in _SOURCE_KEYS:
        if src.get(k) is not None:
            out.append(f"{lead}{k}: {_scalar(src[k])}")
            lead = indent
    return out


def dump_year_file(data: dict[str, Any]) -> str:
    """YAML text of a year file, starting with a comment line naming its notice(s)."""
    _check_keys(data, _FILE_KEYS, "year-file")
    sources = ([data["source"]] if data.get("source") else []) + list(data.get("sources") or [])
    if not sources:
        raise ValueError("a year file needs at least one source")
    lines = ["# " + "；".join(s["title"] for s in sources), f"year: {int(data['year'])}"]
    if data.get("source"):
        lines.append("source:")
        lines += _source_lines(data["source"], "  ", "  ")
    if data.get("sources"):
        lines.append("sources:")
        for src in data["sources"]:
            lines += _source_lines(src, "    ", "  - ")
    if data.get("provisional"):
        lines.append("provisional: true")
    lines.append("holidays:")
    for h in data["holidays"]:
        _check_keys(h, _ENTRY_KEYS, "holiday entry")
        lines.append(f"  - name: {_scalar(h['name'])}")
        if h.get("rest"):
            r = h["rest"]
            lines.append(f"    rest: {{from: {_scalar(r['from'])}, to: {_scalar(r['to'])}}}")
        if h.get("work"):
            lines.append("    work: [" + ", ".join(_scalar(d) for d in h["work"]) + "]")
        if h.get("cross_year"):
            lines.append("    cross_year: true")
        if h.get("note"):
            lines.append(f"    note: {_scalar(h['note'])}")
    return "\n".join(lines) + "\n"
