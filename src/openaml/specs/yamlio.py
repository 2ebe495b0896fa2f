"""YAML reading with positions (ruamel.yaml round-trip nodes) and plain-Python conversion."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from openaml.errors import MissingFileError, ValidationError, YamlParseError

Source = str | os.PathLike[str] | IO[str]


#: Values a YAML file may hold once its aliases are expanded: a spec has hundreds; a "billion
#: laughs" file (anchors repeating anchors) has billions and would hang whatever reads it.
MAX_VALUES = 100_000


def parse_yaml(text: str, file: str | None = None) -> Any:
    """Parse YAML text into ruamel round-trip nodes (which remember their line numbers)."""
    try:
        root = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlParseError(f"YAML syntax error: {problem}", file=file, line=line) from None
    except YAMLError as exc:
        raise YamlParseError(f"YAML syntax error: {exc}", file=file) from None
    check_expansion(root, file)
    return root


def check_expansion(root: Any, file: str | None = None) -> None:
    """Refuse a file that holds more than :data:`MAX_VALUES` values with its aliases expanded
    (counted by walking it; the walk stops at the limit, so a hostile file costs little)."""
    stack, seen = [root], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise YamlParseError(f"the YAML holds more than {MAX_VALUES:,} values once its aliases are expanded "
                                 "(anchors repeating anchors?); it is not read", file=file)
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def read_source(source: Source) -> tuple[str, str | None]:
    """Return ``(text, file name or None)`` for a path or an open text file."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise MissingFileError(f"File not found: {path}", file=str(path))
        return path.read_text(encoding="utf-8"), str(path)
    text = source.read()
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    name = getattr(source, "name", None)
    return text, (str(name) if isinstance(name, (str, os.PathLike)) else None)


def load_mapping(source: Source) -> tuple[CommentedMap, str | None]:
    """Read and parse a YAML file whose top level must be a mapping."""
    text, file = read_source(source)
    root = parse_yaml(text, file)
    if root is None:
        root = CommentedMap()
    if not isinstance(root, CommentedMap):
        raise ValidationError("The top level of the YAML file must be a mapping of fields.",
                              file=file, line=1)
    return root, file


def read_yaml_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML file (e.g. a conda file) into plain dicts and lists; errors name the file."""
    root, _ = load_mapping(path)
    return to_plain(root)


def to_plain(node: Any) -> Any:
    """Convert ruamel nodes to plain ``dict``/``list``/``str``/``int``/``float``/``bool``."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    if hasattr(node, "value"):  # TaggedScalar
        return to_plain(node.value)
    return str(node)


def _is_tag(part: Any) -> bool:
    """Union member labels pydantic adds to locations (``inline``, ``AccountKeyConfiguration``...)."""
    return isinstance(part, str) and (part[:1].isupper() or "[" in part or part in {
        "inline", "reference", "str", "dict", "int", "float", "bool", "list",
        "mpi", "pytorch", "tensorflow", "ray"})


def locate(root: Any, loc: tuple[Any, ...]) -> tuple[int | None, list[str]]:
    """Map a pydantic error location to ``(1-based line, dotted path parts as written in YAML)``.

    Union tags that do not appear in the YAML are dropped; the line is that of the deepest key
    found (for a missing field, the mapping that should hold it).
    """
    node, line, path = root, None, []
    for i, part in enumerate(loc):
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        elif nxt is not None and (_is_tag(part) or (isinstance(node, dict) and nxt in node)):
            continue
        else:
            node = None
        path.append(str(part))
    return line, path


def line_of(path: str | os.PathLike[str], field: str) -> int | None:
    """The 1-based line of a dotted field (``jobs.train.inputs.lr``) in a YAML file, or None."""
    try:
        root, _ = load_mapping(Path(path))
    except Exception:  # noqa: BLE001 - only a hint for a message; the file was loaded before
        return None
    parts = tuple(int(p) if p.isdigit() else p for p in field.split("."))
    return locate(root, parts)[0]


def dump_text(data: Any) -> str:
    """YAML text of plain data; multi-line strings use the literal block style."""
    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(_literal_blocks(data), stream)
    return stream.getvalue()


def _literal_blocks(data: Any) -> Any:
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(data, dict):
        return {k: _literal_blocks(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_literal_blocks(v) for v in data]
    if isinstance(data, str) and "\n" in data:
        return LiteralScalarString(data)
    return data
