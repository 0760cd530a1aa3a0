"""The loader rejects malformed YAML, unknown keys, bad types, dangling references, missing
templates or languages, templates that fail to render, coverage gaps and escalation gaps, and
says where: file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plans.errors import PlanError, Problem, Severity
from plans.loader import check_plan, load_plan
from tests.plans.helpers import edit


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def _errors(path: Path) -> list[Problem]:
    return [p for p in check_plan(path) if p.severity == Severity.ERROR]


def _only_error(path: Path) -> Problem:
    errors = _errors(path)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def test_yaml_syntax_error_names_file_and_line(copy: Path) -> None:
    target = copy / "actions" / "drainage.yaml"
    edit(target, "      scope: district\n", "      scope: [district\n")
    problem = _only_error(copy)
    assert problem.file.endswith("actions/drainage.yaml")
    assert problem.line >= _line_of(target, "scope: [district")
    assert "invalid YAML" in problem.message


def test_unknown_key_names_file_line_and_field(copy: Path) -> None:
    target = copy / "actions" / "sanitation.yaml"
    edit(target, "      deadline_minutes: 60\n", "      deadline_minutes: 60\n      deadlne: 5\n")
    problem = _only_error(copy)
    assert problem.file.endswith("actions/sanitation.yaml")
    assert problem.line == _line_of(target, "deadlne: 5")
    assert problem.field == "actions.IV[0].deadlne"
    assert "unknown key 'deadlne'" in problem.message
    assert f"sanitation.yaml:{problem.line}: error: actions.IV[0].deadlne:" in str(problem)


def test_bad_type_is_reported(copy: Path) -> None:
    target = copy / "actions" / "housing.yaml"
    edit(target, "deadline_minutes: 240", "deadline_minutes: soon")
    problem = _only_error(copy)
    assert problem.field == "actions.IV[0].deadline_minutes"
    assert problem.line == _line_of(target, "deadline_minutes: soon")
    assert problem.message == "expected an integer, got a string ('soon')"


def test_number_where_text_expected_says_quote_it(copy: Path) -> None:
    edit(copy / "plan.yaml", 'version: "2025.1"', "version: 2025.1")
    problem = _only_error(copy)
    assert problem.field == "version"
    assert "quote it" in problem.message


def test_bad_enum_value_lists_the_allowed_ones(copy: Path) -> None:
    edit(copy / "actions" / "grid.yaml", "scope: district", "scope: everywhere")
    problem = _only_error(copy)
    assert problem.field == "actions.IV[0].scope"
    assert "'everywhere' is not one of: citywide, district, asset" in problem.message


def test_duplicate_key_is_an_error(copy: Path) -> None:
    edit(copy / "plan.yaml", "plan_id: shanghai\n", "plan_id: shanghai\nplan_id: other\n")
    assert "duplicate key" in _only_error(copy).message


def test_missing_required_key(copy: Path) -> None:
    edit(copy / "actions" / "media.yaml", "      deadline_minutes: 60\n", "")
    problem = _only_error(copy)
    assert problem.field == "actions.IV[1]"
    assert "missing required key 'deadline_minutes'" in problem.message


def test_unknown_agency_and_area(copy: Path) -> None:
    (copy / "actions" / "police.yaml").write_text("agency: police\nactions: {}\n", encoding="utf-8")
    edit(copy / "assets.yaml", "district: huangpu,", "district: luwan,")
    edit(copy / "actions" / "water.yaml", "districts: [riverside]", "districts: [atlantis]")
    messages = {p.message for p in _errors(copy)}
    assert "unknown agency 'police' (not in catalogue.yaml)" in messages
    assert "unknown district 'luwan'" in messages
    assert "unknown district or group 'atlantis'" in messages


def test_missing_language_and_missing_template(copy: Path) -> None:
    target = copy / "actions" / "education.yaml"
    text = target.read_text(encoding="utf-8")
    # Drop the English instruction of the first action.
    start = text.index("        en: >-", text.index("instructions:"))
    end = text.index("\n  I:", start)
    target.write_text(text[:start] + text[end:], encoding="utf-8")
    problem = _only_error(copy)
    assert problem.field == "actions.III[0].instructions"
    assert "missing the 'en' text" in problem.message


def test_unknown_language_is_an_error(copy: Path) -> None:
    edit(copy / "notices.yaml", "    templates:\n", "    templates:\n      fr: Bonjour\n")
    assert "unknown key 'fr'" in _only_error(copy).message


def test_template_syntax_error(copy: Path) -> None:
    target = copy / "actions" / "linkage.yaml"
    edit(target, "{{ level.name }}应急响应。", "{{ level.name 应急响应。")
    problem = _only_error(copy)
    assert problem.field == "actions.IV[0].instructions.zh"
    assert "template syntax error" in problem.message


def test_template_that_fails_with_sample_data(copy: Path) -> None:
    target = copy / "actions" / "linkage.yaml"
    edit(target, "{{ level.name }}应急响应。", "{{ level.nmae }}应急响应。")
    problem = _only_error(copy)
    assert problem.file.endswith("actions/linkage.yaml")
    assert problem.field == "actions.IV[0].instructions.zh"
    assert problem.line == _line_of(target, "zh: >-")
    assert "fails with sample data" in problem.message and "nmae" in problem.message


def test_unsafe_template_is_rejected(copy: Path) -> None:
    edit(
        copy / "escalation.yaml",
        "【提醒单】{{ recipient.name }}",
        "【提醒单】{{ recipient.__class__.__mro__ }}",
    )
    problem = _only_error(copy)
    assert problem.field == "messages.reminder.zh"
    assert "fails with sample data" in problem.message


def test_hazard_level_without_actions(copy: Path) -> None:
    for path in (copy / "actions").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"hazards: \[([^\]]*)\]", lambda m: _drop_flood(m.group(0)), text)
        path.write_text(text, encoding="utf-8")
    errors = _errors(copy)
    assert {p.message for p in errors} == {
        f"no action responds to a {colour} flood warning (response level {level})"
        for colour, level in (("blue", "IV"), ("yellow", "III"), ("orange", "II"), ("red", "I"))
    }
    assert {p.file for p in errors} == {str(Path(errors[0].file))}
    assert errors[0].file.endswith("rules.yaml")
    assert {p.field for p in errors} == {
        f"response_levels.flood.{colour}" for colour in ("blue", "yellow", "orange", "red")
    }


def _drop_flood(hazards: str) -> str:
    inner = hazards[len("hazards: [") : -1]
    kept = [h.strip() for h in inner.split(",") if h.strip() != "flood"]
    return f"hazards: [{', '.join(kept) or 'wind'}]"


def test_escalation_gap(copy: Path) -> None:
    edit(
        copy / "escalation.yaml",
        "    - {after_ack_minutes: 15, kind: supervision, to: district_hq}\n",
        "",
    )
    messages = [p.message for p in _errors(copy)]
    assert "escalation gap: the chain has no supervision" in messages


def test_escalation_must_start_at_the_ack_timeout(copy: Path) -> None:
    edit(
        copy / "escalation.yaml",
        "  district:\n    - {after_ack_minutes: 0,",
        "  district:\n    - {after_ack_minutes: 5,",
    )
    assert any("first reminder" in p.message for p in _errors(copy))


def test_escalation_order_targets_and_times(copy: Path) -> None:
    target = copy / "escalation.yaml"
    edit(
        target,
        "{after_ack_minutes: 45, kind: warning, to: city_hq}",
        "{after_ack_minutes: 45, kind: warning, to: agency}",
    )
    edit(
        target,
        "{after_ack_minutes: 15, kind: supervision, to: city_hq}",
        "{after_ack_minutes: 0, kind: supervision, to: city_hq}",
    )
    messages = [p.message for p in _errors(copy)]
    assert "a warning goes to city_hq, not agency" in messages
    assert "steps must come strictly later than the one before" in messages


def test_citywide_action_cannot_escalate_to_a_district_hq(copy: Path) -> None:
    target = copy / "actions" / "media.yaml"
    edit(target, "escalation: urgent-city", "escalation: urgent-district")
    problem = _only_error(copy)
    assert problem.line == _line_of(target, "escalation: urgent-district")
    assert "citywide" in problem.message


def test_unknown_escalation_policy(copy: Path) -> None:
    edit(copy / "actions" / "media.yaml", "escalation: urgent-city", "escalation: panic")
    assert "unknown escalation policy 'panic'" in _only_error(copy).message


def test_ack_timeout_must_be_shorter_than_the_deadline(copy: Path) -> None:
    edit(copy / "actions" / "media.yaml", "ack_timeout_minutes: 5", "ack_timeout_minutes: 30")
    assert "must be shorter than the deadline" in _only_error(copy).message


def test_late_escalation_is_a_warning_not_an_error(copy: Path) -> None:
    edit(copy / "actions" / "media.yaml", "escalation: urgent-city", "escalation: city")
    problems = check_plan(copy)
    assert [p.severity for p in problems] == [Severity.WARNING]
    assert "past the 30 min deadline" in problems[0].message
    load_plan(copy)  # warnings do not stop a plan from loading


def test_colours_must_not_lower_the_level(copy: Path) -> None:
    edit(
        copy / "rules.yaml",
        "tide:      {blue: IV, yellow: III, orange: II, red: I}",
        "tide: {blue: IV, yellow: III, orange: II, red: IV}",
    )
    assert "must not map to a lower response level" in _only_error(copy).message


def test_compound_rule_needs_an_effect_and_two_hazards(copy: Path) -> None:
    target = copy / "rules.yaml"
    edit(target, "    raise_by: 1\n", "")
    edit(target, "when: {wind: orange, tide: yellow}", "when: {wind: orange}")
    messages = {p.message for p in _errors(copy)}
    assert "a compound rule needs raise_by (1 to 3) or at_least" in messages
    assert "a compound rule needs at least two hazards" in messages


def test_ambiguous_alias_is_an_error(copy: Path) -> None:
    edit(copy / "catalogue.yaml", "aliases: [徐汇, Xuhui]", "aliases: [徐汇, Xuhui, 黄浦]")
    assert "is also a name of 'huangpu'" in _only_error(copy).message


def test_alias_sharing_a_stem_with_another_district_is_an_error(copy: Path) -> None:
    # 虹口新区 folds to the stem 虹口 (the suffix is dropped): Hongkou's names now clash.
    edit(copy / "catalogue.yaml", "aliases: [徐汇, Xuhui]", "aliases: [徐汇, Xuhui, 虹口新区]")
    messages = [p.message for p in _errors(copy)]
    assert messages
    assert all("虹口" in m and "is also a name of 'xuhui'" in m for m in messages), messages


def test_duplicate_ids(copy: Path) -> None:
    edit(copy / "assets.yaml", "{id: ps-huangpu-2,", "{id: ps-huangpu-1,")
    assert "duplicate asset id 'ps-huangpu-1'" in _only_error(copy).message


def test_empty_and_missing_files(copy: Path) -> None:
    (copy / "notices.yaml").write_text("# nothing here\n", encoding="utf-8")
    (copy / "assets.yaml").unlink()
    messages = {(Path(p.file).name, p.message) for p in _errors(copy)}
    assert ("notices.yaml", "file is empty") in messages
    assert ("assets.yaml", "file is missing") in messages


def test_agency_without_actions_is_a_warning(copy: Path) -> None:
    edit(
        copy / "catalogue.yaml",
        "agencies:\n",
        "agencies:\n  - {id: police, zh: 公安, en: Police}\n",
    )
    [problem] = check_plan(copy)
    assert problem.severity == Severity.WARNING
    assert problem.message == "agency has no actions"


def test_load_plan_raises_with_locations(copy: Path) -> None:
    edit(copy / "actions" / "grid.yaml", "scope: district", "scope: everywhere")
    with pytest.raises(PlanError) as caught:
        load_plan(copy)
    assert re.search(r"actions/grid\.yaml:\d+: error: actions\.IV\[0\]\.scope:", str(caught.value))
    assert caught.value.problems


def test_every_broken_template_is_reported(copy: Path) -> None:
    edit(
        copy / "actions" / "linkage.yaml",
        "{{ level.name }}应急响应。",
        "{{ level.nmae }}应急响应。",
    )
    edit(copy / "actions" / "media.yaml", "{{ area.name }}融媒体中心", "{{ area.nom }}融媒体中心")
    edit(copy / "notices.yaml", "({{ hazard.name }})", "({{ hazard.nam }})")
    fields = sorted(p.field for p in _errors(copy))
    assert fields == [
        "actions.IV[0].instructions.zh",
        "actions.IV[1].instructions.zh",
        "notices[0].templates.en",
    ]
