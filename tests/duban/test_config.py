"""Configuration files: validation with file:line: field messages, unit resolution."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from deadlines.calendar import default_config_dir
from duban.cli import main
from duban.config import (
    ContactRole,
    check_config,
    chinese_number,
    load_unit_directory,
    resolve_units,
)

REAL = default_config_dir()


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A copy of the example configuration that a test may break."""
    dst = tmp_path / "config"
    shutil.copytree(REAL, dst, ignore=shutil.ignore_patterns("plans"))
    (dst / "plans").mkdir()
    return dst


PLAN = """\
year: 2026
issuer: 朝阳市政务公开领导小组
title: 测试计划
items:
  - number: "1"
    title: 第一项
    lead_units: [{lead}]
    responsible_units: [各县(市)区政府]
    time_limits:
      - text: 9月15日前
        rule: {rule}
"""


def write_plan(cfg: Path, lead="市政府办公室", rule="{kind: by_date, month: 9, day: 15}") -> Path:
    p = cfg / "plans" / "2026-test.yaml"
    p.write_text(PLAN.format(lead=lead, rule=rule), encoding="utf-8")
    return p


def test_example_configuration_is_valid():
    report = check_config(REAL)
    assert report.ok, "\n".join(map(str, report.problems))


def test_unknown_unit_is_reported_with_file_line_field_and_suggestion(cfg):
    write_plan(cfg, lead="市政府办")
    report = check_config(cfg)
    assert not report.ok
    [problem] = report.problems
    assert problem.file.endswith("2026-test.yaml") and problem.line == 7
    assert problem.field == "items[0].lead_units"
    assert "unknown unit '市政府办'" in problem.message and "'市政府办公室'" in problem.message


def test_time_limit_rule_that_does_not_parse_is_an_error(cfg):
    write_plan(cfg, rule="{kind: by_date, month: 13}")
    [problem] = check_config(cfg).problems
    assert problem.line == 11 and "month" in problem.message


def test_invalid_contact_email_points_at_its_line(cfg):
    units = cfg / "units.yaml"
    text = units.read_text(encoding="utf-8").replace(
        "liaison.sjyj@chaoyang.example.gov.cn", "liaison.sjyj-at-example", 1
    )
    units.write_text(text, encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "liaison.sjyj-at-example" in t)
    [problem] = check_config(cfg).problems
    assert problem.file.endswith("units.yaml") and problem.line == line
    assert "invalid e-mail" in problem.message


def test_config_check_command_exits_2_and_writes_nothing(cfg, tmp_path, monkeypatch, capsys):
    db = tmp_path / "never.db"
    monkeypatch.setenv("DUBAN_DATABASE_URL", f"sqlite:///{db}")
    write_plan(cfg, lead="市政府办")
    assert main(["config", "check", str(cfg)]) == 2
    out = capsys.readouterr().out
    assert "2026-test.yaml:7: items[0].lead_units: unknown unit" in out
    assert not db.exists()


def test_config_check_command_passes_on_valid_config(cfg, capsys):
    write_plan(cfg)
    assert main(["config", "check", str(cfg)]) == 0
    assert "OK" in capsys.readouterr().out


def test_group_words_resolve_to_every_unit_of_the_kind():
    units = load_unit_directory(REAL)
    ref = units.resolve("各县（市）区政府")  # full-width brackets as printed in documents
    assert ref.status == "group"
    assert set(ref.codes) == {c for c, u in units.units.items() if u.kind == "county_gov"}
    assert len(ref.codes) == 7


def test_spell_out_words_are_flagged_not_expanded():
    units = load_unit_directory(REAL)
    ref = units.resolve("各有关单位")
    assert ref.status == "spell_out" and ref.codes == ()
    codes, unresolved = resolve_units(["市卫健委", "各有关单位", "市政府办"], units)
    assert codes == ["swjw"]
    assert [r.status for r in unresolved] == ["spell_out", "unknown"]


def test_every_unit_has_a_liaison_and_a_leader():
    units = load_unit_directory(REAL)
    assert len(units.units) >= 30
    for code in units.units:
        assert units.contacts(code, ContactRole.LIAISON), code
        assert units.contacts(code, ContactRole.LEADER), code


@pytest.mark.parametrize(("text", "value"), [("十九", 19), ("（二十三）", 23), ("6", 6),
                                              ("十", 10), ("三", 3), ("A", None)])
def test_item_numbers_in_chinese_numerals(text, value):
    assert chinese_number(text) == value


def test_settings_reject_bad_sending_hours(cfg):
    (cfg / "settings.yaml").write_text(textwrap.dedent("""\
        sending_hours: [20, 8]
    """), encoding="utf-8")
    [problem] = check_config(cfg).problems
    assert problem.file.endswith("settings.yaml") and problem.field == "sending_hours"
