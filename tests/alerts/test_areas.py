"""Area names and GB/T 2260 codes → canonical area ids, from the plan's catalogue."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest

from alerts import vocabulary
from alerts.errors import AlertRejected
from plans.catalogue import canonical_areas, city_names_of
from plans.catalogue import resolve_areas as catalogue_areas
from plans.loader import load_plan
from plans.model import CITYWIDE, District, Plan

PLAN = load_plan()
GB_CODES = {code: area.id for area in (PLAN.citywide, *PLAN.districts) for code in area.codes}
"""The plan's GB/T 2260 codes: code -> area id."""


def resolve_areas(
    names: Iterable[str], *, field: str = "areas", plan: Plan = PLAN
) -> tuple[str, ...]:
    return vocabulary.areas(names, plan, field=field)


def resolve_geocode(code: str) -> str | None:
    return vocabulary.geocode(code, PLAN)


def test_every_district_of_the_plan_has_exactly_one_current_code() -> None:
    ids = [d.id for d in PLAN.districts]
    assert len(ids) == 16
    assert set(GB_CODES.values()) == {CITYWIDE, *ids}
    current = {area: code for code, area in GB_CODES.items() if code != "310108"}
    assert len(current) == 17
    assert all(code.startswith("31") and len(code) == 6 for code in GB_CODES)


@pytest.mark.parametrize("district", PLAN.districts, ids=lambda d: d.id)
def test_every_district_resolves_from_every_usual_spelling(district: District) -> None:
    zh_base = district.zh.removesuffix("新区").removesuffix("区")
    en_base = district.en.removesuffix(" New Area").removesuffix(" District")
    for name in [zh_base, district.zh, en_base, en_base.upper(), district.en, district.id]:
        assert resolve_areas([name]) == (district.id,), name
    code = next(code for code, area in GB_CODES.items() if area == district.id)
    assert resolve_geocode(code) == district.id


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["浦东新区"], ("pudong",)),
        (["Pudong New Area"], ("pudong",)),
        (["pudong new district"], ("pudong",)),
        (["Jing'an"], ("jingan",)),
        (["Jing’an District"], ("jingan",)),
        (["Jìng'ān"], ("jingan",)),
        (["JING AN"], ("jingan",)),
        (["上海市浦东新区"], ("pudong",)),
        (["Pudong, Shanghai"], ("pudong",)),
        (["Songjiang District, Shanghai"], ("songjiang",)),
        (["浦东新区、奉贤区、金山区"], ("pudong", "jinshan", "fengxian")),
        (["Pudong New Area, Minhang and Songjiang"], ("minhang", "pudong", "songjiang")),
        (["Pudong, Fengxian, Shanghai"], ("pudong", "fengxian")),
        (["黄浦区和虹口区"], ("huangpu", "hongkou")),
        (["崇明", "黄浦"], ("huangpu", "chongming")),
        (["浦东", "Pudong New Area", "pudong"], ("pudong",)),
        (["闸北区"], ("jingan",)),
        (["卢湾区"], ("huangpu",)),
        (["南汇区"], ("pudong",)),
        (["崇明县"], ("chongming",)),
        (["长兴岛"], ("chongming",)),
        (["中心城区"], ("huangpu", "xuhui", "changning", "jingan", "putuo", "hongkou", "yangpu")),
        (["沿海区、闵行"], ("minhang", "pudong", "jinshan", "fengxian", "chongming")),
        (["Coastal districts", "Pudong"], ("pudong", "jinshan", "fengxian", "chongming")),
    ],
)
def test_names_map_to_canonical_ids(names: list[str], expected: tuple[str, ...]) -> None:
    assert resolve_areas(names) == expected


@pytest.mark.parametrize(
    "name",
    [
        "上海",
        "上海市",
        "Shanghai",
        "SHANGHAI CITY",
        "citywide",
        "Citywide",
        "全市",
        "本市",
        "黄浦江",
        "Huangpu River",
    ],
)
def test_city_names_mean_citywide(name: str) -> None:
    assert resolve_areas([name]) == ("citywide",)


@pytest.mark.parametrize(
    "names", [["citywide", "pudong"], ["全市、浦东新区"], ["Minhang", "上海市"], ["浦东、黄浦江"]]
)
def test_citywide_absorbs_districts(names: list[str]) -> None:
    assert resolve_areas(names) == ("citywide",)


@pytest.mark.parametrize(
    ("names", "named"),
    [
        (["火星"], "火星"),
        (["临港新片区"], "临港新片区"),
        (["浦东新区、火星区"], "火星区"),
        (["Pudong and Atlantis"], "Atlantis"),
        (["上海市区"], "上海市区"),
        ([" "], "empty"),
        ([], "no areas"),
    ],
)
def test_unknown_areas_are_rejected_by_name(names: list[str], named: str) -> None:
    with pytest.raises(AlertRejected) as caught:
        resolve_areas(names, field="areaDesc")
    assert named in caught.value.reason
    assert caught.value.field == "areaDesc"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("310000", "citywide"),
        ("310100", "citywide"),
        ("310000000000", "citywide"),
        ("310115", "pudong"),
        ("310104010000", "xuhui"),
        ("310104010", "xuhui"),
        ("310108", "jingan"),
        (" 310151 ", "chongming"),
        ("110101", None),
        ("ABC", None),
        ("3101150", None),
        ("３１０１１５", None),
    ],
)
def test_geocodes(code: str, expected: str | None) -> None:
    assert resolve_geocode(code) == expected


@pytest.mark.parametrize("code", ["310199", "310000010000", "319999"])
def test_unknown_shanghai_codes_are_rejected(code: str) -> None:
    with pytest.raises(AlertRejected, match=code):
        resolve_geocode(code)


def test_codes_are_accepted_as_names() -> None:
    assert resolve_areas(["310115", "310000"]) == ("citywide",)
    assert resolve_areas(["310104", "浦东"]) == ("xuhui", "pudong")
    with pytest.raises(AlertRejected, match="'110101' is not a Shanghai area code"):
        resolve_areas(["110101"])
    with pytest.raises(AlertRejected, match="unknown Shanghai area code '310199'") as caught:
        resolve_areas(["310199"])
    assert caught.value.field == "areas"


# --- one catalogue: alert intake and the plan tools agree ---------------------------------


def _catalogue_names() -> list[str]:
    names = list(city_names_of(PLAN.city))
    for area in (PLAN.citywide, *PLAN.districts):
        names += [area.id, area.zh, area.en, *area.aliases]
    for group in PLAN.groups:
        names += [group.id, group.zh, group.en]
    return names


@pytest.mark.parametrize("name", _catalogue_names())
def test_every_catalogue_name_resolves_as_the_plan_tools_resolve_it(name: str) -> None:
    expected = catalogue_areas(name, PLAN)
    assert expected, f"{name!r} is in the catalogue but the catalogue does not resolve it"
    assert resolve_areas([name]) == canonical_areas(expected, PLAN)


@pytest.mark.parametrize(
    ("name", "intake"),
    [
        # Documented differences: intake also reads lists, city qualifiers and codes.
        ("浦东新区、奉贤区", ("pudong", "fengxian")),
        ("上海市浦东新区", ("pudong",)),
        ("Pudong, Shanghai", ("pudong",)),
        ("310115", ("pudong",)),
    ],
)
def test_intake_only_adds_lists_qualifiers_and_codes(name: str, intake: tuple[str, ...]) -> None:
    assert catalogue_areas(name, PLAN) == ()
    assert resolve_areas([name]) == intake


@pytest.mark.parametrize("name", ["火星", "临港新片区", "上海市区", "Atlantis"])
def test_names_unknown_to_the_catalogue_are_unknown_to_intake(name: str) -> None:
    assert catalogue_areas(name, PLAN) == ()
    with pytest.raises(AlertRejected, match="unknown area"):
        resolve_areas([name])


def test_the_plan_passed_in_decides() -> None:
    shrunk = dataclasses.replace(PLAN, citywide=District(CITYWIDE, "全市", "Citywide", ()))
    assert resolve_areas(["黄浦江"], plan=PLAN) == (CITYWIDE,)
    with pytest.raises(AlertRejected, match="unknown area '黄浦江'"):
        resolve_areas(["黄浦江"], plan=shrunk)
