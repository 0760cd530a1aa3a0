"""Rendering instructions, notices and escalation slips from the templates in the plan."""

from __future__ import annotations

import dataclasses

import pytest

from plans.errors import RenderError
from plans.model import CITYWIDE, ActiveWarning, EscalationStep, Hazard, Level, Plan, Task
from plans.render import render_escalation, render_notice, render_task
from plans.rules import respond


def _task(plan: Plan, task_id: str, *warnings: ActiveWarning) -> Task:
    response = respond(warnings, plan)
    return next(t for t in response.tasks if t.id == task_id)


def test_task_instruction_in_both_languages(plan: Plan) -> None:
    task = _task(
        plan,
        "transport.underpass-watch@jingan",
        ActiveWarning(Hazard.RAINSTORM, Level.BLUE, (CITYWIDE,)),
    )
    text = render_task(plan, task)
    assert set(text) == {"zh", "en"}
    assert text["zh"].startswith("静安区") and "25厘米" in text["zh"]
    assert text["en"].startswith("Jing'an District") and "25 cm" in text["en"]


def test_asset_task_names_the_asset(plan: Plan) -> None:
    task = _task(
        plan,
        "drainage.team-deploy@pudong/wlp-pudong-1",
        ActiveWarning(Hazard.RAINSTORM, Level.YELLOW, (CITYWIDE,)),
    )
    text = render_task(plan, task)
    assert "示例易积水点（浦东1号）" in text["zh"]
    assert "Sample waterlogging point Pudong-1" in text["en"]


def test_class_suspension_names_the_red_hazard(plan: Plan) -> None:
    task = _task(
        plan,
        "education.class-suspension@minhang",
        ActiveWarning(Hazard.RAINSTORM, Level.RED, (CITYWIDE,)),
    )
    text = render_task(plan, task)
    assert "暴雨红色预警生效" in text["zh"]
    assert "22:00" in text["en"]


def test_escalation_slips_go_to_the_right_recipient(plan: Plan) -> None:
    task = _task(
        plan, "drainage.prelower@yangpu", ActiveWarning(Hazard.RAINSTORM, Level.BLUE, (CITYWIDE,))
    )
    reminder, supervision, warning = (render_escalation(plan, task, s) for s in task.escalation)
    assert reminder["zh"].startswith("【提醒单】排水")
    assert supervision["zh"].startswith("【督办单】杨浦区防汛指挥部")
    assert warning["en"].startswith("[Warning notice] Shanghai Flood Control Headquarters")
    assert "drainage.prelower@yangpu" in warning["zh"]


def test_escalation_accepts_plain_string_steps(plan: Plan) -> None:
    task = _task(
        plan, "drainage.prelower@yangpu", ActiveWarning(Hazard.RAINSTORM, Level.BLUE, (CITYWIDE,))
    )
    step = EscalationStep(after_minutes=30, kind="supervision", to="district_hq")
    assert render_escalation(plan, task, step)["zh"].startswith("【督办单】杨浦区防汛指挥部")


def test_citywide_supervision_goes_to_the_city_hq(plan: Plan) -> None:
    task = _task(
        plan, "media.public-release@citywide", ActiveWarning(Hazard.TIDE, Level.BLUE, (CITYWIDE,))
    )
    supervision = render_escalation(plan, task, task.escalation[1])
    assert supervision["zh"].startswith("【督办单】上海市防汛指挥部")


def test_notices(plan: Plan) -> None:
    response = respond(
        [
            ActiveWarning(Hazard.WIND, Level.YELLOW, (CITYWIDE,)),
            ActiveWarning(Hazard.WIND, Level.RED, ("fengxian",)),
        ],
        plan,
    )
    texts = {n.id: render_notice(plan, n) for n in response.notices}
    city = texts["media.public-release@citywide/III"]
    assert city["zh"].startswith("市防汛指挥部决定启动全市防汛防台Ⅲ级应急响应")
    district = texts["media.public-release@fengxian/I"]
    assert district["zh"].startswith("奉贤区防汛指挥部决定启动本区防汛防台Ⅰ级应急响应")
    passenger = texts["transport.passenger-notice@fengxian/I"]
    assert "avoid all non-essential trips" in passenger["en"]
    assert "avoid" not in texts["transport.passenger-notice@citywide/III"]["en"]


def test_unknown_variable_is_an_error_not_blank_text(plan: Plan) -> None:
    action = plan.action("grid.patrol")
    broken = dataclasses.replace(action, instructions={"zh": "{{ nobody }}", "en": "x"})
    other = dataclasses.replace(plan, actions=(broken,))
    task = _task(plan, "grid.patrol@putuo", ActiveWarning(Hazard.FLOOD, Level.BLUE, (CITYWIDE,)))
    with pytest.raises(RenderError, match="nobody"):
        render_task(other, task)


def test_sandbox_blocks_unsafe_access(plan: Plan) -> None:
    action = plan.action("grid.patrol")
    unsafe = "{{ area.__class__.__init__.__globals__ }}"
    broken = dataclasses.replace(action, instructions={"zh": unsafe, "en": unsafe})
    other = dataclasses.replace(plan, actions=(broken,))
    task = _task(plan, "grid.patrol@putuo", ActiveWarning(Hazard.FLOOD, Level.BLUE, (CITYWIDE,)))
    with pytest.raises(RenderError):
        render_task(other, task)


def test_task_from_another_plan_is_an_error(plan: Plan) -> None:
    task = _task(plan, "grid.patrol@putuo", ActiveWarning(Hazard.FLOOD, Level.BLUE, (CITYWIDE,)))
    stranger = dataclasses.replace(task, action_id="grid.unknown")
    with pytest.raises(RenderError, match="not in plan"):
        render_task(plan, stranger)


def test_every_task_of_a_big_response_renders(plan: Plan) -> None:
    warnings = [ActiveWarning(h, Level.RED, (CITYWIDE,)) for h in Hazard]
    response = respond(warnings, plan)
    for task in response.tasks:
        assert all(render_task(plan, task).values())
        for step in task.escalation:
            assert all(render_escalation(plan, task, step).values())
    for notice in response.notices:
        assert all(render_notice(plan, notice).values())
