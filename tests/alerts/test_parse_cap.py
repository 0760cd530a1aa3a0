"""CAP 1.2: hardened XML, the schema's required fields, and the hazard/level/area mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.errors import AlertRejected, RejectCode
from alerts.intake import parse_alert
from alerts.parse_cap import MAX_ELEMENTS
from plans.model import Hazard, Level
from plans.warning import Alert, Kind, Status
from tests.alerts.factories import SAMPLES, cap_payload, info, pair

NS = 'xmlns="urn:oasis:names:tc:emergency:cap:1.2"'


def parsed(payload: bytes) -> Alert:
    return parse_alert(payload)


def rejected(payload: bytes) -> AlertRejected:
    with pytest.raises(AlertRejected) as caught:
        parse_alert(payload)
    assert caught.value.reason
    return caught.value


# --- samples --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "kind", "refs", "hazard", "level", "areas"),
    [
        (
            "typhoon_orange_alert.xml",
            Status.ACTUAL,
            Kind.ALERT,
            (),
            Hazard.WIND,
            Level.ORANGE,
            ("citywide",),
        ),
        (
            "rainstorm_blue_alert.xml",
            Status.ACTUAL,
            Kind.ALERT,
            (),
            Hazard.RAINSTORM,
            Level.BLUE,
            ("minhang", "pudong", "songjiang"),
        ),
        (
            "rainstorm_yellow_update.xml",
            Status.ACTUAL,
            Kind.UPDATE,
            ("SH-MET-2024-0920-RS-001",),
            Hazard.RAINSTORM,
            Level.YELLOW,
            ("minhang", "pudong", "songjiang"),
        ),
        (
            "rainstorm_cancel.xml",
            Status.ACTUAL,
            Kind.CANCEL,
            ("SH-MET-2024-0920-RS-001", "SH-MET-2024-0920-RS-002"),
            Hazard.RAINSTORM,
            Level.YELLOW,
            ("minhang", "pudong", "songjiang"),
        ),
        (
            "tide_yellow_exercise.xml",
            Status.EXERCISE,
            Kind.ALERT,
            (),
            Hazard.TIDE,
            Level.YELLOW,
            ("huangpu", "hongkou", "yangpu", "pudong"),
        ),
        (
            "flood_severity_only.xml",
            Status.ACTUAL,
            Kind.ALERT,
            (),
            Hazard.FLOOD,
            Level.ORANGE,
            ("songjiang", "qingpu"),
        ),
        (
            "test_message.xml",
            Status.TEST,
            Kind.ALERT,
            (),
            Hazard.WIND,
            Level.BLUE,
            ("chongming",),
        ),
    ],
)
def test_samples(
    name: str,
    status: Status,
    kind: Kind,
    refs: tuple[str, ...],
    hazard: Hazard,
    level: Level,
    areas: tuple[str, ...],
) -> None:
    alert = parsed((SAMPLES / name).read_bytes())
    assert (alert.status, alert.kind, alert.references) == (status, kind, refs)
    assert (alert.hazard, alert.level, alert.areas) == (hazard, level, areas)


def test_typhoon_sample_fields() -> None:
    alert = parsed((SAMPLES / "typhoon_orange_alert.xml").read_bytes())
    assert alert.id == "SH-MET-2024-0915-TY-001"
    assert alert.sender == "shanghai-met@example.cn"
    assert alert.sent == datetime(2024, 9, 14, 23, 0, tzinfo=UTC)
    assert alert.expires == datetime(2024, 9, 16, 23, 0, tzinfo=UTC)
    # The Chinese block supplies headline and description.
    assert alert.headline == "上海中心气象台发布台风橙色预警信号"
    assert alert.description.startswith("受台风影响")


def test_headline_falls_back_to_the_event_and_the_first_block() -> None:
    alert = parsed(cap_payload(infos=[info(event="Rainstorm Blue Warning", language="en-US")]))
    assert alert.headline == "Rainstorm Blue Warning"


# --- hardened XML ---------------------------------------------------------------------------

HOSTILE = {
    "xxe": '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f"<alert {NS}><identifier>&xxe;</identifier></alert>",
    "billion_laughs": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + f"]><alert {NS}><identifier>&lol9;</identifier></alert>",
    "external_dtd": '<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://example.com/cap.dtd">'
    f"<alert {NS}/>",
    "parameter_entity": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://e/x">%p;]>'
    "<x/>",
    "internal_subset_only": "<!DOCTYPE alert []><alert/>",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_dtds_and_entities_are_refused_before_expansion(name: str) -> None:
    problem = rejected(HOSTILE[name].encode())
    assert problem.code is RejectCode.SYNTAX
    assert "root:" not in problem.reason  # nothing from /etc/passwd leaks into the reason
    assert "forbidden XML construct" in problem.reason or "invalid XML" in problem.reason


def test_deep_nesting_is_refused_while_parsing() -> None:
    deep = f"<alert {NS}>" + "<a>" * 10_000 + "</a>" * 10_000 + "</alert>"
    assert "deeper than 16" in rejected(deep.encode()).reason


def test_element_count_is_bounded() -> None:
    many = f"<alert {NS}>" + "<a/>" * (MAX_ELEMENTS + 1) + "</alert>"
    assert f"over {MAX_ELEMENTS} elements" in rejected(many.encode()).reason


def test_huge_attributes_within_the_size_limit_do_no_harm() -> None:
    payload = cap_payload(extra=f'<note big="{"x" * 200_000}">n</note>')
    assert parsed(payload).hazard is Hazard.RAINSTORM


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ('<?xml version="1.0" encoding="UTF-16"?><alert/>'.encode("utf-16"), "UTF-16"),
        ('<?xml version="1.0" encoding="UTF-16"?><alert/>'.encode("utf-16-le"), "NUL"),
        ('<?xml version="1.0" encoding="GB2312"?><alert>暴雨</alert>'.encode("gb2312"), "UTF-8"),
        (b'<?xml version="1.0" encoding="GB2312"?><alert/>', "declares encoding 'GB2312'"),
        ('<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'.encode("latin-1"), "UTF-8"),
        (b"<alert>\xe6\x9a</alert>", "not valid UTF-8"),
    ],
)
def test_only_utf8_is_accepted(payload: bytes, words: str) -> None:
    problem = rejected(payload)
    assert words in problem.reason
    assert problem.code is RejectCode.ENCODING


def test_utf8_declarations_are_fine() -> None:
    payload = cap_payload().replace(b'encoding="UTF-8"', b"encoding='utf_8'")
    assert parsed(payload).id == "SH-MET-1"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"<alert", "invalid XML"),
        (b"<alert></alrt>", "invalid XML"),
        (f"<alert {NS}></alert><x/>".encode(), "invalid XML"),
        (b"<alert>&unknown;</alert>", "invalid XML"),
    ],
)
def test_malformed_xml_is_rejected(payload: bytes, words: str) -> None:
    problem = rejected(payload)
    assert words in problem.reason
    assert problem.code is RejectCode.SYNTAX


@pytest.mark.parametrize(
    ("root", "words"),
    [
        (
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>',
            "CAP version 1.1 is not supported",
        ),
        ("<alert/>", "must be in the CAP 1.2 namespace"),
        (f"<feed {NS}/>", "root element is <feed>"),
    ],
)
def test_root_must_be_a_cap_12_alert(root: str, words: str) -> None:
    assert words in rejected(root.encode()).reason


# --- CAP schema -----------------------------------------------------------------------------


@pytest.mark.parametrize("element", ["identifier", "sender", "sent", "status", "msgType", "scope"])
def test_required_alert_elements(element: str) -> None:
    payload = cap_payload().decode()
    start = payload.index(f"<{element}>")
    end = payload.index(f"</{element}>") + len(element) + 3
    problem = rejected((payload[:start] + payload[end:]).encode())
    assert problem.field == element
    assert f"required CAP element <{element}> is missing" in problem.reason
    empty = payload[:start] + f"<{element}> </{element}>" + payload[end:]
    assert "is empty" in rejected(empty.encode()).reason


@pytest.mark.parametrize("element", ["category", "event", "urgency", "severity", "certainty"])
def test_required_info_elements(element: str) -> None:
    block = info()
    start = block.index(f"<{element}>")
    end = block.index(f"</{element}>") + len(element) + 3
    problem = rejected(cap_payload(infos=[block[:start] + block[end:]]))
    assert problem.field == element
    assert "is missing" in problem.reason


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"status": "actual"}, "status", "is not one of Actual, Exercise, Test"),
        ({"status": "System"}, "status", "housekeeping"),
        ({"status": "Draft"}, "status", "must not be sent"),
        ({"msg_type": "Ack"}, "msgType", "acknowledges"),
        ({"msg_type": "Error"}, "msgType", "not a warning"),
        ({"msg_type": "Upgrade"}, "msgType", "is not one of Alert, Update, Cancel"),
        ({"scope": "Everyone"}, "scope", "is not one of Public, Restricted, Private"),
        ({"scope": "Restricted"}, "restriction", "is missing"),
        ({"scope": "Private"}, "addresses", "is missing"),
        ({"sent": "2024-09-20T05:30:00Z"}, "sent", "not Z"),
        ({"sent": "2024-09-20 05:30:00+08:00"}, "sent", "not a CAP dateTime"),
        ({"sent": "2024-02-30T05:30:00+08:00"}, "sent", "not a valid date"),
        ({"sent": "2024-09-20T05:30:00.5+08:00"}, "sent", "not a CAP dateTime"),
        ({"identifier": "has space"}, "identifier", "contains ' '"),
        ({"sender": "a,b"}, "sender", "contains ','"),
        ({"msg_type": "Update"}, "references", "must reference"),
        ({"msg_type": "Cancel", "references": "abc"}, "references", "not a 'sender,identifier"),
        ({"msg_type": "Cancel", "references": "s,,t"}, "references", "not a 'sender,identifier"),
        ({"infos": []}, "info", "at least one <info>"),
    ],
)
def test_schema_violations(kwargs: dict[str, object], field: str, words: str) -> None:
    problem = rejected(cap_payload(**kwargs))  # type: ignore[arg-type]
    assert problem.field == field
    assert words in problem.reason


@pytest.mark.parametrize(
    ("block", "field", "words"),
    [
        (info(category="<category>Weather</category>"), "category", "is not one of Geo"),
        (info(urgency="Now"), "urgency", "is not one of Immediate"),
        (info(severity="Bad"), "severity", "is not one of Extreme"),
        (info(certainty="Very Likely"), "certainty", "is not one of Observed"),
        (info(areas=""), "area", "no <area>"),
        (info(areas="<area><polygon>1,2 3,4</polygon></area>"), "areaDesc", "is missing"),
        (info(extra="<expires>2024-09-20T01:00:00+08:00</expires>"), "expires", "not after sent"),
        (info(event="<b>暴雨</b>"), "event", "must hold text, not elements"),
        (info(extra="<headline>a</headline><headline>b</headline>"), "headline", "appears 2"),
    ],
)
def test_info_violations(block: str, field: str, words: str) -> None:
    problem = rejected(cap_payload(infos=[block]))
    assert problem.field == field
    assert words in problem.reason


def test_single_valued_alert_elements_may_not_repeat() -> None:
    problem = rejected(cap_payload(extra="<identifier>again</identifier>"))
    assert (problem.field, problem.reason) == (
        "identifier",
        "<identifier> appears 2 times; CAP allows one",
    )


def test_wrapped_headline_and_event_are_one_line() -> None:
    block = info(
        event="暴雨\n  橙色预警", extra="<headline>上海中心气象台\n    发布暴雨橙色预警</headline>"
    )
    alert = parsed(cap_payload(infos=[block]))
    assert alert.headline == "上海中心气象台 发布暴雨橙色预警"
    assert alert.level is Level.ORANGE


def test_several_categories_and_restricted_scope_are_fine() -> None:
    block = info(category="<category>Met</category><category>Safety</category>")
    payload = cap_payload(
        scope="Restricted", extra="<restriction>duty officers</restriction>", infos=[block]
    )
    assert parsed(payload).level is Level.BLUE


def test_update_references_keep_only_identifiers_in_order() -> None:
    refs = (
        "s,A,2024-09-20T05:00:00+08:00 s,B,2024-09-20T05:10:00+08:00 s,A,2024-09-20T05:00:00+08:00"
    )
    alert = parsed(cap_payload(msg_type="Update", references=refs))
    assert alert.references == ("A", "B")
    assert alert.kind is Kind.UPDATE


def test_utc_is_written_minus_zero() -> None:
    alert = parsed(cap_payload(sent="2024-09-19T21:30:00-00:00"))
    assert alert.sent == datetime(2024, 9, 19, 21, 30, tzinfo=UTC)


# --- hazard and level -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "hazard", "level"),
    [
        (info(event="暴雨橙色预警", severity="Minor"), Hazard.RAINSTORM, Level.ORANGE),
        (info(event="Flood Warning", severity="Extreme"), Hazard.FLOOD, Level.RED),
        (info(event="Flood Warning", severity="Minor"), Hazard.FLOOD, Level.BLUE),
        (info(event="Rainstorm Warning", severity="Moderate"), Hazard.RAINSTORM, Level.YELLOW),
        (
            info(event="Rainstorm Warning", extra=pair("eventCode", "level", "red")),
            Hazard.RAINSTORM,
            Level.RED,
        ),
        (
            info(event="气象预警", extra=pair("eventCode", "hazard", "typhoon")),
            Hazard.WIND,
            Level.BLUE,
        ),
        (
            info(event="Warning", extra=pair("parameter", "signal", "台风黄色预警")),
            Hazard.WIND,
            Level.YELLOW,
        ),
        (
            info(
                event="预警",
                extra=pair("parameter", "预警级别", "Ⅱ") + pair("eventCode", "灾种", "洪水"),
            ),
            Hazard.FLOOD,
            Level.ORANGE,
        ),
        (
            info(event="大风黄色预警", extra=pair("eventCode", "SAME", "HWW")),
            Hazard.WIND,
            Level.YELLOW,
        ),
        (
            info(event="黄浦江高潮位蓝色预警", extra=pair("eventCode", "Level", "blue")),
            Hazard.TIDE,
            Level.BLUE,
        ),
    ],
)
def test_hazard_and_level_mapping(block: str, hazard: Hazard, level: Level) -> None:
    alert = parsed(cap_payload(infos=[block]))
    assert (alert.hazard, alert.level) == (hazard, level)


@pytest.mark.parametrize(
    ("blocks", "field", "words"),
    [
        (
            [info(event="暴雨橙色预警", extra=pair("eventCode", "level", "red"))],
            "level",
            "conflicting level",
        ),
        (
            [info(event="暴雨橙色预警", extra=pair("eventCode", "hazard", "wind"))],
            "hazard",
            "conflicting",
        ),
        ([info(event="Fog Warning")], "event", "cannot tell the hazard"),
        ([info(event="Flood Warning", severity="Unknown")], "severity", "severity Unknown"),
        ([info(extra=pair("eventCode", "level", "purple"))], "eventCode", "unknown level"),
        ([info(extra=pair("eventCode", "hazard", "snow"))], "eventCode", "unknown hazard"),
        ([info(extra="<eventCode><valueName>level</valueName></eventCode>")], "value", "missing"),
        (
            [info(event="暴雨橙色预警"), info(event="Rainstorm Red Warning", language="en-US")],
            "level",
            "<info> blocks disagree on level: orange, red",
        ),
        (
            [info(event="暴雨橙色预警"), info(event="Typhoon Orange Warning", language="en-US")],
            "hazard",
            "disagree on hazard",
        ),
        (
            [
                info(event="Flood Warning", severity="Minor"),
                info(event="洪水预警", severity="Severe", language="zh-CN"),
            ],
            "severity",
            "disagree on severity",
        ),
        (
            [
                info(extra="<expires>2024-09-20T10:00:00+08:00</expires>"),
                info(extra="<expires>2024-09-20T11:00:00+08:00</expires>", language="en-US"),
            ],
            "expires",
            "disagree on expires",
        ),
    ],
)
def test_mapping_problems(blocks: list[str], field: str, words: str) -> None:
    problem = rejected(cap_payload(infos=blocks))
    assert problem.field == field
    assert words in problem.reason


def test_colour_in_one_language_suffices_and_severity_is_not_consulted() -> None:
    blocks = [
        info(event="暴雨红色预警", severity="Minor", language="zh-CN"),
        info(event="Rainstorm Warning", severity="Minor", language="en-US"),
    ]
    assert parsed(cap_payload(infos=blocks)).level is Level.RED


def test_equal_expiry_in_different_offsets_agrees() -> None:
    blocks = [
        info(extra="<expires>2024-09-20T10:00:00+08:00</expires>"),
        info(extra="<expires>2024-09-20T02:00:00-00:00</expires>", language="en-US"),
    ]
    assert parsed(cap_payload(infos=blocks)).expires == datetime(2024, 9, 20, 2, tzinfo=UTC)


# --- areas ----------------------------------------------------------------------------------


def area(desc: str, *codes: str) -> str:
    geocodes = "".join(pair("geocode", "GB/T 2260", code) for code in codes)
    return f"<area><areaDesc>{desc}</areaDesc>{geocodes}</area>"


@pytest.mark.parametrize(
    ("areas", "expected"),
    [
        (area("浦东新区沿江沿海地区", "310115"), ("pudong",)),
        (area("Riverside", "310104010000", "310101"), ("huangpu", "xuhui")),
        (area("奉贤区", "FIPS-1234"), ("fengxian",)),
        (area("上海市", "310000") + area("浦东", "310115"), ("citywide",)),
        (area("金山区") + area("Jinshan District") + area("Chongming"), ("jinshan", "chongming")),
    ],
)
def test_area_mapping(areas: str, expected: tuple[str, ...]) -> None:
    assert parsed(cap_payload(infos=[info(areas=areas)])).areas == expected


def test_areas_are_the_union_of_all_info_blocks() -> None:
    blocks = [info(areas=area("浦东新区")), info(areas=area("Minhang"), language="en-US")]
    assert parsed(cap_payload(infos=blocks)).areas == ("minhang", "pudong")


@pytest.mark.parametrize(
    ("areas", "field", "words"),
    [
        (area("火星"), "areaDesc", "unknown area '火星'"),
        (area("Somewhere", "310199"), "geocode", "unknown Shanghai area code '310199'"),
        (area("浦东新区", "310115", "310199"), "geocode", "310199"),
    ],
)
def test_unknown_areas_are_rejected(areas: str, field: str, words: str) -> None:
    problem = rejected(cap_payload(infos=[info(areas=areas)]))
    assert problem.field == field
    assert words in problem.reason


def test_comments_cdata_and_processing_instructions_are_harmless() -> None:
    block = info(extra="<description><![CDATA[雨量 > 50 mm & 风力 8 级]]></description><!-- c -->")
    payload = cap_payload(infos=[block]).replace(b"?>", b"?><?pi data?>", 1)
    assert parsed(payload).description == "雨量 > 50 mm & 风力 8 级"
