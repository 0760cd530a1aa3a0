"""The situation board's read side: what a duty officer must see, from the database and Temporal.

The same facts as ``tidegate status`` (levels per area, warnings in force as the response
workflow reports them, held messages, tasks per agency by state, escalated and overdue tasks),
plus what a screen has room for: the last 24 hours as a timeline, and the messages that did
not take effect (held, duplicate, stale, rejected, orphaned, and payloads refused as invalid)
with their reasons. Live responses only; drills have their own page.

Reads only, a few queries per response whatever the number of tasks (``bench/console.py``
measures it with 5,000 tasks).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select

from plans.lifecycle import AWAITING_ACK, OPEN_STATES, TaskState
from store.models import (
    AuditRecord,
    EscalationRecord,
    RejectionRecord,
    ResponseRecord,
    TaskEventRecord,
    TaskRecord,
)
from store.queries import warnings_by_id
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id
from workflows.types import ResponseStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

QUERY_TIMEOUT = timedelta(seconds=2)
"""How long the board waits for a response workflow's answer (none without a worker)."""
WINDOW = timedelta(hours=24)
REFUSED = ("held", "duplicate", "stale", "rejected", "orphaned")
"""Ledger decisions that leave a message without effect (``held`` for now)."""
STATE_ORDER: tuple[str, ...] = tuple(str(s) for s in TaskState)


@dataclass(frozen=True)
class Step:
    """The last escalation step of a task, and how many there were."""

    steps: int
    kind: str
    to: str
    at: datetime


@dataclass(frozen=True)
class TaskLine:
    """One task as the board and the desks show it."""

    id: str
    response_id: str
    agency: str
    action_id: str
    area: str
    asset: str | None
    hazard: str
    state: str
    deadline_at: datetime
    updated_at: datetime
    overdue: bool
    escalation: Step | None

    @property
    def is_open(self) -> bool:
        """Someone still has to act on it."""
        return self.state in OPEN_STATES

    @property
    def escalated(self) -> bool:
        """Unanswered after at least one escalation step."""
        return self.escalation is not None and self.state in AWAITING_ACK

    @property
    def attention(self) -> bool:
        """Overdue or escalated: first on the board."""
        return self.overdue or self.escalated


@dataclass(frozen=True)
class InForce:
    """A message in force (the latest of its warning)."""

    id: str
    hazard: str | None
    level: str | None
    areas: tuple[str, ...]
    since: datetime | None


@dataclass(frozen=True)
class AgencyCounts:
    """One agency's tasks by state."""

    agency: str
    total: int
    open: int
    by_state: dict[str, int]
    attention: int


@dataclass
class ResponseBoard:
    """One live response."""

    id: str
    workflow_id: str
    status: str
    plan: str
    started_at: datetime
    levels: dict[str, str]
    answering: bool | None = None
    """True: the workflow answered; False: it did not; None: closed, not asked."""
    in_force: list[InForce] | None = None
    attention_tasks: list[TaskLine] = field(default_factory=list)
    """The overdue and escalated tasks only: the board never loads every task."""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Agency to state to number of tasks, counted by the database."""

    @property
    def attention(self) -> list[TaskLine]:
        """Overdue and escalated tasks, the longest escalated or most overdue first."""
        return sorted(
            self.attention_tasks,
            key=lambda t: (-(t.escalation.steps if t.escalation else 0), t.deadline_at),
        )

    @property
    def agencies(self) -> list[AgencyCounts]:
        """Counts per agency, agencies with overdue or escalated tasks first."""
        flagged = Counter(t.agency for t in self.attention_tasks)
        rows = [
            AgencyCounts(
                agency,
                sum(states.values()),
                sum(n for state, n in states.items() if state in OPEN_STATES),
                {s: states.get(s, 0) for s in STATE_ORDER},
                flagged[agency],
            )
            for agency, states in self.counts.items()
        ]
        return sorted(rows, key=lambda r: (-r.attention, -r.open, r.agency))


@dataclass(frozen=True)
class Moment:
    """One entry of the 24-hour timeline."""

    at: datetime
    kind: str
    """``warning_received``, ``levels_changed``, ``escalation``, ``stood_down``,
    ``response_started`` or ``ended``."""
    text: dict[str, Any]
    """What happened, as data the template words in the page's language."""


@dataclass(frozen=True)
class Refused:
    """A message that did not take effect, or a payload intake refused."""

    at: datetime
    id: str
    decision: str
    """A ledger decision from :data:`REFUSED`, or ``invalid`` (refused by intake)."""
    reason: str
    kind: str = ""
    hazard: str = ""
    level: str = ""
    areas: tuple[str, ...] = ()
    channel: str = ""
    released: bool = False
    """A held message that was released (or orphaned) since."""


@dataclass
class Situation:
    """Everything on the board."""

    checked_at: datetime
    responses: list[ResponseBoard]
    timeline: list[Moment]
    refused: list[Refused]

    @property
    def levels(self) -> dict[str, str]:
        """Area id to the highest level any live response gives it."""
        ranks = {"IV": 1, "III": 2, "II": 3, "I": 4}
        out: dict[str, str] = {}
        for board in self.responses:
            for area, level in board.levels.items():
                if ranks.get(level, 0) > ranks.get(out.get(area, ""), 0):
                    out[area] = level
        return out


async def gather(
    sessions: async_sessionmaker[AsyncSession],
    client: Client | None,
    now: datetime,
    *,
    refused_limit: int = 40,
) -> Situation:
    """The board's facts at ``now``: live responses, timeline, refused messages.

    ``client`` ``None`` skips asking the workflows (warnings in force are then unknown).
    """
    async with sessions() as session:
        responses = await session.scalars(
            select(ResponseRecord)
            .where(ResponseRecord.status != "closed", ResponseRecord.drill.is_(False))
            .order_by(ResponseRecord.started_at.desc())
        )
        boards = [await _board(session, response, now) for response in responses.all()]
        timeline = await _timeline(session, now - WINDOW)
        refused = await _refused(session, now - WINDOW, refused_limit)
    if client is not None:
        await asyncio.gather(*(_ask(client, b) for b in boards if b.status != "closed"))
    async with sessions() as session:
        for board in boards:
            await _in_force_details(session, board)
    return Situation(now, boards, timeline, refused)


async def _board(session: AsyncSession, response: ResponseRecord, now: datetime) -> ResponseBoard:
    """A response's levels, its tasks counted per agency and state by the database, and only
    its overdue and escalated tasks as rows (what the board lists), with their stages."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    rows = await session.execute(
        select(TaskRecord.agency, TaskRecord.state, func.count())
        .where(TaskRecord.response_id == response.id)
        .group_by(TaskRecord.agency, TaskRecord.state)
    )
    for agency, state, number in rows:
        counts[agency][state] = int(number)
    flagged = await session.execute(
        select(*TASK_COLUMNS).where(
            TaskRecord.response_id == response.id,
            or_(
                TaskRecord.state.in_((TaskState.ESCALATED, TaskState.OVERDUE)),
                and_(TaskRecord.state.in_(OPEN_STATES), TaskRecord.deadline_at <= now),
            ),
        )
    )
    tasks = flagged.all()
    steps = await escalation_steps(session, [response.id], [t.id for t in tasks])
    lines = [task_line(t, steps.get(t.id), now) for t in tasks]
    return ResponseBoard(
        id=response.id,
        workflow_id=response_workflow_id(response.region, response.drill),
        status=response.status,
        plan=f"{response.plan_id}@{response.plan_version}",
        started_at=response.started_at,
        levels={str(a): str(v) for a, v in response.levels.items()},
        attention_tasks=[line for line in lines if line.attention],
        counts=dict(counts),
    )


TASK_COLUMNS = (
    TaskRecord.id,
    TaskRecord.response_id,
    TaskRecord.agency,
    TaskRecord.action_id,
    TaskRecord.area,
    TaskRecord.asset,
    TaskRecord.hazard,
    TaskRecord.state,
    TaskRecord.deadline_at,
    TaskRecord.updated_at,
)
"""What the board reads of a task."""


def task_line(task: Any, step: Step | None, now: datetime) -> TaskLine:
    """A task (a row or a result row of :data:`TASK_COLUMNS`) with its escalation stage and
    whether it is overdue at ``now``."""
    is_open = task.state in OPEN_STATES
    return TaskLine(
        id=task.id,
        response_id=task.response_id,
        agency=task.agency,
        action_id=task.action_id,
        area=task.area,
        asset=task.asset,
        hazard=task.hazard,
        state=task.state,
        deadline_at=task.deadline_at,
        updated_at=task.updated_at,
        overdue=is_open and (task.state == TaskState.OVERDUE or task.deadline_at <= now),
        escalation=step,
    )


async def escalation_steps(
    session: AsyncSession, response_ids: list[str], task_ids: list[str] | None = None
) -> dict[str, Step]:
    """Task id to its last escalation step (with the number of steps), for these responses
    (and only these tasks, if given)."""
    if not response_ids or task_ids == []:
        return {}
    query = select(
        EscalationRecord.task_id, EscalationRecord.kind, EscalationRecord.to, EscalationRecord.at
    ).where(EscalationRecord.response_id.in_(response_ids))
    chunks: list[list[str] | None] = [None]
    if task_ids is not None:
        chunks = [task_ids[i : i + 500] for i in range(0, len(task_ids), 500)]
    found: dict[str, Step] = {}
    for chunk in chunks:
        chosen = query if chunk is None else query.where(EscalationRecord.task_id.in_(chunk))
        rows = await session.execute(chosen.order_by(EscalationRecord.at, EscalationRecord.key))
        for task_id, kind, to, at in rows:
            previous = found.get(task_id)
            found[task_id] = Step((previous.steps if previous else 0) + 1, kind, to, at)
    return found


async def _ask(client: Client, board: ResponseBoard) -> None:
    handle = client.get_workflow_handle(board.workflow_id)
    try:
        answer = await handle.query(ResponseWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
    except Exception:  # not found, no worker, or a failed query: nobody knows what is in force
        board.answering = False
        return
    if not isinstance(answer, ResponseStatus) or answer.response_id != board.id:
        board.answering = False
        return
    board.answering = True
    board.in_force = [InForce(i, None, None, (), None) for i in answer.active_warnings]


async def _in_force_details(session: AsyncSession, board: ResponseBoard) -> None:
    if not board.in_force:
        return
    records = await warnings_by_id(session, [w.id for w in board.in_force])
    board.in_force = [
        InForce(w.id, r.hazard, r.level, tuple(r.areas), r.recorded_at)
        if (r := records.get(w.id)) is not None
        else w
        for w in board.in_force
    ]


def _live() -> Any:
    return select(ResponseRecord.id).where(ResponseRecord.drill.is_(False))


async def _timeline(session: AsyncSession, since: datetime) -> list[Moment]:
    """Warnings, level changes, escalations and stand-downs of live responses since ``since``."""
    moments: list[Moment] = []
    audits = await session.scalars(
        select(AuditRecord)
        .where(
            AuditRecord.at >= since,
            AuditRecord.response_id.in_(_live()),
            AuditRecord.action.in_(("warning_received", "levels_changed", "response_started")),
        )
        .order_by(AuditRecord.id)
    )
    rows = list(audits)
    before = await _levels_before(session, {r.response_id for r in rows}, since)
    messages = await warnings_by_id(
        session,
        sorted({str(r.detail.get("warning_id")) for r in rows if r.action == "warning_received"}),
    )
    for row in rows:
        if row.action == "warning_received":
            record = messages.get(str(row.detail.get("warning_id", "")))
            moments.append(
                Moment(
                    row.at,
                    "warning_received",
                    {
                        "id": row.detail.get("warning_id", ""),
                        "decision": row.detail.get("decision", ""),
                        "kind": record.kind if record else "",
                        "hazard": record.hazard if record else "",
                        "level": record.level if record else "",
                        "areas": list(record.areas) if record else [],
                    },
                )
            )
        elif row.action == "levels_changed":
            after = {str(a): str(v) for a, v in dict(row.detail.get("levels", {})).items()}
            previous = before.get(row.response_id, {})
            changes = [
                (area, previous.get(area, "none"), after.get(area, "none"))
                for area in sorted(set(previous) | set(after))
                if previous.get(area) != after.get(area)
            ]
            before[row.response_id] = after
            if changes:
                moments.append(Moment(row.at, "levels_changed", {"changes": changes}))
        else:
            moments.append(Moment(row.at, "response_started", {"id": row.response_id}))
    moments.extend(await _task_moments(session, since))
    return sorted(moments, key=lambda m: m.at, reverse=True)


async def _levels_before(
    session: AsyncSession, response_ids: set[str], since: datetime
) -> dict[str, dict[str, str]]:
    """Each response's levels just before ``since`` (so the first change in the window reads
    as a change, not as a start)."""
    out: dict[str, dict[str, str]] = {}
    for response_id in sorted(response_ids):
        row = await session.scalar(
            select(AuditRecord)
            .where(
                AuditRecord.response_id == response_id,
                AuditRecord.action == "levels_changed",
                AuditRecord.at < since,
            )
            .order_by(AuditRecord.id.desc())
            .limit(1)
        )
        out[response_id] = (
            {str(a): str(v) for a, v in dict(row.detail.get("levels", {})).items()} if row else {}
        )
    return out


async def _task_moments(session: AsyncSession, since: datetime) -> list[Moment]:
    """Escalations and stand-downs, one entry per minute and kind (a cancellation stands
    hundreds of tasks down at once)."""
    escalations = await session.execute(
        select(EscalationRecord.at, EscalationRecord.kind, EscalationRecord.to, TaskRecord.agency)
        .join(TaskRecord, TaskRecord.id == EscalationRecord.task_id)
        .where(EscalationRecord.at >= since, EscalationRecord.response_id.in_(_live()))
    )
    stood = await session.execute(
        select(TaskEventRecord.at, TaskRecord.agency)
        .join(TaskRecord, TaskRecord.id == TaskEventRecord.task_id)
        .where(
            TaskEventRecord.at >= since,
            TaskEventRecord.kind == "stood_down",
            TaskRecord.drill.is_(False),
        )
    )
    grouped: dict[tuple[datetime, str, str, str], Counter[str]] = defaultdict(Counter)
    for at, kind, to, agency in escalations:
        grouped[(at.replace(second=0, microsecond=0), "escalation", kind, to)][agency] += 1
    for at, agency in stood:
        grouped[(at.replace(second=0, microsecond=0), "stood_down", "", "")][agency] += 1
    return [
        Moment(at, what, {"kind": kind, "to": to, "count": sum(c.values()), "agencies": dict(c)})
        for (at, what, kind, to), c in grouped.items()
    ]


async def _refused(session: AsyncSession, since: datetime, limit: int) -> list[Refused]:
    """Messages of live responses that did not take effect, and refused payloads."""
    rows = (
        await session.scalars(
            select(AuditRecord)
            .where(
                AuditRecord.at >= since,
                AuditRecord.action == "warning_received",
                AuditRecord.response_id.in_(_live()),
            )
            .order_by(AuditRecord.id.desc())
            .limit(2000)
        )
    ).all()
    later: dict[str, str] = {}
    for row in rows:  # newest first: the first non-arrival decision seen is the latest
        if not row.detail.get("arrival", True):
            later.setdefault(str(row.detail.get("warning_id")), str(row.detail.get("decision")))
    chosen = [
        r for r in rows if r.detail.get("decision") in REFUSED and r.detail.get("arrival", True)
    ]
    chosen += [r for r in rows if r.detail.get("decision") == "orphaned"]
    chosen = sorted(chosen, key=lambda r: r.id, reverse=True)[:limit]
    records = await warnings_by_id(
        session, sorted({str(r.detail.get("warning_id")) for r in chosen})
    )
    out = []
    for row in chosen:
        warning_id = str(row.detail.get("warning_id", ""))
        record = records.get(warning_id)
        decision = str(row.detail.get("decision", ""))
        out.append(
            Refused(
                at=row.at,
                id=warning_id,
                decision=decision,
                reason=str(row.detail.get("reason", "")),
                kind=record.kind if record else "",
                hazard=record.hazard if record else "",
                level=record.level if record else "",
                areas=tuple(record.areas) if record else (),
                released=decision == "held" and warning_id in later,
            )
        )
    invalid = await session.scalars(
        select(RejectionRecord)
        .where(RejectionRecord.received_at >= since)
        .order_by(RejectionRecord.id.desc())
        .limit(limit)
    )
    for rejection in invalid:
        out.append(
            Refused(
                at=rejection.received_at,
                id=_payload_id(rejection.payload),
                decision="invalid",
                reason=rejection.reason,
                channel=rejection.channel,
            )
        )
    return sorted(out, key=lambda r: r.at, reverse=True)[:limit]


def _payload_id(payload: bytes) -> str:
    """The ``id`` of a refused JSON payload when it has one (for people to recognise it)."""
    try:
        data = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        return ""
    return str(data.get("id", ""))[:120] if isinstance(data, dict) else ""


async def change_mark(session: AsyncSession) -> tuple[int, int, int]:
    """A value that changes whenever anything on the board may have: the newest audit entry
    (warnings, levels), task event (dispatch, answers, escalations, deadlines, stand-downs)
    and refused payload. Three primary-key look-ups."""
    audit = await session.scalar(select(func.max(AuditRecord.id)))
    event = await session.scalar(select(func.max(TaskEventRecord.id)))
    rejection = await session.scalar(select(func.max(RejectionRecord.id)))
    return (int(audit or 0), int(event or 0), int(rejection or 0))
