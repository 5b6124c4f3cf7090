"""The real China statutory calendar data (config/calendars/cn/2004–2026.yaml).

Cross-checked day by day against two independent libraries, chinese_calendar and holidays.
Where a library disagrees with our data, the State Council notice settles it; every such
disagreement is listed below with the notice wording, so any *new* disagreement — a typo in a
year file, a library fix or regression — fails the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import holidays
import pytest
import yaml

from deadlines.calendar import CalendarYearMissing, default_config_dir, load_calendar

YEARS = range(2004, 2027)
CN_DIR = default_config_dir() / "calendars" / "cn"


@pytest.fixture(scope="module")
def cal():
    return load_calendar()


@dataclass(frozen=True)
class Disagreement:
    ours: bool  # what the notice says (True = working day)
    chinese_calendar: bool
    holidays: bool
    wrong: str
    settled_by: str


DOCUMENTED_DISAGREEMENTS: dict[date, Disagreement] = {
    date(2005, 12, 31): Disagreement(
        ours=True,
        chinese_calendar=False,
        holidays=True,
        wrong="chinese_calendar 1.11.0 (its open issue #125)",
        settled_by=(
            "国务院办公厅关于2006年部分节假日安排的通知（国办发明电〔2005〕35号）："
            "“一、元旦：1月1日—3日放假，共3天。……12月31日（星期六）上班。”"
        ),
    ),
}


def _days(year: int):
    d = date(year, 1, 1)
    while d.year == year:
        yield d
        d += timedelta(days=1)


def test_every_day_2004_2026_agrees_with_both_libraries_except_documented_cases(cal):
    found: dict[date, tuple[bool, bool, bool]] = {}
    for year in YEARS:
        hol = holidays.CN(years=year)  # default categories: PUBLIC only
        for d in _days(year):
            ours = cal.is_working_day(d)
            cc = chinese_calendar.is_workday(d)
            hl = hol.is_working_day(d)
            if not ours == cc == hl:
                found[d] = (ours, cc, hl)
    expected = {
        d: (x.ours, x.chinese_calendar, x.holidays) for d, x in DOCUMENTED_DISAGREEMENTS.items()
    }
    assert found == expected


@pytest.mark.parametrize("day", sorted(DOCUMENTED_DISAGREEMENTS))
def test_documented_disagreement_names_the_wrong_source_and_the_notice(day, cal):
    x = DOCUMENTED_DISAGREEMENTS[day]
    # the wrong source is the one that differs from our (notice-based) answer
    wrong = [
        n
        for n, v in (("chinese_calendar", x.chinese_calendar), ("holidays", x.holidays))
        if v != x.ours
    ]
    assert wrong and all(x.wrong.startswith(w) for w in wrong)
    assert "国务院办公厅关于" in x.settled_by and "上班" in x.settled_by
    assert cal.is_working_day(day) is x.ours


def test_2005_12_31_is_the_makeup_saturday_of_the_2006_new_year_notice(cal):
    info = cal.day_info(date(2005, 12, 31))
    assert (info.is_working, info.kind, info.name) == (True, "makeup_workday", "元旦")
    data = yaml.safe_load((CN_DIR / "2006.yaml").read_text(encoding="utf-8"))
    new_year = data["holidays"][0]
    assert new_year["work"] == [date(2005, 12, 31)] and new_year["cross_year"] is True


WORKING_DAYS_PER_YEAR = {
    2004: 252, 2005: 251, 2006: 251, 2007: 249, 2008: 251, 2009: 250, 2010: 250, 2011: 250,
    2012: 249, 2013: 250, 2014: 250, 2015: 249, 2016: 250, 2017: 249, 2018: 250, 2019: 250,
    2020: 249, 2021: 250, 2022: 249, 2023: 249, 2024: 251, 2025: 248, 2026: 248,
}  # fmt: skip


@pytest.mark.parametrize("year", YEARS)
def test_working_days_per_year(year, cal):
    assert (
        len(cal.working_days_in(date(year, 1, 1), date(year, 12, 31)))
        == (WORKING_DAYS_PER_YEAR[year])
    )


# The 19 make-up working days 2024–2026 that workalendar silently reports as rest days.
NINETEEN_TIAOXIU = [
    date(2024, 2, 4), date(2024, 2, 18), date(2024, 4, 7), date(2024, 4, 28), date(2024, 5, 11),
    date(2024, 9, 14), date(2024, 9, 29), date(2024, 10, 12),
    date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11),
    date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
    date(2026, 10, 10),
]  # fmt: skip


@pytest.mark.parametrize("day", NINETEEN_TIAOXIU, ids=str)
def test_makeup_weekend_counts_as_working_day(day, cal):
    assert day.weekday() >= 5
    info = cal.day_info(day)
    assert info.is_working and info.kind == "makeup_workday" and info.name


def _span(a: date, b: date) -> set[date]:
    return {a + timedelta(days=k) for k in range((b - a).days + 1)}


def _year_facts(cal, year: int) -> tuple[set[date], set[date]]:
    rest = {d for d in _days(year) if cal.day_info(d).kind == "holiday"}
    makeup = {d for d in _days(year) if cal.day_info(d).kind == "makeup_workday"}
    return rest, makeup


def test_2020_exact_rest_and_makeup_days_including_the_covid_extension(cal):
    rest, makeup = _year_facts(cal, 2020)
    assert rest == (
        {date(2020, 1, 1)}
        | _span(
            date(2020, 1, 24), date(2020, 2, 2)
        )  # 1-24..30 + extension to 2-2 (国办发明电〔2020〕1号)
        | _span(date(2020, 4, 4), date(2020, 4, 6))
        | _span(date(2020, 5, 1), date(2020, 5, 5))
        | _span(date(2020, 6, 25), date(2020, 6, 27))
        | _span(date(2020, 10, 1), date(2020, 10, 8))
    )
    # 2020-02-01 (Sat) was a make-up day in the original notice; the extension cancelled it.
    assert makeup == {
        date(2020, 1, 19), date(2020, 4, 26), date(2020, 5, 9), date(2020, 6, 28),
        date(2020, 9, 27), date(2020, 10, 10),
    }  # fmt: skip
    assert not cal.is_working_day(date(2020, 2, 1))
    assert cal.day_info(date(2020, 1, 31)).name == "春节（延长假期）"
    assert cal.next_working_day(date(2020, 1, 24)) == date(2020, 2, 3)


def test_2024_exact_rest_and_makeup_days(cal):
    rest, makeup = _year_facts(cal, 2024)
    assert rest == (
        {date(2024, 1, 1), date(2024, 6, 10)}  # "与周末连休": only the stated day is listed
        | _span(date(2024, 2, 10), date(2024, 2, 17))
        | _span(date(2024, 4, 4), date(2024, 4, 6))
        | _span(date(2024, 5, 1), date(2024, 5, 5))
        | _span(date(2024, 9, 15), date(2024, 9, 17))
        | _span(date(2024, 10, 1), date(2024, 10, 7))
    )
    assert makeup == {
        date(2024, 2, 4), date(2024, 2, 18), date(2024, 4, 7), date(2024, 4, 28),
        date(2024, 5, 11), date(2024, 9, 14), date(2024, 9, 29), date(2024, 10, 12),
    }  # fmt: skip
    # 除夕 2024-02-09 (Fri) is a working day: the notice only "encourages" a day off.
    assert cal.is_working_day(date(2024, 2, 9))


def test_2026_exact_rest_and_makeup_days(cal):
    rest, makeup = _year_facts(cal, 2026)
    assert rest == (
        _span(date(2026, 1, 1), date(2026, 1, 3))
        | _span(date(2026, 2, 15), date(2026, 2, 23))
        | _span(date(2026, 4, 4), date(2026, 4, 6))
        | _span(date(2026, 5, 1), date(2026, 5, 5))
        | _span(date(2026, 6, 19), date(2026, 6, 21))
        | _span(date(2026, 9, 25), date(2026, 9, 27))
        | _span(date(2026, 10, 1), date(2026, 10, 7))
    )
    assert makeup == {
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
        date(2026, 9, 20), date(2026, 10, 10),
    }  # fmt: skip


def test_2019_labour_day_follows_the_march_2019_amendment(cal):
    # Original notice: 5月1日放假 only; 国办发明电〔2019〕3号: 5月1日至4日, 4-28 and 5-5 worked.
    assert not any(cal.is_working_day(date(2019, 5, d)) for d in (1, 2, 3, 4))
    assert cal.is_working_day(date(2019, 4, 28)) and cal.is_working_day(date(2019, 5, 5))


def test_2015_victory_day_holiday_from_the_separate_state_council_notice(cal):
    assert [cal.is_working_day(date(2015, 9, d)) for d in range(3, 8)] == [
        False, False, False, True, True,  # 9-3 Thu, 9-4 Fri, 9-5 Sat, 9-6 Sun (上班), 9-7 Mon
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2024, 2, 8), 5, date(2024, 2, 21)),
        (date(2024, 2, 10), 5, date(2024, 2, 22)),
        (date(2024, 2, 10), 0, date(2024, 2, 18)),
        (date(2025, 1, 24), 5, date(2025, 2, 7)),
        (date(2026, 9, 18), 5, date(2026, 9, 24)),
        (date(2026, 9, 30), 5, date(2026, 10, 13)),
        (date(2005, 12, 30), 1, date(2005, 12, 31)),  # the make-up Saturday counts
        (date(2022, 12, 30), 1, date(2023, 1, 3)),  # 2022-12-31..2023-01-02 off (2023 notice)
    ],
)
def test_golden_working_day_arithmetic_on_real_data(cal, start, n, expected):
    assert cal.add_working_days(start, n) == expected


def test_answer_in_2027_raises_year_missing_instead_of_guessing(cal):
    with pytest.raises(CalendarYearMissing) as err:
        cal.add_working_days(date(2026, 12, 25), 5)
    assert err.value.year == 2027


@pytest.mark.parametrize("year", YEARS)
def test_year_file_names_its_notice_and_validates(year):
    path = CN_DIR / f"{year}.yaml"
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith(f"# 国务院办公厅关于{year}年部分节假日安排的通知")
    data = yaml.safe_load(text)
    sources = [data["source"]] if "source" in data else data["sources"]
    assert sources[0]["title"] == f"国务院办公厅关于{year}年部分节假日安排的通知"
    for s in sources:
        assert s.get("url") is None or re.match(r"^https://www\.gov\.cn/", s["url"])
    for h in data["holidays"]:
        dates = [h["rest"]["from"], h["rest"]["to"], *h.get("work", [])]
        assert h.get("cross_year", False) == any(d.year != year for d in dates), h["name"]


def test_amended_years_cite_the_amending_notice():
    def titles(year: int) -> list[str]:
        data = yaml.safe_load((CN_DIR / f"{year}.yaml").read_text(encoding="utf-8"))
        return [s["title"] for s in data.get("sources", [data.get("source")])]

    assert titles(2020)[1] == "国务院办公厅关于延长2020年春节假期的通知"
    assert titles(2019)[1] == "国务院办公厅关于调整2019年劳动节假期安排的通知"
    assert "70周年纪念日调休放假的通知" in titles(2015)[1]


def test_cross_year_days_sit_in_the_file_of_the_notice_that_decided_them():
    outside = {}
    for path in sorted(CN_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for h in data["holidays"]:
            for d in [h["rest"]["from"], *h.get("work", [])]:
                if d.year != data["year"]:
                    outside[d] = (data["year"], h["name"])
    assert outside == {
        date(2005, 12, 31): (2006, "元旦"),
        date(2006, 12, 30): (2007, "元旦"),
        date(2006, 12, 31): (2007, "元旦"),
        date(2007, 12, 29): (2008, "元旦"),
        date(2007, 12, 30): (2008, "元旦"),
        date(2011, 12, 31): (2012, "元旦"),
        date(2018, 12, 29): (2019, "元旦"),
        date(2018, 12, 30): (2019, "元旦"),
        date(2022, 12, 31): (2023, "元旦"),
    }


def test_yanbian_overlay_rests_on_3_september_every_year():
    national = load_calendar()
    yanbian = load_calendar(region="yanbian")
    for year in YEARS:
        d = date(year, 9, 3)
        info = yanbian.day_info(d)
        assert not info.is_working
        if national.is_working_day(d):
            assert (info.kind, info.name) == ("region_holiday", "自治州成立纪念日")
    # 2026-09-03 is a Thursday: a working day nationally, a rest day in Yanbian
    assert national.add_working_days(date(2026, 9, 2), 1) == date(2026, 9, 3)
    assert yanbian.add_working_days(date(2026, 9, 2), 1) == date(2026, 9, 4)


def test_config_dir_contains_only_year_files():
    assert sorted(p.name for p in Path(CN_DIR).iterdir()) == [f"{y}.yaml" for y in YEARS]
