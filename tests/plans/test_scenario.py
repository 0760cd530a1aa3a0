"""Replay Typhoon In-Fa (烟花, July 2021) through respond() and diff(), step by step.

Timeline from the shared storm file 2021-in-fa.yaml (Shine, The Paper, Eastday): typhoon blue
citywide 23 Jul 07:00 (HQ IV); Huangpu high-tide blue 10:00; rainstorm yellow 24 Jul 08:40;
typhoon yellow 13:00; Pudong's own typhoon orange 14:00; typhoon orange citywide 20:00 (HQ II);
tide orange 25 Jul 09:00 (金山 and 奉贤 went to I on 25 Jul); downgrade 26 Jul 11:00 (HQ III).
"""

from __future__ import annotations

from plans.model import CITYWIDE, ActiveWarning, Hazard, Level, Plan, Response, ResponseLevel
from plans.rules import apply_diff, diff, respond

W = ActiveWarning
CITY = (CITYWIDE,)
COASTAL = ("pudong", "jinshan", "fengxian", "chongming")

STEPS: list[tuple[str, list[ActiveWarning]]] = [
    ("07-23 07:00 typhoon blue", [W(Hazard.WIND, Level.BLUE, CITY)]),
    (
        "07-23 10:00 tide blue",
        [W(Hazard.WIND, Level.BLUE, CITY), W(Hazard.TIDE, Level.BLUE, CITY)],
    ),
    (
        "07-24 08:40 rainstorm yellow",
        [
            W(Hazard.WIND, Level.BLUE, CITY),
            W(Hazard.TIDE, Level.BLUE, CITY),
            W(Hazard.RAINSTORM, Level.YELLOW, CITY),
        ],
    ),
    (
        "07-24 14:00 Pudong typhoon orange",
        [
            W(Hazard.WIND, Level.YELLOW, CITY),
            W(Hazard.WIND, Level.ORANGE, ("pudong",)),
            W(Hazard.TIDE, Level.BLUE, CITY),
            W(Hazard.RAINSTORM, Level.YELLOW, CITY),
        ],
    ),
    (
        "07-24 20:00 typhoon orange",
        [
            W(Hazard.WIND, Level.ORANGE, CITY),
            W(Hazard.TIDE, Level.BLUE, CITY),
            W(Hazard.RAINSTORM, Level.YELLOW, CITY),
        ],
    ),
    (
        "07-25 09:00 tide orange",
        [
            W(Hazard.WIND, Level.ORANGE, CITY),
            W(Hazard.TIDE, Level.ORANGE, CITY),
            W(Hazard.RAINSTORM, Level.YELLOW, CITY),
        ],
    ),
    (
        "07-26 11:00 downgrade",
        [
            W(Hazard.WIND, Level.YELLOW, CITY),
            W(Hazard.TIDE, Level.BLUE, CITY),
            W(Hazard.RAINSTORM, Level.BLUE, CITY),
        ],
    ),
    ("all lifted", []),
]

EXPECTED_CITY = [
    ResponseLevel.IV,
    ResponseLevel.IV,
    ResponseLevel.III,
    ResponseLevel.III,
    ResponseLevel.II,
    ResponseLevel.II,
    ResponseLevel.III,
    None,
]
"""The city level the HQ actually announced at each step (07-24 08:40: III that day)."""


def test_in_fa_replay(plan: Plan) -> None:
    current: Response = respond([], plan)
    open_tasks: set[str] = set()
    for (label, warnings), city in zip(STEPS, EXPECTED_CITY, strict=True):
        after = respond(warnings, plan)
        change = diff(current, after)
        assert after.levels.get(CITYWIDE) == city, label
        assert apply_diff(current, change) == after, label
        open_tasks |= {t.id for t in change.dispatch}
        open_tasks -= {t.id for t in change.stand_down}
        if label.startswith("07-24 14:00"):
            assert after.levels["pudong"] is ResponseLevel.II
            assert "housing.move-residents@pudong" in {t.id for t in change.dispatch}
            assert "media.public-release@pudong/II" in {n.id for n in change.notices}
        if label.startswith("07-25"):
            # Coastal districts go to I (as 金山 and 奉贤 did); the city stays at II.
            assert all(after.levels[d] is ResponseLevel.I for d in COASTAL)
            assert "education.class-suspension@jinshan" not in {t.id for t in after.tasks}
        if label.startswith("07-26"):
            assert not change.dispatch
            kept = {t.action_id for t in change.keep}
            assert "housing.move-residents" in kept and "grid.shelters" in kept
            assert "greening.close-parks" in {t.action_id for t in change.stand_down}
        current = after
    # Everything dispatched was either stood down or kept; nothing is left required.
    assert current.tasks == () and current.levels == {}
    assert open_tasks  # some tasks were kept to finish rather than stood down
