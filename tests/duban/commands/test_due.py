"""``duban due``: phrase → deadline on the command line (Typer CliRunner on a small app).

Most cases run against the repository's real calendar data (config/calendars); the missing-year
case uses a temporary config directory that holds 2026 only, so it stays true after 2027 data is
added to the repository.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import typer
from typer.testing import CliRunner

from duban.commands.due import register

Y2026 = """\
year: 2026
source: {title: 国务院办公厅关于2026年部分节假日安排的通知}
holidays:
  - {name: 元旦, rest: {from: 2026-01-01, to: 2026-01-03}, work: [2026-01-04]}
  - {name: 春节, rest: {from: 2026-02-15, to: 2026-02-23}, work: [2026-02-14, 2026-02-28]}
  - {name: 清明节, rest: {from: 2026-04-04, to: 2026-04-06}}
  - {name: 劳动节, rest: {from: 2026-05-01, to: 2026-05-05}, work: [2026-05-09]}
  - {name: 端午节, rest: {from: 2026-06-19, to: 2026-06-21}}
  - {name: 中秋节, rest: {from: 2026-09-25, to: 2026-09-27}}
  - {name: 国庆节, rest: {from: 2026-10-01, to: 2026-10-07}, work: [2026-09-20, 2026-10-10]}
"""


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A second command slot keeps Typer from collapsing `due` into the root."""

    register(app)
    return app


runner = CliRunner()


@pytest.fixture
def real_config(monkeypatch):
    monkeypatch.delenv("DUBAN_CONFIG_DIR", raising=False)


def run(*args: str):
    return runner.invoke(make_app(), ["due", *args])


def test_register_adds_a_command_named_due():
    app = typer.Typer()
    register(app)
    assert [c.name for c in app.registered_commands] == ["due"]


def test_working_days_human_line(real_config):
    result = run("5个工作日内", "--from", "2025-09-30")
    assert result.exit_code == 0, result.output
    # 国庆 10-01..08 rest; 10-09, 10-10, Sat 10-11 (调休), 10-13, 10-14.
    assert (
        result.stdout.strip() == "5个工作日内 自 2025年9月30日 → 截止 2025年10月14日（周二）24:00"
    )


def test_json_has_due_date_due_at_and_rule(real_config):
    result = run("5个工作日内", "--from", "2026-09-30", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["due_date"] == "2026-10-13"
    assert data["due_at"] == "2026-10-13T23:59:59+08:00"
    assert data["rule"] == {"kind": "working_days", "n": 5}


def test_close_time_appears_in_due_at(real_config):
    result = run("5日内", "--from", "2025-09-26", "--close", "17:30", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["due_date"], data["due_at"]) == ("2025-10-09", "2025-10-09T17:30:00+08:00")


def test_absolute_phrase_takes_year_from_issue_date(real_config):
    result = run("9月15日前", "--from", "2020-08-25", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["due_date"] == "2020-09-15"
    assert data["rule"] == {"kind": "by_date", "month": 9, "day": 15}
    human = run("9月15日前", "--from", "2020-08-25")
    assert "截止 2020年9月15日（周二）24:00" in human.stdout


def test_hours_from_datetime_without_offset_is_shanghai_time(real_config):
    result = run("印发之后2小时内", "--from", "2025-09-30T23:30", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["due_at"] == "2025-10-01T01:30:00+08:00"
    assert data["rule"] == {"kind": "hours", "n": 2, "event": "印发"}


def test_datetime_with_offset_is_converted_to_shanghai(real_config):
    result = run("2小时内", "--from", "2025-09-30T16:00+00:00", "--json")
    assert json.loads(result.stdout)["due_at"] == "2025-10-01T02:00:00+08:00"


def test_region_overlay_changes_the_answer(real_config):
    national = json.loads(run("5个工作日内", "--from", "2025-09-01", "--json").stdout)
    yanbian = json.loads(
        run("5个工作日内", "--from", "2025-09-01", "--region", "yanbian", "--json").stdout
    )
    assert national["due_date"] == "2025-09-08"
    assert yanbian["due_date"] == "2025-09-09"  # 9-03 自治州成立纪念日 is a rest day there


def test_recurring_phrase_lists_periods_and_next_due(real_config):
    result = run("每季度结束后10个工作日内", "--from", "2025-05-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [p["key"] for p in data["periods"]] == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    assert data["period"] == "2025-Q2"
    assert data["due_date"] == "2025-07-14"


def test_unparsed_phrase_is_one_sentence_and_exit_2(real_config):
    result = run("及时", "--from", "2025-01-01")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "无法识别时限“及时”" in result.stderr


def test_bad_from_is_exit_2(real_config):
    result = run("5个工作日内", "--from", "2025-13-01")
    assert result.exit_code == 2
    assert "--from" in result.stderr


def test_missing_calendar_year_is_its_message_and_exit_2(tmp_path, monkeypatch):
    folder = tmp_path / "calendars" / "cn"
    folder.mkdir(parents=True)
    (folder / "2026.yaml").write_text(textwrap.dedent(Y2026), encoding="utf-8")
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(tmp_path))
    result = run("5个工作日内", "--from", "2026-12-25")
    assert result.exit_code == 2
    assert "2027" in result.stderr
    assert "Traceback" not in result.output
