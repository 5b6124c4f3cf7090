"""The synthetic province shared by the province-sized benchmarks (bench/daily_run.py,
bench/province.py): its units and contacts, a config/ copy around them, and the PostgreSQL
server on the loopback that the benchmarks use when it answers.

Everything is deterministic for a seed.  Names are made up from common parts (cities, districts,
departments, surnames); e-mail addresses are under ``prov.example.gov.cn`` and never deliverable.
"""

from __future__ import annotations

import math
import random
import shutil
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
DOMAIN = "prov.example.gov.cn"
BUILT_AT = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
PG_HOST, PG_PORT = "127.0.0.1", 5432

CITY_A, CITY_B = "东西南北安平清宁长临", "江山川河阳州原林湖海"
DEPTS = ("发展改革委", "教育局", "科技局", "工业和信息化局", "民族宗教局", "公安局", "民政局",
         "司法局", "财政局", "人力资源和社会保障局", "自然资源局", "生态环境局", "住房和城乡建设局",
         "交通运输局", "水务局", "农业农村局", "商务局", "文化和旅游局", "卫生健康委",
         "退役军人事务局", "应急管理局", "审计局", "市场监督管理局", "统计局", "医疗保障局",
         "信访局", "林业和草原局", "体育局", "城市管理局", "粮食和物资储备局")
AFFILIATED = ("档案馆", "住房公积金中心", "政务服务中心", "大数据中心", "机关事务服务中心",
              "地方志办公室", "融媒体中心")
COUNTIES = "东西南北中新城郊高开"
ZONES = ("经济技术开发区管委会", "高新技术产业开发区管委会", "综合保税区管委会")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("建国", "春华", "丽", "军", "婷", "辉", "蕾", "平", "海燕", "明", "洋", "静", "伟", "芳",
         "磊", "娜", "强", "敏", "涛", "霞")
TOPICS = ("重大建设项目批准和实施", "公共资源配置", "社会公益事业建设", "财政预决算",
          "行政执法", "政策解读", "政务服务事项", "基层政务公开标准化", "政府信息公开平台",
          "政策文件库", "惠企政策", "民生实事", "生态环境", "食品药品监管", "教育招生",
          "医疗卫生", "就业创业", "住房保障", "乡村振兴", "应急管理", "减税降费", "营商环境",
          "权责清单", "政府网站和政务新媒体", "依申请公开")

# Group words of the province's units.yaml (``各地各部门`` etc. in a plan resolve through them).
GROUPS = [
    {"words": ["各县(市)区政府", "各县(市)区人民政府"], "kinds": ["county_gov"]},
    {"words": ["市政府各部门"], "kinds": ["city_dept"]},
    {"words": ["市直各单位"], "kinds": ["city_dept", "affiliated"]},
    {"words": ["各园区管委会"], "kinds": ["zone"]},
    {"words": ["县区政府各部门"], "kinds": ["other"]},
    {"words": ["各地各部门"], "kinds": ["county_gov", "city_dept", "affiliated", "zone", "other"]},
]


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _city_names(city: str, *, county_depts: bool) -> list[tuple[str, str]]:
    """A city's units: 10 district governments, 30 departments, 7 affiliated bodies, 3 zones,
    and with ``county_depts`` the 30 departments of each district (kind ``other``)."""
    names = [(f"{city}{c}区人民政府", "county_gov") for c in COUNTIES]
    names += [(f"{city}{d}", "city_dept") for d in DEPTS]
    names += [(f"{city}{x}", "affiliated") for x in AFFILIATED]
    names += [(f"{city}{z}", "zone") for z in ZONES]
    if county_depts:
        names += [(f"{city}{c}区{d}", "other") for d in DEPTS for c in COUNTIES]
    return names


def province_units(n: int, seed: int, *, cities: int | None = None) -> list[dict]:
    """``n`` units for units.yaml: the provincial office (with three coordinators) first.

    Without ``cities``: 50 city-level units per city, as many cities as ``n`` needs (up to 100).
    With ``cities``: the units spread evenly over that many cities, each city's 50 city-level
    units first, then its districts' departments (kind ``other``).
    """
    rng = random.Random(seed)
    office = {"code": "u00000", "name": "省政府办公厅", "kind": "city_dept", "contacts": [
        {"name": "孙丽", "role": "coordinator", "email": f"duban1@{DOMAIN}"},
        {"name": "钱进", "role": "coordinator", "email": f"duban2@{DOMAIN}"},
        {"name": "郑洁", "role": "coordinator", "email": f"duban3@{DOMAIN}"}]}
    all_cities = [f"{a}{b}市" for a in CITY_A for b in CITY_B]
    names: list[tuple[str, str, int]] = []  # (name, kind, city number)
    if cities is None:
        for no, city in enumerate(all_cities):
            names += [(name, kind, no) for name, kind in _city_names(city, county_depts=False)]
    else:
        if not 1 <= cities <= len(all_cities):
            raise SystemExit(f"cities must be 1..{len(all_cities)}")
        quota = math.ceil((n - 1) / cities)
        for no, city in enumerate(all_cities[:cities]):
            names += [(name, kind, no) for name, kind
                      in _city_names(city, county_depts=True)[:quota]]
    if n - 1 > len(names):
        raise SystemExit(f"--units at most {len(names) + 1}")
    units = [office]
    for i, (name, kind, city_no) in enumerate(names[: n - 1], start=1):
        unit = {"code": f"u{i:05d}", "name": name, "kind": kind}
        if city_no % 25 == 7:  # a few cities follow the Yanbian calendar overlay
            unit["region"] = "yanbian"
        unit["contacts"] = [
            {"name": person(rng), "role": "liaison", "email": f"liaison.u{i:05d}@{DOMAIN}"},
            {"name": person(rng), "role": "leader", "email": f"leader.u{i:05d}@{DOMAIN}"}]
        units.append(unit)
    for u in units:
        u["contacts"][0]["phone"] = "0431-88880000"
    return units


def build_config(root: Path, units: list[dict], outbox: Path, *, item_concurrency: int,
                 groups: list[dict] | None = None,
                 source: str = "bench/daily_run.py 生成的合成数据") -> Path:
    """A copy of config/ with the province's units.yaml (and ``groups``), no plans, file-mode
    mail into ``outbox`` and ``item_concurrency`` item flows side by side."""
    config = root / "config"
    shutil.copytree(ROOT / "config", config)
    for plan in (config / "plans").glob("*.yaml"):  # they name the example city's units
        plan.unlink()
    doc: dict = {"city": "示例省", "source": source}
    if groups:
        doc["groups"] = groups
    doc["units"] = units
    (config / "units.yaml").write_text(
        "# 合成省级单位名录（基准测试用，联系人和邮箱均为虚构）\n"
        + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
    settings = yaml.safe_load((config / "settings.yaml").read_text(encoding="utf-8"))
    settings["office"] = "示例省政务公开办"
    settings["mail"] = {"mode": "file", "from_address": f"duban@{DOMAIN}",
                        "from_name": "示例省政务公开办", "outbox_dir": str(outbox)}
    settings["prefect"] = {**(settings.get("prefect") or {}), "item_concurrency": item_concurrency}
    (config / "settings.yaml").write_text(
        yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config


def due_at(d: date) -> datetime:
    """24:00 local on the due date, stored in UTC."""
    nxt = d + timedelta(days=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=SHANGHAI).astimezone(UTC)


def local_at(d: date, hour: int) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=SHANGHAI).astimezone(UTC)


# ----------------------------------------------------------------------- PostgreSQL


def postgres_answers() -> bool:
    """Whether the loopback server (trust, user postgres) accepts a connection."""
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            pass
    except OSError:
        return False
    try:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres",
                             connect_timeout=3):
            return True
    except Exception:
        return False


def pg_admin(sql: str, *, host: str = PG_HOST, port: int = PG_PORT) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the server's ``postgres`` database."""
    import psycopg

    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(sql)
