"""Properties of the time-limit phrase parser (deadlines/phrases.py).

Phrases are generated from a grammar of the forms plans really use ("9月15日前", "8月底前",
"N个工作日内", "每月", "每季度", "印发之后2小时内"), with numbers written in Arabic,
full-width or Chinese numerals and drawn from ranges that include impossible values
("2月30日前", "13月底前", "0个工作日内"). Each phrase must parse to exactly the rule it
states or come back `Unparsed` with a reason — never an exception and never another date.
"""

from __future__ import annotations

import calendar

from hypothesis import given, settings
from hypothesis import strategies as st

from deadlines.phrases import find_time_limits, parse_time_limit
from deadlines.rules import (
    EVERY_VALUES,
    ByDate,
    CalendarDays,
    Hours,
    Months,
    Recurring,
    Unparsed,
    WorkingDays,
    describe,
    rule_from_dict,
    rule_to_dict,
)

SETTINGS = settings(max_examples=200, deadline=None)

_ONES = "零一二三四五六七八九"


def cn_count(n: int) -> str:
    """0..99 as written in documents: 十五, 二十, 三十一."""
    if n < 10:
        return _ONES[n]
    if n < 20:
        return "十" + (_ONES[n - 10] if n > 10 else "")
    return _ONES[n // 10] + "十" + (_ONES[n % 10] if n % 10 else "")


def cn_year(y: int) -> str:
    """2020 → 二〇二〇 (years are written digit by digit)."""
    return "".join("〇一二三四五六七八九"[int(c)] for c in f"{y:04d}")


def fullwidth(n: int) -> str:
    return "".join(chr(0xFF10 + int(c)) for c in str(n))


@st.composite
def numeral(draw: st.DrawFn, n: int) -> str:
    """``n`` in one of the ways a plan writes it (Chinese only below 100)."""
    forms = [str, fullwidth] + ([cn_count] if n < 100 else [])
    return draw(st.sampled_from(forms))(n)


def _real_day(month: int, day: int, year: int = 2000) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def _rejected(result: object) -> bool:
    return isinstance(result, Unparsed) and bool(result.reason.strip())


# --------------------------------------------------------------------------- fixed dates


@SETTINGS
@given(
    month=st.integers(0, 14),
    day=st.integers(0, 35),
    suffix=st.sampled_from(["前", "之前", "以前", "号前", ""]),
    data=st.data(),
)
def test_month_day_phrase_is_that_date_or_rejected_with_a_reason(month, day, suffix, data):
    day_word = "" if suffix == "号前" else "日"
    phrase = f"{data.draw(numeral(month))}月{data.draw(numeral(day))}{day_word}{suffix}"
    result = parse_time_limit(phrase)
    if _real_day(month, day):
        assert result == ByDate(month, day), phrase
    else:
        assert _rejected(result), (phrase, result)


@SETTINGS
@given(
    year=st.integers(1850, 2250),
    month=st.integers(0, 13),
    day=st.integers(0, 32),
    chinese=st.booleans(),
)
def test_dated_phrase_keeps_its_year_or_is_rejected(year, month, day, chinese):
    y = cn_year(year) if chinese else str(year)
    phrase = f"{y}年{month}月{day}日前"
    result = parse_time_limit(phrase)
    if 1900 <= year <= 2200 and _real_day(month, day, year):
        assert result == ByDate(month, day, year=year), phrase
    else:  # 2021年2月29日, 13月, 1850年: never a date in some other year or month
        assert _rejected(result), (phrase, result)


@SETTINGS
@given(
    year=st.one_of(st.integers(0, 999), st.integers(10000, 99999)),
    rest=st.sampled_from(["9月15日前", "12月31日前", "8月底前", "年底前", "上半年", "第三季度末"]),
    chinese=st.booleans(),
)
def test_a_year_that_is_not_four_digits_is_never_dropped_silently(year, rest, chinese):
    y = cn_count(year) if chinese and year < 100 else str(year)
    phrase = f"{y}年{rest}"
    result = parse_time_limit(phrase)
    assert _rejected(result), (phrase, result)  # not the plan year's date: nobody said which


@SETTINGS
@given(
    month=st.integers(0, 14),
    tail=st.sampled_from(["底前", "底", "末", "末前", "份底前", "份底"]),
    data=st.data(),
)
def test_month_end_phrase_is_that_month_or_rejected(month, tail, data):
    phrase = f"{data.draw(numeral(month))}月{tail}"
    result = parse_time_limit(phrase)
    if 1 <= month <= 12:
        assert result == ByDate(month), phrase
    else:
        assert _rejected(result), (phrase, result)


@SETTINGS
@given(quarter=st.integers(0, 6), tail=st.sampled_from(["季度末", "季度", "季度末前"]),
       chinese=st.booleans(), ordinal=st.booleans())
def test_quarter_phrase_is_the_quarter_end_or_not_a_date(quarter, tail, chinese, ordinal):
    phrase = ("第" if ordinal else "") + (cn_count(quarter) if chinese else str(quarter)) + tail
    result = parse_time_limit(phrase)
    if 1 <= quarter <= 4:
        assert result == ByDate(3 * quarter), phrase
    else:
        assert _rejected(result), (phrase, result)


# --------------------------------------------------------------------------- relative limits

RELATIVE_UNITS = [
    ("个工作日", WorkingDays),
    ("工作日", WorkingDays),
    ("个自然日", CalendarDays),
    ("日", CalendarDays),
    ("天", CalendarDays),
    ("个月", Months),
    ("小时", Hours),
    ("个小时", Hours),
]


@SETTINGS
@given(
    n=st.integers(0, 999),
    unit=st.sampled_from(RELATIVE_UNITS),
    within=st.sampled_from(["内", "以内", "之内"]),
    data=st.data(),
)
def test_relative_phrase_counts_exactly_n_or_rejects_zero(n, unit, within, data):
    word, kind = unit
    phrase = f"{data.draw(numeral(n))}{word}{within}"
    result = parse_time_limit(phrase)
    if n >= 1:
        assert result == kind(n), phrase
    else:
        assert _rejected(result) and "零" in result.reason, (phrase, result)


@SETTINGS
@given(
    event=st.sampled_from(["印发", "收到申请", "文件公布", "政策出台"]),
    link=st.sampled_from(["之后", "后", "之日起"]),
    n=st.integers(0, 200),
    unit=st.sampled_from(RELATIVE_UNITS),
)
def test_event_phrase_names_its_event(event, link, n, unit):
    word, kind = unit
    phrase = f"{event}{link}{n}{word}内"
    result = parse_time_limit(phrase)
    if n >= 1:
        assert result == kind(n, event=event), phrase
    else:
        assert _rejected(result), (phrase, result)


# --------------------------------------------------------------------------- recurring


@SETTINGS
@given(
    word=st.sampled_from(
        [("每月", "month"), ("每个月", "month"), ("按月", "month"), ("每季度", "quarter"),
         ("按季度", "quarter"), ("每半年", "half_year"), ("每年", "year")]
    )
)
def test_plain_recurring_phrase(word):
    phrase, every = word
    assert parse_time_limit(phrase) == Recurring(every)


@SETTINGS
@given(day=st.integers(0, 40), suffix=st.sampled_from(["日前", "号前", "日"]), data=st.data())
def test_monthly_day_phrase(day, suffix, data):
    phrase = f"每月{data.draw(numeral(day))}{suffix}"
    result = parse_time_limit(phrase)
    if 1 <= day <= 31:
        assert result == Recurring("month", day=day), phrase
    else:
        assert _rejected(result), (phrase, result)


@SETTINGS
@given(month=st.integers(0, 14), day=st.integers(0, 33), data=st.data())
def test_yearly_date_phrase(month, day, data):
    phrase = f"每年{data.draw(numeral(month))}月{data.draw(numeral(day))}日前"
    result = parse_time_limit(phrase)
    if _real_day(month, day):
        assert result == Recurring("year", month=month, day=day), phrase
    else:
        assert _rejected(result), (phrase, result)


@SETTINGS
@given(
    period=st.sampled_from([("月", "month"), ("季度", "quarter"), ("半年", "half_year"),
                            ("年", "year")]),
    end=st.sampled_from(["结束后", "结束之后", "终了后"]),
    n=st.integers(0, 60),
    unit=st.sampled_from([("个工作日", WorkingDays), ("日", CalendarDays), ("天", CalendarDays)]),
    data=st.data(),
)
def test_after_period_phrase(period, end, n, unit, data):
    (word, every), (unit_word, kind) = period, unit
    phrase = f"每{word}{end}{data.draw(numeral(n))}{unit_word}内"
    result = parse_time_limit(phrase)
    if n >= 1:
        assert result == Recurring(every, after_period=kind(n)), phrase
    else:
        assert _rejected(result), (phrase, result)


# --------------------------------------------------------------------------- any rule, any text


@st.composite
def rules(draw: st.DrawFn):
    """Any valid rule without an event (the canonical phrase does not carry one)."""
    n = draw(st.integers(1, 999))
    kind = draw(st.sampled_from(["wd", "cd", "m", "h", "date", "rec"]))
    if kind in ("wd", "cd", "m", "h"):
        return {"wd": WorkingDays, "cd": CalendarDays, "m": Months, "h": Hours}[kind](n)
    if kind == "date":
        month = draw(st.integers(1, 12))
        year = draw(st.one_of(st.none(), st.integers(1900, 2200)))
        last = calendar.monthrange(year or 2000, month)[1]
        return ByDate(month, draw(st.one_of(st.none(), st.integers(1, last))), year)
    every = draw(st.sampled_from(EVERY_VALUES))
    if draw(st.booleans()):
        return Recurring(every, after_period=draw(st.sampled_from([WorkingDays, CalendarDays]))(n))
    if every == "month":
        return Recurring("month", day=draw(st.one_of(st.none(), st.integers(1, 31))))
    if every == "year" and draw(st.booleans()):
        month = draw(st.integers(1, 12))
        last = calendar.monthrange(2000, month)[1]
        return Recurring("year", month=month, day=draw(st.one_of(st.none(), st.integers(1, last))))
    return Recurring(every)


@SETTINGS
@given(rule=rules(), filler=st.sampled_from([("", ""), ("力争在", "完成"), ("时限：", ""),
                                              ("须于", "报送。")]))
def test_the_canonical_phrase_of_any_rule_reads_back_as_that_rule(rule, filler):
    before, after = filler
    assert parse_time_limit(before + describe(rule) + after) == rule


_PHRASE_ALPHABET = st.sampled_from(
    list("0123456789０１２一二三四五六七八九十百两〇零年月日号前后内底末上中下旬季度每个工作自然天周小时")
    + list("半之以截止至超过距离按结束终了 ，。；：:\n\t（）()“”.·-")
)


@SETTINGS
@given(text=st.one_of(st.text(), st.text(_PHRASE_ALPHABET, max_size=30)))
def test_any_text_gives_a_valid_rule_or_a_reason_never_an_exception(text):
    result = parse_time_limit(text)
    if isinstance(result, Unparsed):
        assert result.reason.strip() and result.text == text
    else:  # a real rule: it survives the plan file's round trip
        assert rule_from_dict(rule_to_dict(result)) == result


@SETTINGS
@given(text=st.one_of(st.text(), st.text(_PHRASE_ALPHABET, max_size=60)))
def test_found_limits_point_at_their_own_text(text):
    for found in find_time_limits(text):
        assert text[found.start : found.end] == found.text
        assert found.text in found.sentence
        if isinstance(found.rule, Unparsed):
            assert found.rule.reason.strip()
        else:
            assert rule_from_dict(rule_to_dict(found.rule)) == found.rule
