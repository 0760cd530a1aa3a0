"""Area names and GB/T 2260 codes → canonical area ids."""

from __future__ import annotations

import pytest

from alerts.areas import DISTRICTS, District, resolve_areas, resolve_geocode
from alerts.errors import AlertRejected


def test_the_table_has_the_sixteen_districts_with_unique_ids_and_codes() -> None:
    assert len(DISTRICTS) == 16
    assert len({d.id for d in DISTRICTS}) == 16
    assert len({d.code for d in DISTRICTS}) == 16
    assert all(d.code.startswith("31") and len(d.code) == 6 for d in DISTRICTS)


@pytest.mark.parametrize("district", DISTRICTS, ids=lambda d: d.id)
def test_every_district_resolves_from_every_usual_spelling(district: District) -> None:
    zh, en = district.names[0], district.names[1]
    suffix = "新区" if district.id == "pudong" else "区"
    for name in [zh, zh + suffix, en, en.upper(), f"{en} District", district.id]:
        assert resolve_areas([name]) == (district.id,), name
    assert resolve_geocode(district.code) == district.id


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
    ],
)
def test_names_map_to_canonical_ids(names: list[str], expected: tuple[str, ...]) -> None:
    assert resolve_areas(names) == expected


@pytest.mark.parametrize(
    "name", ["上海", "上海市", "Shanghai", "SHANGHAI CITY", "citywide", "Citywide", "全市", "本市"]
)
def test_city_names_mean_citywide(name: str) -> None:
    assert resolve_areas([name]) == ("citywide",)


@pytest.mark.parametrize(
    "names", [["citywide", "pudong"], ["全市、浦东新区"], ["Minhang", "上海市"]]
)
def test_citywide_absorbs_districts(names: list[str]) -> None:
    assert resolve_areas(names) == ("citywide",)


@pytest.mark.parametrize(
    ("names", "named"),
    [
        (["火星"], "火星"),
        (["黄浦江"], "黄浦江"),
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
