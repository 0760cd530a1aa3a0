"""Hypothesis strategies for alert payloads: valid ones, malformed ones and hostile ones.

Shared by the parser fuzz test (``test_fuzz.py``) and the fuzz test through Kafka
(``tests/e2e/test_intake_kafka.py``), so both throw the same kinds of garbage at intake.
"""

from __future__ import annotations

import json
import re
import string
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from plans.loader import load_plan
from plans.model import Hazard, Level
from tests.alerts.factories import CAP_SAMPLES, SAMPLE_BYTES, document

JSON_BASE = json.dumps(document(), ensure_ascii=False).encode()
JSON_SAMPLES = [JSON_BASE, *[b for b in SAMPLE_BYTES if b.lstrip().startswith(b"{")]]

# --- structural mutations -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def json_documents(draw: st.DrawFn) -> bytes:
    doc: dict[str, Any] = document()
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from([*doc, "raw", "extra", ""]))
        op = draw(st.sampled_from(["replace", "drop", "add"]))
        if op == "drop":
            doc.pop(key, None)
        else:
            doc[key] = draw(json_values)
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


ELEMENT = re.compile(rb"<(\w+)>([^<]*)</\1>")


@st.composite
def cap_documents(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(CAP_SAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        matches = list(ELEMENT.finditer(data))
        if not matches:
            break
        m = draw(st.sampled_from(matches))
        op = draw(st.sampled_from(["text", "raw", "drop", "dup", "rename"]))
        tag = m.group(1)
        if op == "text":
            new = escape(draw(st.text(max_size=30))).encode("utf-8", "surrogatepass")
            replacement = b"<%s>%s</%s>" % (tag, new, tag)
        elif op == "raw":
            replacement = b"<%s>%s</%s>" % (tag, draw(st.binary(max_size=20)), tag)
        elif op == "drop":
            replacement = b""
        elif op == "dup":
            replacement = m.group(0) * 2
        else:
            name = draw(st.sampled_from([b"x", b"info", b"alert", b"area", b"Identifier"]))
            replacement = b"<%s>%s</%s>" % (name, m.group(2), name)
        data = data[: m.start()] + replacement + data[m.end() :]
    return data


# --- hostile payloads -----------------------------------------------------------------------

NS = 'xmlns="urn:oasis:names:tc:emergency:cap:1.2"'


def _is_utf8_text(data: bytes) -> bool:
    try:
        return "\x00" not in data.decode("utf-8")
    except UnicodeDecodeError:
        return False


@st.composite
def hostile_xml(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A hostile document, and whether it must be rejected (a re-encoding may be harmless)."""
    kind = draw(st.sampled_from(["xxe", "laughs", "dtd", "param", "deep", "attr", "encoding"]))
    if kind == "xxe":
        target = draw(st.sampled_from(["file:///etc/passwd", "http://169.254.169.254/", "x"]))
        body = f'<!DOCTYPE alert [<!ENTITY e SYSTEM "{target}">]><alert {NS}>&e;</alert>'
    elif kind == "laughs":
        depth, width = draw(st.integers(1, 12)), draw(st.integers(2, 12))
        ents = '<!ENTITY l0 "lol">' + "".join(
            f'<!ENTITY l{i} "{f"&l{i - 1};" * width}">' for i in range(1, depth + 1)
        )
        body = f"<!DOCTYPE alert [{ents}]><alert {NS}>&l{depth};</alert>"
    elif kind == "dtd":
        body = f'<!DOCTYPE alert SYSTEM "http://example.com/{draw(st.integers())}.dtd"><alert/>'
    elif kind == "param":
        body = '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://e/x.dtd"> %p;]><alert/>'
    elif kind == "deep":
        depth = draw(st.integers(1, 20_000))
        tag = draw(st.sampled_from(["a", "info", "alert", "x:y"]))
        body = f"<alert {NS}>" + f"<{tag}>" * depth + f"</{tag}>" * depth + "</alert>"
    elif kind == "attr":
        size = draw(st.integers(0, 60_000))
        count = draw(st.integers(1, 50))
        attrs = " ".join(f'a{i}="{"x" * (size // count)}"' for i in range(count))
        body = f"<alert {NS} {attrs}><identifier {attrs}>x</identifier></alert>"
    else:
        text = draw(st.sampled_from(CAP_SAMPLES)).decode()
        codec = draw(
            st.sampled_from(["utf-16", "utf-16-le", "utf-32", "gb18030", "big5", "cp1252"])
        )
        declared = draw(st.sampled_from(["UTF-8", codec, "ISO-8859-1", "bogus"]))
        text = text.replace('encoding="UTF-8"', f'encoding="{declared}"')
        encoded = text.encode(codec, errors="replace")
        # Lossy re-encoding into ASCII ("?" for Chinese) can still be a valid UTF-8 document.
        return encoded, declared != "UTF-8" or not _is_utf8_text(encoded)
    prolog = draw(
        st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>'])
    )
    return (prolog + body).encode(), True


@st.composite
def hostile_json(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["deep", "number", "constant", "surrogate", "dupkeys", "long"]))
    if kind == "deep":
        depth = draw(st.integers(1, 30_000))
        opener = draw(st.sampled_from(["[", '{"a":']))
        closer = "]" if opener == "[" else "}"
        return ('{"id":' + opener * depth + "1" + closer * depth + "}").encode()
    if kind == "number":
        return b'{"id": ' + b"9" * draw(st.integers(1, 20_000)) + b"}"
    if kind == "constant":
        constant = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
        return ('{"sent": ' + constant + "}").encode()
    if kind == "surrogate":
        field = draw(st.sampled_from(["id", "headline", "areas", "\\ud800"]))
        value = '["\\udc00"]' if field == "areas" else '"\\ud83d x"'
        body = json.dumps(document())[:-1] + f', "{field}": {value}' + "}"
        return body.encode()
    if kind == "dupkeys":
        key = draw(st.sampled_from(list(document())))
        return (json.dumps(document())[:-1] + f', "{key}": "again"' + "}").encode()
    return json.dumps(document(description="雨" * draw(st.integers(0, 40_000)))).encode()


# --- valid payloads ---------------------------------------------------------------------------

HAZARDS = [
    ("wind", Hazard.WIND),
    ("typhoon", Hazard.WIND),
    ("Gale", Hazard.WIND),
    ("台风", Hazard.WIND),
    ("rainstorm", Hazard.RAINSTORM),
    ("暴雨", Hazard.RAINSTORM),
    ("tide", Hazard.TIDE),
    ("高潮位", Hazard.TIDE),
    ("flood", Hazard.FLOOD),
    ("洪水", Hazard.FLOOD),
]
LEVELS = [(lv.value, lv) for lv in Level] + [
    ("蓝色", Level.BLUE),
    ("黄", Level.YELLOW),
    ("Ⅱ", Level.ORANGE),
    ("RED", Level.RED),
]
ZH_COLOURS = {Level.BLUE: "蓝色", Level.YELLOW: "黄色", Level.ORANGE: "橙色", Level.RED: "红色"}
AREA_NAMES = [
    (name, d.id)
    for d in load_plan().districts
    for name in (d.zh, d.en, d.en.upper(), *d.codes, *d.aliases)
]
"""(name, area id): every name and the code of every district of the bundled plan."""
ids = st.text(string.ascii_letters + string.digits + "-_.:@", min_size=1, max_size=40)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=40).map(str.strip)
offsets = st.integers(-12 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
moments = st.builds(
    lambda day, seconds, tz: datetime(2000, 1, 1, tzinfo=tz) + timedelta(days=day, seconds=seconds),
    st.integers(0, 9_000),  # up to 2024: intake refuses a sent in the future
    st.integers(0, 86_399),
    offsets,
)


def _cap_area(name: str) -> str:
    if name.isdigit():
        code = f"<geocode><valueName>GB</valueName><value>{name}</value></geocode>"
        return f"<area><areaDesc>x</areaDesc>{code}</area>"
    return f"<area><areaDesc>{escape(name)}</areaDesc></area>"


@st.composite
def valid_alerts(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    hazard_word, hazard = draw(st.sampled_from(HAZARDS))
    level_word, level = draw(st.sampled_from(LEVELS))
    areas = draw(st.lists(st.sampled_from(AREA_NAMES), min_size=1, max_size=4))
    alert_id, sender, sent = draw(ids), draw(ids), draw(moments)
    headline, description = draw(texts), draw(texts)
    expected = {
        "id": alert_id,
        "hazard": hazard,
        "level": level,
        "areas": {area_id for _, area_id in areas},
        "headline": headline,
    }
    if draw(st.booleans()):
        doc = document(
            id=alert_id,
            sender=sender,
            sent=sent.isoformat(),
            hazard=hazard_word,
            level=level_word,
            areas=[name for name, _ in areas],
            headline=headline,
            description=description,
            expires=(sent + timedelta(hours=6)).isoformat(),
        )
        return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode(), expected
    hazard_zh = {Hazard.WIND: "台风", Hazard.RAINSTORM: "暴雨", Hazard.TIDE: "高潮位"}.get(
        hazard, "洪水"
    )
    event = f"{hazard_zh}{ZH_COLOURS[level]}预警"
    geo = "".join(_cap_area(name) for name, _ in areas)
    # CAP text is XML: wrapped headlines are collapsed to one line.
    expected["headline"] = " ".join(headline.split()) or event
    cap = (
        f'<?xml version="1.0" encoding="UTF-8"?><alert {NS}>'
        f"<identifier>{escape(alert_id)}</identifier>"
        f"<sender>{escape(sender)}</sender><sent>{sent.isoformat()}</sent><status>Actual</status>"
        f"<msgType>Alert</msgType><scope>Public</scope><info><category>Met</category>"
        f"<event>{event}</event><urgency>Expected</urgency><severity>Minor</severity>"
        f"<certainty>Likely</certainty><headline>{escape(headline)}</headline>"
        f"<description>{escape(description)}</description>{geo}</info></alert>"
    )
    return cap.encode(), expected


# --- edge values: valid JSON that the layers behind intake cannot carry -----------------------

EDGE_STRINGS = [
    "\ud800",
    "x/\ud800",
    "\udc00x",
    "\ud83d",  # half an emoji
    "\x00",
    "a\x00b",
    "x/\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "a\nb",
    "\u2028",
    "\ufeff",
    " ",
    "",
    "é" * 400,
]
"""Lone surrogates (JSON ``\\ud800`` escapes: valid JSON, not encodable as UTF-8), NUL (which
PostgreSQL text cannot hold), control and odd characters, empty and long strings."""
HUGE_NUMBERS = ["1e400", "-1e400", "1e-400", "9" * 5000, "1" + "0" * 400, "-0", "3" * 30]
"""Number literals that overflow a float, exceed Python's integer digit limit, or are long."""


class RawNumber(str):
    """A number literal to put into a document as it is (see :func:`edge_json`)."""


edge_strings = st.one_of(
    st.sampled_from(EDGE_STRINGS),
    st.text(st.characters(categories=["Cs", "Cc"]), min_size=1, max_size=8),
    st.builds(
        lambda a, bad, b: a + bad + b,
        st.text(max_size=10),
        st.sampled_from(["\ud800", "\udfff", "\x00", "\x1f"]),
        st.text(max_size=10),
    ),
    st.integers(200, 5000).map(lambda n: "x/" + "y" * n),
)
edge_values = st.one_of(
    edge_strings,
    st.lists(edge_strings, min_size=1, max_size=3),
    st.sampled_from(HUGE_NUMBERS).map(RawNumber),
)


def edge_json(doc: dict[str, Any]) -> bytes:
    """``doc`` as ASCII JSON (so lone surrogates become escapes), with number literals raw."""
    numbers: dict[str, str] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, RawNumber):
            token = f"@@number{len(numbers)}@@"
            numbers[token] = str(value)
            return token
        return value

    text = json.dumps({key: mark(value) for key, value in doc.items()}, ensure_ascii=True)
    for token, literal in numbers.items():
        text = text.replace(f'"{token}"', literal)
    return text.encode("ascii")


@st.composite
def edge_alert_documents(draw: st.DrawFn) -> bytes:
    """A valid JSON warning with one to three fields replaced by edge values."""
    doc: dict[str, Any] = document()
    for _ in range(draw(st.integers(1, 3))):
        doc[draw(st.sampled_from([*doc, "extra"]))] = draw(edge_values)
    return edge_json(doc)


EVENT_KINDS = ["acknowledge", "progress", "complete", "decline"]
ids_of_no_task = st.builds(
    lambda response, task: f"response-nowhere-{response}/{task}",
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8),
    st.sampled_from(["drainage.prelower@pudong", "grid.patrol@minhang", "x@citywide"]),
)
"""Well-formed ids of tasks that do not exist."""


@st.composite
def agency_events(draw: st.DrawFn, task_ids: st.SearchStrategy[str] | None = None) -> bytes:
    """Agency events (``alerts.agency_events``): well-formed ones and ones with edge values.

    ``task_ids`` draws the well-formed task ids (default: ids of tasks that do not exist).
    """
    ids = task_ids or ids_of_no_task
    doc: dict[str, Any] = {
        "task_id": draw(ids),
        "kind": draw(st.sampled_from(EVENT_KINDS)),
        "by": draw(texts),
        "reason": draw(texts) or "no staff",
    }
    keys = ["task_id", "kind", "by", "reason", "note", "extra"]
    for _ in range(draw(st.integers(0, 3))):
        doc[draw(st.sampled_from(keys))] = draw(edge_values)
    if draw(st.booleans()):
        doc["task_id"] = draw(st.sampled_from(["x/", "x/y"])) + draw(edge_strings)
    return edge_json(doc)
