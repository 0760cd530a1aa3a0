"""The docs' sections on the wire contracts, generated from :mod:`alerts.wire`.

``python -m alerts.wire_docs`` rewrites, in ``docs/messages.md`` and ``docs/alerts.md``, the
section of every contract between its markers::

    <!-- wire:TaskMessage ... -->
    ...
    <!-- /wire:TaskMessage -->

with the model's example and a table of its fields: name, type (from the model's JSON schema:
what is written for an outbound message, what is accepted for an inbound one), whether it is
required (an outbound message always carries every field) and what it means (the field's
docstring). ``--check`` writes nothing and exits 1 if a section differs from what the models
generate; ``tests/alerts/test_wire.py`` runs the same check. Prose around the markers is
hand-written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from alerts import wire

ROOT = Path(__file__).resolve().parents[1]
DOCS: dict[str, tuple[type[BaseModel], ...]] = {
    "docs/messages.md": (
        wire.TaskMessage,
        wire.StandDownMessage,
        wire.EscalationMessage,
        wire.NoticeMessage,
        wire.DecisionRecord,
        wire.AgencyAnswer,
        wire.HqDecisionDocument,
    ),
    "docs/alerts.md": (wire.AlertDocument,),
}
"""Which doc holds which contracts' sections (every contract of :mod:`alerts.wire`)."""

_SECTION = re.compile(r"<!-- wire:(\w+)\b.*?-->\n.*?<!-- /wire:\1 -->", re.DOTALL)


def section(model: type[BaseModel]) -> str:
    """The generated section of ``model``, markers included."""
    name = model.__name__
    example = json.dumps(getattr(model, "example", {}), ensure_ascii=False, indent=2)
    return "\n".join(
        [
            f"<!-- wire:{name} generated from alerts/wire.py by `python -m alerts.wire_docs`: "
            "edit the model, not this section -->",
            "```json",
            example,
            "```",
            "",
            *table(model),
            f"<!-- /wire:{name} -->",
        ]
    )


def table(model: type[BaseModel]) -> list[str]:
    """The field table of ``model``, one line per row."""
    outbound = issubclass(model, wire.Outbound)
    schema = model.model_json_schema(mode="serialization" if outbound else "validation")
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        prop = schema["properties"][name]
        if name in required:
            need = "yes"
        elif "default" in prop:
            need = f"no (default `{json.dumps(prop['default'], ensure_ascii=False)}`)"
        else:
            need = "no"
        meaning = _markdown(info.description or "")
        rows.append(f"| `{name}` | {_type(prop, defs)} | {need} | {meaning} |")
    return rows


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _type(defs[prop["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in prop:
        return " or ".join(_type(option, defs) for option in prop["anyOf"])
    if "const" in prop:
        return f"`{json.dumps(prop['const'], ensure_ascii=False)}`"
    if "enum" in prop:
        return " \\| ".join(f"`{value}`" for value in prop["enum"])
    kind = prop.get("type")
    if kind == "string" and prop.get("format") == "date-time":
        return "date-time (ISO 8601 with offset)"
    if kind == "string":
        low, high = prop.get("minLength", 0), prop.get("maxLength")
        if high is not None:
            return f"string ({low}-{high} chars)" if low else f"string (at most {high} chars)"
        return "string (not empty)" if low else "string"
    if kind == "integer" and "minimum" in prop:
        return f"integer ≥ {prop['minimum']}"
    if kind == "array":
        return f"array of {_plural(_type(prop.get('items', {}), defs))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"object of {_plural(_type(prop['additionalProperties'], defs))}"
    return str(kind)


def _plural(kind: str) -> str:
    """``string (at most 9 chars)`` -> ``strings (at most 9 chars)``."""
    head, space, rest = kind.partition(" ")
    return f"{head}s{space}{rest}" if head.isalpha() else f"({kind})"


def _markdown(text: str) -> str:
    """A docstring as one table cell: reST literals as Markdown code, no line breaks, ``|``
    escaped."""
    text = re.sub(r"\s+", " ", text).strip().replace("``", "`")
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("|", "\\|")


def render(text: str, models: Sequence[type[BaseModel]]) -> str:
    """``text`` with the section of every one of ``models`` regenerated.

    Raises:
        ValueError: A model has no section in ``text``, or a section names no model.
    """
    by_name = {model.__name__: model for model in models}
    found = [m.group(1) for m in _SECTION.finditer(text)]
    if unknown := sorted(set(found) - set(by_name)):
        raise ValueError(f"sections of unknown contracts: {', '.join(unknown)}")
    if missing := [name for name in by_name if name not in found]:
        raise ValueError(f"no section for {', '.join(missing)} (add its markers)")
    return _SECTION.sub(lambda m: section(by_name[m.group(1)]), text)


def stale(root: Path = ROOT) -> list[str]:
    """The docs whose generated sections differ from what the models generate."""
    outdated = []
    for path, models in DOCS.items():
        text = _read(root / path)
        if render(text, models) != text:
            outdated.append(path)
    return outdated


def write(root: Path = ROOT) -> list[str]:
    """Regenerate every section; returns the docs that changed."""
    changed = []
    for path, models in DOCS.items():
        text = _read(root / path)
        new = render(text, models)
        if new != text:
            (root / path).write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check``, check) the generated sections; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m alerts.wire_docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        if outdated := stale():
            names = ", ".join(outdated)
            sys.stderr.write(f"out of date: {names}; run python -m alerts.wire_docs\n")
            return 1
        return 0
    for path in write():
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
