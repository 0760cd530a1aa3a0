"""The permission matrix: every cell as the docs state it, and the bindings that narrow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from access.matrix import (
    MATRIX,
    Forbidden,
    Permission,
    Principal,
    Role,
    authorize,
    binding_problem,
    matrix_table,
)

P = Permission
DOCS = Path(__file__).resolve().parents[2] / "docs" / "access.md"

EXPECTED: dict[Role, set[Permission]] = {
    Role.ADMIN: {P.WARNING_READ, P.STATUS_READ, P.TASK_READ, P.AUDIT_READ, P.USERS_MANAGE,
                 P.TOKENS_OWN},
    Role.HQ_COMMANDER: {P.WARNING_ISSUE, P.WARNING_READ, P.STATUS_READ, P.TASK_READ,
                        P.HQ_DECIDE, P.PLAN_APPLY, P.DRILL_RUN, P.AUDIT_READ, P.TOKENS_OWN},
    Role.DUTY_OFFICER: {P.WARNING_ISSUE, P.WARNING_READ, P.STATUS_READ, P.TASK_READ,
                        P.HQ_DECIDE, P.PLAN_APPLY, P.TOKENS_OWN},
    Role.DISTRICT_OFFICER: {P.WARNING_ISSUE, P.WARNING_READ, P.STATUS_READ, P.TASK_READ,
                            P.HQ_DECIDE, P.TOKENS_OWN},
    Role.AGENCY_DESK: {P.TASK_READ, P.TASK_ANSWER, P.TOKENS_OWN},
    Role.TRAINER: {P.WARNING_READ, P.STATUS_READ, P.TASK_READ, P.DRILL_RUN, P.TOKENS_OWN},
    Role.OBSERVER: {P.WARNING_READ, P.STATUS_READ, P.TASK_READ, P.TOKENS_OWN},
    Role.AGENCY_SYSTEM: {P.TASK_READ, P.TASK_ANSWER},
    Role.FEED: {P.WARNING_ISSUE},
}  # fmt: skip
"""Written out by hand, independently of access.matrix: a change there must change this."""


def principal(role: Role) -> Principal:
    agency = "drainage" if role in (Role.AGENCY_DESK, Role.AGENCY_SYSTEM) else None
    district = "pudong" if role is Role.DISTRICT_OFFICER else None
    return Principal(f"a-{role.value}", role, 1, agency, district)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_each_cell(role: Role, permission: Permission) -> None:
    who = principal(role)
    area = {"districts": ["pudong"]} if permission in (P.WARNING_ISSUE, P.HQ_DECIDE) else {}
    if permission in EXPECTED[role]:
        authorize(who, permission, agency=who.agency, **area)
    else:
        with pytest.raises(Forbidden, match="role"):
            authorize(who, permission, agency=who.agency, **area)


def test_the_code_is_the_expected_matrix() -> None:
    assert {role: set(perms) for role, perms in MATRIX.items()} == EXPECTED


def test_docs_print_the_matrix_of_the_code() -> None:
    assert matrix_table() in DOCS.read_text(encoding="utf-8"), (
        "docs/access.md is out of date: paste access.matrix.matrix_table() into it"
    )


@pytest.mark.parametrize("role", [Role.AGENCY_DESK, Role.AGENCY_SYSTEM])
@pytest.mark.parametrize("permission", [P.TASK_READ, P.TASK_ANSWER])
def test_an_agency_sees_and_answers_its_own_tasks_only(role: Role, permission: P) -> None:
    desk = principal(role)
    authorize(desk, permission, agency="drainage")
    with pytest.raises(Forbidden, match="another agency"):
        authorize(desk, permission, agency="sanitation")


def test_a_district_officer_issues_warnings_for_its_district_only() -> None:
    officer = principal(Role.DISTRICT_OFFICER)
    authorize(officer, P.WARNING_ISSUE, districts=["pudong"])
    for areas in (["xuhui"], ["pudong", "xuhui"], ["citywide"]):
        with pytest.raises(Forbidden, match="only for district 'pudong'"):
            authorize(officer, P.WARNING_ISSUE, districts=areas)
    authorize(officer, P.STATUS_READ)  # but sees the whole city
    authorize(officer, P.TASK_READ, agency="sanitation")


def test_an_observer_cannot_issue_a_warning() -> None:
    with pytest.raises(Forbidden):
        authorize(principal(Role.OBSERVER), P.WARNING_ISSUE, districts=["citywide"])


def test_a_scoped_token_holds_only_its_scopes() -> None:
    reader = Principal("hq", Role.HQ_COMMANDER, 1, scopes=frozenset({P.STATUS_READ}))
    authorize(reader, P.STATUS_READ)
    with pytest.raises(Forbidden, match="scoped"):
        authorize(reader, P.WARNING_ISSUE, districts=["citywide"])


@pytest.mark.parametrize(
    ("role", "agency", "district", "problem"),
    [
        (Role.AGENCY_DESK, None, None, "needs --agency"),
        (Role.AGENCY_SYSTEM, None, None, "needs --agency"),
        (Role.DISTRICT_OFFICER, None, None, "needs --district"),
        (Role.DISTRICT_OFFICER, None, "citywide", "not citywide"),
        (Role.DUTY_OFFICER, "drainage", None, "--agency is only for"),
        (Role.OBSERVER, None, "pudong", "--district is only for"),
        (Role.AGENCY_DESK, "drainage", None, None),
        (Role.DISTRICT_OFFICER, None, "pudong", None),
    ],
)
def test_bindings(
    role: Role, agency: str | None, district: str | None, problem: str | None
) -> None:
    found = binding_problem(role, agency=agency, district=district)
    assert (found is None) if problem is None else (problem in (found or ""))
