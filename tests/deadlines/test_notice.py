"""Parsing the State Council holiday notice (deadlines/notice.py)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from deadlines.calendar import CalendarYearMissing, default_config_dir, load_calendar
from deadlines.notice import NoticeParseError, dump_year_file, parse_notice

CN_DIR = default_config_dir() / "calendars" / "cn"
FICTIONAL_2027 = Path(__file__).parent / "fixtures" / "notice-2027-FICTIONAL.txt"

# The 2026 notice, laid out as published (full-width punctuation, weekday annotations),
# written from the facts in config/calendars/cn/2026.yaml.
NOTICE_2026 = """\
国务院办公厅关于2026年部分节假日安排的通知

各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
　　经国务院批准，现将2026年元旦、春节、清明节、劳动节、端午节、中秋节和国庆节放假调休日期的具体安排通知如下。
　　一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
　　二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。
　　三、清明节：4月4日（周六）至6日（周一）放假，共3天。
　　四、劳动节：5月1日（周五）至5日（周二）放假调休，共5天。5月9日（周六）上班。
　　五、端午节：6月19日（周五）至21日（周日）放假，共3天。
　　六、中秋节：9月25日（周五）至27日（周日）放假，共3天。
　　七、国庆节：10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。
　　鼓励单位和个人结合落实带薪年休假等制度，实际形成较长假期，推动错峰出行。节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作，遇有重大突发事件，要按规定及时报告并妥善处置，确保人民群众祥和平安度过节日假期。

国务院办公厅
2025年11月4日
"""


def _file(year: int) -> dict:
    return yaml.safe_load((CN_DIR / f"{year}.yaml").read_text(encoding="utf-8"))


def _one(line: str, year: int) -> dict:
    """Parse a single holiday line of a notice for ``year``."""
    return parse_notice(line, year=year)["holidays"][0]


def test_real_2026_notice_parses_to_the_2026_data_file():
    parsed = parse_notice(NOTICE_2026, source_name="notice-2026.txt")
    data = _file(2026)
    assert parsed["year"] == data["year"] == 2026
    assert parsed["holidays"] == data["holidays"]
    assert parsed["source"]["title"] == data["source"]["title"]
    assert parsed["source"]["published"] == data["source"]["published"] == date(2025, 11, 4)


def test_dumped_yaml_round_trips_and_starts_with_the_notice_title():
    parsed = parse_notice(NOTICE_2026)
    text = dump_year_file(parsed)
    assert text.splitlines()[0] == "# 国务院办公厅关于2026年部分节假日安排的通知"
    assert yaml.safe_load(text) == parsed
    assert "    rest: {from: 2026-02-15, to: 2026-02-23}" in text.splitlines()


def test_ascii_punctuation_and_chinese_numerals_give_the_same_result():
    variant = (
        "国务院办公厅关于二〇二六年部分节假日安排的通知\n"
        "一、元旦:一月一日(周四)至三日(周六)放假调休,共三天。一月四日(周日)上班。\n"
        "二、春节:二月十五日(农历腊月二十八、周日)至二十三日(农历正月初七、周一)放假调休,共九天。"
        "二月十四日(周六)、二月二十八日(周六)上班。\n"
        "七、国庆节：10月1日（周四）至7日（周三）放假调休，共7天，9月20日（周日）、10月10日（周六）上班。\n"
        "二〇二五年十一月四日\n"
    )
    parsed = parse_notice(variant)
    by_name = {h["name"]: h for h in _file(2026)["holidays"]}
    assert parsed["year"] == 2026
    assert parsed["holidays"] == [by_name["元旦"], by_name["春节"], by_name["国庆节"]]
    assert parsed["source"]["published"] == date(2025, 11, 4)


def test_merged_mid_autumn_and_national_day_line_is_one_entry():
    entry = _one(
        "中秋节、国庆节：9月29日至10月6日放假调休，共8天。10月7日（周六）、10月8日（周日）上班。",
        2023,
    )
    assert entry == {
        "name": "中秋节、国庆节",
        "rest": {"from": date(2023, 9, 29), "to": date(2023, 10, 6)},
        "work": [date(2023, 10, 7), date(2023, 10, 8)],
    }


def test_range_from_31_december_is_cross_year():
    entry = _one("一、元旦：12月31日至1月2日放假调休，共3天。", 2023)
    assert entry["rest"] == {"from": date(2022, 12, 31), "to": date(2023, 1, 2)}
    assert entry["cross_year"] is True


def test_makeup_day_before_new_year_belongs_to_the_previous_year():
    # 2006 notice style: "12月31日（星期六）上班" for the 1-3 January holiday.
    entry = _one("一、元旦：1月1日至3日放假，共3天。12月31日（星期六）上班。", 2006)
    assert entry["work"] == [date(2005, 12, 31)] and entry["cross_year"] is True


def test_explicit_years_on_both_sides_of_new_year():
    entry = _one(
        "一、元旦：2018年12月30日至2019年1月1日放假调休，共3天。2018年12月29日（星期六）上班。",
        2019,
    )
    assert entry["rest"] == {"from": date(2018, 12, 30), "to": date(2019, 1, 1)}
    assert entry["work"] == [date(2018, 12, 29)]


@pytest.mark.parametrize(
    ("line", "year", "rest"),
    [
        ("五、端午节：6月22日放假。", 2023, (date(2023, 6, 22), date(2023, 6, 22))),
        ("三、清明节：4月5日放假，共1天。", 2023, (date(2023, 4, 5), date(2023, 4, 5))),
        ("一、元旦：1月1日放假1天。", 2014, (date(2014, 1, 1), date(2014, 1, 1))),
        ("一、元旦：1月1日（周三）放假1天，不调休。", 2025, (date(2025, 1, 1), date(2025, 1, 1))),
        ("一、元旦：1月1日放假，与周末连休。", 2024, (date(2024, 1, 1), date(2024, 1, 1))),
        (
            "三、清明节：4月5日放假，4月7日（星期一）补休。",
            2014,
            (date(2014, 4, 5), date(2014, 4, 7)),
        ),
        (
            "五、端午节：6月22日至24日放假公休，共3天。",
            2012,
            (date(2012, 6, 22), date(2012, 6, 24)),
        ),
        (
            "二、春节：2月2日（农历除夕）至8日放假调休，共7天。",
            2011,
            (date(2011, 2, 2), date(2011, 2, 8)),
        ),
    ],
)
def test_rest_clause_forms(line, year, rest):
    entry = _one(line, year)
    assert (entry["rest"]["from"], entry["rest"]["to"]) == rest
    assert "work" not in entry and "cross_year" not in entry


def test_old_names_are_normalised():
    assert _one("三、“五一”：5月1日至7日放假，共7天。", 2006)["name"] == "劳动节"
    assert _one("四、“十一”：10月1日至7日放假，共7天。", 2006)["name"] == "国庆节"
    assert _one("三、清明：4月4日至6日放假，共3天。", 2009)["name"] == "清明节"


def test_heading_on_its_own_line_is_joined_with_the_next_line():
    parsed = parse_notice(
        "一、元旦：\n2012年1月1日至3日放假调休，共3天。2011年12月31日（星期六）上班。\n", year=2012
    )
    assert parsed["holidays"][0]["work"] == [date(2011, 12, 31)]


def test_encouragement_sentence_is_not_a_schedule():
    entry = _one(
        "二、春节：2月10日至17日放假调休，共8天。2月4日（星期日）、2月18日（星期日）上班。"
        "鼓励各单位结合带薪年休假等制度落实，安排职工在除夕（2月9日）休息。",
        2024,
    )
    assert entry["work"] == [date(2024, 2, 4), date(2024, 2, 18)]
    assert entry["rest"]["from"] == date(2024, 2, 10)


def test_document_number_and_signature_date_are_captured():
    parsed = parse_notice(FICTIONAL_2027.read_text(encoding="utf-8"))
    assert parsed["source"] == {
        "title": "国务院办公厅关于2027年部分节假日安排的通知",
        "document": "国办发明电〔2026〕99号",
        "published": date(2026, 11, 20),
    }


# --------------------------------------------------------------------------- errors


def _error(text: str, **kw) -> NoticeParseError:
    with pytest.raises(NoticeParseError) as err:
        parse_notice(text, **kw)
    return err.value


def test_garbage_holiday_line_names_source_line_and_text():
    text = "国务院办公厅关于2027年部分节假日安排的通知\n一、元旦：1月1日放假1天。\n二、春节：过年那几天放假。\n"
    err = _error(text, source_name="notice-2027.txt")
    assert (err.source, err.line) == ("notice-2027.txt", 3)
    assert err.text == "二、春节：过年那几天放假。"
    assert str(err).startswith("notice-2027.txt:3: ")
    assert "过年那几天放假" in str(err)


def test_day_count_mismatch_is_refused():
    err = _error(
        "国务院办公厅关于2026年部分节假日安排的通知\n\n三、清明节：4月4日至6日放假，共4天。\n"
    )
    assert err.line == 3
    assert "共4天" in err.reason and "3 days" in err.reason


def test_makeup_day_on_a_weekday_is_refused():
    err = _error("一、元旦：1月1日至3日放假，共3天。1月5日上班。", year=2027)
    assert err.line == 1 and "2027-01-05" in err.reason and "周二" in err.reason


def test_wrong_weekday_annotation_is_refused():
    err = _error("一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。", year=2027)
    assert "2027-01-01 is a 周五" in err.reason and "周四" in err.reason


def test_old_style_explanation_sentence_is_refused_not_skipped():
    err = _error(
        "一、元旦：1月1日—3日放假，共3天。其中1月1日为法定假日，将12月31日（星期六）调至1月2日。",
        year=2006,
    )
    assert err.line == 1 and "cannot understand" in err.reason


def test_numbered_line_with_dates_but_no_holiday_heading_is_refused():
    # e.g. the 2019 amendment notice: "一、2019年5月1日至4日放假调休，共4天。…"
    err = _error(
        "一、2019年5月1日至4日放假调休，共4天。4月28日（星期日）、5月5日（星期日）上班。", year=2019
    )
    assert "no holiday heading" in err.reason


def test_missing_year_is_refused():
    err = _error("一、元旦：1月1日放假1天。")
    assert err.line is None and "which year" in err.reason


def test_title_year_and_given_year_must_agree():
    err = _error("国务院办公厅关于2026年部分节假日安排的通知\n一、元旦：1月1日放假1天。", year=2027)
    assert err.line == 1 and "2026" in err.reason and "2027" in err.reason


def test_text_without_holiday_lines_is_refused():
    err = _error(
        "国务院办公厅关于2027年部分节假日安排的通知\n节假日期间，各地区要妥善安排好值班。\n"
    )
    assert "no holiday lines" in err.reason


def test_same_rest_day_in_two_lines_is_refused():
    err = _error("一、中秋节：9月29日放假。\n二、国庆节：9月29日至10月6日放假，共8天。", year=2023)
    assert err.line == 2 and "already a rest day of 中秋节 (line 1)" in err.reason


def test_rest_range_ending_before_it_starts_is_refused():
    err = _error("一、国庆节：10月7日至1日放假，共7天。", year=2026)
    assert "before it starts" in err.reason


# --------------------------------------------------------------------------- fictional 2027


def test_fictional_2027_notice_imports_and_the_engine_answers_2027_questions(tmp_path):
    shutil.copytree(CN_DIR, tmp_path / "calendars" / "cn")
    parsed = parse_notice(
        FICTIONAL_2027.read_text(encoding="utf-8"), source_name=FICTIONAL_2027.name
    )
    (tmp_path / "calendars" / "cn" / "2027.yaml").write_text(
        dump_year_file(parsed), encoding="utf-8"
    )

    cal = load_calendar(config_dir=tmp_path)
    assert cal.last_year == 2027
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert cal.add_working_days(date(2026, 12, 25), 5) == date(2027, 1, 4)
    assert cal.is_working_day(date(2027, 2, 20))  # make-up Saturday
    assert not cal.is_working_day(date(2027, 2, 8))  # Monday inside 春节
    assert cal.next_working_day(date(2027, 10, 1)) == date(2027, 10, 8)
    assert cal.day_info(date(2027, 6, 9)).name == "端午节"
    with pytest.raises(CalendarYearMissing):
        cal.is_working_day(date(2028, 1, 3))
    # the real configuration is untouched: 2027 is still missing there
    assert not (CN_DIR / "2027.yaml").exists()
    with pytest.raises(CalendarYearMissing):
        load_calendar().is_working_day(date(2027, 1, 4))
