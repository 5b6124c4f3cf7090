"""Loading plans into the database: idempotent, corrections in place with an audit trail."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from db import repository as repo
from db.models import AuditEntry, Obligation
from deadlines.calendar import default_config_dir
from duban.config import PlanFile, load_plan, load_settings, load_unit_directory, load_units_file
from duban.vocab import ObligationStatus
from records.sync import load_plan_file, sync_units

CONFIG = default_config_dir()
EXAMPLE = CONFIG / "plans" / "2020-chaoyang.yaml"


@pytest.fixture
def directory():
    return load_unit_directory(CONFIG)


def small_plan(**overrides) -> dict:
    plan = {
        "year": 2020,
        "issuer": "测试领导小组",
        "title": "测试工作要点",
        "issued": date(2020, 8, 25),
        "items": [
            {"number": "1", "title": "专栏建设", "lead_units": ["市政府办公室"],
             "responsible_units": ["各县(市)区政府"],
             "time_limits": [{"text": "9月15日前",
                              "rule": {"kind": "by_date", "month": 9, "day": 15}}]},
            {"number": "2", "title": "按月报送", "lead_units": ["市司法局"],
             "time_limits": [{"text": "每月10日前",
                              "rule": {"kind": "recurring", "every": "month", "day": 10}}]},
            {"number": "3", "title": "新文件上传", "lead_units": ["市卫健委"],
             "time_limits": [{"text": "5个工作日内",
                              "rule": {"kind": "working_days", "n": 5, "event": "新出台的政策文件"}}]},
        ],
    }
    plan.update(overrides)
    return plan


def load(session, plan: dict | PlanFile, directory):
    model = plan if isinstance(plan, PlanFile) else PlanFile.model_validate(plan)
    sync_units(session, load_units_file(CONFIG))
    report = load_plan_file(session, model, directory=directory, settings=load_settings(CONFIG),
                            source_path=None, config_dir=CONFIG)
    session.commit()
    return report


def obligations(session, **kw) -> list[Obligation]:
    return repo.list_obligations(session, **kw)


def test_small_plan_creates_obligations_per_unit_and_period(session, directory):
    report = load(session, small_plan(), directory)
    # item 1: 市政府办公室 + 7 county governments; item 2: Sep–Dec (issued 08-25); item 3: none
    assert report.obligations["created"] == 8 + 4
    item1 = repo.get_item_by_code(session, code="2020-1")
    dues = {o.due_date for o in obligations(session, item=item1)}
    assert dues == {date(2020, 9, 15)}
    item2 = repo.get_item_by_code(session, code="2020-2")
    keys = [o.period_key for o in obligations(session, item=item2)]
    assert keys[0] == "2020-09" and keys[-1] == "2020-12" and len(keys) == 4


def test_loading_the_same_plan_twice_changes_nothing(session, directory):
    load(session, small_plan(), directory)
    audit_before = session.query(AuditEntry).count()
    report = load(session, small_plan(), directory)
    assert not report.changed
    assert report.obligations["unchanged"] == 12
    assert session.query(AuditEntry).count() == audit_before


def test_corrected_deadline_updates_obligations_in_place_with_audit(session, directory):
    load(session, small_plan(), directory)
    item = repo.get_item_by_code(session, code="2020-1")
    ids = sorted(o.id for o in obligations(session, item=item))
    fixed = small_plan()
    fixed["items"][0]["time_limits"] = [{"text": "9月30日前",
                                         "rule": {"kind": "by_date", "month": 9, "day": 30}}]
    report = load(session, fixed, directory)
    assert report.items["updated"] == 1 and report.obligations["updated"] == 8
    after = obligations(session, item=item)
    assert sorted(o.id for o in after) == ids  # same rows, updated in place
    assert {o.due_date for o in after} == {date(2020, 9, 30)}
    trail = repo.list_audit(session, entity=Obligation, entity_id=ids[0])
    change = trail[-1].changes["due_date"]
    assert change == ["2020-09-15", "2020-09-30"]


def test_removed_item_withdraws_obligations_but_keeps_completed_ones(session, directory):
    load(session, small_plan(), directory)
    item = repo.get_item_by_code(session, code="2020-1")
    first = obligations(session, item=item)[0]
    import pendulum

    repo.record_completion(session, obligation=first, recorded_by="test",
                           done_at=pendulum.datetime(2020, 9, 10, tz="Asia/Shanghai"))
    session.commit()
    smaller = small_plan()
    smaller["items"] = smaller["items"][1:]
    report = load(session, smaller, directory)
    assert report.items["withdrawn"] == 1
    statuses = [o.status for o in obligations(session, item=item)]
    assert statuses.count(ObligationStatus.DONE) == 1
    assert statuses.count(ObligationStatus.WITHDRAWN) == 7
    assert not repo.get_item_by_code(session, code="2020-1").active


def test_unit_dropped_from_item_is_withdrawn_and_restored_when_added_back(session, directory):
    load(session, small_plan(), directory)
    narrowed = small_plan()
    narrowed["items"][0]["responsible_units"] = []
    report = load(session, narrowed, directory)
    assert report.obligations["withdrawn"] == 7
    report = load(session, small_plan(), directory)
    assert report.obligations["reinstated"] == 7


def test_due_date_in_year_without_calendar_waits_visibly(session, directory):
    plan = small_plan(year=2026, issued=date(2026, 3, 1))
    plan["items"][1]["time_limits"] = [{
        "text": "每季度结束后10个工作日内",
        "rule": {"kind": "recurring", "every": "quarter",
                 "after_period": {"kind": "working_days", "n": 10}}}]
    report = load(session, plan, directory)
    item = repo.get_item_by_code(session, code="2026-2")
    obs = {o.period_key: o for o in obligations(session, item=item)}
    assert obs["2026-Q3"].status is ObligationStatus.OPEN
    assert obs["2026-Q4"].status is ObligationStatus.PENDING_CALENDAR
    assert obs["2026-Q4"].due_at is None
    assert "2027" in obs["2026-Q4"].pending_reason
    assert any("2027" in line for line in report.pending)
    # the rest of the plan goes on
    assert all(o.status is ObligationStatus.OPEN
               for o in obligations(session, item=repo.get_item_by_code(session, code="2026-1")))


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_example_plan_loads_every_item(session, directory):
    plan = load_plan(EXAMPLE, directory)
    report = load(session, plan, directory)
    assert report.items["created"] == 24
    assert report.obligations["created"] == 640  # one-off limits, then Sep–Dec of the monthly/quarterly ones
    item6 = repo.get_item_by_code(session, code="2020-6")
    assert {o.due_date for o in obligations(session, item=item6)} == {date(2020, 9, 15)}
    assert not load(session, plan, directory).changed


def test_plan_file_path_is_recorded_with_checksum(session, directory, tmp_path: Path):
    import yaml

    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(small_plan(), allow_unicode=True), encoding="utf-8")
    sync_units(session, load_units_file(CONFIG))
    load_plan_file(session, load_plan(path, directory), directory=directory,
                   settings=load_settings(CONFIG), source_path=path, config_dir=CONFIG)
    db_plan = repo.get_plan(session, year=2020, issuer="测试领导小组")
    assert db_plan.source_document == "plan.yaml" and len(db_plan.source_sha256) == 64


def test_recurring_periods_due_before_the_plan_was_issued_are_not_generated(session, directory):
    load(session, small_plan(), directory)  # issued 2020-08-25
    item2 = repo.get_item_by_code(session, code="2020-2")
    keys = [o.period_key for o in obligations(session, item=item2)]
    assert keys == ["2020-09", "2020-10", "2020-11", "2020-12"]
