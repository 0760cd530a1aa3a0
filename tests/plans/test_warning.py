"""The Alert model: Temporal round-trip, fingerprint, routing and the JSON form."""

from __future__ import annotations

import dataclasses
import json

import pytest
from temporalio.converter import DataConverter

from alerts.intake import parse_alert
from plans.model import ActiveWarning, Hazard, Level
from plans.warning import Alert, Kind, Route, Status
from tests.alerts.factories import SAMPLES, json_payload


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir()))
async def test_every_sample_round_trips_through_the_temporal_default_converter(name: str) -> None:
    alert = parse_alert((SAMPLES / name).read_bytes())
    converter = DataConverter.default
    payloads = await converter.encode([alert])
    (decoded,) = await converter.decode(payloads, [Alert])
    assert decoded == alert
    assert isinstance(decoded.status, Status)
    assert isinstance(decoded.areas, tuple)
    assert decoded.sent.utcoffset() == alert.sent.utcoffset()


def test_to_active_keeps_hazard_level_and_areas() -> None:
    alert = parse_alert(json_payload(areas=["Pudong", "奉贤区"], level="orange"))
    expected = ActiveWarning(Hazard.RAINSTORM, Level.ORANGE, ("pudong", "fengxian"))
    assert alert.to_active() == expected


@pytest.mark.parametrize(
    ("status", "route"),
    [("actual", Route.LIVE), ("exercise", Route.DRILL), ("test", Route.IGNORED)],
)
def test_route_follows_status_only(status: str, route: Route) -> None:
    assert parse_alert(json_payload(status=status)).route is route


def test_fingerprint_ignores_id_sent_and_raw() -> None:
    first = parse_alert(json_payload())
    resent = parse_alert(json_payload(id="RESENT-1", sent="2024-09-20T05:31:00+08:00"))
    assert resent.raw != first.raw
    assert resent.fingerprint == first.fingerprint


def test_fingerprint_compares_expiry_as_an_instant_and_areas_as_a_set() -> None:
    first = parse_alert(json_payload(areas=["浦东", "闵行"]))
    same = parse_alert(
        json_payload(areas=["Minhang District", "Pudong New Area"], expires="2024-09-20T09:30:00Z")
    )
    assert same.fingerprint == first.fingerprint


@pytest.mark.parametrize(
    "change",
    [
        {"level": "yellow"},
        {"hazard": "flood"},
        {"areas": ["闵行区"]},
        {"headline": "另一条"},
        {"description": "x"},
        {"expires": "2024-09-20T18:30:00+08:00"},
        {"sender": "other"},
        {"status": "exercise"},
        {"kind": "update", "references": ["X"]},
    ],
)
def test_fingerprint_changes_with_content(change: dict[str, object]) -> None:
    original = parse_alert(json_payload())
    assert parse_alert(json_payload(**change)).fingerprint != original.fingerprint


def test_to_json_is_accepted_back_by_intake() -> None:
    alert = parse_alert((SAMPLES / "rainstorm_yellow_update.xml").read_bytes())
    again = parse_alert(json.dumps(alert.to_json()).encode())
    assert dataclasses.replace(again, raw="") == dataclasses.replace(alert, raw="")
    assert alert.to_json(include_raw=True)["raw"] == alert.raw
    assert again.kind is Kind.UPDATE
