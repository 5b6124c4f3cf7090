"""Splitting a 工作要点 into items: numbering levels, titles, units, where the plan ends."""

from __future__ import annotations

import pytest

from importer.normalize import normalize_text
from importer.segment import parse_units, segment, split_unit_names

from .conftest import FIXTURES


def _fixture(name: str) -> str:
    return normalize_text((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def chaoyang():
    return segment(_fixture("chaoyang-2020-excerpt.txt"))


@pytest.fixture(scope="module")
def panjin():
    return segment(_fixture("panjin-2024-excerpt.txt"))


@pytest.fixture(scope="module")
def xinyuan():
    return segment(_fixture("xinyuan-2025-workplan.txt"))


def _by_number(segmented, number: str):
    return next(item for item in segmented.items if item.number == number)


def test_chaoyang_sections_are_chinese_numerals_and_items_arabic(chaoyang) -> None:
    assert (chaoyang.section_style, chaoyang.item_style) == ("cn", "ar")
    assert [item.number for item in chaoyang.items] == ["1", "2", "4", "6", "8", "10", "17"]
    assert chaoyang.title == "2020年政务公开工作要点"


def test_chaoyang_item_keeps_its_section_heading(chaoyang) -> None:
    assert _by_number(chaoyang, "6").section == "二、聚焦“六稳”、“六保”，做好政策信息发布解读"
    assert _by_number(chaoyang, "17").section == "五、加强公开平台建设管理，提升政务公开信息化水平"


def test_chaoyang_title_is_the_first_sentence_and_text_the_rest(chaoyang) -> None:
    item = _by_number(chaoyang, "6")
    assert item.title == "集中发布“六稳”“六保”政策文件"
    assert item.text.startswith("政府网站及部门网站要设置专题栏目")
    assert item.text.endswith("报送本地区政府门户网站公开。")  # the unit parenthesis is removed
    assert not item.title_inferred


def test_chaoyang_lead_and_responsible_units(chaoyang) -> None:
    assert _by_number(chaoyang, "2").lead_units == ["市政府办公室", "市委编办"]
    assert _by_number(chaoyang, "8").lead_units == ["市市场监督管理局", "市营商环境建设局"]
    assert _by_number(chaoyang, "2").responsible_units == ["各县(市)区政府", "市政府各部门"]


def test_item_without_lead_part_has_only_responsible_units(chaoyang) -> None:
    item = _by_number(chaoyang, "10")
    assert item.lead_units == []
    assert item.responsible_units == ["各县(市)区政府", "市政府各部门", "市(中、省)直单位"]
    assert item.units_found


def test_semicolon_after_role_word_is_read_and_noted(chaoyang) -> None:
    item = _by_number(chaoyang, "17")
    assert item.responsible_units == ["各县(市)政府", "市政府各单位"]
    assert any("责任单位；" in note for note in item.notes)


def test_closing_paragraph_after_last_item_is_not_part_of_it(chaoyang) -> None:
    last = chaoyang.items[-1]
    assert "各地区、各部门要将" not in last.full_text
    assert any(p.startswith("各地区、各部门要将") for p in chaoyang.ignored)


def test_gap_in_numbering_is_noted(chaoyang) -> None:
    assert "条目编号不连续：2 之后是 4，请核对是否漏条" in chaoyang.notes


def test_panjin_stops_before_the_scoring_attachment(panjin) -> None:
    assert [item.number for item in panjin.items] == [str(n) for n in range(1, 9)]
    assert all("考核" not in item.title for item in panjin.items)
    assert panjin.title == "盘锦市2024年政务公开工作要点"


def test_panjin_cover_letter_attachment_list_is_not_taken_as_items(panjin) -> None:
    # "附:1.盘锦市2024年政务公开工作要点" / "2.2024年度…实施细" come before the plan title.
    assert all("盘锦市2024年" not in item.title for item in panjin.items)


def test_section_heading_that_lost_its_number_is_inferred_and_noted(panjin) -> None:
    assert _by_number(panjin, "4").section == "二、深化政策公开，创新政策服务"
    assert any("缺少编号" in note for note in panjin.notes)


def test_title_without_punctuation_before_the_body_is_inferred_and_flagged(panjin) -> None:
    item = _by_number(panjin, "1")
    assert item.title == "做好全面振兴新突破三年行工作公开"
    assert item.text.startswith("聚焦攻坚之年攻坚之战")
    assert item.title_inferred and "标题由导入程序推断" in item.notes[0]
    assert _by_number(panjin, "2").title == "加大营商环境建设信息公开力度"
    assert _by_number(panjin, "8").title == "强化政策咨询服务"


def test_title_ending_in_a_full_stop_is_taken_without_a_flag(panjin) -> None:
    item = _by_number(panjin, "6")
    assert item.title == "推进政策精准推送"
    assert not item.title_inferred


def test_parenthesised_chinese_numbers_as_items_under_sections(xinyuan) -> None:
    assert (xinyuan.section_style, xinyuan.item_style) == ("cn", "pcn")
    assert [item.number for item in xinyuan.items] == [
        "（一）",
        "（二）",
        "（三）",
        "（四）",
        "（五）",
        "（六）",
    ]


def test_sub_points_stay_inside_the_item_text(xinyuan) -> None:
    item = _by_number(xinyuan, "（二）")
    assert "（1）出台背景；\n（2）主要内容。" in item.text
    assert item.lead_units == ["市政府办公室"]
    assert item.responsible_units == ["各有关单位"]  # 配合单位 counts as responsible


def test_unit_variants_bumen_and_lines_without_parentheses(xinyuan) -> None:
    assert _by_number(xinyuan, "（一）").lead_units == ["市司法局"]
    assert _by_number(xinyuan, "（一）").responsible_units == ["市政府各部门"]
    item = _by_number(xinyuan, "（三）")
    assert item.lead_units == ["市政府办公室"]
    assert item.responsible_units == ["各县区政府", "市政府各部门"]
    assert "牵头单位" not in item.text


def test_section_intro_signature_and_attachment_are_not_imported(xinyuan) -> None:
    assert "本部分工作纳入年度绩效考核。" in xinyuan.ignored
    last = xinyuan.items[-1]
    assert last.number == "（六）" and "新源市人民政府办公室" not in last.full_text
    assert all("附件内容" not in item.full_text for item in xinyuan.items)


def test_single_level_arabic_items_with_heading_lines() -> None:
    segmented = segment(_fixture("qingshan-2023-one-level.txt"))
    assert segmented.section_style is None
    assert [(i.number, i.title) for i in segmented.items] == [
        ("1", "推进基层政务公开标准化"),
        ("2", "做好政府信息公开年度报告"),
        ("3", "加强政务公开培训"),  # "3．" with a full-width dot
    ]
    assert segmented.items[0].text == "年底前完成县乡两级政务公开事项目录编制。"
    assert segmented.items[0].lead_units == ["县政府办公室"]


def test_top_level_items_with_body_text_are_items_not_sections() -> None:
    text = "\n".join(
        [
            "某县2022年政务公开工作要点",
            "一、加强政策解读。政策出台后5个工作日内发布解读。（牵头单位：县政府办公室）",
            "（1）做好图解；",
            "（2）做好视频解读。",
            "二、做好年度报告。1月31日前公布。（牵头单位：县政府办公室）",
        ]
    )
    segmented = segment(text)
    assert segmented.item_style == "cn" and segmented.section_style is None
    assert [i.number for i in segmented.items] == ["一", "二"]
    assert "（2）做好视频解读。" in segmented.items[0].text


def test_numbers_restarting_in_each_section_get_the_section_number() -> None:
    text = "\n".join(
        [
            "某市2022年政务公开工作要点",
            "一、政策公开",
            "1.做好政策发布。6月底前完成。",
            "2.做好政策解读。及时解读。",
            "二、平台建设",
            "1.加强网站建设。年底前完成。",
        ]
    )
    segmented = segment(text)
    assert [i.number for i in segmented.items] == ["一-1", "一-2", "二-1"]
    assert any("重新编号" in n for n in segmented.notes)


def test_text_without_numbered_items_gives_no_items_and_says_so() -> None:
    segmented = segment("关于做好政务公开工作的通知\n请各单位认真落实。")
    assert segmented.items == []
    assert segmented.notes and "没有找到编号条目" in segmented.notes[0]


def test_split_unit_names_keeps_separators_inside_parentheses() -> None:
    assert split_unit_names("各县(市)区政府、市政府各部门、市(中、省)直单位") == [
        "各县(市)区政府",
        "市政府各部门",
        "市(中、省)直单位",
    ]
    assert split_unit_names("市政府办公室，市委编办；") == ["市政府办公室", "市委编办"]


@pytest.mark.parametrize(
    ("spec", "lead", "responsible"),
    [
        (
            "牵头单位：市政府办公室、市委编办；责任单位：各县(市)区政府",
            ["市政府办公室", "市委编办"],
            ["各县(市)区政府"],
        ),
        ("牵头单位：市政府办公室；责任单位；各县(市)政府", ["市政府办公室"], ["各县(市)政府"]),
        ("责任单位：各县(市)区政府、市(中、省)直单位", [], ["各县(市)区政府", "市(中、省)直单位"]),
        ("牵头部门：市司法局；配合单位：市数据局", ["市司法局"], ["市数据局"]),
        ("牵头单位:市政府办公室;责任部门:市政府各部门", ["市政府办公室"], ["市政府各部门"]),
    ],
)
def test_parse_units_variants(spec: str, lead: list[str], responsible: list[str]) -> None:
    units = parse_units(spec)
    assert (units.lead, units.responsible) == (lead, responsible)


@pytest.mark.parametrize(
    ("line", "lead", "responsible", "text"),
    [
        (
            "做好政策解读。年底前完成。（市司法局牵头，市政府各部门配合）",
            ["市司法局"],
            ["市政府各部门"],
            "年底前完成。",
        ),
        (
            "做好政策解读。年底前完成。（市政府办公室、市数据局负责）",
            ["市政府办公室", "市数据局"],
            [],
            "年底前完成。",
        ),
        (
            "做好政策解读。年底前完成（市政府办公室牵头；各县区政府落实）。",
            ["市政府办公室"],
            ["各县区政府"],
            "年底前完成",
        ),
    ],
)
def test_lead_phrase_in_closing_parenthesis_gives_units(
    line: str, lead: list[str], responsible: list[str], text: str
) -> None:
    item = segment(f"某市2025年政务公开工作要点\n1.{line}").items[0]
    assert (item.lead_units, item.responsible_units) == (lead, responsible)
    assert item.text == text


def test_ordinary_closing_parenthesis_is_not_taken_for_units() -> None:
    item = segment(
        "某市2025年政务公开工作要点\n1.做好政策解读。按规定公开（依法不予公开的除外）。"
    ).items[0]
    assert not item.units_found
    assert item.text == "按规定公开（依法不予公开的除外）。"
