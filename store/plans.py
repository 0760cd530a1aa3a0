"""Plans as the database keeps them: whole, keyed by content hash, in the converter's JSON.

A response pins the plan it started with. Activities that render templates must use that
exact version even after someone edits the YAML, so they look plans up here by hash.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from plans.model import Plan
from store.db import insert_ignore
from store.models import PlanRecord

_CONVERTER = DataConverter.default.payload_converter


def encode_plan(plan: Plan) -> bytes:
    """Serialise a plan with the same JSON converter Temporal uses for workflow input."""
    return bytes(_CONVERTER.to_payloads([plan])[0].SerializeToString())


def decode_plan(body: bytes) -> Plan:
    """Inverse of :func:`encode_plan`."""
    payload = Payload()
    payload.ParseFromString(body)
    (plan,) = _CONVERTER.from_payloads([payload], [Plan])
    assert isinstance(plan, Plan)
    return plan


async def save_plan(session: AsyncSession, plan: Plan) -> None:
    """Store a plan version once; later saves of the same hash are no-ops."""
    await insert_ignore(
        session,
        PlanRecord,
        {
            "content_hash": plan.content_hash,
            "plan_id": plan.plan_id,
            "version": plan.version,
            "body": encode_plan(plan),
            "recorded_at": datetime.now(UTC),
        },
    )


class PlanLibrary:
    """Plans by content hash: the plans the worker loaded, then whatever the database holds."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *known: Plan) -> None:
        self._sessions = sessions
        self._plans = {plan.content_hash: plan for plan in known}

    async def get(self, content_hash: str) -> Plan:
        """The plan with this hash; raises LookupError when no response ever recorded it."""
        plan = self._plans.get(content_hash)
        if plan is None:
            async with self._sessions() as session:
                body = await session.scalar(
                    select(PlanRecord.body).where(PlanRecord.content_hash == content_hash)
                )
            if body is None:
                raise LookupError(f"plan {content_hash} is not recorded in the database")
            plan = self._plans[content_hash] = decode_plan(body)
        return plan
