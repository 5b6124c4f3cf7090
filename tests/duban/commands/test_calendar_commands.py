"""``duban calendar`` commands: import-notice, status, show (typer CliRunner on the sub-app)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from deadlines.calendar import default_config_dir, load_calendar
from duban.commands.calendar import app, freshness_warnings, year_ranges

REAL_CONFIG = default_config_dir()
FICTIONAL_2027 = (
    Path(__file__).resolve().parents[2] / "deadlines" / "fixtures" / "notice-2027-FICTIONAL.txt"
)

runner = CliRunner()


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A private copy of the real calendar data (2004–2026 + the yanbian overlay)."""
    shutil.copytree(REAL_CONFIG / "calendars", tmp_path / "calendars")
    return tmp_path


def run(*args: str):
    return runner.invoke(app, list(args))


# --------------------------------------------------------------------------- import-notice


def test_import_notice_writes_the_year_file_and_the_engine_loads_it(cfg):
    result = run("import-notice", str(FICTIONAL_2027), "--config-dir", str(cfg))
    assert result.exit_code == 0, result.output
    out = cfg / "calendars" / "cn" / "2027.yaml"
    assert out.read_text(encoding="utf-8").startswith(
        "# 国务院办公厅关于2027年部分节假日安排的通知\nyear: 2027\n"
    )
    assert "调休上班 5 天" in result.output and "2027-02-20（周六）" in result.output
    assert "7 个节日" in result.output
    cal = load_calendar(config_dir=cfg)
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert "2027 年共" in result.output
    n = len(cal.working_days_in(date(2027, 1, 1), date(2027, 12, 31)))
    assert f"2027 年共 {n} 个工作日" in result.output


def test_import_notice_refuses_to_overwrite_without_force(cfg):
    out = cfg / "calendars" / "cn" / "2027.yaml"
    assert run("import-notice", str(FICTIONAL_2027), "--config-dir", str(cfg)).exit_code == 0
    out.write_text(out.read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")
    before = out.read_text(encoding="utf-8")

    result = run("import-notice", str(FICTIONAL_2027), "--config-dir", str(cfg))
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert out.read_text(encoding="utf-8") == before

    forced = run("import-notice", str(FICTIONAL_2027), "--config-dir", str(cfg), "--force")
    assert forced.exit_code == 0, forced.output
    assert "# hand edit" not in out.read_text(encoding="utf-8")


def test_import_notice_refuses_to_overwrite_a_real_year_file(cfg):
    before = (cfg / "calendars" / "cn" / "2026.yaml").read_text(encoding="utf-8")
    notice = cfg / "n2026.txt"
    notice.write_text(
        "国务院办公厅关于2026年部分节假日安排的通知\n一、元旦：1月1日放假1天。\n", "utf-8"
    )
    result = run("import-notice", str(notice), "--config-dir", str(cfg))
    assert result.exit_code == 2
    assert (cfg / "calendars" / "cn" / "2026.yaml").read_text(encoding="utf-8") == before


def test_bad_notice_exits_2_with_the_line_and_writes_nothing(cfg):
    bad = cfg / "bad.txt"
    bad.write_text(
        "国务院办公厅关于2027年部分节假日安排的通知\n一、元旦：1月1日（周五）至3日（周日）放假，共4天。\n",
        encoding="utf-8",
    )
    result = run("import-notice", str(bad), "--config-dir", str(cfg))
    assert result.exit_code == 2
    assert f"{bad}:2:" in result.output and "共4天" in result.output
    assert "Traceback" not in result.output
    assert not (cfg / "calendars" / "cn" / "2027.yaml").exists()
    assert not list((cfg / "calendars" / "cn").glob("*.tmp"))


def test_undecodable_file_exits_2(cfg):
    junk = cfg / "junk.bin"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff")  # binary, no text encoding
    result = run("import-notice", str(junk), "--config-dir", str(cfg))
    assert result.exit_code == 2 and "junk.bin" in result.output and "不是文本文件" in result.output


def test_missing_file_exits_2(cfg):
    result = run("import-notice", str(cfg / "nope.txt"), "--config-dir", str(cfg))
    assert result.exit_code == 2 and "cannot read" in result.output


def test_gb18030_notice_is_read(cfg):
    gbk = cfg / "notice-gb.txt"
    gbk.write_bytes(FICTIONAL_2027.read_text(encoding="utf-8").encode("gb18030"))
    result = run("import-notice", str(gbk), "--config-dir", str(cfg))
    assert result.exit_code == 0, result.output
    assert load_calendar(config_dir=cfg).is_working_day(date(2027, 10, 9))


def test_output_option_and_year_for_a_text_without_title(tmp_path):
    notice = tmp_path / "lines.txt"
    notice.write_text("一、元旦：1月1日（周五）至3日（周日）放假，共3天。\n", encoding="utf-8")
    out = tmp_path / "elsewhere" / "draft.yaml"
    result = run("import-notice", str(notice), "-o", str(out), "--year", "2027")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["year"] == 2027
    assert data["holidays"][0]["rest"] == {"from": date(2027, 1, 1), "to": date(2027, 1, 3)}


def test_text_without_title_and_without_year_exits_2(tmp_path):
    notice = tmp_path / "lines.txt"
    notice.write_text("一、元旦：1月1日放假1天。\n", encoding="utf-8")
    result = run("import-notice", str(notice), "-o", str(tmp_path / "x.yaml"))
    assert result.exit_code == 2 and "which year" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_import_that_conflicts_with_a_neighbouring_year_is_refused(cfg):
    # A cross-year rest day of the new 2027 file that 2026.yaml declares a make-up working day
    # (the earlier file) must be refused, and nothing written.
    (cfg / "calendars" / "cn" / "2026.yaml").write_text(
        (cfg / "calendars" / "cn" / "2026.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "    work: [2026-09-20, 2026-10-10]", "    work: [2026-09-20, 2026-10-10, 2026-12-27]"
        ),
        encoding="utf-8",
    )
    notice = cfg / "n.txt"
    notice.write_text(
        "国务院办公厅关于2027年部分节假日安排的通知\n"
        "一、元旦：2026年12月27日至2027年1月3日放假，共8天。\n",
        encoding="utf-8",
    )
    result = run("import-notice", str(notice), "--config-dir", str(cfg))
    assert result.exit_code == 2, result.output
    assert "2026-12-27" in result.output
    assert not (cfg / "calendars" / "cn" / "2027.yaml").exists()


# --------------------------------------------------------------------------- status


def test_status_lists_years_sources_and_overlays_without_warning_before_november(cfg):
    result = run("status", "--today", "2026-10-31", "--config-dir", str(cfg))
    assert result.exit_code == 0, result.output
    assert "2004–2026（23 年）" in result.output
    assert "国务院办公厅关于延长2020年春节假期的通知" in result.output
    assert "yanbian  延边朝鲜族自治州：9月3日 自治州成立纪念日" in result.output
    assert "警告" not in result.output


def test_status_warns_from_1_november_when_next_year_is_missing(cfg):
    result = run("status", "--today", "2026-11-01", "--config-dir", str(cfg))
    assert result.exit_code == 0
    assert "警告" in result.output and "2027 年节假日数据缺失" in result.output


def test_status_strict_exits_1_on_warning(cfg):
    assert (
        run("status", "--today", "2026-11-01", "--strict", "--config-dir", str(cfg)).exit_code == 1
    )
    assert (
        run("status", "--today", "2026-10-31", "--strict", "--config-dir", str(cfg)).exit_code == 0
    )


def test_status_is_quiet_once_next_year_is_imported(cfg):
    assert run("import-notice", str(FICTIONAL_2027), "--config-dir", str(cfg)).exit_code == 0
    result = run("status", "--today", "2026-12-15", "--strict", "--config-dir", str(cfg))
    assert result.exit_code == 0 and "警告" not in result.output
    assert "2004–2027（24 年）" in result.output


def test_status_warns_loudly_when_the_current_year_is_missing(cfg):
    result = run("status", "--today", "2027-01-04", "--config-dir", str(cfg))
    assert "本年度 2027 没有节假日数据" in result.output


def test_status_reports_invalid_data_with_exit_2(cfg):
    path = cfg / "calendars" / "cn" / "2024.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("2024-02-04", "2024-02-05"), "utf-8")
    result = run("status", "--today", "2026-10-01", "--config-dir", str(cfg))
    assert result.exit_code == 2
    assert "2024.yaml:" in result.output and "2024-02-05" in result.output


def test_status_rejects_a_malformed_today(cfg):
    result = run("status", "--today", "01.11.2026", "--config-dir", str(cfg))
    assert result.exit_code == 2 and "--today" in result.output


@pytest.mark.parametrize(
    ("today", "warns"),
    [
        (date(2026, 10, 31), False),
        (date(2026, 11, 1), True),
        (date(2026, 12, 31), True),
        (date(2025, 11, 20), False),  # 2026 already present
    ],
)
def test_freshness_warning_depends_only_on_today(today, warns):
    assert bool(freshness_warnings(range(2004, 2027), today)) is warns


def test_year_ranges_groups_consecutive_years():
    assert year_ranges([2007, 2004, 2005, 2009, 2008]) == [(2004, 2005), (2007, 2009)]


# --------------------------------------------------------------------------- show


def test_show_lists_rest_and_makeup_days(cfg):
    result = run("show", "2020", "--config-dir", str(cfg))
    assert result.exit_code == 0, result.output
    assert "春节（延长假期）：2020-01-31（周五） 至 2020-02-02（周日） 放假，共3天" in result.output
    assert "上班 2020-01-19（周日）" in result.output
    assert "全年工作日 249 天" in result.output


def test_show_with_region_lists_the_overlay_days(cfg):
    result = run("show", "2026", "--region", "yanbian", "--config-dir", str(cfg))
    assert result.exit_code == 0, result.output
    assert "地方（yanbian）：2026-09-03（周四） 自治州成立纪念日" in result.output
    assert "全年工作日 247 天" in result.output


def test_show_missing_year_exits_2_and_says_how_to_add_it(cfg):
    result = run("show", "2027", "--config-dir", str(cfg))
    assert result.exit_code == 2
    assert "import-notice" in result.output and "2027" in result.output


def test_status_and_show_print_json_for_scripts(capsys):
    import json

    from duban.cli import main

    assert main(["calendar", "status", "--json", "--today", "2026-11-22"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["years"][0] == 2004 and status["years"][-1] == 2026
    assert any("2027" in w for w in status["warnings"])
    assert main(["calendar", "show", "2026", "--json"]) == 0
    year = json.loads(capsys.readouterr().out)
    assert year["working_days"] == 248
    assert {"date": "2026-02-14", "name": "春节"} in year["makeup_working_days"]
