"""Builders for valid JSON and CAP payloads, shared by the alert tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_BYTES = [p.read_bytes() for p in sorted(SAMPLES.iterdir())]
CAP_SAMPLES = [b for b in SAMPLE_BYTES if b.lstrip().startswith(b"<")]


def document(**overrides: Any) -> dict[str, Any]:
    """A valid JSON-form warning; keyword arguments replace (or, with ``None``, drop) fields."""
    base: dict[str, Any] = {
        "id": "SH-MET-2024-0920-RS-001",
        "sender": "上海中心气象台",
        "sent": "2024-09-20T05:30:00+08:00",
        "status": "actual",
        "kind": "alert",
        "references": [],
        "hazard": "rainstorm",
        "level": "blue",
        "areas": ["浦东新区"],
        "headline": "上海中心气象台发布暴雨蓝色预警信号",
        "description": "预计未来6小时内将出现50毫米以上降水。",
        "expires": "2024-09-20T17:30:00+08:00",
    }
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def json_payload(**overrides: Any) -> bytes:
    """:func:`document` serialised as UTF-8 JSON."""
    return json.dumps(document(**overrides), ensure_ascii=False).encode("utf-8")


def cap_payload(
    *,
    identifier: str = "SH-MET-1",
    sender: str = "shanghai-met@example.cn",
    sent: str = "2024-09-20T05:30:00+08:00",
    status: str = "Actual",
    msg_type: str = "Alert",
    scope: str = "Public",
    references: str | None = None,
    infos: list[str] | None = None,
    extra: str = "",
) -> bytes:
    """A CAP 1.2 alert; ``infos`` are inner XML of ``<info>`` blocks (default: one rainstorm)."""
    blocks = infos if infos is not None else [info()]
    refs = f"<references>{references}</references>" if references is not None else ""
    body = "".join(f"<info>{block}</info>" for block in blocks)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{identifier}</identifier><sender>{sender}</sender><sent>{sent}</sent>"
        f"<status>{status}</status><msgType>{msg_type}</msgType><scope>{scope}</scope>"
        f"{refs}{extra}{body}</alert>"
    ).encode()


def info(
    *,
    event: str = "暴雨蓝色预警",
    severity: str = "Minor",
    language: str | None = None,
    areas: str = "<area><areaDesc>浦东新区</areaDesc></area>",
    extra: str = "",
    category: str = "<category>Met</category>",
    urgency: str = "Expected",
    certainty: str = "Likely",
) -> str:
    """Inner XML of one CAP ``<info>`` block."""
    lang = f"<language>{language}</language>" if language else ""
    return (
        f"{lang}{category}<event>{event}</event><urgency>{urgency}</urgency>"
        f"<severity>{severity}</severity><certainty>{certainty}</certainty>{extra}{areas}"
    )


def pair(element: str, name: str, value: str) -> str:
    """A CAP ``valueName``/``value`` element such as ``eventCode`` or ``geocode``."""
    return f"<{element}><valueName>{name}</valueName><value>{value}</value></{element}>"


@st.composite
def mutated(draw: st.DrawFn, bases: list[bytes]) -> bytes:
    """One of ``bases`` with a few random byte-level edits (flips, inserts, cuts, repeats)."""
    data = bytearray(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat", "byte"]))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        elif op == "truncate":
            del data[at:]
        elif op == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))] * draw(st.integers(2, 20))
        else:
            data[at] = draw(st.sampled_from(b"<>&\"'{}[],:\\/\x00\xff\xc3\xe6"))
    return bytes(data)
