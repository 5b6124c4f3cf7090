"""Events, completions (late in working days), extensions and pauses."""

from __future__ import annotations

from datetime import date

import pendulum
import pytest

from db import repository as repo
from deadlines.calendar import default_config_dir, load_calendar
from duban.config import PlanFile, load_settings, load_unit_directory, load_units_file
from duban.errors import UserError
from duban.vocab import ObligationStatus
from records import lifecycle
from records.sync import CalendarCache, load_plan_file, sync_units
from tests.records.test_sync import small_plan

CONFIG = default_config_dir()
CAL = load_calendar(config_dir=CONFIG)


def at(*args) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz="Asia/Shanghai")


@pytest.fixture
def loaded(session):
    directory = load_unit_directory(CONFIG)
    sync_units(session, load_units_file(CONFIG))
    load_plan_file(session, PlanFile.model_validate(small_plan()), directory=directory,
                   settings=load_settings(CONFIG), source_path=None, config_dir=CONFIG)
    session.commit()
    return session


def ob_of(session, code: str, unit_code: str, period: str | None = None):
    item = repo.get_item_by_code(session, code=code)
    unit = repo.get_unit_by_code(session, code=unit_code)
    obs = repo.list_obligations(session, item=item, unit=unit)
    return next(o for o in obs if period is None or o.period_key == period)


def record(session, when, title="关于稳就业的若干措施", doc="朝卫发〔2020〕8号"):
    item = repo.get_item_by_code(session, code="2020-3")
    unit = repo.get_unit_by_code(session, code="swjw")
    return lifecycle.record_event(
        session, item=item, unit=unit, kind="policy_issued", title=title, occurred_at=when,
        recorded_by="test", calendars=CalendarCache(CONFIG), settings=load_settings(CONFIG),
        doc_number=doc)


def test_event_creates_obligation_due_five_working_days_later(loaded):
    event, created = record(loaded, at(2020, 9, 30, 10))
    [ob] = created
    assert ob.period_key == f"event:{event.id}"
    # National Day + Mid-autumn 10-01..10-08; make-up Sat 10-10: 10-09, 10-10, 10-12, 10-13, 10-14
    assert ob.due_date == date(2020, 10, 14)


def test_recording_the_same_event_twice_adds_nothing(loaded):
    first, _ = record(loaded, at(2020, 9, 30, 10))
    again, created = record(loaded, at(2020, 9, 30, 10))
    assert again.id == first.id and len(created) == 1
    item = repo.get_item_by_code(loaded, code="2020-3")
    assert len(repo.list_obligations(loaded, item=item)) == 1


def test_event_for_item_without_relative_limit_is_refused(loaded):
    item = repo.get_item_by_code(loaded, code="2020-1")
    unit = repo.get_unit_by_code(loaded, code="szfb")
    with pytest.raises(UserError, match="no time limit counted from an event"):
        lifecycle.record_event(loaded, item=item, unit=unit, kind="x", title="t",
                               occurred_at=at(2020, 9, 1, 9), recorded_by="t",
                               calendars=CalendarCache(CONFIG), settings=load_settings(CONFIG))


def test_completion_after_due_is_late_by_working_days(loaded):
    ob = ob_of(loaded, "2020-1", "stq")  # due 2020-09-15 (Tue)
    done = lifecycle.complete(loaded, obligation=ob, done_at=at(2020, 9, 18, 11),
                              recorded_by="test", calendar=CAL, evidence_url="http://x")
    assert done.late_working_days == 3  # 16, 17, 18
    assert ob.status is ObligationStatus.DONE and ob.late_working_days == 3


def test_completion_on_the_due_day_is_on_time(loaded):
    ob = ob_of(loaded, "2020-1", "lcq")
    done = lifecycle.complete(loaded, obligation=ob, done_at=at(2020, 9, 15, 23, 30),
                              recorded_by="test", calendar=CAL, evidence_doc="朝龙政发〔2020〕1号")
    assert done.late_working_days == 0 and not done.late


def test_extension_moves_due_and_survives_a_plan_reload(loaded):
    ob = ob_of(loaded, "2020-1", "bps")
    lifecycle.extend(loaded, obligation=ob, new_due_date=date(2020, 9, 30), reason="试点调整",
                     approved_by="李主任", approved_at=at(2020, 9, 10, 9), calendar=CAL)
    loaded.commit()
    assert ob.due_date == date(2020, 9, 30)
    directory = load_unit_directory(CONFIG)
    load_plan_file(loaded, PlanFile.model_validate(small_plan()), directory=directory,
                   settings=load_settings(CONFIG), source_path=None, config_dir=CONFIG)
    assert ob_of(loaded, "2020-1", "bps").due_date == date(2020, 9, 30)


def test_extension_must_move_the_deadline_later(loaded):
    ob = ob_of(loaded, "2020-1", "lys")
    with pytest.raises(UserError, match="not after"):
        lifecycle.extend(loaded, obligation=ob, new_due_date=date(2020, 9, 1), reason="x",
                         approved_by="x", approved_at=at(2020, 8, 30, 9), calendar=CAL)


def test_pause_pushes_due_by_paused_working_days(loaded):
    ob = ob_of(loaded, "2020-1", "cyx")  # due Tue 2020-09-15
    lifecycle.pause(loaded, obligation=ob, at=at(2020, 9, 7, 9), reason="征求第三方意见")
    assert ob.paused
    days = lifecycle.resume(loaded, obligation=ob, at=at(2020, 9, 10, 15), actor="test",
                            calendar=CAL)
    assert days == 3  # Mon 7, Tue 8, Wed 9 (the day it resumes still counts as working)
    assert not ob.paused
    assert ob.due_date == date(2020, 9, 18)


def test_resume_without_pause_is_refused(loaded):
    ob = ob_of(loaded, "2020-1", "jpx")
    with pytest.raises(UserError, match="not paused"):
        lifecycle.resume(loaded, obligation=ob, at=at(2020, 9, 10), actor="t", calendar=CAL)
