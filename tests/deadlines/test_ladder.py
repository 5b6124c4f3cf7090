"""The escalation ladder and the traffic light."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from deadlines.calendar import default_config_dir, load_calendar
from deadlines.ladder import (
    LIGHT_OF,
    Light,
    Standing,
    load_ladders,
    offset_of,
    standing_of,
    steps_due,
    working_days_left,
)
from duban.yamlio import ConfigError

CAL = load_calendar()
LADDERS = load_ladders(default_config_dir() / "ladders.yaml")
STANDARD = LADDERS.ladder_for(item_code="2020-1", unit_kind="county_gov", rule_kind="by_date")
DUE = date(2020, 9, 15)  # Tuesday


def codes(steps) -> list[str]:
    return [s.step for s in steps]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2020, 9, 9), []),  # −4
        (date(2020, 9, 10), ["-3"]),
        (date(2020, 9, 14), ["-1"]),
        (date(2020, 9, 15), ["0"]),
        (date(2020, 9, 16), ["+1"]),
        (date(2020, 9, 18), ["+1", "+3"]),
        (date(2020, 9, 22), ["+1", "+3", "+5"]),
    ],
)
def test_steps_reached_by_working_day_offset(today, expected):
    assert codes(steps_due(STANDARD, due=DUE, today=today, calendar=CAL)) == expected


def test_fired_steps_do_not_fire_again():
    fired = ["-3", "-1", "0", "+1"]
    assert codes(steps_due(STANDARD, due=DUE, today=date(2020, 9, 18), calendar=CAL,
                           fired=fired)) == ["+3"]
    assert steps_due(STANDARD, due=DUE, today=date(2020, 9, 18), calendar=CAL,
                     fired=[*fired, "+3"]) == []


def test_nothing_fires_on_a_rest_day():
    assert steps_due(STANDARD, due=DUE, today=date(2020, 9, 19), calendar=CAL) == []


def test_missed_reminders_are_not_sent_late_once_overdue():
    # first seen after the due date: only the overdue/escalation steps, no "3 days left"
    assert codes(steps_due(STANDARD, due=DUE, today=date(2020, 9, 16), calendar=CAL)) == ["+1"]


def test_only_latest_reminder_before_due():
    assert codes(steps_due(STANDARD, due=DUE, today=date(2020, 9, 14), calendar=CAL)) == ["-1"]


def test_offsets_skip_the_national_day_holiday():
    # due Wed 2020-09-30; 10-01..10-08 off; Sat 10-10 is a make-up working day
    assert offset_of(date(2020, 10, 9), date(2020, 9, 30), CAL) == 1
    assert offset_of(date(2020, 10, 10), date(2020, 9, 30), CAL) == 2
    assert offset_of(date(2020, 10, 12), date(2020, 9, 30), CAL) == 3


def test_due_date_on_rest_day_is_due_today_on_last_working_day_before():
    # 2020-10-31 is a Saturday
    assert codes(steps_due(STANDARD, due=date(2020, 10, 31), today=date(2020, 10, 30),
                           calendar=CAL)) == ["0"]


def test_relative_limits_use_the_short_ladder():
    short = LADDERS.ladder_for(item_code="2020-6", unit_kind="city_dept", rule_kind="working_days")
    assert short.name == "short"
    assert codes(short.steps)[-1] == "+3" and short.steps[-1].feeds_ledger


@pytest.mark.parametrize(
    ("kw", "standing"),
    [
        ({"status": "open", "due": date(2020, 10, 30)}, Standing.ON_TRACK),
        ({"status": "open", "due": date(2020, 9, 17)}, Standing.DUE_SOON),
        ({"status": "open", "due": date(2020, 9, 14)}, Standing.OVERDUE),
        ({"status": "open", "due": date(2020, 9, 14), "escalated": True}, Standing.ESCALATED),
        ({"status": "done", "due": date(2020, 9, 14), "late_working_days": 0}, Standing.DONE),
        ({"status": "done", "due": date(2020, 9, 14), "late_working_days": 2},
         Standing.DONE_LATE),
        ({"status": "pending_calendar", "due": None}, Standing.PENDING),
        ({"status": "open", "due": date(2020, 9, 14), "paused": True}, Standing.PAUSED),
        ({"status": "withdrawn", "due": date(2020, 9, 14)}, Standing.WITHDRAWN),
    ],
)
def test_standing_and_light(kw, standing):
    got = standing_of(today=date(2020, 9, 15), calendar=CAL, warning_working_days=3, **kw)
    assert got is standing


def test_red_that_catches_up_turns_yellow_not_green():
    assert LIGHT_OF[Standing.OVERDUE] is Light.RED
    assert LIGHT_OF[Standing.DONE_LATE] is Light.YELLOW
    assert LIGHT_OF[Standing.DONE] is Light.GREEN


def test_working_days_left_reads_in_chinese():
    assert str(working_days_left(date(2020, 9, 10), DUE, CAL)) == "剩3个工作日"
    assert str(working_days_left(DUE, DUE, CAL)) == "今日到期"
    assert str(working_days_left(date(2020, 9, 17), DUE, CAL)) == "逾期2个工作日"


def test_bad_ladder_file_points_at_the_step(tmp_path: Path):
    bad = tmp_path / "ladders.yaml"
    bad.write_text(
        "default: x\nladders:\n  - name: x\n    steps:\n"
        "      - {step: '+2', kind: upcoming, title: t, to: [liaison]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_ladders(bad)
    assert "ladders.yaml:5:" in str(exc.value) and "kind must be overdue" in str(exc.value)


def test_override_must_name_a_known_ladder(tmp_path: Path):
    bad = tmp_path / "ladders.yaml"
    bad.write_text(
        "default: x\nladders:\n  - name: x\n    steps:\n"
        "      - {step: '0', kind: due_today, title: t, to: [liaison]}\n"
        "overrides:\n  - {ladder: y, items: ['2020-1']}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="unknown ladder 'y'"):
        load_ladders(bad)


def test_once_every_overdue_step_fired_nothing_more_fires():
    # '0' (due today) was never sent because that day was not run: it must not come back late
    fired = ["-3", "+1", "+3", "+5"]
    assert steps_due(STANDARD, due=DUE, today=date(2020, 9, 29), calendar=CAL, fired=fired) == []


def test_an_older_reminder_is_never_sent_after_a_newer_one():
    # -1 went out; -3 never did (the obligation appeared late): nothing to send on the -1 day
    assert steps_due(STANDARD, due=DUE, today=date(2020, 9, 14), calendar=CAL,
                     fired=["-1"]) == []
