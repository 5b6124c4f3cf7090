"""The calendar engine: loading/validation of year files, overlays, and working-day arithmetic.

These tests build small calendars in a temporary config directory so each rule is isolated;
the real 2004–2026 data is checked in test_calendar_data.py.
"""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from deadlines.calendar import (
    CalendarError,
    CalendarYearMissing,
    load_calendar,
)
from duban.yamlio import ConfigError

Y2026 = """\
year: 2026
source: {title: 国务院办公厅关于2026年部分节假日安排的通知}
holidays:
  - name: 元旦
    rest: {from: 2026-01-01, to: 2026-01-03}
    work: [2026-01-04]
  - name: 春节
    rest: {from: 2026-02-15, to: 2026-02-23}
    work: [2026-02-14, 2026-02-28]
  - name: 劳动节
    rest: {from: 2026-05-01, to: 2026-05-05}
    work: [2026-05-09]
  - name: 国庆节
    rest: {from: 2026-10-01, to: 2026-10-07}
    work: [2026-09-20, 2026-10-10]
"""

Y2025 = """\
year: 2025
source: {title: 国务院办公厅关于2025年部分节假日安排的通知}
holidays:
  - name: 元旦
    rest: {from: 2025-01-01, to: 2025-01-01}
"""


def write_config(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


@pytest.fixture
def cal2026(tmp_path: Path):
    return load_calendar(config_dir=write_config(tmp_path, {"calendars/cn/2026.yaml": Y2026}))


def test_makeup_saturday_counts_as_working_day(cal2026):
    assert date(2026, 2, 14).weekday() == 5
    assert cal2026.is_working_day(date(2026, 2, 14))
    assert cal2026.day_info(date(2026, 2, 14)).kind == "makeup_workday"


def test_holiday_weekday_is_rest_day(cal2026):
    info = cal2026.day_info(date(2026, 2, 20))
    assert not info.is_working and info.kind == "holiday" and info.name == "春节"


def test_plain_weekend_is_rest_and_plain_weekday_works(cal2026):
    assert not cal2026.is_working_day(date(2026, 3, 7))
    assert cal2026.is_working_day(date(2026, 3, 9))


def test_nth_working_day_is_counted_strictly_after_the_start(cal2026):
    # Fri 2026-02-13, +5: 14 (make-up Sat) 24 25 26 27.
    assert cal2026.add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 27)
    assert cal2026.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_start_on_rest_day_does_not_count_the_start(cal2026):
    # Sun 2026-02-15 (holiday): first working day after is 24th.
    assert cal2026.add_working_days(date(2026, 2, 15), 1) == date(2026, 2, 24)


def test_zero_working_days_rolls_forward_only_from_rest_days(cal2026):
    assert cal2026.add_working_days(date(2026, 2, 16), 0) == date(2026, 2, 24)
    assert cal2026.add_working_days(date(2026, 2, 24), 0) == date(2026, 2, 24)
    assert cal2026.next_working_day(date(2026, 10, 3)) == date(2026, 10, 8)


def test_negative_n_counts_backwards_strictly_before(cal2026):
    assert cal2026.add_working_days(date(2026, 2, 24), -1) == date(2026, 2, 14)
    assert cal2026.add_working_days(date(2026, 2, 24), -3) == date(2026, 2, 12)
    assert cal2026.add_working_days(date(2026, 2, 22), -1) == date(2026, 2, 14)


def test_working_days_between_is_half_open(cal2026):
    assert cal2026.working_days_between(date(2026, 2, 13), date(2026, 2, 27)) == 5
    assert cal2026.working_days_between(date(2026, 2, 27), date(2026, 2, 13)) == -5
    assert cal2026.working_days_between(date(2026, 2, 13), date(2026, 2, 13)) == 0


def test_arithmetic_agrees_with_a_day_by_day_walk(cal2026):
    start = date(2026, 1, 1)
    for k in range(0, 330, 7):
        d = start + timedelta(days=k)
        for n in (1, 3, 5, 10):
            walk, got = d, 0
            while got < n:
                walk += timedelta(days=1)
                got += cal2026.is_working_day(walk)
            assert cal2026.add_working_days(d, n) == walk


def test_answer_in_uncovered_year_raises_year_missing(cal2026):
    with pytest.raises(CalendarYearMissing) as exc:
        cal2026.add_working_days(date(2026, 12, 28), 5)
    assert exc.value.year == 2027
    assert "2027" in str(exc.value) and "import-notice" in str(exc.value)


def test_input_in_uncovered_year_raises_year_missing(cal2026):
    with pytest.raises(CalendarYearMissing) as exc:
        cal2026.is_working_day(date(2027, 1, 4))
    assert exc.value.year == 2027
    with pytest.raises(CalendarYearMissing):
        cal2026.add_working_days(date(2025, 12, 31), 1)


def test_counting_back_into_uncovered_year_raises(cal2026):
    with pytest.raises(CalendarYearMissing) as exc:
        cal2026.add_working_days(date(2026, 1, 5), -2)
    assert exc.value.year == 2025


def test_gap_year_blocks_arithmetic_across_it(tmp_path):
    y2024 = Y2025.replace("2025", "2024")
    cal = load_calendar(
        config_dir=write_config(
            tmp_path, {"calendars/cn/2024.yaml": y2024, "calendars/cn/2026.yaml": Y2026}
        )
    )
    assert cal.years == (2024, 2026)
    with pytest.raises(CalendarYearMissing) as exc:
        cal.add_working_days(date(2024, 12, 30), 5)
    assert exc.value.year == 2025
    with pytest.raises(CalendarYearMissing):
        cal.working_days_between(date(2024, 12, 2), date(2026, 1, 6))
    assert cal.add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 27)


def test_array_path_matches_per_call(cal2026):
    days = [date(2026, 1, 1) + timedelta(days=k) for k in range(0, 330)]
    ns = [k % 17 for k in range(len(days))]
    got = cal2026.add_working_days_array(np.array(days, "datetime64[D]"), np.array(ns))
    assert [x.astype(object) for x in got] == [
        cal2026.add_working_days(d, n) for d, n in zip(days, ns, strict=True)
    ]


def test_array_path_refuses_answers_past_coverage(cal2026):
    with pytest.raises(CalendarYearMissing):
        cal2026.add_working_days_array(np.array(["2026-12-30"], "datetime64[D]"), 3)


def test_makeup_day_on_weekday_is_rejected_with_file_and_line(tmp_path):
    bad = Y2026.replace("work: [2026-01-04]", "work: [2026-01-05]")
    cfg = write_config(tmp_path, {"calendars/cn/2026.yaml": bad})
    with pytest.raises(ConfigError) as exc:
        load_calendar(config_dir=cfg)
    msg = str(exc.value)
    assert "2026.yaml:4:" in msg and "holidays[0]" in msg and "not a Saturday or Sunday" in msg


def test_date_outside_year_needs_cross_year_flag(tmp_path):
    bad = Y2026.replace("work: [2026-01-04]", "work: [2025-12-27]")
    with pytest.raises(ConfigError, match="outside 2026"):
        load_calendar(config_dir=write_config(tmp_path, {"calendars/cn/2026.yaml": bad}))
    ok = bad.replace("    work: [2025-12-27]", "    work: [2025-12-27]\n    cross_year: true")
    cfg = write_config(tmp_path, {"calendars/cn/2026.yaml": ok})
    cal = load_calendar(config_dir=cfg)
    assert cal.years == (2026,)  # the cross-year day does not make 2025 covered


def test_date_both_rest_and_work_is_rejected(tmp_path):
    bad = Y2026.replace("work: [2026-02-14, 2026-02-28]", "work: [2026-02-14, 2026-02-15]")
    with pytest.raises(ConfigError, match="both"):
        load_calendar(config_dir=write_config(tmp_path, {"calendars/cn/2026.yaml": bad}))


def test_year_file_must_cite_its_notice(tmp_path):
    bad = "\n".join(line for line in Y2026.splitlines() if not line.startswith("source"))
    with pytest.raises(ConfigError, match="cite"):
        load_calendar(config_dir=write_config(tmp_path, {"calendars/cn/2026.yaml": bad}))


def test_year_field_must_match_file_name(tmp_path):
    with pytest.raises(ConfigError, match=r"2025.yaml:1: year: says 2026 but file is 2025.yaml"):
        load_calendar(config_dir=write_config(tmp_path, {"calendars/cn/2025.yaml": Y2026}))


def test_reversed_range_and_syntax_errors_point_at_lines(tmp_path):
    bad = Y2026.replace("{from: 2026-05-01, to: 2026-05-05}", "{from: 2026-05-05, to: 2026-05-01}")
    with pytest.raises(ConfigError) as exc:
        load_calendar(config_dir=write_config(tmp_path, {"calendars/cn/2026.yaml": bad}))
    assert "2026.yaml:11:" in str(exc.value) and "before it starts" in str(exc.value)
    broken = Y2026.replace("  - name: 劳动节", "  - name: [劳动节")
    with pytest.raises(ConfigError, match="YAML syntax error"):
        load_calendar(config_dir=write_config(tmp_path, {"calendars/cn/2026.yaml": broken}))


REGION = """\
region: testzhou
name: 测试自治州
source: {title: 测试自治州自治条例}
annual:
  - {name: 州庆, month: 9, day: 3}
holidays:
  - name: 节日
    rest: {from: 2026-07-13, to: 2026-07-14}
    work: [2026-07-11]
"""


def test_regional_overlay_adds_rest_and_working_days(tmp_path):
    cfg = write_config(
        tmp_path, {"calendars/cn/2026.yaml": Y2026, "calendars/regions/testzhou.yaml": REGION}
    )
    national = load_calendar(config_dir=cfg)
    region = load_calendar(region="testzhou", config_dir=cfg)
    assert national.is_working_day(date(2026, 9, 3)) and not region.is_working_day(date(2026, 9, 3))
    assert region.day_info(date(2026, 9, 3)).name == "州庆"
    assert not national.is_working_day(date(2026, 7, 11))
    assert region.is_working_day(date(2026, 7, 11))
    # Mon 2026-07-13 and Tue 14 off: Fri 10th + 1 working day = Sat 11th (make-up), + 2 = Wed 15th.
    assert region.add_working_days(date(2026, 7, 10), 2) == date(2026, 7, 15)
    assert national.add_working_days(date(2026, 7, 10), 2) == date(2026, 7, 14)


def test_unknown_region_is_an_error_listing_known_ones(tmp_path):
    cfg = write_config(
        tmp_path, {"calendars/cn/2026.yaml": Y2026, "calendars/regions/testzhou.yaml": REGION}
    )
    with pytest.raises(CalendarError, match="testzhou"):
        load_calendar(region="nowhere", config_dir=cfg)


def test_empty_calendar_directory_is_an_error(tmp_path):
    (tmp_path / "calendars" / "cn").mkdir(parents=True)
    with pytest.raises(CalendarError, match="no calendar data"):
        load_calendar(config_dir=tmp_path)


def test_added_year_file_is_picked_up_without_restart(tmp_path):
    cfg = write_config(tmp_path, {"calendars/cn/2026.yaml": Y2026})
    with pytest.raises(CalendarYearMissing):
        load_calendar(config_dir=cfg).is_working_day(date(2025, 6, 3))
    write_config(tmp_path, {"calendars/cn/2025.yaml": Y2025})
    assert load_calendar(config_dir=cfg).is_working_day(date(2025, 6, 3))


def test_makeup_day_declared_rest_by_a_later_year_file_is_a_conflict(tmp_path):
    y2026 = Y2026 + "  - name: 测试\n    work: [2026-12-27]\n"
    y2027 = """\
year: 2027
source: {title: 国务院办公厅关于2027年部分节假日安排的通知（虚构测试数据）}
holidays:
  - name: 元旦
    rest: {from: 2026-12-27, to: 2027-01-01}
    cross_year: true
"""
    cfg = write_config(tmp_path, {"calendars/cn/2026.yaml": y2026, "calendars/cn/2027.yaml": y2027})
    with pytest.raises(ConfigError, match=r"2026-12-27 is a working day here but a rest day"):
        load_calendar(config_dir=cfg)
