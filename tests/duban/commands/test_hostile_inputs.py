"""Hostile files for `duban plan load`, `duban done --from-xlsx` and `duban calendar
import-notice`, through the real CLI on a real SQLite database (`duban db upgrade`, then the
example plan loaded, so there is something to protect).

A broken file gives exit code 2 and one sentence naming the file (and the line where there is
one); the database's row counts are exactly what they were. Readable files in the hard shapes
— a 台账 with a merged unit cell and formula dates whose results were saved, a notice in
UTF-16 or GB18030 — are taken correctly.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pendulum
import pytest
import sqlalchemy as sa

from db.models import Obligation
from db.session import make_engine
from deadlines.calendar import default_config_dir
from duban.cli import main
from duban.vocab import ObligationStatus
from tests.support.hostile import (
    BROKEN,
    MB,
    random_bytes,
    row_counts,
    sparse,
    taizhang_xlsx,
    zip_bomb,
)

REAL = default_config_dir()
PLAN = REAL / "plans" / "2020-chaoyang.yaml"
NOTICE_2027 = Path(__file__).resolve().parents[2] / "deadlines" / "fixtures" / (
    "notice-2027-FICTIONAL.txt"
)


@pytest.fixture(scope="module")
def loaded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An upgraded SQLite database with the example plan loaded (built once per module)."""
    folder = tmp_path_factory.mktemp("hostile-inputs")
    path = folder / "duban.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUBAN_DATABASE_URL", f"sqlite:///{path}")
        mp.setenv("DUBAN_VAR_DIR", str(folder / "var"))
        mp.delenv("PREFECT_API_URL", raising=False)
        assert main(["db", "upgrade"]) == 0
        assert main(["plan", "load", str(PLAN)]) == 0
    with sqlite3.connect(path) as conn:  # everything into the main file, which the tests copy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def cli(tmp_path, loaded_db, monkeypatch, capsys):
    db = tmp_path / "duban.db"
    shutil.copyfile(loaded_db, db)
    url = f"sqlite:///{db}"
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("DUBAN_MAX_INPUT_MB", raising=False)
    capsys.readouterr()

    def run(*args: object) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    run.url = url
    return run


def _refused(cli, path: Path, *args: object, words: tuple[str, ...]) -> str:
    before = row_counts(cli.url)
    assert before["obligation"] > 0  # there is something that must not change
    code, stdout, stderr = cli(*args)
    assert code == 2, (stdout, stderr)
    assert path.name in stderr and "Traceback" not in stdout + stderr
    for word in words:
        assert word in stderr, stderr
    assert row_counts(cli.url) == before
    return stderr


# --------------------------------------------------------------------------- plan load

PLAN_TEXT = PLAN.read_text(encoding="utf-8")
LOAD_CASES = [
    # name, writer, words (a "{name}:N" word is checked with the real path)
    ("empty.yaml", BROKEN["empty"], ("the file is empty",)),
    ("comments.yaml", lambda p: p.write_text("# 只有注释\n", encoding="utf-8"),
     ("the file is empty",)),
    ("random.yaml", BROKEN["random-bytes"], ("not UTF-8", "binary file")),
    ("picture.yaml", BROKEN["png"], ("{name}:1:", "not UTF-8")),
    ("plan.xlsx", BROKEN["zip-not-office"], ("Office document", "duban plan import")),
    ("utf16.yaml", lambda p: p.write_bytes(PLAN_TEXT.encode("utf-16")),
     ("{name}:1:", "not UTF-8", "UTF-16")),
    ("gb18030.yaml", lambda p: p.write_bytes(PLAN_TEXT.encode("gb18030")),
     ("{name}:1:", "not UTF-8", "GB18030")),
    ("typo.yaml", lambda p: p.write_text(PLAN_TEXT.replace("[市政府办公室, 市司法局]",
                                                           "[市政府办公室, 市司法厅]", 1),
                                         encoding="utf-8"),
     ("unknown unit '市司法厅'", "did you mean '市司法局'?")),
    ("control.yaml", lambda p: p.write_text(PLAN_TEXT.replace("year: 2020", "year: 2020\x07"),
                                            encoding="utf-8"),
     ("U+0007",)),
    ("aliases.yaml", lambda p: p.write_text("a: &a [*a]\n" + PLAN_TEXT, encoding="utf-8"),
     ("{name}:1:", "contains itself")),
]


@pytest.mark.parametrize(("name", "write", "words"), LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_plan_load_refuses_a_broken_file_and_writes_nothing(cli, tmp_path, name, write, words):
    path = tmp_path / name
    write(path)
    _refused(cli, path, "plan", "load", path,
             words=tuple(w.replace("{name}", str(path)) for w in words))


def test_plan_load_names_the_line_of_a_typo(cli, tmp_path):
    path = tmp_path / "typo.yaml"
    text = PLAN_TEXT.replace("[市政府办公室, 市司法局]", "[市政府办公室, 市司法厅]", 1)
    assert text != PLAN_TEXT
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index(next(ln for ln in text.splitlines() if "市司法厅" in ln)) + 1
    _refused(cli, path, "plan", "load", path, words=(f"{path}:{line}:",))


def test_plan_load_refuses_a_50_mb_file_quickly(cli, tmp_path):
    path = sparse(tmp_path / "huge.yaml", 50 * MB, head=PLAN_TEXT.encode("utf-8"))
    started = time.monotonic()
    _refused(cli, path, "plan", "load", path, words=("文件大小 50 MB", "上限 20 MB"))
    assert time.monotonic() - started < 3


# --------------------------------------------------------------------------- done --from-xlsx

DONE_CASES = [
    ("empty.xlsx", BROKEN["empty"], ("文件已损坏或不是 .xlsx 格式",)),
    ("random.xlsx", BROKEN["random-bytes"], ("文件已损坏或不是 .xlsx 格式",)),
    ("picture.xlsx", BROKEN["png"], ("文件已损坏或不是 .xlsx 格式",)),
    ("archive.xlsx", BROKEN["zip-not-office"], ("无法读取台账",)),
    ("random.xls", BROKEN["random-bytes"], ("无法读取台账",)),
    ("picture.csv", BROKEN["png"], ("不是文本文件",)),
    ("formulas.xlsx", lambda p: taizhang_xlsx(p, cached=False),
     ("9月台账!D4", "9月台账!D5", "是公式", "没有保存公式的计算结果")),
]


@pytest.mark.parametrize(("name", "write", "words"), DONE_CASES, ids=[c[0] for c in DONE_CASES])
def test_done_from_xlsx_refuses_a_broken_file_and_records_nothing(cli, tmp_path, name, write,
                                                                  words):
    path = tmp_path / name
    write(path)
    _refused(cli, path, "done", "--from-xlsx", path, words=words)


def test_done_from_xlsx_refuses_a_50_mb_file_and_a_zip_bomb_unread(cli, tmp_path):
    huge = sparse(tmp_path / "huge.xlsx", 50 * MB, head=b"PK\x03\x04")
    _refused(cli, huge, "done", "--from-xlsx", huge, words=("文件大小 50 MB", "上限 20 MB"))
    bomb = zip_bomb(tmp_path / "bomb.xlsx", unpacked_mb=210)
    assert bomb.stat().st_size < MB
    _refused(cli, bomb, "done", "--from-xlsx", bomb, words=("解压后的内容有 210 MB",))


def _done(url: str) -> list[tuple[str, str]]:
    from db.models import Item, Unit

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(Unit.name, Item.number, Obligation.done_at)
                .join(Unit, Unit.id == Obligation.unit_id).join(Item, Item.id == Obligation.item_id)
                .where(Obligation.status == ObligationStatus.DONE).order_by(Item.number)
            ).all()
    finally:
        engine.dispose()
    return [(r.name, r.number, pendulum.instance(r.done_at).in_tz("Asia/Shanghai").date().isoformat())
            for r in rows]


def test_a_taizhang_with_a_merged_unit_and_saved_formula_dates_is_recorded(cli, tmp_path):
    path = taizhang_xlsx(tmp_path / "台账.xlsx", cached=True)
    assert _done(cli.url) == []
    code, stdout, stderr = cli("done", "--from-xlsx", path, "--by", "张三")
    assert code == 0, stdout + stderr
    # the merged 单位 cell covers row 5; the dates are the formulas' saved results
    assert _done(cli.url) == [("市司法局", "21", "2020-09-25"), ("市司法局", "6", "2020-09-14")]
    assert "DATE(" not in stdout


def test_a_utf16_csv_taizhang_is_read(cli, tmp_path):
    path = tmp_path / "台账.csv"
    rows = ["单位名称,条目,完成时间,网址", "市司法局,6,2020-09-14,http://sfj.example.gov.cn/zl"]
    path.write_bytes("\r\n".join(rows).encode("utf-16"))
    code, stdout, stderr = cli("done", "--from-xlsx", path)
    assert code == 0, stdout + stderr
    assert _done(cli.url) == [("市司法局", "6", "2020-09-14")]


# --------------------------------------------------------------------------- import-notice


@pytest.fixture
def calendars(tmp_path) -> Path:
    cfg = tmp_path / "cfg"
    shutil.copytree(REAL / "calendars", cfg / "calendars")
    return cfg


NOTICE_CASES = [
    ("empty.txt", BROKEN["empty"], ("文件是空的",)),
    ("random.txt", BROKEN["random-bytes"], ("不是文本文件",)),
    ("picture.txt", BROKEN["png"], ("不是文本文件",)),
    ("big5.txt", lambda p: p.write_bytes(
        NOTICE_2027.read_text(encoding="utf-8").replace("调休", "調休").replace("国务院", "國務院")
        .encode("big5", errors="replace")), ("cannot tell which year",)),
    ("binary.txt", lambda p: p.write_bytes(random_bytes(3000, seed=11)), ("不是文本文件",)),
]


@pytest.mark.parametrize(("name", "write", "words"), NOTICE_CASES,
                         ids=[c[0] for c in NOTICE_CASES])
def test_import_notice_refuses_a_broken_file_and_writes_no_year_file(cli, tmp_path, calendars,
                                                                     name, write, words):
    path = tmp_path / name
    write(path)
    files = sorted(p.name for p in (calendars / "calendars" / "cn").iterdir())
    _refused(cli, path, "calendar", "import-notice", path, "--config-dir", calendars,
             words=words)
    assert sorted(p.name for p in (calendars / "calendars" / "cn").iterdir()) == files


def test_import_notice_refuses_a_50_mb_file_unread(cli, tmp_path, calendars):
    path = sparse(tmp_path / "notice.txt", 50 * MB, head=NOTICE_2027.read_bytes())
    _refused(cli, path, "calendar", "import-notice", path, "--config-dir", calendars,
             words=("文件大小 50 MB", "上限 20 MB"))
    assert not (calendars / "calendars" / "cn" / "2027.yaml").exists()


@pytest.mark.parametrize("encoding", ["utf-16", "gb18030", "utf-8-sig"])
def test_import_notice_reads_the_notice_in_another_encoding(cli, tmp_path, calendars, encoding):
    path = tmp_path / f"notice-{encoding}.txt"
    path.write_bytes(NOTICE_2027.read_text(encoding="utf-8").encode(encoding))
    code, stdout, stderr = cli("calendar", "import-notice", path, "--config-dir", calendars)
    assert code == 0, stdout + stderr
    written = (calendars / "calendars" / "cn" / "2027.yaml").read_text(encoding="utf-8")
    assert "国务院办公厅关于2027年部分节假日安排的通知" in written
    assert "{from: 2027-10-01, to: 2027-10-07}" in written


def test_markup_like_text_in_files_is_printed_as_written(cli, tmp_path):
    """A title, unit name or path such as '[/b]' is text, not console markup."""
    folder = tmp_path / "计划["
    folder.mkdir()
    plan = folder / "b]2020.yaml"
    plan.write_text(PLAN_TEXT.replace("title: 朝阳市2020年政务公开工作要点",
                                      "title: 朝阳市2020年政务公开工作要点[/b]", 1), encoding="utf-8")
    code, stdout, stderr = cli("plan", "load", plan)
    assert code == 0, stdout + stderr
    assert "工作要点[/b]" in stdout
    taizhang = folder / "red]台账.csv"
    taizhang.write_text("单位名称,条目,完成时间,网址\n[/i]市司法局,6,2020-09-14,http://x.example\n",
                        encoding="utf-8")
    code, stdout, stderr = cli("done", "--from-xlsx", taizhang)
    assert code == 1, stdout + stderr  # the row is refused (unknown unit), the report printed
    assert "计划[/red]台账.csv" in stdout and "[/i]市司法局" in stdout
