"""The Chinese time-limit phrase parser and the paragraph scanner.

Real sentences come from the two seed documents (/work/shared/seeds), the 朝阳 one converted
from traditional characters with its pinyin annotations removed, as the importer does.
"""

from __future__ import annotations

import pytest

from deadlines.phrases import (
    chinese_number,
    find_time_limits,
    find_vague_limits,
    parse_time_limit,
)
from deadlines.rules import (
    ByDate,
    CalendarDays,
    Hours,
    Months,
    Recurring,
    Unparsed,
    WorkingDays,
)

PHRASES = [
    # absolute dates
    ("9月15日前", ByDate(9, 15)),
    ("9月15日之前", ByDate(9, 15)),
    ("9月15日以前", ByDate(9, 15)),
    ("9月15号前", ByDate(9, 15)),
    ("9月15日", ByDate(9, 15)),  # a bare date in a time-limit cell
    ("截至9月15日", ByDate(9, 15)),
    ("9月15日24时前", ByDate(9, 15)),
    ("2018年10月30日前", ByDate(10, 30, year=2018)),
    ("二〇一八年十月三十日前", ByDate(10, 30, year=2018)),
    ("十二月三十一日前", ByDate(12, 31)),
    ("１１月３０日前", ByDate(11, 30)),
    ("8月底前", ByDate(8)),
    ("11月底前", ByDate(11)),
    ("十一月底前", ByDate(11)),
    ("8月底", ByDate(8)),
    ("8月末", ByDate(8)),
    ("8月份", ByDate(8)),
    ("9月中旬", ByDate(9, 20)),
    ("9月上旬", ByDate(9, 10)),
    ("9月下旬", ByDate(9)),
    ("年底前", ByDate(12)),
    ("年底", ByDate(12)),
    ("年末", ByDate(12)),
    ("今年年底前", ByDate(12)),
    ("2020年底前", ByDate(12, year=2020)),
    ("2020年年底前", ByDate(12, year=2020)),
    ("年内", ByDate(12)),
    ("2020年内", ByDate(12, year=2020)),
    ("二〇二〇年内", ByDate(12, year=2020)),
    ("年中", ByDate(6)),
    ("上半年", ByDate(6)),
    ("2024年上半年", ByDate(6, year=2024)),
    ("下半年", ByDate(12)),
    ("三季度末", ByDate(9)),
    ("第三季度末", ByDate(9)),
    ("第三季度末前", ByDate(9)),
    ("一季度", ByDate(3)),
    ("第一季度", ByDate(3)),
    ("四季度末", ByDate(12)),
    ("力争在年底前完成", ByDate(12)),
    # recurring
    ("每年1月10日前", Recurring("year", month=1, day=10)),
    ("每年一月十日前", Recurring("year", month=1, day=10)),
    ("每年3月底前", Recurring("year", month=3)),
    ("每月", Recurring("month")),
    ("每月报送", Recurring("month")),
    ("每个月", Recurring("month")),
    ("按月", Recurring("month")),
    ("每月月底前", Recurring("month")),
    ("每月10日前", Recurring("month", day=10)),
    ("每月5日内", Recurring("month", day=5)),
    ("每季度", Recurring("quarter")),
    ("按季度", Recurring("quarter")),
    ("每季度末", Recurring("quarter")),
    ("每半年", Recurring("half_year")),
    ("每年", Recurring("year")),
    ("每季度结束后10个工作日内", Recurring("quarter", after_period=WorkingDays(10))),
    ("每月结束后5日内", Recurring("month", after_period=CalendarDays(5))),
    # relative
    ("5个工作日内", WorkingDays(5)),
    ("五个工作日内", WorkingDays(5)),
    ("５个工作日内", WorkingDays(5)),
    ("十五个工作日以内", WorkingDays(15)),
    ("二十个工作日内", WorkingDays(20)),
    ("两个工作日之内", WorkingDays(2)),
    ("5日内", CalendarDays(5)),
    ("5天内", CalendarDays(5)),
    ("三十一日内", CalendarDays(31)),
    ("10个自然日内", CalendarDays(10)),
    ("两周内", CalendarDays(14)),
    ("1个月内", Months(1)),
    ("一个月内", Months(1)),
    ("两个月内", Months(2)),
    ("一个季度内", Months(3)),
    ("半年内", Months(6)),
    ("一年内", Months(12)),
    ("2小时内", Hours(2)),
    ("24小时内", Hours(24)),
    ("印发之后2小时内", Hours(2, event="印发")),
    ("收到申请之日起15个工作日内", WorkingDays(15, event="收到申请")),
    ("超过文件发布时间5日", CalendarDays(5, event="文件发布")),
    ("距文件印发超过1个月", Months(1, event="文件印发")),
    ("新出台的相关政策文件须于5个工作日内上传", WorkingDays(5, event="新出台的相关政策文件")),
    # traditional characters, as in the 朝阳 original
    ("5個工作日內", WorkingDays(5)),
    ("每季度結束後10個工作日內", Recurring("quarter", after_period=WorkingDays(10))),
]


@pytest.mark.parametrize(("phrase", "expected"), PHRASES, ids=[p for p, _ in PHRASES])
def test_phrase_parses_to_rule(phrase, expected):
    assert parse_time_limit(phrase) == expected


AMBIGUOUS = [
    ("3月内", "是在3月内还是3个月内"),
    ("9月15日前后", "前后"),
    ("9月15日17时前", "24时以外"),
    ("三季度前", "有歧义"),
    ("9月中旬前", "有歧义"),
    ("9月前", "有歧义"),
    ("10日前", "没有写明月份"),
    ("次月10日前", "没有写明具体月份"),
    ("月底前", "没有写明具体月份"),
    ("半个月内", "没有法定的确切长度"),
    ("3个工作日前", "往前倒数"),
    ("每周", "按周"),
    ("每天", "按日"),
    ("2月30日前", "日期或数字无效"),
    ("13月1日前", "日期或数字无效"),
    ("0个工作日内", "期限为零"),
    ("9月15日前和5个工作日内", "包含2个时限"),
    ("及时", "用语含糊（及时）"),
    ("持续推进", "用语含糊（持续）"),
    ("常态化", "用语含糊（常态化）"),
    ("2020年度", "未识别出时限"),
    ("第6版", "未识别出时限"),
    ("", "时限为空"),
]


@pytest.mark.parametrize(("phrase", "reason"), AMBIGUOUS, ids=[p or "empty" for p, _ in AMBIGUOUS])
def test_unreadable_or_ambiguous_phrase_is_unparsed_with_reason_never_guessed(phrase, reason):
    result = parse_time_limit(phrase)
    assert isinstance(result, Unparsed)
    assert result.text == phrase
    assert reason in result.reason


NUMBERS = [
    ("5", 5), ("十", 10), ("十五", 15), ("二十", 20), ("二十一", 21), ("三十一", 31),
    ("两", 2), ("〇", 0), ("零", 0), ("一百零五", 105), ("一百二十", 120), ("百", 100),
    ("二〇二〇", 2020), ("２０", 20),
]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), NUMBERS)
def test_chinese_number(text, value):
    assert chinese_number(text) == value


@pytest.mark.parametrize("text", ["", "十十", "五五十", "两两", "abc", "十百"])
def test_chinese_number_rejects_malformed(text):
    with pytest.raises(ValueError):
        chinese_number(text)


# ---------------------------------------------------------------------------- paragraphs

CHAOYANG_6 = (
    "政府网站及部门网站要设置专题栏目，集中公开“六稳”“六保”政策文件。9月15日前，各级政府部门"
    "将本部门已出台、可公开的政策文件上传部门网站专栏，并报本地区政府门户网站集中公开。新出台的"
    "相关政策文件须于5个工作日内上传部门网站并报送本地区政府门户网站公开。"
)


def test_finds_both_limits_of_chaoyang_item_6_with_sentence_and_event():
    found = find_time_limits(CHAOYANG_6)
    assert [f.text for f in found] == ["9月15日前", "5个工作日内"]
    first, second = found
    assert first.rule == ByDate(9, 15)
    assert first.event is None
    assert first.sentence.startswith("9月15日前，各级政府部门将本部门已出台")
    assert first.sentence.endswith("集中公开。")
    assert second.rule == WorkingDays(5, event="新出台的相关政策文件")
    assert second.event == "新出台的相关政策文件"
    assert second.sentence.startswith("新出台的相关政策文件须于5个工作日内上传")
    for f in found:
        assert CHAOYANG_6[f.start : f.end] == f.text


def test_finds_both_month_end_limits_split_by_semicolon():
    text = (
        "8月底前完成基层政务公开标准化规范化工作实施方案；11月底前编制完成市县乡三级26个国家试点"
        "领域基层政务公开事项标准目录。确保权力运行到哪里，公开和监督就延伸到哪里。"
    )
    found = find_time_limits(text)
    assert [(f.text, f.rule) for f in found] == [("8月底前", ByDate(8)), ("11月底前", ByDate(11))]
    assert found[0].sentence == "8月底前完成基层政务公开标准化规范化工作实施方案；"
    assert found[1].sentence.startswith("11月底前编制完成")


# Real sentences from the seed documents and what must be found in them.
SEED_SENTENCES = [
    (
        "按新修订的《中华人民共和国政府信息公开条例》中规定的法定主动公开内容年底前要全部公开到位。",
        [("年底前", ByDate(12))],
    ),
    (
        "各级行政机关系统梳理本机关制发的规章和规范性文件，按照“放管服”改革要求及时立改废，集中统一"
        "公开并动态更新，年底前初步解决底数不清、体系不完善问题。",
        [("年底前", ByDate(12))],
    ),
    (
        "暂未建设部门网站的市政府组成部门要积极推进网站建设工作，力争在年底前完成网站建设和使用。"
        "新上线的政府网站要全面支持互联网协议第6版。",
        [("年底前", ByDate(12))],
    ),
    (
        "以日常监测、网上检查和现场考核相结合的方式开展，计划分年中、三季度末及年底三次进行。",
        [("年中", ByDate(6)), ("三季度末", ByDate(9)), ("年底", ByDate(12))],
    ),
    (
        "评分方式：对本地区出台的重要政策进行解读，每件减0.1分；最初发布的解读信息时间超过文件发布"
        "时间5日，每件减0.05分；",
        [("超过文件发布时间5日", CalendarDays(5, event="文件发布"))],
    ),
    (
        "评分方式：未按要求每月向政府办公报送主动公开文件的，每次扣0.5分；报送主动公开文件时，距文件"
        "印发超过1个月的，每件扣0.1分。",
        [("每月", Recurring("month")), ("距文件印发超过1个月", Months(1, event="文件印发"))],
    ),
    ("考核内容：每月向政府办公报送本部门主动公开文件情况", [("每月", Recurring("month"))]),
    (
        "各县(市)区对已确定的政务公开示范点要常抓不懈，持续推进，同时要选树一批具有代表性的先进单位。",
        [],
    ),
    (
        "通过政府信息公开平台，及时公开本级政府及其部门最新版权责清单。",
        [],
    ),
    (
        "坚持做好疫情防控常态化下疫情信息发布工作，让公众实时了解最新疫情动态和应对处置工作进展。",
        [],
    ),
    (
        "年中及三季度考核，依据考核指标节点内容和标准，开展线上审核。",
        [("年中", ByDate(6))],  # "三季度考核" names the quarter of an inspection, not a limit
    ),
    # traditional original with the pinyin annotations already removed
    (
        "9月15日前，各級政府部門將本部門已出臺、可公開的政策文件上傳部門網站專欄。"
        "新出臺的相關政策文件須於5個工作日內上傳部門網站。",
        [
            ("9月15日前", ByDate(9, 15)),
            ("5個工作日內", WorkingDays(5, event="新出臺的相關政策文件")),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), SEED_SENTENCES, ids=range(len(SEED_SENTENCES)))
def test_seed_sentences_yield_exactly_their_time_limits(text, expected):
    assert [(f.text, f.rule) for f in find_time_limits(text)] == expected


NOT_TIME_LIMITS = [
    "新上线的政府网站要全面支持互联网协议第6版。",
    "11月底前编制完成市县乡三级26个国家试点领域基层政务公开事项标准目录。"[5:],
    "提升服务窗口及8890平台服务水平，为市场主体提供更加精准、便捷的政策咨询。",
    "健全完善12345综合服务平台政策问答“知识库”。",
    "做好政府网站与l2345综合服务平台对接。",
    "各地区、各部门要将贯彻落实本要点的主要情况纳入2020年度政府信息公开工作年度报告予以公开。",
    "开展第十八届“5·15政务公开日”活动，聚焦政策服务。",
    "未及时更新现行有效行政性文件，每件减0.2分；",
    "拨测政府信息公开联系电话均无人接听，每季度减0.2分；",
    "政务公开工作占绩效考核分值权重不足4%减0.1分；政府领导同志专题研究部署政务公开工作2次以上加0.1分。",
    "分2到3个不同时间段拨测其在政府网站发布的政府信息公开联系电话。",
    "朝阳市政务公开领导小组 2020年8月25日",
    "发布时间:2024-07-22 浏览次数:238",
    "2024年中国政务公开发展报告",
    "加强对下级主管部门的业务指导，做到一年四季不松懈。",
    "“两微一端”之外的政务新媒体要参照相关标准进行管理。",
]


@pytest.mark.parametrize("text", NOT_TIME_LIMITS)
def test_numbers_that_are_not_time_limits_are_not_reported(text):
    assert find_time_limits(text) == []


def test_vague_paragraph_has_no_limit_but_reports_its_vague_words():
    text = "及时准确发布疫情信息。坚持做好疫情防控常态化下疫情信息发布工作，持续推进，定期清理，适时调整，及时公开。"
    assert find_time_limits(text) == []
    assert find_vague_limits(text) == ["及时", "常态化", "持续", "定期", "适时"]


def test_vague_words_in_traditional_characters_are_found():
    assert find_vague_limits("及時公開") == ["及时"]


def test_ambiguous_phrase_in_running_text_is_reported_as_unparsed():
    found = find_time_limits("各单位应于9月15日前后报送材料。")
    assert len(found) == 1
    assert found[0].text == "9月15日前后"
    assert isinstance(found[0].rule, Unparsed)
    assert found[0].rule.text == "9月15日前后"


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("新出台的相关政策文件须于5个工作日内上传部门网站。", "新出台的相关政策文件"),
        ("对群众来信，应在5日内答复。", "群众来信"),
        ("自收到申请之日起15个工作日内予以答复。", "收到申请"),
        ("重要政策文件印发之后2小时内在政府网站发布。", "重要政策文件印发"),
        ("5个工作日内完成整改。", None),
    ],
)
def test_event_of_relative_limit_is_the_phrase_before_it(text, event):
    (found,) = find_time_limits(text)
    assert found.event == event
    assert getattr(found.rule, "event", None) == event


def test_absolute_and_recurring_limits_carry_no_event():
    found = find_time_limits("各部门每季度结束后10个工作日内报送；年底前完成总结。")
    assert [f.event for f in found] == [None, None]
    assert found[0].rule == Recurring("quarter", after_period=WorkingDays(10))


def test_year_prefix_belongs_to_the_date():
    (found,) = find_time_limits("各单位于2018年10月30日前完成清理。")
    assert found.text == "2018年10月30日前"
    assert found.rule == ByDate(10, 30, year=2018)


def test_recurring_date_is_one_rule_not_a_date_plus_leftovers():
    found = find_time_limits("每年1月10日前报送上一年度工作总结。")
    assert [(f.text, f.rule) for f in found] == [
        ("每年1月10日前", Recurring("year", month=1, day=10))
    ]
