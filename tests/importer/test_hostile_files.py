"""`duban plan import` with hostile and broken files, through the real CLI.

Every broken file is refused with exit code 2 and one sentence naming the file and the reason
(no traceback, no output file, the database untouched); every readable one — text in
GB18030/UTF-16/Big5, an .xlsx task table with merged cells and formulas whose results were
saved, a .docx whose plan sits in tables — is imported correctly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from duban.cli import main
from tests.support.hostile import (
    BROKEN,
    MB,
    PLAN_TEXT,
    PLAN_TEXT_TRADITIONAL,
    plan_in_tables_docx,
    row_counts,
    sparse,
    task_table_docx,
    task_table_xlsx,
    zip_bomb,
)

from .conftest import UNITS_YAML


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile-db") / "duban.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUBAN_DATABASE_URL", f"sqlite:///{path}")
        assert main(["db", "upgrade"]) == 0
    return path


@pytest.fixture
def cli(tmp_path, template_db, monkeypatch, capsys):
    """``run(*args) -> (exit code, stdout, stderr)`` against a fresh copy of an upgraded DB."""
    db = tmp_path / "duban.db"
    shutil.copyfile(template_db, db)
    url = f"sqlite:///{db}"
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("DUBAN_MAX_INPUT_MB", raising=False)
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "units.yaml").write_text(UNITS_YAML, encoding="utf-8")

    def run(*args: object) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    run.url = url
    run.config = cfg
    return run


def _import(cli, path: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return cli("plan", "import", path, "-o", out, "--config", cli.config, *extra)


def _refused(cli, path: Path, *reasons: str) -> str:
    out = path.with_name("out.yaml")
    before = row_counts(cli.url)
    code, stdout, stderr = _import(cli, path, out)
    assert code == 2, (stdout, stderr)
    assert path.name in stderr and "Traceback" not in stderr + stdout
    for reason in reasons:
        assert reason in stderr, stderr
    assert not out.exists()
    assert row_counts(cli.url) == before
    return stderr


# --------------------------------------------------------------------------- refused


CASES = [
    # (file name, writer, words the message must contain)
    ("empty.txt", BROKEN["empty"], ["文件是空的"]),
    ("blank.txt", BROKEN["blank"], ["文件是空的"]),
    ("controls.txt", lambda p: p.write_bytes(b"\x1c\x1d\x1e\x1f\x1b"), ["不是文本文件"]),
    ("empty.docx", BROKEN["empty"], ["文件是空的"]),
    ("empty.xlsx", BROKEN["empty"], ["文件是空的"]),
    ("random.txt", BROKEN["random-bytes"], ["不是文本文件"]),
    ("random.docx", BROKEN["random-bytes"], ["不是 Office 文档"]),
    ("random.xls", BROKEN["random-bytes"], ["不是有效的 Excel 97-2003 (.xls) 文件"]),
    ("picture.txt", BROKEN["png"], ["不是文本文件"]),
    ("picture.xlsx", BROKEN["png"], ["扩展名是 .xlsx", "不是 Office 文档"]),
    ("picture.png", BROKEN["png"], ["不支持的文件类型", ".png"]),
    ("archive.xlsx", BROKEN["zip-not-office"], ["不是有效的 Excel (.xlsx) 文件"]),
    ("archive.docx", BROKEN["zip-not-office"], ["不是有效的 Word (.docx) 文件"]),
]


@pytest.mark.parametrize(("name", "write", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_file_is_refused_naming_it_and_nothing_is_written(cli, tmp_path, name, write,
                                                                   words):
    path = tmp_path / name
    write(path)
    _refused(cli, path, *words)


def test_a_50_mb_file_is_refused_quickly_without_reading_it(cli, tmp_path):
    path = sparse(tmp_path / "huge.txt", 50 * MB, head=PLAN_TEXT.encode("utf-8"))
    _refused(cli, path)  # warm-up: the modules a command imports are not the file's memory
    tracemalloc.start()
    started = time.monotonic()
    try:
        stderr = _refused(cli, path, "文件大小 50 MB", "上限 20 MB", "DUBAN_MAX_INPUT_MB")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 5 * MB  # never read into memory
    assert "huge.txt" in stderr


def test_the_size_limit_is_configurable(cli, tmp_path, monkeypatch):
    path = tmp_path / "plan.txt"
    path.write_text(PLAN_TEXT + "说明。" * 30000, encoding="utf-8")  # ~260 kB
    monkeypatch.setenv("DUBAN_MAX_INPUT_MB", "0.1")
    _refused(cli, path, "文件大小 264 KB", "上限 102 KB")
    monkeypatch.setenv("DUBAN_MAX_INPUT_MB", "lots")
    code, _, stderr = _import(cli, path, tmp_path / "out.yaml")
    assert code == 2 and "DUBAN_MAX_INPUT_MB" in stderr and "'lots'" in stderr
    monkeypatch.setenv("DUBAN_MAX_INPUT_MB", "1")
    code, _, stderr = _import(cli, path, tmp_path / "out.yaml")
    assert code == 0, stderr


def test_a_pipe_that_keeps_going_is_refused_at_the_limit(cli, tmp_path, monkeypatch):
    """A pipe or device (stat size 0) is read in pieces and refused once past the limit."""
    monkeypatch.setenv("DUBAN_MAX_INPUT_MB", "1")
    fifo = tmp_path / "stream.txt"
    os.mkfifo(fifo)

    def feed() -> None:  # 3 MB, more than the limit; a reader that stops early breaks the pipe
        with contextlib.suppress(BrokenPipeError), fifo.open("wb") as f:
            for _ in range(3):
                f.write(PLAN_TEXT.encode("utf-8").ljust(MB, b" "))

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    _refused(cli, fifo, "超过输入文件上限 1 MB")
    writer.join(timeout=5)


def test_a_zip_bomb_named_xlsx_is_refused_before_unpacking(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DUBAN_MAX_INPUT_MB", "1")
    path = zip_bomb(tmp_path / "bomb.xlsx", unpacked_mb=12)
    assert path.stat().st_size < MB
    _refused(cli, path, "解压后的内容有 12 MB", "超过上限 10 MB")


def test_formula_cells_without_saved_results_are_named_not_imported(cli, tmp_path):
    path = task_table_xlsx(tmp_path / "分解表.xlsx", cached=False)
    stderr = _refused(cli, path, "分解表!A3", "分解表!E5", "是公式", "没有保存公式的计算结果",
                      "Excel 或 WPS")
    assert "ROW()" not in stderr.replace("=ROW()-2", "")  # the message, not the formula, speaks


# --------------------------------------------------------------------------- imported


def _imported(cli, path: Path, *extra: str) -> dict:
    out = path.with_name("out.yaml")
    before = row_counts(cli.url)
    code, _, stderr = _import(cli, path, out, *extra)
    assert code == 0, stderr
    assert row_counts(cli.url) == before  # import writes a file for review, never the DB
    return yaml.safe_load(out.read_text(encoding="utf-8"))


def _items(plan: dict) -> list[tuple]:
    return [(i["number"], i["title"], i["lead_units"], [t.get("rule") for t in i["time_limits"]])
            for i in plan["items"]]


EXPECTED_TEXT_ITEMS = [
    ("1", "做好政策解读工作", ["市政府办公室"],
     [{"kind": "working_days", "n": 5, "event": "新出台的政策文件"}]),
    ("2", "推进基层政务公开标准化", ["市司法局"], [{"kind": "by_date", "month": 9, "day": 15}]),
]


@pytest.mark.parametrize(
    ("encoding", "text"),
    [("gb18030", PLAN_TEXT), ("utf-16", PLAN_TEXT), ("utf-16-le", PLAN_TEXT),
     ("utf-16-be", PLAN_TEXT), ("big5", PLAN_TEXT_TRADITIONAL)],
)
def test_text_in_another_encoding_is_imported_correctly(cli, tmp_path, encoding, text):
    path = tmp_path / f"plan-{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    plan = _imported(cli, path)
    assert plan["year"] == 2025 and plan["title"] == "新源市2025年政务公开工作要点"
    assert _items(plan) == EXPECTED_TEXT_ITEMS
    assert plan["items"][0]["responsible_units"] == ["各县区政府"]


EXPECTED_TABLE_ITEMS = [
    ("1", "新出台政策文件5个工作日内发布解读", ["市政府办公室"],
     [{"kind": "working_days", "n": 5, "event": "新出台政策文件"}]),
    ("2", "每季度结束后10个工作日内报送解读情况", ["市政府办公室"],
     [{"kind": "recurring", "every": "quarter"}]),
    ("3", "编制公开事项目录", ["市司法局"], [{"kind": "by_date", "month": 9, "day": 15}]),
]


def test_xlsx_with_merged_cells_and_saved_formula_results_is_imported(cli, tmp_path):
    plan = _imported(cli, task_table_xlsx(tmp_path / "分解表.xlsx", cached=True))
    assert plan["title"] == "新源市2025年政务公开重点任务分解表" and plan["year"] == 2025
    assert _items(plan) == EXPECTED_TABLE_ITEMS  # 序号 from =ROW()-2, 时限 from a formula
    # the merged 重点任务 cell is the section of both measures under it
    assert [i.get("section") for i in plan["items"]] == ["推进政策解读", "推进政策解读", None]
    assert "=" not in yaml.safe_dump(plan, allow_unicode=True).replace("==", "")


def test_docx_whose_task_table_holds_the_plan_is_imported(cli, tmp_path):
    plan = _imported(cli, task_table_docx(tmp_path / "分解表.docx"))
    assert plan["title"] == "新源市2025年政务公开重点任务分解表" and plan["year"] == 2025
    assert _items(plan) == EXPECTED_TABLE_ITEMS
    assert [i.get("section") for i in plan["items"]] == ["推进政策解读", "推进政策解读", None]


def test_docx_whose_numbered_items_sit_in_a_layout_table_is_imported(cli, tmp_path):
    plan = _imported(cli, plan_in_tables_docx(tmp_path / "要点.docx"))
    assert plan["year"] == 2025 and plan["title"] == "新源市2025年政务公开工作要点"
    assert _items(plan) == EXPECTED_TEXT_ITEMS



def test_a_file_name_that_looks_like_console_markup_is_printed_as_written(cli, tmp_path):
    """Paths such as '…/要点[/b]…' used to crash the CLI's coloured output (MarkupError)."""
    folder = tmp_path / "要点["  # with the file names below: "要点[/b]…", a closing tag
    folder.mkdir()
    broken = folder / "b]空.txt"
    broken.write_bytes(b"")
    _refused(cli, broken, "文件是空的", "要点[/b]空.txt")
    good = folder / "b]plan.txt"
    good.write_text(PLAN_TEXT, encoding="utf-8")
    out = folder / "i]out.yaml"
    code, stdout, stderr = _import(cli, good, out)
    assert code == 0, stderr
    assert f"已导入 {good} → {out}" in stdout
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["year"] == 2025
