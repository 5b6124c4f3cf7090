"""Building the plan: the two seed documents end to end, other layouts, and the YAML file."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import docx
import pytest
import yaml

from duban.config import load_plan, load_unit_directory
from duban.yamlio import ConfigError
from importer.build import build_plan, render_plan_yaml
from importer.readers import read_document

from .conftest import FIXTURES, seed
from .test_readers import make_task_xlsx

IMPORTED_ON = date(2025, 3, 1)


def _import(path: Path, directory=None, **kwargs):
    return build_plan(read_document(path), directory=directory, imported_on=IMPORTED_ON, **kwargs)


def _items(result) -> dict[str, dict]:
    return {item["number"]: item for item in result.plan["items"]}


def _rules(item: dict) -> list[tuple[str, dict]]:
    return [
        (limit["text"], dict(limit["rule"])) for limit in item["time_limits"] if "rule" in limit
    ]


# --- the 2020 Chaoyang seed ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chaoyang_2020():
    from duban.config import UnitDirectory, UnitsFile

    from .conftest import UNITS_YAML

    directory = UnitDirectory.from_file(UnitsFile.model_validate(yaml.safe_load(UNITS_YAML)))
    return _import(seed("chaoyang-2020-workplan.txt"), directory)


def test_seed_2020_has_24_items_numbered_1_to_24(chaoyang_2020) -> None:
    assert [item["number"] for item in chaoyang_2020.plan["items"]] == [
        str(n) for n in range(1, 25)
    ]


def test_seed_2020_plan_metadata(chaoyang_2020) -> None:
    plan = chaoyang_2020.plan
    assert plan["year"] == 2020
    assert plan["issuer"] == "朝阳市政务公开领导小组"
    assert plan["title"] == "朝阳市2020年政务公开工作要点"
    assert plan["issued"] == date(2020, 8, 25)
    assert plan["source"]["document"] == "chaoyang-2020-workplan.txt"
    assert re.fullmatch(r"[0-9a-f]{64}", plan["source"]["sha256"])


def test_seed_2020_lead_units(chaoyang_2020) -> None:
    items = _items(chaoyang_2020)
    assert items["2"]["lead_units"] == ["市政府办公室", "市委编办"]
    assert items["8"]["lead_units"] == ["市市场监督管理局", "市营商环境建设局"]
    assert items["10"]["lead_units"] == []
    assert "原文未写明牵头单位" in items["10"]["review"]


def test_seed_2020_item_6_has_a_date_and_a_working_day_limit(chaoyang_2020) -> None:
    item = _items(chaoyang_2020)["6"]
    assert _rules(item) == [
        ("9月15日前", {"kind": "by_date", "month": 9, "day": 15}),
        ("5个工作日内", {"kind": "working_days", "n": 5, "event": "新出台的相关政策文件"}),
    ]
    assert item["time_limits"][0]["sentence"].startswith("9月15日前，各级政府部门将本部门已出台")
    assert item["review"] is None


def test_seed_2020_item_4_has_both_month_ends(chaoyang_2020) -> None:
    assert _rules(_items(chaoyang_2020)["4"]) == [
        ("8月底前", {"kind": "by_date", "month": 8}),
        ("11月底前", {"kind": "by_date", "month": 11}),
    ]


@pytest.mark.parametrize("number", ["1", "5", "15"])
def test_seed_2020_year_end_items(chaoyang_2020, number: str) -> None:
    assert _rules(_items(chaoyang_2020)[number]) == [("年底前", {"kind": "by_date", "month": 12})]


def test_seed_2020_every_item_without_a_limit_has_a_review_note(chaoyang_2020) -> None:
    without = [item for item in chaoyang_2020.plan["items"] if not item["time_limits"]]
    assert len(without) == 19
    assert all("无明确时限" in item["review"] for item in without)
    assert _items(chaoyang_2020)["20"]["review"] == "无明确时限（持续）"
    assert chaoyang_2020.summary.items_without_time_limit == 19
    assert chaoyang_2020.summary.time_limits_parsed == 7


def test_seed_2020_units_resolve_against_the_directory(chaoyang_2020) -> None:
    summary = chaoyang_2020.summary
    assert sorted(summary.units_unknown) == [
        "市卫生健康委",
        "市应急管理局",
    ]  # not in the test directory
    assert summary.unit_names == 12 and summary.units_resolved == 10
    assert "单位“市卫生健康委”不在单位目录中" in _items(chaoyang_2020)["13"]["review"]


def test_seed_2020_loads_with_the_shipped_unit_directory(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "units.yaml"
    if not shipped.exists():
        pytest.skip("config/units.yaml is not in this checkout")
    directory = load_unit_directory(shipped.parent)
    result = _import(seed("chaoyang-2020-workplan.txt"), directory)
    assert result.summary.units_unknown == []
    out = tmp_path / "2020.yaml"
    out.write_text(render_plan_yaml(result, imported_on=IMPORTED_ON), encoding="utf-8")
    plan = load_plan(out, directory)
    assert len(plan.items) == 24 and plan.year == 2020


# --- the 2024 Panjin seed --------------------------------------------------------------------


def test_seed_2024_imports_the_20_plan_items_and_no_scoring_rules() -> None:
    result = _import(seed("panjin-2024-workplan-and-scoring.txt"))
    items = result.plan["items"]
    assert [item["number"] for item in items] == [str(n) for n in range(1, 21)]
    assert result.plan["year"] == 2024
    assert result.plan["title"] == "盘锦市2024年政务公开工作要点"
    assert all("考核" not in item["title"] and "评分" not in (item["text"] or "") for item in items)
    assert items[19]["title"] == "持续整治数字形式主义"
    assert all(item["review"] for item in items)  # no units anywhere in this plan


def test_seed_2024_ocr_fix_is_shown_on_the_item_it_touched() -> None:
    result = _import(seed("panjin-2024-workplan-and-scoring.txt"))
    item = _items(result)["8"]
    assert "12345综合服务平台" in item["text"]
    assert "“l2345”→“12345”" in item["review"]
    assert all("OCR" not in (i["review"] or "") for i in result.plan["items"] if i["number"] != "8")
    # The scoring rules (not imported) hold the other eight slips; the summary tells them apart.
    assert [(f.before, f.after) for f in result.summary.ocr_fixes_in_items] == [("l2345", "12345")]
    assert len(result.summary.ocr_fixes) == 9


# --- excerpts (always available) -------------------------------------------------------------


def test_chaoyang_excerpt_imports_without_shared_seeds(directory) -> None:
    result = _import(FIXTURES / "chaoyang-2020-excerpt.txt", directory)
    items = _items(result)
    assert list(items) == ["1", "2", "4", "6", "8", "10", "17"]
    assert (result.plan["year"], result.plan["issuer"], result.plan["issued"]) == (
        2020,
        "朝阳市政务公开领导小组",
        date(2020, 8, 25),
    )
    assert _rules(items["6"])[1] == (
        "5个工作日内",
        {"kind": "working_days", "n": 5, "event": "新出台的相关政策文件"},
    )
    assert "责任单位；" in items["17"]["review"]
    assert any("不连续" in note for note in result.notes)


def test_panjin_excerpt_year_items_and_issuer_note() -> None:
    result = _import(FIXTURES / "panjin-2024-excerpt.txt")
    assert result.plan["year"] == 2024
    assert len(result.plan["items"]) == 8
    assert [(f.before, f.after) for f in result.summary.ocr_fixes_in_items] == [("l2345", "12345")]
    assert any("发文机关" in note for note in result.notes)
    assert any("没有核对单位名称" in note for note in result.notes)


# --- other layouts ---------------------------------------------------------------------------


def test_xinyuan_units_spell_out_unknown_and_relative_limits(directory) -> None:
    result = _import(FIXTURES / "xinyuan-2025-workplan.txt", directory)
    items = _items(result)
    assert "“各有关单位”须写明具体单位" in items["（二）"]["review"]
    assert "单位“市数椐局”不在单位目录中，是否为“市数据局”？" in items["（四）"]["review"]
    assert _rules(items["（三）"]) == [
        ("20个工作日内", {"kind": "working_days", "n": 20, "event": "收到申请"})
    ]
    assert ("每月10日前", {"kind": "recurring", "every": "month", "day": 10}) in _rules(
        items["（六）"]
    )
    assert items["（五）"]["review"] == "无明确时限（持续、常态化、及时）"
    assert items["（五）"]["responsible_units"] == []
    assert result.summary.units_unknown == ["市数椐局"]
    assert result.summary.units_spell_out == ["各有关单位"]


def test_reviewer_fixes_the_flagged_unit_and_the_plan_loads(directory, tmp_path: Path) -> None:
    result = _import(FIXTURES / "xinyuan-2025-workplan.txt", directory)
    path = tmp_path / "plan.yaml"
    text = render_plan_yaml(result, imported_on=IMPORTED_ON)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="市数椐局"):
        load_plan(path, directory)
    path.write_text(text.replace("市数椐局", "市数据局"), encoding="utf-8")
    plan = load_plan(path, directory)
    assert [i.number for i in plan.items][:2] == ["（一）", "（二）"]


def test_gb18030_text_imports_like_utf8(tmp_path: Path, directory) -> None:
    raw = (FIXTURES / "xinyuan-2025-workplan.txt").read_text(encoding="utf-8")
    path = tmp_path / "gb.txt"
    path.write_bytes(raw.encode("gb18030"))
    gb = _import(path, directory)
    utf8 = _import(FIXTURES / "xinyuan-2025-workplan.txt", directory)
    assert gb.plan["items"] == utf8.plan["items"]
    assert gb.plan["issuer"] == "新源市人民政府办公室"


def test_docx_plan_with_paragraphs_and_a_table(tmp_path: Path, directory) -> None:
    document = docx.Document()
    for line in [
        "新源市2025年政务公开工作要点",
        "一、加强政策解读",
        "（一）做好政策解读。政策文件印发后3个工作日内发布解读材料。（牵头单位：市政府办公室）",
    ]:
        document.add_paragraph(line)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "公开事项"
    table.cell(0, 1).text = "公开时间"
    table.cell(1, 0).text = "政策文件"
    table.cell(1, 1).text = "6月底前"
    document.add_paragraph("二、加强平台建设")
    document.add_paragraph(
        "（二）加强网站建设。年底前完成改版。（牵头单位：市数据局；责任单位：市政府各部门）"
    )
    path = tmp_path / "新源市2025年政务公开工作要点.docx"
    document.save(str(path))
    result = _import(path, directory, issuer="新源市人民政府办公室")
    items = _items(result)
    assert list(items) == ["（一）", "（二）"]
    assert "政策文件\t6月底前" in items["（一）"]["text"]  # the table stays inside its item
    assert ("6月底前", {"kind": "by_date", "month": 6}) in _rules(items["（一）"])
    assert items["（二）"]["lead_units"] == ["市数据局"]
    assert result.plan["issuer"] == "新源市人民政府办公室"


def test_xlsx_task_table_becomes_items(tmp_path: Path, directory) -> None:
    path = tmp_path / "tasks.xlsx"
    make_task_xlsx(path)
    result = _import(path, directory, issuer="新源市人民政府办公室")
    items = _items(result)
    assert list(items) == ["1", "2", "3", "4"]
    assert result.plan["year"] == 2025
    assert result.plan["title"] == "新源市2025年政务公开重点任务分解表"
    assert items["1"]["section"] == "推进政策公开"  # merged task cell over two measures
    assert items["1"]["title"] == "集中公开现行有效政策文件"
    assert _rules(items["1"]) == [("2025年6月底前", {"kind": "by_date", "year": 2025, "month": 6})]
    assert _rules(items["2"]) == [("每季度", {"kind": "recurring", "every": "quarter"})]
    assert items["3"]["title"] == "加强网站监测" and items["3"]["time_limits"] == []
    assert items["3"]["review"].startswith("无明确时限（持续")
    assert "任务分解 第6行" not in (items["3"]["review"] or "")
    assert _rules(items["4"]) == [
        ("2025年1月31日", {"kind": "by_date", "year": 2025, "month": 1, "day": 31})
    ]
    assert "“各有关单位”须写明具体单位" in items["4"]["review"]


def test_xls_task_table_becomes_the_same_items_as_xlsx(tmp_path: Path, directory) -> None:
    xlsx = tmp_path / "tasks.xlsx"
    make_task_xlsx(xlsx)
    from_xls = _import(FIXTURES / "task-table-2025.xls", directory)
    from_xlsx = _import(xlsx, directory)
    strip = lambda r: [{k: v for k, v in i.items() if k != "review"} for i in r.plan["items"]]  # noqa: E731
    assert strip(from_xls) == strip(from_xlsx)


# --- overrides and notes ---------------------------------------------------------------------


def test_year_and_issuer_options_override_the_document() -> None:
    result = _import(
        FIXTURES / "chaoyang-2020-excerpt.txt", year=2021, issuer="朝阳市人民政府办公室"
    )
    assert (result.plan["year"], result.plan["issuer"]) == (2021, "朝阳市人民政府办公室")
    assert any("2021" in note and "2020" in note for note in result.notes)


def test_missing_issuer_is_left_empty_and_noted() -> None:
    result = _import(FIXTURES / "qingshan-2023-one-level.txt")
    assert result.plan["issuer"] is None
    assert any("没有找到发文单位" in note for note in result.notes)


# --- YAML ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xinyuan_yaml() -> tuple[object, str]:
    result = _import(FIXTURES / "xinyuan-2025-workplan.txt")
    return result, render_plan_yaml(result, imported_on=IMPORTED_ON)


def test_yaml_round_trips_to_the_plan(xinyuan_yaml) -> None:
    result, text = xinyuan_yaml
    assert yaml.safe_load(text) == result.plan


def test_yaml_header_names_the_file_the_date_and_the_review_step(xinyuan_yaml) -> None:
    _, text = xinyuan_yaml
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert "xinyuan-2025-workplan.txt" in header[0] and "2025-03-01" in header[0]
    assert any("duban plan load" in line for line in header)
    assert any("本部分工作纳入年度绩效考核" in line for line in header)  # plan-level notes


def test_yaml_is_readable_unicode_block_style_in_contract_order(xinyuan_yaml) -> None:
    _, text = xinyuan_yaml
    assert "\\u" not in text and "新源市" in text
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert [line.split(":")[0] for line in body[:6]] == [
        "year",
        "issuer",
        "title",
        "issued",
        "source",
        "  document",
    ]
    assert "  - number: （一）" in text
    assert "    lead_units: [市政府办公室]" in text
    assert "        rule: {kind: by_date, month: 6}" in text
    assert (
        "    text: |-\n      政策文件印发后3个工作日内" in text
    )  # multi-line text as a literal block
    keys = [
        m.group(1) for m in re.finditer(r"^    (\w+):", text.split("  - number: （二）")[1], re.M)
    ]
    assert keys[:7] == [
        "title",
        "section",
        "text",
        "lead_units",
        "responsible_units",
        "time_limits",
        "review",
    ]


def test_yaml_without_directory_loads_structurally(xinyuan_yaml, tmp_path: Path) -> None:
    _, text = xinyuan_yaml
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    plan = load_plan(path)  # no unit directory: only the structure is checked
    assert plan.title == "新源市2025年政务公开工作要点"
    assert plan.source is not None and plan.source.imported == IMPORTED_ON


def test_table_rows_sharing_a_merged_number_get_sub_numbers(tmp_path: Path) -> None:
    from importer.readers import Document, TableRow

    rows = tuple(
        TableRow(
            cells={"number": n, "task": t, "lead": "市政府办公室", "time_limit": "年底前"},
            where=f"表1 第{i}行",
        )
        for i, (n, t) in enumerate(
            [("1", "做好政策解读"), ("1", "做好政策图解"), ("2", "加强网站建设")], 2
        )
    )
    document = Document(path=tmp_path / "t.xlsx", kind="xlsx", text="", rows=rows, sha256="0" * 64)
    result = build_plan(document, year=2025, issuer="新源市人民政府办公室")
    assert [i["number"] for i in result.plan["items"]] == ["1-1", "1-2", "2"]
    assert all(
        _rules(i) == [("年底前", {"kind": "by_date", "month": 12})] for i in result.plan["items"]
    )


def test_import_document_returns_result_and_yaml() -> None:
    from importer import import_document

    result, text = import_document(
        FIXTURES / "qingshan-2023-one-level.txt", imported_on=IMPORTED_ON
    )
    assert len(result.plan["items"]) == 3
    assert yaml.safe_load(text)["title"] == "青山县2023年政务公开工作要点"
