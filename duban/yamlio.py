"""YAML loading that remembers where every value came from.

Configuration errors must point at ``file:line: field: message``.  PyYAML's composed node tree
knows the line of every key and sequence entry; we keep a map from the path of each value
(``("holidays", 2, "rest", "from")``) to its line and use it to place pydantic's error locations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One configuration problem, printed as ``file:line: field: message``."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(file)'}: {self.message}"


class ConfigError(Exception):
    """One or more configuration problems; ``str()`` lists them one per line."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class LocatedYaml:
    """Parsed YAML data plus the line of every value path."""

    path: str
    data: Any
    lines: dict[PathKey, int]

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Line of the longest known prefix of ``loc`` (pydantic error locations)."""
        key: PathKey = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return Problem(self.path, self.line_of(loc), format_loc(loc), message)


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines)


def parse_yaml(text: str, path: str = "<string>") -> LocatedYaml:
    """Parse YAML text; syntax errors become a ConfigError with the line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError([Problem(path, line, "", f"YAML syntax error: {exc.problem}")]) from exc
    finally:
        loader.dispose()
    lines: dict[PathKey, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return LocatedYaml(path=path, data=data, lines=lines)


def load_yaml(path: str | Path) -> LocatedYaml:
    """Read and parse a YAML file (UTF-8); unreadable files raise ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(p), None, "", f"cannot read file: {exc}")]) from exc
    return parse_yaml(text, str(p))


def problems_from_validation(doc: LocatedYaml, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [part for part in err["loc"] if not (isinstance(part, str) and "[" in part)]
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        problems.append(doc.problem(loc, msg))
    return problems


def validate_doc(model: type[M], doc: LocatedYaml, *, context: dict[str, Any] | None = None) -> M:
    """Validate parsed YAML against a pydantic model; errors carry file:line: field."""
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(doc, exc)) from exc


def load_model(model: type[M], path: str | Path, *, context: dict[str, Any] | None = None) -> M:
    """Load a YAML file and validate it into ``model``."""
    return validate_doc(model, load_yaml(path), context=context)
