"""``duban plan import``: writes the plan, prints a summary, refuses to overwrite, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from duban.commands.plan_import import register

from .conftest import FIXTURES


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    plan_app = typer.Typer()
    register(plan_app)
    app.add_typer(plan_app, name="plan")
    return app


def _run(cli: typer.Typer, *args: str):
    return CliRunner().invoke(cli, ["plan", "import", *map(str, args)])


def test_import_writes_the_plan_and_prints_a_summary(cli, config_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    result = _run(cli, FIXTURES / "chaoyang-2020-excerpt.txt", "-o", out, "--config", config_dir)
    assert result.exit_code == 0, result.output
    plan = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert plan["year"] == 2020 and len(plan["items"]) == 7
    assert "条目：7 条" in result.output
    assert "单位名称：9 个，已识别 9 个，未知 0 个" in result.output
    assert "时限：已识别 5 个" in result.output
    assert "拼音注音" in result.output and "繁体字转简体" in result.output
    assert str(out) in result.output


def test_default_output_is_config_plans_year_issuer(cli, config_dir: Path) -> None:
    result = _run(cli, FIXTURES / "chaoyang-2020-excerpt.txt", "--config", config_dir)
    assert result.exit_code == 0, result.output
    assert (config_dir / "plans" / "2020-朝阳市政务公开领导小组.yaml").exists()


def test_existing_output_is_not_overwritten_without_force(
    cli, config_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan.yaml"
    out.write_text("keep me", encoding="utf-8")
    result = _run(cli, FIXTURES / "chaoyang-2020-excerpt.txt", "-o", out, "--config", config_dir)
    assert result.exit_code == 2
    assert "已存在" in result.output and "--force" in result.output
    assert out.read_text(encoding="utf-8") == "keep me"
    forced = _run(
        cli, FIXTURES / "chaoyang-2020-excerpt.txt", "-o", out, "--config", config_dir, "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert out.read_text(encoding="utf-8").startswith("# 本文件由 duban plan import")


def test_unreadable_file_is_one_sentence_and_exit_code_2(
    cli, config_dir: Path, tmp_path: Path
) -> None:
    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    result = _run(cli, pdf, "-o", tmp_path / "out.yaml", "--config", config_dir)
    assert result.exit_code == 2
    assert "plan.pdf" in result.output and "PDF" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.yaml").exists()


def test_missing_year_without_output_asks_for_year(cli, config_dir: Path, tmp_path: Path) -> None:
    doc = tmp_path / "plan.txt"
    doc.write_text(
        "政务公开工作要点\n1.做好政策解读。年底前完成。（牵头单位：市政府办公室）\n",
        encoding="utf-8",
    )
    result = _run(cli, doc, "--config", config_dir)
    assert result.exit_code == 2
    assert "--year" in result.output


def test_document_without_items_is_refused(cli, config_dir: Path, tmp_path: Path) -> None:
    doc = tmp_path / "letter.txt"
    doc.write_text("关于做好政务公开工作的通知\n请各单位认真落实。\n", encoding="utf-8")
    result = _run(cli, doc, "-o", tmp_path / "out.yaml", "--config", config_dir)
    assert result.exit_code == 2
    assert "没有找到任何条目" in result.output
    assert not (tmp_path / "out.yaml").exists()


def test_year_and_issuer_options_are_used(cli, config_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    result = _run(
        cli,
        FIXTURES / "qingshan-2023-one-level.txt",
        "-o",
        out,
        "--config",
        config_dir,
        "--year",
        "2023",
        "--issuer",
        "青山县人民政府办公室",
    )
    assert result.exit_code == 0, result.output
    plan = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert (plan["year"], plan["issuer"]) == (2023, "青山县人民政府办公室")


def test_without_units_file_names_are_not_checked(cli, tmp_path: Path) -> None:
    empty_config = tmp_path / "cfg"
    empty_config.mkdir()
    out = tmp_path / "plan.yaml"
    result = _run(cli, FIXTURES / "chaoyang-2020-excerpt.txt", "-o", out, "--config", empty_config)
    assert result.exit_code == 0, result.output
    assert "未核对" in result.output
