"""The wire contracts, each declared once: every JSON message tidegate reads or writes.

Each contract is one pydantic model, used three ways:

* **to validate** what comes in: :func:`alerts.parse_json.parse_json` reads the JSON warning
  through :class:`AlertDocument`, :func:`alerts.agency_events.parse_event` an agency's answer
  through :class:`AgencyAnswer`; :func:`alert_problem` and :func:`answer_problem` turn
  pydantic's errors into the one-line reasons intake reports;
* **to produce** what goes out: the Kafka activities (:mod:`activities.messaging`) and the
  Kafka intake (:mod:`alerts.consumer`) build the model, which validates it, and send
  :func:`encode`'s bytes, so no message leaves that its contract would refuse;
* **to document**: ``python -m alerts.wire_docs`` writes each model's example and field table
  (from the field docstrings) into ``docs/messages.md`` and ``docs/alerts.md``, and
  ``tests/alerts/test_wire.py`` fails when the docs differ from what the models generate. The
  HTTP API's OpenAPI schema of the request body is :class:`AlertDocument`'s.

String rules the JSON warning shares with CAP (ids, single lines, free text) are
:class:`alerts.fields.Text` values applied with :class:`Checked`, so both formats refuse the
same strings in the same words. A message's Kafka key and topic are in ``docs/messages.md``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import ErrorDetails, PydanticCustomError, core_schema

from alerts import fields
from alerts.errors import AlertRejected
from plans.hq import HqKind
from plans.model import Audience, EscalationKind, Hazard, Recipient, ResponseLevel
from plans.warning import MAX_CLOCK_SKEW, Kind, Route, Status

SchemaVersion = Literal[1]
SCHEMA_VERSION: SchemaVersion = 1
"""Version of the outbound message contract; bumped on an incompatible change."""

_REFUSED = "refused"
"""Error type of a refusal worded by a rule here (the reason is in the error's context)."""


def _refuse(reason: str, field: str | None = None) -> PydanticCustomError:
    return PydanticCustomError(_REFUSED, "{reason}", {"reason": reason, "field": field})


def _not_a_string() -> PydanticCustomError:
    return PydanticCustomError("string_type", "Input should be a valid string")


# -- field types ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checked:
    """``Annotated[str, Checked(rule)]``: a string field checked by an :class:`~alerts.fields.Text`.

    The rule's bounds go into the JSON schema, and so into the docs. A value that is not a
    string is left to pydantic (``string_type``), so the refusal names its type.
    """

    rule: fields.Text
    strip: bool = False
    """Strip surrounding whitespace first, and keep the stripped value."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_wrap_validator_function(self._validate, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        strings = [s for s in json_schema.get("anyOf", [json_schema]) if s.get("type") == "string"]
        for string in strings:  # the string branch of a nullable field
            if self.rule.non_empty:
                string["minLength"] = 1
            if self.rule.max_chars is not None:
                string["maxLength"] = self.rule.max_chars
        return json_schema

    def _validate(self, value: object, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(value, str):
            return handler(value)
        text = value.strip() if self.strip else value
        problem = self.rule.problem(text)
        if problem is not None:
            raise _refuse(problem)
        return text


@dataclass(frozen=True)
class AnyCase:
    """``Annotated[SomeStrEnum, AnyCase()]``: one of the enum's values, in any case.

    Its JSON schema lists the values inline (no ``$ref``), so the schema can be embedded in
    the OpenAPI document as it is.
    """

    upper: bool = False
    """The enum's values are upper case (``IV``), not lower case (``alert``)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        values = [member.value for member in source]

        def validate(value: object) -> Any:
            if not isinstance(value, str):
                raise _not_a_string()
            text = value.strip()
            try:
                return source(text.upper() if self.upper else text.lower())
            except ValueError:
                raise _refuse(f"{text[:40]!r} is not one of {', '.join(values)}") from None

        return core_schema.no_info_plain_validator_function(
            validate,
            json_schema_input_schema=core_schema.literal_schema(values),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda member: member.value, return_schema=core_schema.str_schema()
            ),
        )


@dataclass(frozen=True)
class IsoTime:
    """``Annotated[datetime, IsoTime()]``: an ISO 8601 string with an offset, read as given."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_wrap_validator_function(self._validate, handler(source))

    @staticmethod
    def _validate(value: object, _: core_schema.ValidatorFunctionWrapHandler) -> datetime:
        if not isinstance(value, str):
            raise _not_a_string()
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _refuse(f"{text[:60]!r} is not an ISO 8601 timestamp") from None
        try:
            return fields.aware(moment, field="", original=text)
        except AlertRejected as exc:
            raise _refuse(exc.reason) from None


def _isoformat(moment: datetime) -> str:
    return moment.isoformat()


Instant = Annotated[
    AwareDatetime,
    PlainSerializer(_isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A time tidegate writes: ISO 8601 with its offset, as :meth:`datetime.isoformat` gives it."""
Texts = dict[str, str]
"""Rendered text per language of the plan (``zh``, ``en``)."""


def _with_example(schema: dict[str, Any], model: type[Any]) -> None:
    schema["examples"] = [model.example]


# -- outbound: what tidegate writes to Kafka -----------------------------------------------------
class Outbound(BaseModel):
    """A message tidegate writes: strictly typed, nothing extra, every field always present."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra=_with_example,
    )
    example: ClassVar[dict[str, Any]]
    """A valid instance, for the docs and the OpenAPI schema (checked by the contract test)."""


class TaskMessage(Outbound):
    """A task an agency must carry out, now: ``tidegate.tasks.<agency>``, keyed by task id."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    """Version of the message contract."""
    type: Literal["task"] = "task"
    """What the message is: consumers of a topic tell its messages apart by it."""
    task_id: str
    """One dispatch of one plan task: ``<response id>/<plan task id>`` the first time,
    ``<response id>/<plan task id>~<n>`` when the plan needs the task again later in the same
    response (after it was stood down, completed or declined: the weather came back). Unique
    across responses and dispatches, stable across retries and restarts; the database holds
    exactly one row for it. Treat it as opaque: answer with it, don't parse it."""
    plan_task_id: str
    """The plan task, ``<action>@<area>`` or ``<action>@<area>/<asset>``; with ``dispatch`` it
    makes up ``task_id``."""
    dispatch: int = Field(ge=1)
    """The dispatch number (1, 2, ...) of the plan task; a second dispatch is new work,
    answered on its own."""
    response_id: str
    """The response: one region's reaction to its warnings, or one drill."""
    agency: str
    """Who must do it (the agency's topic is ``tidegate.tasks.<agency>``)."""
    action_id: str
    """What must be done: the action, as defined in the plan (``<agency>.<name>``)."""
    area: str
    """``citywide`` or a district id."""
    asset: str | None
    """The asset (pumping station, waterlogging point, drainage team) of an asset-scoped
    action, else ``null``."""
    hazard: Hazard
    """The hazard that made the task due."""
    response_level: ResponseLevel
    """The response level (``IV``..``I``) that made the task due."""
    issued_at: Instant
    """When the task was issued."""
    deadline: Instant
    """``issued_at`` plus the plan's deadline for the action (divided by the drill's speed in a
    ``--speed`` drill): exactly when the task turns overdue."""
    ack_timeout_minutes: int = Field(ge=1)
    """How long before the first escalation step if nobody acknowledges."""
    instructions: Texts
    """What to do, rendered from the plan's templates: one text per language (``zh``, ``en``)."""
    drill: bool
    """``true`` for drills."""
    plan_id: str
    """The plan the response pinned."""
    plan_version: str
    """The exact version of that plan."""

    example: ClassVar[dict[str, Any]] = {
        "schema_version": 1,
        "type": "task",
        "task_id": "response-shanghai-3f2a9c1e/drainage.prelower@pudong",
        "plan_task_id": "drainage.prelower@pudong",
        "dispatch": 1,
        "response_id": "response-shanghai-3f2a9c1e",
        "agency": "drainage",
        "action_id": "drainage.prelower",
        "area": "pudong",
        "asset": None,
        "hazard": "rainstorm",
        "response_level": "IV",
        "issued_at": "2026-11-26T06:30:00+00:00",
        "deadline": "2026-11-26T08:30:00+00:00",
        "ack_timeout_minutes": 15,
        "instructions": {
            "zh": "浦东新区：按防汛防台Ⅳ级及以上响应要求，立即预降排水管网水位……",
            "en": "Pudong New Area: as required from a flood and typhoon response level IV, "
            "lower the water level in the drainage network …",
        },
        "drill": False,
        "plan_id": "shanghai",
        "plan_version": "2025.1",
    }


class StandDownMessage(Outbound):
    """The task is no longer required: on the task's own topic, keyed by task id."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    """Version of the message contract."""
    type: Literal["stand_down"] = "stand_down"
    """What the message is: consumers of a topic tell its messages apart by it."""
    task_id: str
    """The dispatch stood down, as in its task message."""
    response_id: str
    """The response."""
    agency: str
    """The agency that had the task."""
    action_id: str
    """The task's action."""
    at: Instant
    """When the response stood the task down."""
    drill: bool
    """``true`` for drills."""
    plan_version: str
    """The version of the plan the response pinned."""

    example: ClassVar[dict[str, Any]] = {
        "schema_version": 1,
        "type": "stand_down",
        "task_id": "response-shanghai-3f2a9c1e/drainage.prelower@pudong",
        "response_id": "response-shanghai-3f2a9c1e",
        "agency": "drainage",
        "action_id": "drainage.prelower",
        "at": "2026-11-26T09:10:00+00:00",
        "drill": False,
        "plan_version": "2025.1",
    }


class EscalationMessage(Outbound):
    """A step of the 三单联动 chain for an unacknowledged task: ``tidegate.escalations``, keyed
    by task id."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    """Version of the message contract."""
    type: Literal["escalation"] = "escalation"
    """What the message is: consumers of a topic tell its messages apart by it."""
    escalation_id: str
    """``<task id>#esc<step>``: the step of the task's chain (0 is the first)."""
    task_id: str
    """The unacknowledged task."""
    response_id: str
    """The response."""
    agency: str
    """The agency that has not acknowledged the task."""
    area: str
    """The task's area."""
    kind: EscalationKind
    """Which slip: reminder (提醒单), supervision (督办单) or warning (警示单)."""
    to: Recipient
    """Who receives it: the agency, the district HQ or the city HQ."""
    at: Instant
    """When the step was taken."""
    text: Texts
    """The slip, rendered from the plan's templates: one text per language (``zh``, ``en``)."""
    drill: bool
    """``true`` for drills."""
    plan_version: str
    """The version of the plan the response pinned."""

    example: ClassVar[dict[str, Any]] = {
        "schema_version": 1,
        "type": "escalation",
        "escalation_id": "response-shanghai-3f2a9c1e/drainage.prelower@pudong#esc1",
        "task_id": "response-shanghai-3f2a9c1e/drainage.prelower@pudong",
        "response_id": "response-shanghai-3f2a9c1e",
        "agency": "drainage",
        "area": "pudong",
        "kind": "supervision",
        "to": "district_hq",
        "at": "2026-11-26T07:00:00+00:00",
        "text": {
            "zh": "【督办单】浦东新区防汛指挥部：排水（水务局、城市排水公司）未在30分钟内签收"
            "任务……",
            "en": "[Supervision notice] Pudong New Area Flood Control Headquarters: Drainage …",
        },
        "drill": False,
        "plan_version": "2025.1",
    }


class NoticeMessage(Outbound):
    """A rendered public or transport notice: ``tidegate.notices``, keyed by notice id."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    """Version of the message contract."""
    type: Literal["notice"] = "notice"
    """What the message is: consumers of a topic tell its messages apart by it."""
    notice_id: str
    """``<response id>/<notice id>``; the notice id names the notice, the area and the
    response level (``media.public-release@citywide/IV``), so each new level is a new notice."""
    response_id: str
    """The response."""
    audience: Audience
    """The general public, or passengers of metro, bus, ferry, airport and railway."""
    area: str
    """``citywide``, or a district whose response differs from the city's."""
    at: Instant
    """When the area's response level was set."""
    text: Texts
    """The notice, rendered from the plan's templates: one text per language (``zh``, ``en``)."""
    drill: bool
    """``true`` for drills."""
    plan_version: str
    """The version of the plan the response pinned."""

    example: ClassVar[dict[str, Any]] = {
        "schema_version": 1,
        "type": "notice",
        "notice_id": "response-shanghai-3f2a9c1e/media.public-release@citywide/IV",
        "response_id": "response-shanghai-3f2a9c1e",
        "audience": "public",
        "area": "citywide",
        "at": "2026-11-26T06:30:00+00:00",
        "text": {
            "zh": "市防汛指挥部决定启动全市防汛防台Ⅳ级应急响应（暴雨）……",
            "en": "The Shanghai Flood Control Headquarters has started a citywide flood and "
            "typhoon response at level IV (rainstorm) …",
        },
        "drill": False,
        "plan_version": "2025.1",
    }


DecisionValue = Literal[
    "apply", "duplicate", "stale", "held", "rejected", "orphaned", "pending", "ignored"
]
"""The ledger's decisions (:class:`plans.ledger.Decision`) and intake's ``pending`` and
``ignored`` (:mod:`alerts.decisions`)."""


class DecisionRecord(Outbound):
    """What the response decided about a warning read from ``tidegate.alerts``:
    ``tidegate.alerts.decisions``, keyed by the warning's id."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    """Version of the message contract."""
    type: Literal["decision"] = "decision"
    """What the message is: consumers of a topic tell its messages apart by it."""
    id: str
    """The warning message's id."""
    kind: Kind
    """What the message does: a new warning, an update or a cancel."""
    route: Route
    """Where it went: ``live``, ``drill`` or ``ignored`` (a test message)."""
    decision: DecisionValue
    """The response's ledger decision; ``pending``: not decided in time (queued, decided when
    the worker runs); ``ignored``: a test message."""
    reason: str
    """Why, in words; for ``pending``, how to look the decision up."""
    workflow_id: str | None
    """The response workflow that holds the message (``null`` for a test message)."""
    response_id: str | None
    """The response; ``null`` until decided."""
    warning: str | None
    """The id of the first message of the warning it was filed under; ``null`` until decided,
    or when it belongs to none."""
    decided_at: Instant | None
    """When it was decided; ``null`` until decided."""
    lookup: str
    """Where the decision that stands can be read later: ``held`` and ``pending`` are decided
    again, and only ``GET /alerts/{id}`` (or ``tidegate alert show``) shows that."""

    example: ClassVar[dict[str, Any]] = {
        "schema_version": 1,
        "type": "decision",
        "id": "SH-MET-2",
        "kind": "update",
        "route": "live",
        "decision": "apply",
        "reason": "replaces SH-MET-1 in warning SH-MET-1",
        "workflow_id": "response-shanghai",
        "response_id": "response-shanghai-3f2a9c1e",
        "warning": "SH-MET-1",
        "decided_at": "2026-11-26T06:30:01+00:00",
        "lookup": "`tidegate alert show SH-MET-2` or GET /alerts/SH-MET-2",
    }


def encode(message: Outbound) -> bytes:
    """The bytes of ``message`` on Kafka: UTF-8 JSON, keys sorted, non-ASCII text as it is."""
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=False, sort_keys=True).encode()


# -- inbound: what tidegate reads ----------------------------------------------------------------
class Inbound(BaseModel):
    """A document tidegate reads: strictly typed; each field says what it accepts."""

    model_config = ConfigDict(
        strict=True, use_attribute_docstrings=True, json_schema_extra=_with_example
    )
    example: ClassVar[dict[str, Any]]
    """A valid document, for the docs and the OpenAPI schema (checked by the contract test)."""


_SENDER = dataclasses.replace(fields.LINE, non_empty=True)
_TERM = fields.Text()
"""A word looked up in the plan's catalogue (hazard, colour, area): any string, stripped."""
_Id = Annotated[str, Checked(fields.IDENTIFIER, strip=True)]
_Term = Annotated[str, Checked(_TERM, strip=True)]


class AlertDocument(Inbound):
    """The JSON form of a warning (HTTP, Kafka, the CLI): the :class:`plans.warning.Alert`
    field names, minus ``raw``. Strings are stripped of surrounding whitespace."""

    model_config = ConfigDict(extra="forbid")

    id: _Id
    """Unique message id: no spaces, commas, ``<``, ``&`` or control characters (CAP's rule:
    ids end up in CAP ``references`` and in workflow ids)."""
    sender: Annotated[str, Checked(_SENDER, strip=True)]
    """The issuer, e.g. ``上海中心气象台``: one line."""
    sent: Annotated[datetime, IsoTime()] = Field(
        description="When the message was sent: ISO 8601 with a timezone offset (``Z`` allowed), "
        f"year {fields.EARLIEST_YEAR}-{fields.LATEST_YEAR}, at most "
        f"{MAX_CLOCK_SKEW.total_seconds() / 60:.0f} minutes ahead of tidegate's clock."
    )
    status: Annotated[Status, AnyCase()]
    """``actual``; ``exercise``, routed as a drill and never live; ``test``, logged and
    ignored. Any case."""
    kind: Annotated[Kind, AnyCase()]
    """``alert`` (a new warning), ``update`` (replaces the warnings it references) or
    ``cancel`` (lifts them). Any case."""
    references: list[_Id] = []
    """Ids of the earlier messages an update or cancel applies to: an update or cancel needs
    at least one, and no message may reference itself. Repeated ids count once."""
    hazard: _Term
    """A hazard term of the plan's catalogue (the single-value terms of the hazard mapping):
    ``wind``, ``rainstorm``, ``tide``, ``flood``, or a word for one, e.g. ``typhoon``, ``台风``,
    ``storm surge``. Any case."""
    level: _Term
    """A colour term of the plan's catalogue (the single-value terms of the level mapping):
    ``blue``, ``yellow``, ``orange``, ``red``, or a word for one, e.g. ``橙色``, ``Ⅱ``. Any
    case."""
    areas: list[_Term]
    """Area names (中文 or English), ids or GB/T 2260 codes of the plan's catalogue; one
    string may name several (``浦东新区、奉贤区``). At least one area."""
    headline: Annotated[str, Checked(fields.LINE, strip=True)] | None = None
    """One line of free text; ``null`` is the same as absent (empty)."""
    description: Annotated[str, Checked(fields.TEXT, strip=True)] | None = None
    """Free text, newlines and tabs allowed; ``null`` is the same as absent (empty)."""
    expires: Annotated[datetime, IsoTime()] | None = None
    """When the warning lapses on its own, written like ``sent`` and after it; ``null``: in
    force until cancelled."""

    example: ClassVar[dict[str, Any]] = {
        "id": "SH-MET-2024-1031-RS-004",
        "sender": "上海中心气象台",
        "sent": "2024-10-31T16:20:00+08:00",
        "status": "actual",
        "kind": "alert",
        "references": [],
        "hazard": "rainstorm",
        "level": "orange",
        "areas": ["浦东新区", "Fengxian", "jinshan"],
        "headline": "上海中心气象台发布暴雨橙色预警信号",
        "description": "预计未来6小时内浦东新区、奉贤区、金山区将出现6小时累积雨量100毫米以上的"
        "降水。",
        "expires": "2024-11-01T04:20:00+08:00",
    }

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        """``expires`` after ``sent``; references as :func:`alerts.fields.references` wants."""
        try:
            fields.expiry_after_sent(self.sent, self.expires)
            unique = fields.references(
                self.references,
                own_id=self.id,
                kind_needs_them=self.kind is not Kind.ALERT,
                field="references",
            )
        except AlertRejected as exc:
            raise _refuse(exc.reason, exc.field) from None
        self.references = list(unique)
        return self


def alert_problem(error: ValidationError, data: object) -> tuple[str | None, str]:
    """Why :class:`AlertDocument` refused ``data``, as ``(field, reason)``.

    One problem is reported, in this order: not an object, a ``raw`` key, unknown keys, the
    first missing field, then the first field (in the order above) that is wrong.
    """
    if isinstance(data, dict) and "raw" in data:
        return "raw", "is filled in by tidegate and must not be sent"
    return document_problem(AlertDocument, error, data)


def document_problem(
    model: type[Inbound], error: ValidationError, data: object
) -> tuple[str | None, str]:
    """Why ``model`` refused ``data``, as ``(field, reason)``: not an object, unknown keys, the
    first missing field, then the first field (in the model's order) that is wrong."""
    if not isinstance(data, dict):
        return None, f"expected a JSON object, got {type(data).__name__}"
    # From the keys, not the errors: pydantic stops at a key it cannot read (a lone surrogate).
    unknown = sorted(str(key) for key in data if key not in model.model_fields)
    if unknown:
        return unknown[0], f"unknown field(s) {', '.join(map(repr, unknown))}"
    errors = error.errors()
    first = next((e for e in errors if e["type"] == "missing"), errors[0])
    if first["type"] == "missing":
        return str(first["loc"][0]), "required field is missing"
    return _problem(first, data)


def _problem(error: ErrorDetails, data: dict[str, Any]) -> tuple[str | None, str]:
    loc = error["loc"]
    field = str(loc[0]) if loc else None
    if error["type"] == _REFUSED:
        context = error.get("ctx", {})
        return context.get("field") or field, str(context["reason"])
    if error["type"] == "list_type" or (error["type"] == "string_type" and len(loc) > 1):
        whole = data.get(field) if field is not None else data
        return field, f"must be a list of strings, got {_type(whole)}"
    if error["type"] == "string_type":
        return field, f"must be a string, got {_type(error['input'])}"
    return field, error["msg"]


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


MAX_DECISION_BYTES = 64 * 1024
"""An HQ decision is at most this many bytes."""
HQ_REASON = dataclasses.replace(
    fields.TEXT, max_chars=2000, too_long="{n} characters, over {limit}"
)
"""Why the HQ decided: a few sentences; newlines and tabs allowed, other controls not."""


class HqDecisionDocument(Inbound):
    """A decision of the flood-control headquarters (``docs/plans.md``, "HQ decisions"):
    ``POST /hq/decisions``, and ``tidegate.hq.decisions`` keyed by its id. Strings are
    stripped of surrounding whitespace."""

    model_config = ConfigDict(extra="forbid")

    id: _Id
    """Unique decision id, with a warning id's rules (no spaces, commas, ``<``, ``&`` or
    control characters). The same id (or the same content under another id) again is a
    ``duplicate``; a withdraw names a declaration by it."""
    kind: Annotated[HqKind, AnyCase()]
    """``start``, ``raise``, ``lower``, ``hold`` or ``end`` for the areas named, or
    ``withdraw`` (takes back the declaration named in ``references``). Any case."""
    level: Annotated[ResponseLevel, AnyCase(upper=True)] | None = None
    """The declared response level, ``IV``, ``III``, ``II`` or ``I`` (any case): required for
    start, raise, lower and hold; absent or ``null`` for end and withdraw."""
    areas: list[_Term] = []
    """``citywide`` or districts, named as in a warning (中文 or English, ids, GB/T 2260
    codes, groups such as ``coastal``; one string may name several). Required, except for a
    withdraw, which names none."""
    hazards: list[_Term] = []
    """Hazard terms (``typhoon``, ``暴雨``, ``tide`` ...) the response is for when no signal is
    up yet: they count as in force in the areas at the colour of the declared level, so their
    tasks are dispatched. Not for a withdraw."""
    reason: Annotated[str, Checked(HQ_REASON, strip=True)] = ""
    """Why the HQ decided so (recorded with the decision): required, except for a withdraw.
    Newlines and tabs allowed."""
    references: list[_Id] = []
    """For a withdraw, exactly one id: the declaration it takes back (one in force, as
    ``GET /hq/decisions`` lists them). Empty otherwise."""
    decided_by: Annotated[str, Checked(_SENDER, strip=True)] | None = None
    """Who decided (a person, or the HQ): one line. Absent: over HTTP the account that sends
    it; on Kafka ``hq``, the HQ system's Kafka user."""
    sent: Annotated[datetime, IsoTime()] | None = Field(
        default=None,
        description="When it was decided: ISO 8601 with a timezone offset, at most "
        f"{MAX_CLOCK_SKEW.total_seconds() / 60:.0f} minutes ahead of tidegate's clock. For an "
        "area, the latest declaration naming it is in force. Absent: when tidegate received it.",
    )

    example: ClassVar[dict[str, Any]] = {
        "id": "SH-HQ-2021-0726-01",
        "kind": "lower",
        "level": "III",
        "areas": ["citywide"],
        "hazards": [],
        "reason": "台风“烟花”已减弱，市防汛指挥部将防汛防台应急响应调整为Ⅲ级",
        "references": [],
        "decided_by": "上海市防汛指挥部",
        "sent": "2021-07-26T11:00:00+08:00",
    }

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        """What :func:`plans.hq.problem` cannot see once the areas are resolved: a withdraw
        carries nothing but its reference (and why), a declaration says why."""
        if self.kind is HqKind.WITHDRAW:
            extra = [name for name in ("level", "areas", "hazards") if getattr(self, name)]
            if extra:
                raise _refuse(
                    "a withdraw names only the declaration it takes back (references)", extra[0]
                )
        elif not self.reason:
            raise _refuse(f"a {self.kind} must say why the HQ decided so", "reason")
        if self.kind is not HqKind.WITHDRAW and self.references:
            raise _refuse("only a withdraw references another decision", "references")
        self.references = list(dict.fromkeys(self.references))
        return self


def decision_problem(error: ValidationError, data: object) -> tuple[str | None, str]:
    """Why :class:`HqDecisionDocument` refused ``data``, as ``(field, reason)``."""
    return document_problem(HqDecisionDocument, error, data)


AnswerKind = Literal["acknowledge", "progress", "complete", "decline"]
ANSWER_KINDS: tuple[str, ...] = get_args(AnswerKind)
MAX_ANSWER_BYTES = 64 * 1024
"""An agency answer is at most this many bytes."""
MAX_TASK_ID_CHARS = 300
"""A task id is ``<response id>/<plan task id>``; the ``tasks`` table keys it in 300 chars."""
MAX_BY_CHARS = 200
MAX_NOTE_CHARS = 2000
TASK_ID = fields.Text(
    max_chars=MAX_TASK_ID_CHARS,
    forbidden=re.compile(r"[\s\x00-\x1f\x7f\ud800-\udfff]"),
    too_long="{n} characters, over {limit}",
    bad_char="contains {bad!r}; whitespace and control characters are not allowed",
)
"""A task id as an answer names it. Lone surrogates (JSON ``\\ud800`` escapes) cannot be
encoded for a workflow id or a row, PostgreSQL text cannot hold NUL, and control characters
have no place in an id."""
NOT_A_TASK_ID = "missing or not a task id (<response id>/<plan task id>)"
ANSWERED_BY = fields.Text(
    max_chars=MAX_BY_CHARS,
    forbidden=fields.LINE.forbidden,
    too_long="{n} characters, over {limit}",
    bad_char="contains {bad!r}, which is not allowed",
)
"""Who answered: a team, desk or person, one line."""
ANSWER_NOTE = dataclasses.replace(
    ANSWERED_BY, max_chars=MAX_NOTE_CHARS, forbidden=fields.TEXT.forbidden
)
"""A note or a decline's reason: a few sentences; newlines and tabs allowed."""


def _task_id_shape(value: object) -> object:
    if not isinstance(value, str) or "/" not in value:
        raise _refuse(NOT_A_TASK_ID)
    return value


class AgencyAnswer(Inbound):
    """An agency's answer to a task: on its own ``tidegate.tasks.events.<agency>`` (drills:
    ``tidegate.drill.tasks.events.<agency>``), keyed by task id. Other keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    task_id: Annotated[str, Checked(TASK_ID), BeforeValidator(_task_id_shape)]
    """The ``task_id`` of the task message answered, exactly as sent: it holds a ``/``, and no
    whitespace or control characters."""
    kind: AnswerKind
    """``acknowledge`` (the agency has the task), ``progress``, ``complete`` or ``decline``."""
    by: Annotated[str | None, Checked(ANSWERED_BY)] = None
    """Who answers (team, desk or person): one line."""
    reason: Annotated[str | None, Checked(ANSWER_NOTE)] = None
    """Why: a decline needs one. Newlines and tabs are allowed, other control characters
    not."""
    note: Annotated[str | None, Checked(ANSWER_NOTE)] = None
    """Read when ``reason`` is absent or empty, as the same."""

    example: ClassVar[dict[str, Any]] = {
        "task_id": "response-shanghai-3f2a9c1e/drainage.prelower@pudong",
        "kind": "decline",
        "by": "浦东排水 3 班",
        "reason": "the crew is cut off by flooding on the S20",
    }

    @property
    def said(self) -> str:
        """The answer's words: ``reason``, or else ``note`` (``""`` if neither)."""
        return self.reason or self.note or ""

    @model_validator(mode="after")
    def _decline_says_why(self) -> Self:
        if self.kind == "decline" and not self.said.strip():
            raise _refuse("a decline must say why", "reason")
        return self


def answer_problem(error: ValidationError, data: object) -> str:
    """Why :class:`AgencyAnswer` refused ``data``: the first wrong field, as ``field: reason``."""
    if not isinstance(data, dict):
        return "an event must be a JSON object"
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else None
    if field == "task_id" and first["type"] == "missing":
        return f"task_id: {NOT_A_TASK_ID}"
    if field == "kind":  # missing, another value, or one pydantic cannot read (a lone surrogate)
        value = data.get("kind")
        return f"kind: {value!r} is not one of {', '.join(ANSWER_KINDS)}"
    where, reason = _problem(first, data)
    return f"{where}: {reason}" if where else reason
