"""The README's path for a new office, end to end: import the 2024 seed plan, review it, load
it, record two completions from an .xlsx 台账, produce the .docx 通报 and the .xlsx scorecard."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml
from docx import Document

from deadlines.calendar import default_config_dir
from duban.cli import main

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "panjin-2024-workplan-and-scoring.txt"


def seed_document() -> Path:
    if not SEED.exists():  # the import itself is covered by tests/importer's own fixtures
        pytest.skip(f"the 2024 seed document is not at {SEED}")
    return SEED


@pytest.fixture
def office(tmp_path, monkeypatch, capsys):
    config = tmp_path / "config"
    shutil.copytree(default_config_dir(), config, ignore=shutil.ignore_patterns("plans"))
    (config / "plans").mkdir()
    monkeypatch.setenv("DUBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'duban.db'}")
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(config))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out + out.err

    return run, config, tmp_path


def review(plan_path: Path) -> None:
    """What the README tells the reviewer to do: units and time limits, review notes cleared."""
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    for item in plan["items"]:
        item["review"] = None
        if item["number"] in ("13", "14"):
            item["lead_units"] = ["市政府办公室"]
            item["responsible_units"] = ["市政府各部门"]
            item["time_limits"] = [{"text": "10月底前", "sentence": "10月底前完成。",
                                    "rule": {"kind": "by_date", "month": 10}}]
    plan_path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False),
                         encoding="utf-8")


def taizhang(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2024年政务公开工作任务落实台账"])
    ws.append(["单位", "条目", "完成时间", "佐证网址"])
    ws.append(["市司法局", "13", "2024-10-20", "http://sfj.example.gov.cn/ml"])
    ws.append(["市财政局", "14", "2024年11月5日", "http://czj.example.gov.cn/zl"])
    wb.save(path)
    return path


def test_new_office_follows_the_readme(office):
    run, config, tmp = office
    plan_path = config / "plans" / "2024-panjin.yaml"
    code, out = run("plan", "import", str(seed_document()), "--issuer", "盘锦市人民政府办公室",
                    "-o", str(plan_path))
    assert code == 0 and plan_path.exists(), out
    review(plan_path)
    code, out = run("config", "check", str(config))
    assert code == 0, out
    assert run("db", "upgrade")[0] == 0
    code, out = run("plan", "load", str(plan_path))
    assert code == 0 and "created" in out, out
    code, out = run("done", "--from-xlsx", str(taizhang(tmp / "台账.xlsx")))
    assert code == 0, out
    code, out = run("escalate", "--month", "2024-10", "--as-of", "2024-11-01", "--no-send")
    assert code == 0, out
    code, out = run("report", "--month", "2024-10", "-o", str(tmp / "out"))
    assert code == 0, out
    [docx] = list((tmp / "out").glob("*.docx"))
    text = "\n".join(p.text for p in Document(docx).paragraphs)
    assert "通报" in text and "2024年10月" in text
    code, out = run("scorecard", "--period", "Y", "--year", "2024")
    assert code == 0, out
    assert list((tmp / "var" / "reports" / "assessments").glob("评分表-2024-Y.xlsx"))
