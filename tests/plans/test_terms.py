"""One vocabulary: hazard and colour terms come from the plan, and every edge reads them alike.

Intake (``alerts.vocabulary``, under ``parse_alert``) and ``tidegate plan explain`` used to keep
two tables that disagreed: intake took 风暴潮, storm surge and II级 that explain refused, and
explain took 风 and 潮 that intake refused. Both now read ``plans.terms`` with the plan.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.errors import AlertRejected
from alerts.intake import parse_alert
from cli.plan import app
from plans.errors import Severity
from plans.loader import check_plan
from plans.model import Hazard, HazardTerms, Level, Plan
from plans.terms import fold_term, parse_hazard, parse_level, read_signal, severity_level
from tests.alerts.factories import json_payload
from tests.plans.helpers import edit

W, R, T, F = Hazard.WIND, Hazard.RAINSTORM, Hazard.TIDE, Hazard.FLOOD
BLUE, YELLOW, ORANGE, RED = Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED

EXPLAIN_ACCEPTED_HAZARDS = {
    "wind": W, "typhoon": W, "gale": W, "风": W, "台风": W, "大风": W,
    "rainstorm": R, "rain": R, "暴": R, "暴雨": R,
    "tide": T, "high tide": T, "潮": T, "高潮": T, "高潮位": T,
    "flood": F, "洪": F, "洪水": F,
}  # fmt: skip
"""What ``plan explain`` accepted before (plans/catalogue.py)."""
INTAKE_ACCEPTED_HAZARDS = {
    "wind": W, "typhoon": W, "gale": W, "台风": W, "热带气旋": W, "大风": W,
    "rainstorm": R, "heavy rain": R, "暴雨": R,
    "tide": T, "storm surge": T, "high tide": T, "风暴潮": T, "高潮位": T, "潮位": T, "高潮": T,
    "flood": F, "洪水": F,
}  # fmt: skip
"""What intake accepted before (alerts/signals.py)."""
EXPLAIN_ACCEPTED_LEVELS = {
    "blue": BLUE, "蓝": BLUE, "蓝色": BLUE, "yellow": YELLOW, "黄": YELLOW, "黄色": YELLOW,
    "orange": ORANGE, "橙": ORANGE, "橙色": ORANGE, "red": RED, "红": RED, "红色": RED,
}  # fmt: skip
INTAKE_ACCEPTED_LEVELS = {
    **EXPLAIN_ACCEPTED_LEVELS,
    "IV": BLUE, "Ⅳ": BLUE, "IV级": BLUE, "III": YELLOW, "Ⅲ": YELLOW, "III级": YELLOW,
    "II": ORANGE, "Ⅱ": ORANGE, "II级": ORANGE, "I": RED, "Ⅰ": RED, "I级": RED,
}  # fmt: skip

runner = CliRunner()


def _intake(hazard: str = "rainstorm", level: str = "blue") -> tuple[Hazard, Level]:
    alert = parse_alert(json_payload(hazard=hazard, level=level, areas=["pudong"]))
    return alert.hazard, alert.level


def _explain(*warnings: str) -> list[tuple[Hazard, Level]]:
    args = [arg for w in warnings for arg in ("-w", f"{w}@pudong")]
    result = runner.invoke(app, ["explain", *args, "--only", "pudong", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    return [(Hazard(w["hazard"]), Level(w["level"])) for w in document["warnings"]]


def test_every_hazard_term_either_edge_took_is_taken_by_both_alike() -> None:
    expected = {**EXPLAIN_ACCEPTED_HAZARDS, **INTAKE_ACCEPTED_HAZARDS}
    assert len(expected) == len(EXPLAIN_ACCEPTED_HAZARDS.keys() | INTAKE_ACCEPTED_HAZARDS.keys())
    assert {term: _intake(hazard=term)[0] for term in expected} == expected
    explained = _explain(*(f"{term}=blue" for term in expected))
    assert dict(zip(expected, (h for h, _ in explained), strict=True)) == expected


def test_every_level_term_either_edge_took_is_taken_by_both_alike() -> None:
    expected = {**EXPLAIN_ACCEPTED_LEVELS, **INTAKE_ACCEPTED_LEVELS}
    assert {term: _intake(level=term)[1] for term in expected} == expected
    explained = _explain(*(f"rainstorm={term}" for term in expected))
    assert dict(zip(expected, (lv for _, lv in explained), strict=True)) == expected


@pytest.mark.parametrize(
    ("warning", "hazard", "level"),
    [
        ("风暴潮=II级", T, ORANGE),
        ("storm surge=Ⅳ", T, BLUE),
        ("风=橙", W, ORANGE),
        ("潮=yellow", T, YELLOW),
    ],
)
def test_the_disagreements_of_the_issue_are_gone(
    warning: str, hazard: Hazard, level: Level
) -> None:
    term, colour = warning.split("=")
    assert _intake(hazard=term, level=colour) == (hazard, level)
    assert _explain(warning) == [(hazard, level)]


def test_every_term_of_the_catalogue_reads_as_its_hazard_or_colour(plan: Plan) -> None:
    for entry in plan.hazard_terms:
        for term in (entry.hazard.value, *entry.terms):
            assert parse_hazard(term, plan) is entry.hazard, term
        for word in entry.signal_words:
            assert read_signal(f"{word} blue", plan)[0] == (entry.hazard,), word
    for colour in plan.level_terms:
        for term in (colour.level.value, *colour.terms):
            assert parse_level(term, plan) is colour.level, term
        for word in colour.signal_words:
            assert read_signal(f"暴雨{word}预警", plan) == ((R,), (colour.level,)), word
        assert colour.cap_severity is not None
        assert severity_level(colour.cap_severity, plan) is colour.level
    assert severity_level("Unknown", plan) is None


def test_terms_fold_case_spaces_punctuation_and_compatibility_forms() -> None:
    assert fold_term(" Storm-Surge ") == "stormsurge"
    assert fold_term("Ⅱ级") == fold_term("II级") == "ii级"
    assert fold_term("台风!") == "台风"


def test_the_plan_passed_in_decides(plan: Plan) -> None:
    """A term the plan drops is unknown to every edge that reads with that plan."""
    wind = plan.hazard_terms[0]
    assert wind.hazard is W
    no_gale = dataclasses.replace(
        plan,
        hazard_terms=(
            HazardTerms(W, tuple(t for t in wind.terms if t != "gale"), wind.signal_words),
            *plan.hazard_terms[1:],
        ),
    )
    assert parse_hazard("gale", plan) is W
    assert parse_hazard("gale", no_gale) is None
    with pytest.raises(AlertRejected, match="unknown hazard 'gale'"):
        parse_alert(json_payload(hazard="gale"), plan=no_gale)


# --- the loader keeps the vocabulary unambiguous -------------------------------------------


def _errors(copy: Path) -> list[str]:
    return [p.message for p in check_plan(copy) if p.severity is Severity.ERROR]


def test_a_term_of_two_hazards_is_an_error(copy: Path) -> None:
    edit(copy / "catalogue.yaml", "terms: [洪, 洪水]", "terms: [洪, 洪水, 大风]")
    assert _errors(copy) == ["term '大风' is also a term of 'wind'"]


def test_a_signal_word_inside_another_hazards_word_is_an_error(copy: Path) -> None:
    edit(copy / "catalogue.yaml", "signal_words: [洪水,", "signal_words: [洪水, 风暴,")
    assert _errors(copy) == [
        "signal word '风暴' occurs in '风暴潮' of 'tide': a tide signal would name two hazards"
    ]


def test_a_colour_word_inside_an_area_name_is_an_error(copy: Path) -> None:
    # Why Chinese colour words keep 色: 黄 would read 黄浦江 and 黄浦区 as yellow.
    edit(copy / "catalogue.yaml", "signal_words: [黄色, yellow]", "signal_words: [黄, yellow]")
    errors = _errors(copy)
    assert "signal word '黄' occurs in '黄浦江', a name of 'citywide'" in errors
    assert "signal word '黄' occurs in '黄浦区', a name of 'huangpu'" in errors


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("signal_words: [蓝色, blue]", "signal_words: [蓝色, dark blue]", "single English word"),
        ("cap_severity: Moderate", "cap_severity: Minor", "same cap_severity"),
        ("cap_severity: Moderate", "cap_severity: Mild", "one of Minor, Moderate"),
        ("terms: [洪, 洪水]", "terms: [洪, 洪水, '!']", "has no letters or digits"),
        ('codes: ["310101"]', 'codes: ["310115"]', "code 310115 is also a code of 'huangpu'"),
        ('codes: ["310101"]', "codes: [310101]", "(quote it)"),
    ],
)
def test_bad_words_and_codes_are_errors(copy: Path, old: str, new: str, message: str) -> None:
    edit(copy / "catalogue.yaml", old, new)
    errors = _errors(copy)
    assert any(message in e for e in errors), errors


def test_the_vocabulary_is_required(copy: Path) -> None:
    text = (copy / "catalogue.yaml").read_text(encoding="utf-8")
    start, end = text.index("\nhazards:"), text.index("\nagencies:")
    (copy / "catalogue.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    errors = _errors(copy)
    assert "missing required key 'hazards'" in errors
    assert "missing required key 'levels'" in errors
