"""duban serve builds its deployments from prefect.yaml (schedules in Asia/Shanghai)."""

from __future__ import annotations

from duban.commands.serve import ROOT, load_deployments


def test_deployments_come_from_prefect_yaml_with_shanghai_schedules():
    deployments = {d.name: d for d in load_deployments(ROOT / "prefect.yaml")}
    assert set(deployments) == {"daily", "monthly", "assessment"}
    daily = deployments["daily"].schedules[0].schedule
    assert daily.cron == "0 9 * * *" and daily.timezone == "Asia/Shanghai"
    monthly = deployments["monthly"].schedules[0].schedule
    assert monthly.cron == "0 10 1-7 * *" and monthly.timezone == "Asia/Shanghai"
    assert not deployments["assessment"].schedules  # on demand
    assert deployments["daily"].flow_name == "daily-run"
    assert all(d.concurrency_limit == 1 for d in deployments.values())
