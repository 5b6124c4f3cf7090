"""Properties of the State Council holiday notice parser (deadlines/notice.py).

Whatever text `duban calendar import-notice` is given — arbitrary characters, a real notice
with characters, lines or dates mangled — `parse_notice` returns a year-file dict or raises
`NoticeParseError` naming the source and, for a holiday line, its line number and text. What
it returns is always writable: real dates in the notice's year (or flagged `cross_year`, and
then only in a neighbouring year), rest periods in order, make-up days on weekends, and a
dumped year file that the calendar's own validation accepts.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deadlines.calendar import YearFile
from deadlines.notice import NoticeParseError, dump_year_file, parse_notice
from duban.yamlio import parse_yaml, validate_doc
from tests.deadlines.test_notice import NOTICE_2026

SETTINGS = settings(max_examples=200, deadline=None)
FICTIONAL_2027 = (Path(__file__).parent / "fixtures" / "notice-2027-FICTIONAL.txt").read_text(
    encoding="utf-8"
)
NOTICES = [NOTICE_2026, FICTIONAL_2027]
SOURCE = "notice.txt"

_PIECES = [
    *"0123456789一二三四五六七八九十两〇年月日至到—-~（）()、，,。；;：:共天周六日星期\n ",
    *["放假调休", "放假", "上班", "补休", "共3天", "至", "周日", "（周六）", "2026年", "12月31日"],
    *["1月1日", "2月30日", "十十", "三十十", "元旦：", "春节：", "一、", "鼓励"],
]
piece = st.sampled_from(_PIECES)


@st.composite
def mutated_notice(draw: st.DrawFn) -> str:
    """A real notice with a few characters, pieces or lines changed."""
    lines = draw(st.sampled_from(NOTICES)).splitlines()
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        op = draw(st.sampled_from(["delete", "insert", "replace", "dup", "drop"]))
        a = draw(st.integers(0, len(line)))
        b = min(len(line), a + draw(st.integers(0, 4)))
        if op == "delete":
            lines[i] = line[:a] + line[b:]
        elif op == "insert":
            lines[i] = line[:a] + draw(piece) + line[a:]
        elif op == "replace":
            lines[i] = line[:a] + "".join(draw(st.lists(piece, max_size=4))) + line[b:]
        elif op == "dup":
            lines.insert(i, line)
        elif len(lines) > 1:
            del lines[i]
    return "\n".join(lines)


def _check_result(data: dict, text: str) -> None:
    year = data["year"]
    assert isinstance(year, int) and 1949 < year < 2200
    assert data["holidays"]
    for h in data["holidays"]:
        start, end = h["rest"]["from"], h["rest"]["to"]
        days = [start, end, *h.get("work", [])]
        assert all(type(d) is date for d in days)
        assert start <= end
        if h.get("cross_year"):
            assert all(abs(d.year - year) <= 1 for d in days)
        else:
            assert all(d.year == year for d in days), h
        assert all(d.weekday() >= 5 for d in h.get("work", []))
        rest = {start + timedelta(days=k) for k in range((end - start).days + 1)}
        assert not rest & set(h.get("work", []))
    # what import-notice would write passes the calendar's own validation
    doc = parse_yaml(dump_year_file(data), f"{year}.yaml")
    validate_doc(YearFile, doc, context={"year": year})


def _check_error(exc: NoticeParseError, text: str) -> None:
    assert exc.source == SOURCE and str(exc).startswith(SOURCE)
    assert exc.reason.strip()
    if exc.line is not None:
        lines = text.splitlines()
        assert 1 <= exc.line <= len(lines)
        assert exc.text == lines[exc.line - 1].strip()
        assert f"{SOURCE}:{exc.line}" in str(exc)


def _parse_or_error(text: str, year: int | None) -> None:
    try:
        data = parse_notice(text, year=year, source_name=SOURCE)
    except NoticeParseError as exc:
        _check_error(exc, text)
    else:
        _check_result(data, text)


@SETTINGS
@given(text=mutated_notice(), year=st.sampled_from([None, 2026, 2027]))
def test_a_mangled_notice_gives_a_year_file_or_an_error_with_its_line(text, year):
    _parse_or_error(text, year)


@SETTINGS
@given(
    text=st.one_of(
        st.text(),
        st.lists(piece, max_size=40).map("".join),
        st.lists(piece, max_size=30).map(
            lambda p: "国务院办公厅关于2026年部分节假日安排的通知\n一、元旦：" + "".join(p)
        ),
    ),
    year=st.sampled_from([None, 2026]),
)
def test_any_text_gives_a_year_file_or_a_notice_error_never_another_exception(text, year):
    _parse_or_error(text, year)


def _weekday(d: date) -> str:
    return "周" + "一二三四五六日"[d.weekday()]


@SETTINGS
@given(
    month=st.integers(0, 13),
    day=st.integers(0, 32),
    length=st.integers(1, 9),
    stated=st.integers(0, 10),
    annotate=st.booleans(),
)
def test_a_generated_holiday_line_is_read_exactly_or_rejected(month, day, length, stated,
                                                              annotate):
    """'元旦：M月D日至E日放假调休，共N天。': the dates as written, or an error on line 2."""
    try:
        start = date(2026, month, day)
    except ValueError:
        start = None
    end = start + timedelta(days=length - 1) if start else None
    if end is not None and end.year != 2026:  # "12月30日至1月2日" in a 2026 notice: from 2025
        start, end = start.replace(year=2025), end.replace(year=2026)
    end_text = f"{day + length - 1}日"
    if end is not None and end.month != month:
        end_text = f"{end.month}月{end.day}日"
    note = f"（{_weekday(start)}）" if annotate and start else ""
    line = f"一、元旦：{month}月{day}日{note}至{end_text}放假调休，共{stated}天。"
    text = f"国务院办公厅关于2026年部分节假日安排的通知\n{line}\n"
    try:
        data = parse_notice(text, source_name=SOURCE)
    except NoticeParseError as exc:
        _check_error(exc, text)
        assert exc.line == 2
        assert start is None or stated != length, exc
        return
    assert start is not None and stated == length
    (h,) = data["holidays"]
    assert (h["rest"]["from"], h["rest"]["to"]) == (start, end)
    assert h.get("cross_year", False) == (start.year != 2026)


@SETTINGS
@given(year=st.integers(2010, 2100), offset=st.integers(-60, 60))
def test_a_make_up_day_far_from_the_notice_year_is_refused(year, offset):
    """A typo in a year ('2062年1月3日上班' in a 2026 notice) is an error, not a cross-year day."""
    work_year = year + offset
    assume(work_year > 1900)
    saturday = date(work_year, 1, 1)
    saturday += timedelta(days=(5 - saturday.weekday()) % 7)
    text = (
        f"国务院办公厅关于{year}年部分节假日安排的通知\n"
        f"一、元旦：1月1日放假1天。{saturday.year}年{saturday.month}月{saturday.day}日上班。\n"
    )
    try:
        data = parse_notice(text, source_name=SOURCE)
    except NoticeParseError as exc:
        _check_error(exc, text)
        return
    assert abs(saturday.year - year) <= 1
    _check_result(data, text)


_CN_DIGITS = "一二三四五六七八九十两"
_CANONICAL = {
    **{d: i for i, d in enumerate("一二三四五六七八九", 1)},
    **{"十" + d: 10 + i for i, d in enumerate("一二三四五六七八九", 1)},
    "十": 10, "二十": 20, "三十": 30, "三十一": 31,
    **{"二十" + d: 20 + i for i, d in enumerate("一二三四五六七八九", 1)},
}  # fmt: skip


@SETTINGS
@given(
    month=st.text(_CN_DIGITS, min_size=1, max_size=3),
    day=st.text(_CN_DIGITS, min_size=1, max_size=3),
)
def test_chinese_numerals_in_a_holiday_line_are_read_or_rejected(month, day):
    """'十十月三十十日' is an error on its line; '十月一日' is 1 October."""
    text = f"国务院办公厅关于2026年部分节假日安排的通知\n一、国庆节：{month}月{day}日放假1天。\n"
    try:
        data = parse_notice(text, source_name=SOURCE)
    except NoticeParseError as exc:
        _check_error(exc, text)
        assert exc.line == 2
        return
    _check_result(data, text)
    (h,) = data["holidays"]
    if month in _CANONICAL and day in _CANONICAL:
        assert h["rest"]["from"] == date(2026, _CANONICAL[month], _CANONICAL[day])
