"""YAML that remembers where things are: every mapping and list carries the line of each entry.

Plain PyYAML forgets positions once values are built, and silently keeps the last of two equal keys;
a scenario's errors must name the line, so this loader builds dicts and lists that keep their lines
and refuses duplicate keys.
"""

from __future__ import annotations

from typing import Any

import yaml


class YamlError(ValueError):
    """Unreadable YAML, with the line (1-based) and key path where it went wrong."""

    def __init__(self, line: int, path: str, message: str):
        self.line = line
        self.path = path
        self.message = message
        super().__init__(message)


class LocatedDict(dict[Any, Any]):
    """A mapping plus the line of the mapping, of each key and of each value."""

    line: int
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]


class LocatedList(list[Any]):
    """A list plus its own line and the line of each item."""

    line: int
    item_lines: list[int]


def child(path: str, key: object) -> str:
    """The key path of ``key`` under ``path``: ``a.b``, or ``a[3]`` for a list index."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences are Located*, tracking the key path as it builds."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.path = ""

    def build_mapping(self, node: yaml.MappingNode) -> LocatedDict:
        self.flatten_mapping(node)  # resolve "<<" merge keys first
        out = LocatedDict()
        out.line, out.key_lines, out.value_lines = _line(node), {}, {}
        parent = self.path
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                hint = " (YAML reads yes/no/on/off as booleans: quote it)" if isinstance(key, bool) else ""
                raise YamlError(_line(key_node), parent, f"key {key!r} is not a string{hint}")
            if key in out:
                raise YamlError(
                    _line(key_node),
                    child(parent, key),
                    f"duplicate key (first given at line {out.key_lines[key]})",
                )
            self.path = child(parent, key)
            out[key] = self.construct_object(value_node, deep=True)
            out.key_lines[key], out.value_lines[key] = _line(key_node), _line(value_node)
            self.path = parent
        return out

    def build_sequence(self, node: yaml.SequenceNode) -> LocatedList:
        out = LocatedList()
        out.line, out.item_lines = _line(node), []
        parent = self.path
        for index, item in enumerate(node.value):
            self.path = child(parent, index)
            out.append(self.construct_object(item, deep=True))
            out.item_lines.append(_line(item))
        self.path = parent
        return out


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.build_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.build_sequence)


def load_located(text: str) -> Any:
    """Parse one YAML document; mappings become LocatedDict and lists LocatedList."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        if exc.context_mark and exc.context_mark.line + 1 != line:
            problem += f" (from line {exc.context_mark.line + 1})"
        raise YamlError(line, loader.path, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, "", f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
