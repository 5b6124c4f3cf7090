"""``duban report``: the month's and an assessment's 通报 written from a real September 2020."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from db.models import Escalation, Obligation, Unit
from db.session import make_engine
from duban.cli import main
from duban.vocab import ObligationStatus
from scoring.rules import fmt_points
from tasks.ledger import list_ledger
from tests.reports.scenario import build_once, copy_db, ensure_commands


@pytest.fixture
def cli(tmp_path_factory, tmp_path, monkeypatch, capsys):
    ensure_commands()
    url = copy_db(build_once(tmp_path_factory), tmp_path / "duban.db")
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    engine = make_engine(url)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    run.engine = engine
    run.out = tmp_path / "out"
    yield run
    engine.dispose()


def month(cli, *extra: str):
    code, out, err = cli("report", "--month", "2020-09", "--date", "2020-10-09",
                         "--doc-number", "朝政公办〔2020〕9号", "-o", str(cli.out), *extra)
    assert code == 0, err
    return out


def test_month_report_writes_docx_and_html_and_prints_their_paths(cli):
    out = month(cli)
    docx, html = cli.out / "通报-2020年9月.docx", cli.out / "通报-2020年9月.html"
    assert docx.is_file() and html.is_file()
    assert str(docx) in out and str(html) in out
    text = html.read_text(encoding="utf-8")
    assert "关于2020年9月政务公开工作任务落实情况的通报" in text and "朝政公办〔2020〕9号" in text


def test_month_docx_states_the_databases_counts_and_lists_its_ledger_lines(cli):
    month(cli, "--rectify-by", "2020-10-23")
    doc = Document(str(cli.out / "通报-2020年9月.docx"))
    paras = [p.text for p in doc.paragraphs]
    assert paras[0] == "朝阳市政务公开办"
    assert "关于2020年9月政务公开工作任务落实情况的通报" in paras
    assert "各县(市)区政府，市政府各部门：" in paras
    text = "\n".join(paras)
    with cli.engine.connect() as c:
        due = c.scalar(sa.select(sa.func.count()).select_from(Obligation).where(
            Obligation.due_date.between("2020-09-01", "2020-09-30"),
            Obligation.status != ObligationStatus.WITHDRAWN))
        red = c.scalar(sa.select(sa.func.count()).select_from(Escalation).where(
            Escalation.colour == "red", Escalation.fired_on.between("2020-09-01", "2020-09-30")))
    assert f"到期的工作任务共{due}项次" in text
    assert f"按时完成1项次，逾期完成1项次，尚未完成{due - 2}项次" in text
    assert f"红色督办{red}次" in text
    assert "请相关单位对照附件逐项核查，于2020年10月23日前整改到位" in text

    with Session(cli.engine) as s:
        lines = {r.id: r for r in list_ledger(s, start=date(2020, 9, 1), end=date(2020, 9, 30))
                 if r.kind in ("scored", "pending")}
    (table,) = doc.tables
    body = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert len(body) == len(lines)
    total = Decimal(0)
    for cells in body:
        ledger_id = int(re.search(r"台账第(\d+)条", cells[7]).group(1))
        line = lines.pop(ledger_id)
        assert cells[1] == line.unit
        assert cells[7].startswith(line.rule_code)
        if line.amount is None:
            assert cells[6].startswith("待裁定")
        else:
            assert cells[6] == fmt_points(-line.amount)
            total -= line.amount
    assert not lines
    assert f"合计扣{fmt_points(total)}分" in text


def test_month_docx_fonts_are_set_on_the_east_asian_slot(cli):
    month(cli)
    doc = Document(str(cli.out / "通报-2020年9月.docx"))
    runs = [r for p in doc.paragraphs for r in p.runs]
    runs += [r for r in doc.tables[0].rows[1].cells[2].paragraphs[0].runs]
    assert runs and all(r._element.rPr.rFonts.get(qn("w:eastAsia")) for r in runs)
    fonts = {r._element.rPr.rFonts.get(qn("w:eastAsia")) for r in runs}
    assert {"方正小标宋简体", "仿宋_GB2312", "黑体"} <= fonts


def test_html_escapes_a_malicious_unit_name(cli):
    with cli.engine.begin() as c:
        c.execute(sa.update(Unit).where(Unit.name == "北票市政府")
                  .values(name="<script>alert(1)</script>北票"))
    month(cli)
    html = (cli.out / "通报-2020年9月.html").read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;北票" in html
    doc = Document(str(cli.out / "通报-2020年9月.docx"))
    units = {row.cells[1].text for row in doc.tables[0].rows[1:]}
    assert "<script>alert(1)</script>北票" in units  # plain text in Word, nothing to escape


def test_a_month_not_yet_scored_is_refused_with_the_command_to_run(cli):
    code, _, err = cli("report", "--month", "2020-10", "-o", str(cli.out))
    assert code == 2 and "duban escalate --month 2020-10" in err
    assert not cli.out.exists()


@pytest.mark.parametrize("args", [(), ("--month", "2020-09", "--period", "H1"),
                                  ("--month", "2020/9"), ("--period", "Z", "--year", "2020")])
def test_bad_options_are_one_sentence_and_exit_2(cli, args):
    code, _, err = cli("report", *args)
    assert code == 2 and err.startswith("错误") and "Traceback" not in err


def test_assessment_report_writes_the_tongbao_and_the_scorecard(cli):
    code, out, err = cli("report", "--period", "Q3", "--year", "2020", "--date", "2020-10-09",
                         "-o", str(cli.out))
    assert code == 0, err
    docx = cli.out / "通报-2020年三季度末考核.docx"
    sheet = cli.out / "评分表-2020-Q3.xlsx"
    assert docx.is_file() and sheet.is_file() and str(sheet) in out
    paras = [p.text for p in Document(str(docx)).paragraphs]
    assert "关于2020年三季度末考核情况的通报" in paras
    assert any("评分表-2020-Q3.xlsx" in p for p in paras)  # listed as an attachment
    wb = load_workbook(sheet)
    assert "明细" in wb.sheetnames and len(wb.sheetnames) >= 3
