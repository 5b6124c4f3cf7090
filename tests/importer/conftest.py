"""Shared fixtures for the importer tests: fixture documents and a small unit directory."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = Path("/work/shared/seeds")

UNITS_YAML = """\
city: 新源市
groups:
  - words: [各县区政府, 各县(市)区政府, 各县(市)政府]
    kinds: [county_gov]
  - words: [市政府各部门, 市政府各单位]
    kinds: [city_dept]
  - words: [市直各单位, 市(中、省)直单位]
    kinds: [city_dept, affiliated]
  - words: [各有关单位]
    spell_out: true
units:
  - {code: szfb, name: 市政府办公室, kind: city_dept}
  - {code: swbb, name: 市委编办, kind: affiliated}
  - {code: ssfj, name: 市司法局, kind: city_dept}
  - {code: ssjj, name: 市数据局, kind: city_dept}
  - {code: sscj, name: 市市场监督管理局, kind: city_dept}
  - {code: syshj, name: 市营商环境建设局, kind: city_dept}
  - {code: anping, name: 安平县人民政府, kind: county_gov}
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A configuration directory holding only units.yaml (what the importer reads)."""
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "units.yaml").write_text(UNITS_YAML, encoding="utf-8")
    return cfg


@pytest.fixture
def directory(config_dir: Path):
    from duban.config import load_unit_directory

    return load_unit_directory(config_dir)


def seed(name: str) -> Path:
    """A seed document from /work/shared/seeds, or skip the test saying why."""
    path = SEEDS / name
    if not path.exists():
        pytest.skip(f"seed document {path} is not available on this machine (shared/ missing)")
    return path
