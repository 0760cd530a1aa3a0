"""Strict, line-aware reading of YAML files into plain values.

Files are parsed with PyYAML's safe composer into a node tree, which keeps each node's line.
A ``Field`` wraps one node with its file and dotted field path; its typed getters return the
value, or record a ``Problem`` (file, line, field, message) and return ``None``. Callers thus
collect every problem in a file instead of stopping at the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor

from plans.errors import Problem, Severity

E = TypeVar("E", bound=StrEnum)

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_CONSTRUCTOR = SafeConstructor()


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    names = {_STR: "a string", _INT: "an integer", _BOOL: "a boolean", _NULL: "nothing"}
    name = names.get(node.tag, "a number" if "float" in node.tag else node.tag)
    return f"{name} ({node.value!r})" if node.tag != _NULL else name


@dataclass(frozen=True)
class Field:
    """One YAML node, where it is, and where to report problems about it."""

    file: str
    """File the node comes from."""
    node: yaml.Node
    """The composed node."""
    path: str
    """Dotted field path from the top of the file ('' for the document)."""
    problems: list[Problem]
    """Shared sink for problems."""

    @property
    def line(self) -> int:
        """1-based line where the node starts."""
        return int(self.node.start_mark.line) + 1

    def fail(self, message: str, severity: Severity = Severity.ERROR) -> None:
        """Record a problem about this field."""
        self.problems.append(Problem(self.file, self.line, self.path, message, severity))

    def _child(self, node: yaml.Node, key: str | int) -> Field:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
        else:
            path = f"{self.path}.{key}" if self.path else key
        return Field(self.file, node, path, self.problems)

    def _entries(self) -> list[tuple[str, Field, Field]] | None:
        """Walk a mapping: (key, key field, value field), reporting bad and duplicate keys."""
        if not isinstance(self.node, yaml.MappingNode):
            self.fail(f"expected a mapping, got {_describe(self.node)}")
            return None
        out: list[tuple[str, Field, Field]] = []
        for key_node, value_node in self.node.value:
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR):
                Field(self.file, key_node, self.path, self.problems).fail(
                    f"keys must be plain strings, got {_describe(key_node)}"
                )
                continue
            key = str(key_node.value)
            child = self._child(value_node, key)
            key_field = Field(self.file, key_node, child.path, self.problems)
            if any(key == seen for seen, _, _ in out):
                key_field.fail("duplicate key")
                continue
            out.append((key, key_field, child))
        return out

    def mapping(self, required: Iterable[str] = (), optional: Iterable[str] = ()) -> Record | None:
        """Read a mapping with string keys; report unknown, duplicate and missing keys.

        Args:
            required: Keys that must be present.
            optional: Keys that may be present.

        Returns:
            The known keys present, or ``None`` if the node is not a mapping.
        """
        entries = self._entries()
        if entries is None:
            return None
        required = tuple(required)
        allowed = set(required) | set(optional)
        out: dict[str, Field] = {}
        for key, key_field, child in entries:
            if key in allowed:
                out[key] = child
            else:
                known = ", ".join(sorted(allowed)) or "none"
                key_field.fail(f"unknown key {key!r} (allowed: {known})")
        for key in required:
            if key not in out:
                self.fail(f"missing required key {key!r}")
        return Record(out)

    def items(self) -> list[tuple[str, Field]] | None:
        """Read a mapping with free string keys (e.g. ids), in file order, without duplicates."""
        entries = self._entries()
        return None if entries is None else [(key, child) for key, _, child in entries]

    def sequence(self) -> list[Field] | None:
        """Read a list; return its items as fields, or ``None`` if not a list."""
        if not isinstance(self.node, yaml.SequenceNode):
            self.fail(f"expected a list, got {_describe(self.node)}")
            return None
        return [self._child(node, i) for i, node in enumerate(self.node.value)]

    def _scalar(self, tag: str, what: str) -> yaml.ScalarNode | None:
        if isinstance(self.node, yaml.ScalarNode) and self.node.tag == tag:
            return self.node
        hint = " (quote it)" if tag == _STR and isinstance(self.node, yaml.ScalarNode) else ""
        self.fail(f"expected {what}, got {_describe(self.node)}{hint}")
        return None

    def text(self, pattern: re.Pattern[str] | None = None, what: str = "a string") -> str | None:
        """Read a non-empty string, optionally matching ``pattern`` in full."""
        node = self._scalar(_STR, what)
        if node is None:
            return None
        value = str(node.value)
        if not value.strip():
            self.fail(f"expected {what}, got an empty string")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(f"{value!r} is not {what}")
            return None
        return value

    def integer(self, minimum: int = 0, maximum: int = 10**6) -> int | None:
        """Read an integer within ``[minimum, maximum]``."""
        node = self._scalar(_INT, "an integer")
        if node is None:
            return None
        value = int(_CONSTRUCTOR.construct_yaml_int(node))
        if not minimum <= value <= maximum:
            self.fail(f"{value} is out of range ({minimum} to {maximum})")
            return None
        return value

    def boolean(self) -> bool | None:
        """Read ``true`` or ``false``."""
        node = self._scalar(_BOOL, "true or false")
        return None if node is None else bool(_CONSTRUCTOR.construct_yaml_bool(node))

    def scalar_text(self) -> str | None:
        """Read a string or an integer as text (for template parameters)."""
        if isinstance(self.node, yaml.ScalarNode) and self.node.tag in (_STR, _INT):
            return str(self.node.value)
        self.fail(f"expected a string or an integer, got {_describe(self.node)}")
        return None

    def choice(self, enum: type[E]) -> E | None:
        """Read one of the values of a string enum."""
        node = self._scalar(_STR, "one of " + ", ".join(e.value for e in enum))
        if node is None:
            return None
        try:
            return enum(node.value)
        except ValueError:
            self.fail(f"{node.value!r} is not one of: " + ", ".join(e.value for e in enum))
            return None

    def texts(self, pattern: re.Pattern[str] | None = None, what: str = "a string") -> list[str]:
        """Read a list of strings (reporting bad items and duplicates; returning the good ones)."""
        items = self.sequence()
        out: list[str] = []
        for item in items or []:
            value = item.text(pattern, what)
            if value is None:
                continue
            if value in out:
                item.fail(f"duplicate entry {value!r}")
                continue
            out.append(value)
        return out

    def choices(self, enum: type[E]) -> list[E]:
        """Read a list of string-enum values (reporting bad items and duplicates)."""
        items = self.sequence()
        out: list[E] = []
        for item in items or []:
            value = item.choice(enum)
            if value is None:
                continue
            if value in out:
                item.fail(f"duplicate entry {value.value!r}")
                continue
            out.append(value)
        return out


@dataclass(frozen=True)
class Record:
    """The known keys of a YAML mapping. The typed getters return ``None`` (or an empty list)
    when the key is absent, and report a problem and return ``None`` when its value is bad."""

    children: dict[str, Field]
    """Key to child field, in file order."""

    def __contains__(self, key: str) -> bool:
        return key in self.children

    def __getitem__(self, key: str) -> Field:
        return self.children[key]

    def __len__(self) -> int:
        return len(self.children)

    def get(self, key: str) -> Field | None:
        """Return the child field, or ``None`` when the key is absent."""
        return self.children.get(key)

    def text(
        self, key: str, pattern: re.Pattern[str] | None = None, what: str = "a string"
    ) -> str | None:
        """Read an optional non-empty string (see ``Field.text``)."""
        child = self.children.get(key)
        return None if child is None else child.text(pattern, what)

    def integer(self, key: str, minimum: int = 0, maximum: int = 10**6) -> int | None:
        """Read an optional integer (see ``Field.integer``)."""
        child = self.children.get(key)
        return None if child is None else child.integer(minimum, maximum)

    def choice(self, key: str, enum: type[E]) -> E | None:
        """Read an optional string-enum value (see ``Field.choice``)."""
        child = self.children.get(key)
        return None if child is None else child.choice(enum)

    def texts(
        self, key: str, pattern: re.Pattern[str] | None = None, what: str = "a string"
    ) -> list[str]:
        """Read an optional list of strings (see ``Field.texts``)."""
        child = self.children.get(key)
        return [] if child is None else child.texts(pattern, what)

    def choices(self, key: str, enum: type[E]) -> list[E]:
        """Read an optional list of string-enum values (see ``Field.choices``)."""
        child = self.children.get(key)
        return [] if child is None else child.choices(enum)

    def sequence(self, key: str) -> list[Field]:
        """Read an optional list; empty when absent or not a list (the latter is reported)."""
        child = self.children.get(key)
        return [] if child is None else child.sequence() or []

    def items(self, key: str) -> list[tuple[str, Field]]:
        """Read an optional mapping with free keys (see ``Field.items``)."""
        child = self.children.get(key)
        return [] if child is None else child.items() or []


def read_document(path: Path, shown: str, problems: list[Problem]) -> Field | None:
    """Parse one YAML file into a root field.

    Args:
        path: File to read.
        shown: How to name the file in problems.
        problems: Sink for problems (unreadable file, YAML syntax errors, empty file).

    Returns:
        The document's root field, or ``None`` if the file could not be parsed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, 0, "", f"cannot read file: {exc}"))
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = exc.problem or exc.context or "syntax error"
        problems.append(Problem(shown, line, "", f"invalid YAML: {reason}"))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(shown, 0, "", f"invalid YAML: {exc}"))
        return None
    if node is None:
        problems.append(Problem(shown, 0, "", "file is empty"))
        return None
    return Field(shown, node, "", problems)
