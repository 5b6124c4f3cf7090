"""duban serve builds its deployments from prefect.yaml (schedules in Asia/Shanghai)."""

from __future__ import annotations

from duban.commands.serve import ROOT, load_deployments, on_one_host


def test_deployments_come_from_prefect_yaml_with_shanghai_schedules():
    deployments = {d.name: d for d in load_deployments(ROOT / "prefect.yaml")}
    assert set(deployments) == {"daily", "daily-partition", "monthly", "assessment"}
    daily = deployments["daily"].schedules[0].schedule
    assert daily.cron == "0 9 * * *" and daily.timezone == "Asia/Shanghai"
    monthly = deployments["monthly"].schedules[0].schedule
    assert monthly.cron == "0 10 1-7 * *" and monthly.timezone == "Asia/Shanghai"
    assert not deployments["assessment"].schedules  # on demand
    assert deployments["daily"].flow_name == "daily-run"
    # overlapping daily runs are safe (keys, leases); a month's run stays one at a time
    assert deployments["daily"].concurrency_limit is None
    assert deployments["monthly"].concurrency_limit == 1
    assert not deployments["daily-partition"].schedules  # started by the daily run only
    assert deployments["daily"].parameters["fan_out"] is True  # the production shape


def test_serve_on_one_host_checks_the_plans_in_the_daily_run_itself():
    deployments = {d.name: d for d in on_one_host(load_deployments(ROOT / "prefect.yaml"))}
    # one runner process, one flow run at a time: a fanned-out daily run would wait for ever
    assert deployments["daily"].parameters == {"send": True, "fan_out": False}
    assert deployments["monthly"].parameters == {"send": True}
