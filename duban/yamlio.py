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

from duban.inputs import InputTooLarge, read_bounded

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


#: Values a document may hold once its aliases are expanded. Real configuration files have a
#: few thousand; the limit stops an alias bomb ("billion laughs") from exhausting memory.
MAX_VALUES = 1_000_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(root: yaml.Node, path: str) -> None:
    """Refuse a self-referencing alias and a document that expands to too many values.

    Iterative (no recursion), linear in the number of distinct nodes: the expanded size of a
    node shared through an alias is computed once.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[key] > MAX_VALUES:
                raise ConfigError([Problem(
                    path, node.start_mark.line + 1, "",
                    f"the YAML aliases (*name) expand to more than {MAX_VALUES} values",
                )])
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ConfigError([Problem(
                path, node.start_mark.line + 1, "",
                "a YAML alias (*name) refers to a value that contains itself",
            )])
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], seen: set[int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:  # shared through an alias: its inner lines are known under one path
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else key_node.tag
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, seen)


def _unreadable_scalar_line(root: yaml.Node) -> int | None:
    """Line of the first scalar PyYAML cannot construct ("!!int abc", "!!timestamp x")."""
    probe = yaml.SafeLoader("")
    stack, seen = [root], set()
    try:
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                try:
                    probe.construct_object(node)
                except Exception:  # any failure marks the culprit
                    return node.start_mark.line + 1
            stack.extend(reversed(_children(node)))
    finally:
        probe.dispose()
    return None


def _reader_problem(path: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    line = text.count("\n", 0, exc.position) + 1
    return Problem(path, line, "", f"character U+{code:04X} is not allowed in a YAML file "
                   "(a control character: is this really a text file?)")


def parse_yaml(text: str, path: str = "<string>") -> LocatedYaml:
    """Parse YAML text; every failure becomes a ConfigError with the line where known.

    Besides syntax errors: control characters, values an explicit tag cannot hold
    ("!!int abc"), nesting too deep for the parser, self-referencing aliases and alias bombs.
    """
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # the reader checks every character up front
        raise ConfigError([_reader_problem(path, text, exc)]) from exc
    node: yaml.Node | None = None
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_aliases(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError([Problem(path, line, "", f"YAML syntax error: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(path, None, "", f"YAML error: {exc}")]) from exc
    except RecursionError as exc:
        raise ConfigError([Problem(path, None, "", "YAML nesting is too deep")]) from exc
    except (ValueError, TypeError, AttributeError, IndexError, OverflowError) as exc:
        # PyYAML's constructors raise these for a tagged scalar they cannot convert.
        line = _unreadable_scalar_line(node) if node is not None else None
        raise ConfigError([Problem(path, line, "", f"YAML value cannot be read: {exc}")]) from exc
    finally:
        loader.dispose()
    lines: dict[PathKey, int] = {}
    if node is not None:
        _walk(node, (), lines, set())
    return LocatedYaml(path=path, data=data, lines=lines)


def _not_utf8(path: str, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    line = raw.count(b"\n", 0, exc.start) + 1
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        guess = "it looks like UTF-16 (Windows 'Unicode') or a binary file"
    else:
        guess = "perhaps GB18030/GBK or Big5"
    return Problem(path, line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02X}; {guess}): "
                   "save the file as UTF-8")


def load_yaml(path: str | Path) -> LocatedYaml:
    """Read and parse a YAML file (UTF-8); unreadable files raise ConfigError.

    A file over the input limit (``DUBAN_MAX_INPUT_MB``) is refused before it is read.
    """
    p = Path(path)
    try:
        raw = read_bounded(p)
    except InputTooLarge as exc:
        raise ConfigError([Problem(str(p), None, "", exc.reason)]) from exc
    except OSError as exc:
        raise ConfigError([Problem(str(p), None, "", f"cannot read file: {exc}")]) from exc
    if raw.startswith(b"PK\x03\x04"):
        raise ConfigError([Problem(
            str(p), None, "", "this is a zip archive or an Office document (.xlsx/.docx), not a "
            "YAML text file (a received plan document goes through `duban plan import` first)",
        )])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([_not_utf8(str(p), raw, exc)]) from exc
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
    if doc.data is None:  # an empty file, or one holding only comments
        raise ConfigError([Problem(doc.path, None, "", "the file is empty (no YAML data in it)")])
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(doc, exc)) from exc


def load_model(model: type[M], path: str | Path, *, context: dict[str, Any] | None = None) -> M:
    """Load a YAML file and validate it into ``model``."""
    return validate_doc(model, load_yaml(path), context=context)
