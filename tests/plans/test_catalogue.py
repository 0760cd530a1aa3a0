"""Name helpers: areas, hazards and colours as issuers write them, by the plan's catalogue."""

from __future__ import annotations

import dataclasses

import pytest

from plans.catalogue import resolve_areas
from plans.model import CITYWIDE, City, Hazard, Level, Plan
from plans.terms import parse_hazard, parse_level


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pudong", "pudong"),
        ("Pudong New Area", "pudong"),
        ("浦东新区", "pudong"),
        ("浦东", "pudong"),
        ("PUDONG", "pudong"),
        ("Jing'an", "jingan"),
        ("Jing’an District", "jingan"),
        ("静安区", "jingan"),
        ("闸北区", "jingan"),
        ("Huangpu Qu", "huangpu"),
        ("崇明县", "chongming"),
        ("上海", CITYWIDE),
        ("上海市", CITYWIDE),
        ("Shanghai", CITYWIDE),
        ("citywide", CITYWIDE),
        ("全市", CITYWIDE),
        ("Huangpu River", CITYWIDE),
        ("黄浦江", CITYWIDE),
        ("黄浦区", "huangpu"),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_resolve_area(plan: Plan, name: str, expected: str | None) -> None:
    assert resolve_areas(name, plan) == ((expected,) if expected else ())


def test_city_names_are_the_plans_not_built_in(plan: Plan) -> None:
    # Nothing knows 上海市 but the catalogue: a plan without the city's names does not.
    assert resolve_areas("上海市", plan) == (CITYWIDE,)
    nameless = dataclasses.replace(plan, city=City("", ""))
    assert resolve_areas("上海市", nameless) == ()
    assert resolve_areas("全市", nameless) == (CITYWIDE,)
    # The river is a citywide alias of the plan.
    no_river = dataclasses.replace(plan, citywide=dataclasses.replace(plan.citywide, aliases=()))
    assert resolve_areas("黄浦江", no_river) == ()


def test_resolve_areas_knows_groups(plan: Plan) -> None:
    assert resolve_areas("coastal", plan) == ("pudong", "jinshan", "fengxian", "chongming")
    assert resolve_areas("中心城区", plan)[0] == "huangpu"
    assert resolve_areas("浦东", plan) == ("pudong",)
    assert resolve_areas("nowhere", plan) == ()


@pytest.mark.parametrize(
    ("name", "hazard"),
    [
        ("wind", Hazard.WIND),
        ("typhoon", Hazard.WIND),
        ("Gale", Hazard.WIND),
        ("台风", Hazard.WIND),
        ("rainstorm", Hazard.RAINSTORM),
        ("暴雨", Hazard.RAINSTORM),
        ("tide", Hazard.TIDE),
        ("high tide", Hazard.TIDE),
        ("flood", Hazard.FLOOD),
        ("hail", None),
    ],
)
def test_parse_hazard(plan: Plan, name: str, hazard: Hazard | None) -> None:
    assert parse_hazard(name, plan) == hazard


@pytest.mark.parametrize(
    ("name", "level"),
    [("blue", Level.BLUE), ("橙色", Level.ORANGE), ("Red", Level.RED), ("purple", None)],
)
def test_parse_level(plan: Plan, name: str, level: Level | None) -> None:
    assert parse_level(name, plan) == level


def test_district_ids_are_the_contract(plan: Plan) -> None:
    assert [d.id for d in plan.districts] == [
        "huangpu",
        "xuhui",
        "changning",
        "jingan",
        "putuo",
        "hongkou",
        "yangpu",
        "minhang",
        "baoshan",
        "jiading",
        "pudong",
        "jinshan",
        "songjiang",
        "qingpu",
        "fengxian",
        "chongming",
    ]
    assert {d.zh for d in plan.districts} >= {"浦东新区", "静安区", "崇明区"}
