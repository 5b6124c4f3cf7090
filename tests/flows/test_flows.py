"""The real flows against a real Prefect server: what a coordinator finds in Prefect afterwards.

The September replay (tests/support/prefect.py) ran daily_run on four working days, a rest day,
the monthly escalation twice and the Q3 assessment; these tests read the runs back through the
Prefect client.
"""

from __future__ import annotations

import json
from datetime import date

from flows.daily import daily_run
from tests.support.prefect import (
    ITEM6,
    ITEM6_STANDING,
    REST_DAY,
    WORKING_DAYS,
    September,
    artifacts,
    call_flow,
    item6_table_key,
    item_runs,
    run,
    task_runs_of,
    unit_task_runs,
    wait_for,
)

STATUS_COLUMNS = ["单位", "截止日期", "剩余/逾期", "状态", "最近提醒", "督办级别", "信号灯"]


def _flow_run(flow_run_id):
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_flow_run(flow_run_id)

    return run(read())


def _flow_runs_tagged(*tags: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    async def read():
        async with get_client() as client:
            return await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=list(tags))), limit=200)

    return run(read())


def test_each_working_day_runs_one_flow_per_item_named_and_tagged_after_the_item(api: September):
    for day in WORKING_DAYS:
        runs = run(item_runs(api.daily[day].flow_run_id))
        assert len(runs) == api.daily[day].result["items"] == 24
        mine = [r for r in runs if r.name == ITEM6]
        assert len(mine) == 1, [r.name for r in runs]
        assert {f"item:{api.item6_code}", f"plan:{api.plan_id}",
                f"as_of:{day.isoformat()}"} <= set(mine[0].tags)
        assert all(r.name.startswith("条目") and r.state_name == "Completed" for r in runs)
    # the item tag alone finds the item's run of every replayed day
    tagged = _flow_runs_tagged(f"item:{api.item6_code}", f"plan:{api.plan_id}")
    assert {r.name for r in tagged} == {ITEM6}
    assert {d.isoformat() for d in WORKING_DAYS} <= {
        t.removeprefix("as_of:") for r in tagged for t in r.tags if t.startswith("as_of:")}


def test_the_daily_run_is_the_named_parent_of_the_item_runs(api: September):
    day = date(2020, 9, 22)
    parent = _flow_run(api.daily[day].flow_run_id)
    assert parent.name == "每日督办 2020-09-22"
    assert parent.state_name == "Completed"
    item = run(item_runs(parent.id, name=ITEM6))[0]
    assert item.parent_task_run_id is not None  # a subflow: linked to its parent in the UI


def test_unit_task_runs_are_named_after_units_with_their_standing_as_state(api: September):
    for day in WORKING_DAYS:
        units = unit_task_runs(api, day)
        assert sorted(t.name for t in units) == sorted(api.late_units), day
        assert {t.state_name for t in units} == {ITEM6_STANDING[day]}, day
        # late units are red in the UI (FAILED type); a due-soon unit only completes
        expected_type = "COMPLETED" if ITEM6_STANDING[day] == "即将到期" else "FAILED"
        assert {t.state_type.value for t in units} == {expected_type}
        assert not set(api.on_time_units) & {t.name for t in units}  # done: nothing to chase
    red = unit_task_runs(api, date(2020, 9, 22))[0]
    assert "已督办" in red.state.message and "截止 2020-09-15" in red.state.message


def test_each_item_run_publishes_its_status_table(api: September):
    versions = run(artifacts(key=item6_table_key(api)))
    assert len(versions) == len(WORKING_DAYS)  # one version per daily run, history kept
    last_run = run(item_runs(api.daily[date(2020, 9, 22)].flow_run_id, name=ITEM6))[0]
    latest = [a for a in versions if a.flow_run_id == last_run.id]
    assert len(latest) == 1 and latest[0].type == "table"
    assert "2020-09-22" in latest[0].description
    rows = json.loads(latest[0].data) if isinstance(latest[0].data, str) else latest[0].data
    assert all(list(r) == STATUS_COLUMNS for r in rows)
    by_unit = {r["单位"]: r for r in rows}
    assert set(by_unit) == set(api.item6_units)
    for name in api.late_units:  # +5 working days late: the red 督办单 went out today
        assert by_unit[name]["状态"] == "已督办"
        assert by_unit[name]["督办级别"] == "红色"
        assert by_unit[name]["剩余/逾期"] == "逾期5个工作日"
        assert by_unit[name]["信号灯"] == "🔴 已督办"
        assert by_unit[name]["最近提醒"] == "2020-09-22（+5）"
    for name in api.on_time_units:
        assert by_unit[name]["状态"] == "已完成" and by_unit[name]["信号灯"] == "🟢 已完成"


def test_a_rest_day_records_a_skip_and_checks_no_item(api: September):
    assert api.rest.result == {"as_of": REST_DAY.isoformat(), "skipped": "rest day (周末)"}
    assert _flow_run(api.rest.flow_run_id).name == "每日督办 2020-09-19"
    assert run(item_runs(api.rest.flow_run_id)) == []
    assert _flow_runs_tagged(f"as_of:{REST_DAY.isoformat()}") == []
    tasks = wait_for(lambda: run(task_runs_of(api.rest.flow_run_id)), what="the skip's task run")
    assert [t.name.split("-")[0] for t in tasks] == ["记录运行"]


def test_monthly_escalation_on_octobers_first_working_day_reports_september(api: September):
    assert api.monthly.result["month"] == "2020-09"
    assert api.monthly.result["new_entries"] > 0
    assert _flow_run(api.monthly.flow_run_id).name == "月度督办通报 2020-10-09"
    (tongbao,) = run(artifacts(key="tongbao-2020-09"))
    assert tongbao.type == "markdown" and tongbao.flow_run_id == api.monthly.flow_run_id
    assert tongbao.description == "2020年9月督办通报"
    assert tongbao.data.startswith("# 2020年9月督办通报")
    assert "| 单位 | 条目 | 扣/加分 | 原因 |" in tongbao.data
    assert api.late_units[0] in tongbao.data  # red-escalated on item 6: deducted


def test_monthly_escalation_on_a_later_day_of_october_skips(api: September):
    assert api.monthly_skip.result == {
        "skipped": "2020-10-12 is not the first working day (2020-10-09)"}
    assert run(artifacts(flow_run_id=api.monthly_skip.flow_run_id)) == []
    assert len(run(artifacts(key="tongbao-2020-09"))) == 1  # still the one of 10-09


def test_q3_assessment_publishes_its_scorecard(api: September):
    assert api.assessment.result["period"] == "2020-Q3"
    made = run(artifacts(flow_run_id=api.assessment.flow_run_id))
    by_key = {a.key: a for a in made}
    assert set(by_key) == {"assessment-2020-q3", "scorecard-2020-q3"}
    assert by_key["assessment-2020-q3"].data.startswith("# ")
    assert "| 名次 | 单位 | 减分 | 加分 | 得分 | 状态 |" in by_key["assessment-2020-q3"].data
    table = by_key["scorecard-2020-q3"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert len(rows) == api.assessment.result["units"]
    assert all(list(r) == ["单位", "减分", "加分", "得分", "状态"] for r in rows)
    scores = {r["单位"]: float(r["得分"]) for r in rows}
    # on time on item 6 vs. red-escalated there: the late unit cannot score higher
    assert scores[api.on_time_units[0]] >= scores[api.late_units[0]]


def test_running_a_day_twice_sends_no_second_message(api: September):
    before = api.outbox_count()
    again = api.rerun = run(call_flow(daily_run, as_of=WORKING_DAYS[-1], **api.flow_kwargs()))
    assert api.outbox_count() == before
    assert again.result["messages"]["messages"] == 0
    assert again.result["delivery"]["delivered"] == 0
    # Prefect shows both runs of the day; the second one re-checked every item
    assert _flow_run(again.flow_run_id).name == "每日督办 2020-09-22"
    assert len(run(item_runs(again.flow_run_id))) == 24


def test_a_rerun_fires_no_ladder_step(api: September):
    if api.rerun is None:
        api.rerun = run(call_flow(daily_run, as_of=WORKING_DAYS[-1], **api.flow_kwargs()))
    again = api.rerun
    assert again.result["fired"] == 0
