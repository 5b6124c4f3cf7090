"""Properties of the configuration loader (duban/yamlio.py, duban/config.py and the loaders
built on it: units, plans, rules, ladders, calendar year files and regions, settings).

Whatever a file holds — a valid file with a value replaced or removed, stray YAML syntax or
control characters typed into it, random text or bytes, an alias bomb — loading it gives
the model or a `ConfigError` whose problems name the file (and the line when the YAML could be
read). Never a raw yaml.YAMLError, KeyError, TypeError, pydantic ValidationError or
RecursionError.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deadlines.calendar import CalendarError, default_config_dir, read_region_file, read_year_files
from deadlines.ladder import load_ladders
from deadlines.rules import rule_from_dict
from duban.config import (
    Settings,
    UnitsFile,
    check_config,
    load_plan,
    load_unit_directory,
)
from duban.yamlio import ConfigError, load_yaml, parse_yaml, validate_doc
from scoring.rules import load_rulebook

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# Loading a real file is pure-Python PyYAML (~0.1 s for units.yaml): fewer, bigger examples.
WHOLE_FILE = settings(SETTINGS, max_examples=80)
REAL = default_config_dir()
DIRECTORY = load_unit_directory(REAL)

# kind → (the real file, where it goes in a config directory, how it is loaded from there)
Loader = Callable[[Path], Any]
KINDS: dict[str, tuple[Path, str, Loader]] = {
    "settings": (REAL / "settings.yaml", "settings.yaml",
                 lambda cfg: validate_doc(Settings, load_yaml(cfg / "settings.yaml"))),
    "units": (REAL / "units.yaml", "units.yaml",
              lambda cfg: validate_doc(UnitsFile, load_yaml(cfg / "units.yaml"))),
    "plan": (REAL / "plans" / "2020-chaoyang.yaml", "plans/2020-x.yaml",
             lambda cfg: load_plan(cfg / "plans" / "2020-x.yaml", DIRECTORY)),
    "ladders": (REAL / "ladders.yaml", "ladders.yaml",
                lambda cfg: load_ladders(cfg / "ladders.yaml")),
    "rules": (REAL / "rules" / "2020.yaml", "rules/2020.yaml",
              lambda cfg: load_rulebook(cfg / "rules" / "2020.yaml")),
    "calendar": (REAL / "calendars" / "cn" / "2026.yaml", "calendars/cn/2026.yaml",
                 lambda cfg: read_year_files(cfg)),
    "region": (REAL / "calendars" / "regions" / "yanbian.yaml", "calendars/regions/yanbian.yaml",
               lambda cfg: read_region_file(cfg, "yanbian")),
}
TEXTS = {kind: path.read_text(encoding="utf-8") for kind, (path, _, _) in KINDS.items()}
DATA = {kind: yaml.safe_load(text) for kind, text in TEXTS.items()}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config-properties")


def _load(workdir: Path, kind: str, content: str | bytes) -> tuple[Path, Any]:
    """Write ``content`` as the file of ``kind`` in a fresh config directory and load it."""
    _, where, loader = KINDS[kind]
    cfg = workdir / f"cfg-{time.monotonic_ns()}"
    path = cfg / where
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8", errors="surrogatepass"))
    return path, loader(cfg)


def _loads_or_says_where(workdir: Path, kind: str, content: str | bytes) -> None:
    try:
        _load(workdir, kind, content)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError without problems"
        for problem in exc.problems:
            assert problem.file.endswith(KINDS[kind][1]), problem
            assert problem.message.strip(), problem
            assert str(problem).startswith(problem.file)
    except CalendarError as exc:  # the calendar's own error (e.g. a year file with no data)
        assert str(exc).strip()


# --------------------------------------------------------------------------- structural mutations

_KEYS = ["kind", "n", "month", "day", "year", "every", "after_period", "event", "rule",
         "unparsed", "text", "name", "code", "rest", "from", "to", "work", "step", "title",
         "items", "units", "holidays", "ladders", "source", "number", "contacts"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(), st.text(max_size=8),
    st.dates(min_value=date(1, 1, 1)),
    st.sampled_from(["", "0", "+5", "-3", "2026-02-30", "12:00", "by_date", "month",
                     "working_days", "recurring", "city_dept", "liaison", "a@b.c",
                     "市政府办公室", "每月10日前", "nan", "1e999"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=5), st.integers()),
                        inner, max_size=3),
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_config(draw: st.DrawFn) -> tuple[str, str]:
    """A real configuration file with one to three values replaced or removed."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    data = copy.deepcopy(DATA[kind])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        if not path:
            data = draw(values)
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[path[-1]] = draw(values)
        else:
            del parent[path[-1]]
    return kind, yaml.safe_dump(data, allow_unicode=True)


@WHOLE_FILE
@given(case=mutated_config())
def test_a_structurally_mutated_config_loads_or_names_file_and_line(workdir, case):
    kind, text = case
    try:
        _load(workdir, kind, text)
    except ConfigError as exc:
        for problem in exc.problems:
            assert problem.file.endswith(KINDS[kind][1])
            if yaml.safe_load(text) is None:  # the whole document replaced by null
                assert problem.message.strip()
                continue
            # the YAML itself is fine, so every problem can be placed on a line
            assert problem.line is not None and 1 <= problem.line <= text.count("\n") + 1, problem
            assert f"{problem.file}:{problem.line}: " in str(exc)
    except CalendarError as exc:
        assert str(exc).strip()


# --------------------------------------------------------------------------- text mutations

_TOKENS = [":", " ", "\n", "- ", "[", "]", "{", "}", "&a ", "*a", "!!python/object:os.system ",
           "!!binary ", "!!int ", "!!float ", "!!timestamp ", "!!set ", "? ", "<<: *a", "|", ">",
           "#", "'", '"', "\t", "\x00", "\x07", "\x85", "\u2028", "\ufeff", "\x1b", "%YAML 1.1\n",
           "---\n", "...\n", ",", "a", "1", ".nan", ".inf", "2026-13-45", "year", "\\", "中"]
token = st.sampled_from(_TOKENS)


@st.composite
def typed_into(draw: st.DrawFn) -> tuple[str, str]:
    """A real configuration file with a few YAML tokens or control characters typed into it."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    text = TEXTS[kind]
    for _ in range(draw(st.integers(1, 4))):
        a = draw(st.integers(0, len(text)))
        b = min(len(text), a + draw(st.integers(0, 6)))
        text = text[:a] + "".join(draw(st.lists(token, max_size=4))) + text[b:]
    return kind, text


@WHOLE_FILE
@given(case=typed_into())
def test_yaml_syntax_typed_into_a_config_never_escapes_as_a_raw_exception(workdir, case):
    _loads_or_says_where(workdir, *case)


@SETTINGS
@given(
    kind=st.sampled_from(sorted(KINDS)),
    content=st.one_of(st.text(), st.lists(token, max_size=40).map("".join), st.binary()),
)
def test_arbitrary_text_or_bytes_as_a_config_file(workdir, kind, content):
    _loads_or_says_where(workdir, kind, content)


# --------------------------------------------------------------------------- hostile YAML


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = [
    ("alias bomb", _bomb(), 7, "expand to more than"),  # a6 alone holds 9**7 values
    ("self-referencing alias", "items: &x [*x]\n", 1, "contains itself"),
    ("self-referencing mapping", "year: 2020\nsource: &s {a: *s}\n", 2, "contains itself"),
    ("deep nesting", "- " * 2000 + "x\n", None, "nesting is too deep"),
    ("python object tag", "year: !!python/object/apply:os.system [echo hi]\n", 1, "constructor"),
    ("bad !!int", "year: 2020\nissuer: !!int abc\n", 2, "cannot be read"),
    ("bad !!timestamp", "year: 2020\nissued: !!timestamp 2020-13-45\n", 2, "cannot be read"),
    ("empty !!float", "year: !!float\n", 1, "cannot be read"),
    ("control character", "year: 2020\ntitle: a\x07b\n", 2, "U+0007"),
    ("NUL byte", "year: 2020\n\x00\n", 2, "U+0000"),
    ("unhashable key", "? [a, b]\n: 1\n", 1, "unhashable"),
    ("rule kind is a list", "year: 2020\nissuer: x\ntitle: t\nitems:\n  - number: '1'\n"
     "    title: t\n    time_limits:\n      - text: x\n        rule: {kind: [by_date]}\n",
     9, "rule.kind"),
]


@pytest.mark.parametrize(("text", "line", "words"), [h[1:] for h in HOSTILE],
                         ids=[h[0] for h in HOSTILE])
def test_hostile_yaml_is_a_config_error_with_its_line(tmp_path, text, line, words):
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_plan(path, DIRECTORY)
    assert time.monotonic() - started < 5
    (problem,) = caught.value.problems
    assert problem.file == str(path) and problem.line == line, problem
    assert words in problem.message or words in problem.field, problem


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("year: 中文\n".encode("utf-16"), 1, "UTF-16"),
        ("year: 2020\ntitle: 中文\n".encode("gb18030"), 2, "GB18030"),
        ("year: 2020\ntitle: 中文\n".encode("big5"), 2, "Big5"),
    ],
    ids=["utf-16", "gb18030", "big5"],
)
def test_a_config_file_that_is_not_utf8_says_so_with_its_line(tmp_path, content, line, words):
    path = tmp_path / "plan.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_plan(path, DIRECTORY)
    (problem,) = caught.value.problems
    assert problem.file == str(path) and problem.line == line
    assert "not UTF-8" in problem.message and words in problem.message


def test_a_rule_with_odd_keys_or_kind_is_a_value_error_naming_them():
    """Rules also come from dicts built in code; YAML keys may be numbers, kinds may be lists."""
    with pytest.raises(ValueError, match=r"unknown field\(s\) 1, x"):
        rule_from_dict({"kind": "by_date", "month": 9, 1: 2, "x": 3})
    with pytest.raises(ValueError, match=r"rule\.kind"):
        rule_from_dict({"kind": {"by_date": 1}})


def test_a_plan_number_in_an_exotic_digit_is_kept_as_text():
    """'፩' passes str.isdigit() but int() cannot read it: the item code falls back to position."""
    from duban.config import ItemCfg, item_code

    item = ItemCfg(number="፩", title="标题")
    assert item_code(2020, item, 3) == "2020-3"


def test_check_config_reports_every_broken_file_and_never_raises(tmp_path):
    import shutil

    cfg = tmp_path / "config"
    shutil.copytree(REAL, cfg)
    (cfg / "ladders.yaml").write_text(_bomb(), encoding="utf-8")
    (cfg / "plans" / "2020-chaoyang.yaml").write_bytes(b"year: \x00\n")
    (cfg / "settings.yaml").write_text("mail: &m {a: *m}\n", encoding="utf-8")
    report = check_config(cfg)
    files = {Path(p.file).name for p in report.problems}
    assert {"ladders.yaml", "2020-chaoyang.yaml", "settings.yaml"} <= files
    assert all(p.line is not None for p in report.problems)


def test_parse_yaml_lines_survive_an_alias_used_twice():
    doc = parse_yaml("base: &b {kind: by_date, month: 9}\nx: *b\ny: *b\n", "f.yaml")
    assert doc.line_of(("y", "month")) == 3  # the alias's own line, not an error
    assert doc.data["y"] == {"kind": "by_date", "month": 9}

