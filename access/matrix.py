"""Roles, permissions and the one function that decides: :func:`authorize`.

Every way into tidegate (the HTTP API, the console, the CLI) asks :func:`authorize` and
nothing else whether a principal may do something, so the permission matrix lives here and
only here; ``docs/access.md`` prints it and a test checks the two agree.

Two rules narrow a permission to part of the city:

* an ``agency_desk`` or ``agency_system`` account is bound to one agency: it reads and answers
  that agency's tasks only;
* a ``district_officer`` is bound to one district: it sees the whole city but issues warnings
  (the decisions that exist today) for its own district only, never citywide.

A token may be narrowed further to some of its role's permissions (``scopes``); it can never
hold a permission its role lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What an account is for; one role per account."""

    ADMIN = "admin"
    """Users, service accounts and tokens; reads everything, acts on no response."""
    HQ_COMMANDER = "hq_commander"
    """City HQ: warnings, plan applies, drills, the audit trail."""
    DUTY_OFFICER = "duty_officer"
    """The duty desk: warnings and plan applies."""
    DISTRICT_OFFICER = "district_officer"
    """Bound to one district: sees the city, issues warnings for its district only."""
    AGENCY_DESK = "agency_desk"
    """Bound to one agency: sees and answers that agency's tasks only."""
    TRAINER = "trainer"
    """Runs drills; reads the city's state."""
    OBSERVER = "observer"
    """Reads the city's state; changes nothing."""
    AGENCY_SYSTEM = "agency_system"
    """Service account of an agency's own system (bound to one agency), token only."""
    FEED = "feed"
    """Service account of a warning feed (the weather bureau's, the hydrology station's)."""


SERVICE_ROLES = frozenset({Role.AGENCY_SYSTEM, Role.FEED})
"""Roles of service accounts: no password, no console login, tokens only."""
AGENCY_ROLES = frozenset({Role.AGENCY_DESK, Role.AGENCY_SYSTEM})
"""Roles bound to exactly one agency."""
DISTRICT_ROLES = frozenset({Role.DISTRICT_OFFICER})
"""Roles bound to exactly one district."""


class Permission(StrEnum):
    """One thing a principal may do."""

    WARNING_ISSUE = "warning.issue"
    """Issue, update or cancel a warning (POST /alerts)."""
    WARNING_READ = "warning.read"
    """Read a warning and what the response decided (GET /alerts/{id})."""
    STATUS_READ = "status.read"
    """See the city's board: responses, levels, every agency's tasks."""
    TASK_READ = "task.read"
    """See tasks (an agency-bound role: its own agency's only)."""
    TASK_ANSWER = "task.answer"
    """Acknowledge, report progress, complete or decline a task (own agency only)."""
    HQ_DECIDE = "hq.decide"
    """Declare or withdraw an HQ decision (start, raise, lower, hold, end) for areas."""
    PLAN_APPLY = "plan.apply"
    """Apply a new plan version to the live response."""
    DRILL_RUN = "drill.run"
    """Start or schedule a drill."""
    AUDIT_READ = "audit.read"
    """Read and export the audit trail."""
    USERS_MANAGE = "users.manage"
    """Add and disable accounts; create and revoke anyone's tokens."""
    TOKENS_OWN = "tokens.own"
    """Create, list and revoke one's own API tokens."""


P = Permission
_READ_CITY = {P.WARNING_READ, P.STATUS_READ, P.TASK_READ}
MATRIX: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset({*_READ_CITY, P.AUDIT_READ, P.USERS_MANAGE, P.TOKENS_OWN}),
    Role.HQ_COMMANDER: frozenset(
        {
            *_READ_CITY,
            P.WARNING_ISSUE,
            P.HQ_DECIDE,
            P.PLAN_APPLY,
            P.DRILL_RUN,
            P.AUDIT_READ,
            P.TOKENS_OWN,
        }
    ),
    Role.DUTY_OFFICER: frozenset(
        {*_READ_CITY, P.WARNING_ISSUE, P.HQ_DECIDE, P.PLAN_APPLY, P.TOKENS_OWN}
    ),
    Role.DISTRICT_OFFICER: frozenset({*_READ_CITY, P.WARNING_ISSUE, P.HQ_DECIDE, P.TOKENS_OWN}),
    Role.AGENCY_DESK: frozenset({P.TASK_READ, P.TASK_ANSWER, P.TOKENS_OWN}),
    Role.TRAINER: frozenset({*_READ_CITY, P.DRILL_RUN, P.TOKENS_OWN}),
    Role.OBSERVER: frozenset({*_READ_CITY, P.TOKENS_OWN}),
    Role.AGENCY_SYSTEM: frozenset({P.TASK_READ, P.TASK_ANSWER}),
    Role.FEED: frozenset({P.WARNING_ISSUE}),
}
"""Which permissions each role holds, before the agency and district bindings narrow them."""

CITYWIDE = "citywide"


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account (through a token or a session), or the development token."""

    name: str
    role: Role
    account_id: int | None = None
    """``None`` for the development token, which has no row."""
    agency: str | None = None
    """The agency of an agency-bound role."""
    district: str | None = None
    """The district of a district-bound role."""
    scopes: frozenset[Permission] | None = None
    """A token narrowed to these permissions; ``None``: all of its role's."""
    via: str = "token"
    """How it authenticated: ``token``, ``session``, ``dev-token``, ``cli``."""

    @property
    def label(self) -> str:
        """``name (role[:binding])`` for messages and the audit trail."""
        bound = self.agency or self.district
        return f"{self.name} ({self.role.value}{':' + bound if bound else ''})"


class Forbidden(Exception):
    """The principal may not do this; ``reason`` says why, for the caller and the audit."""

    def __init__(self, principal: Principal, permission: Permission, reason: str) -> None:
        super().__init__(reason)
        self.principal = principal
        self.permission = permission
        self.reason = reason


def holds(principal: Principal, permission: Permission) -> bool:
    """Whether the principal's role (and token scopes) include ``permission`` anywhere."""
    if permission not in MATRIX[principal.role]:
        return False
    return principal.scopes is None or permission in principal.scopes


def authorize(
    principal: Principal,
    permission: Permission,
    *,
    agency: str | None = None,
    districts: Iterable[str] | None = None,
) -> None:
    """Allow, or raise :class:`Forbidden` naming why. The only place access is decided.

    Args:
        principal: Who asks.
        permission: What for.
        agency: The agency whose task it is (for ``task.read`` and ``task.answer``).
        districts: The area ids a warning or an HQ decision covers (``citywide`` or district
            ids), for ``warning.issue`` and ``hq.decide``.

    Raises:
        Forbidden: The role lacks the permission, the token's scopes exclude it, or a
            binding (agency, district) does not cover the resource.
    """
    if permission not in MATRIX[principal.role]:
        raise Forbidden(
            principal, permission, f"{principal.label} may not {permission.value} (role)"
        )
    if principal.scopes is not None and permission not in principal.scopes:
        raise Forbidden(
            principal,
            permission,
            f"this token of {principal.label} is not scoped for {permission.value}",
        )
    if principal.role in AGENCY_ROLES and agency is not None and agency != principal.agency:
        raise Forbidden(
            principal,
            permission,
            f"{principal.label} may not {permission.value} for "
            f"agency {agency!r}: a task of another agency",
        )
    if principal.role in DISTRICT_ROLES and districts is not None:
        outside = [d for d in districts if d != principal.district]
        if outside:
            raise Forbidden(
                principal,
                permission,
                f"{principal.label} may not {permission.value} for "
                f"{', '.join(outside)}: only for district {principal.district!r}",
            )


def binding_problem(role: Role, *, agency: str | None, district: str | None) -> str | None:
    """Why an account of ``role`` with these bindings is inconsistent, or ``None``."""
    if role in AGENCY_ROLES and not agency:
        return f"a {role.value} account needs --agency"
    if role in DISTRICT_ROLES and not district:
        return f"a {role.value} account needs --district"
    if agency and role not in AGENCY_ROLES:
        return f"--agency is only for {', '.join(sorted(r.value for r in AGENCY_ROLES))}"
    if district and role not in DISTRICT_ROLES:
        return f"--district is only for {', '.join(sorted(r.value for r in DISTRICT_ROLES))}"
    if district == CITYWIDE:
        return "a district officer is bound to one district, not citywide"
    return None


def matrix_table() -> str:
    """The matrix as a Markdown table (``docs/access.md`` holds exactly this)."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(f"`{r.value}`" for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission in Permission:
        cells = []
        for role in roles:
            if permission not in MATRIX[role]:
                cells.append("")
            elif role in AGENCY_ROLES and permission in (P.TASK_READ, P.TASK_ANSWER):
                cells.append("own agency")
            elif role in DISTRICT_ROLES and permission in (P.WARNING_ISSUE, P.HQ_DECIDE):
                cells.append("own district")
            else:
                cells.append("yes")
        lines.append(f"| `{permission.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
