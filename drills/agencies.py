"""Simulated agencies: who answers a drill task, and how long they take.

Each agency has a profile: a delay distribution for acknowledging a task, one for completing it
once acknowledged, and the probability that it never answers at all (so the escalation chain
fires). Delays are log-normal, set by their median and 90th percentile in minutes of storm time
(what a duty officer can estimate: "usually 5 minutes, 1 in 10 takes over 20"), rounded to whole
minutes and at least one.

Every decision comes from a ``random.Random`` seeded with the drill seed *and the task's plan
id*, so a task gets the same answer whatever order the tasks arrive in: the same ``--seed``
gives the same drill. Profiles are YAML (``drills/agencies.yaml`` is the default); agencies not
listed use ``defaults``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from pathlib import Path

from plans.errors import Problem
from plans.yamlread import Field, Record, read_document

DEFAULT_PROFILES = Path(__file__).resolve().parent / "agencies.yaml"

_Z90 = 1.2815515655446004
"""The standard normal's 90th percentile: sigma = ln(p90 / median) / _Z90."""


@dataclass(frozen=True)
class Delay:
    """A log-normal delay in minutes, given by its median and 90th percentile."""

    median: float
    """Half of the answers come sooner than this (minutes, > 0)."""
    p90: float
    """Nine in ten answers come sooner than this (minutes, >= median)."""

    def draw(self, rng: random.Random) -> int:
        """One delay in whole minutes (at least 1)."""
        sigma = math.log(self.p90 / self.median) / _Z90
        return max(1, round(rng.lognormvariate(math.log(self.median), sigma)))


@dataclass(frozen=True)
class Profile:
    """How one agency answers drill tasks."""

    acknowledge: Delay
    """Minutes from dispatch to acknowledgement."""
    complete: Delay
    """Minutes from acknowledgement to completion."""
    no_answer: float
    """Probability (0..1) that the agency never answers a task."""


@dataclass(frozen=True)
class Answer:
    """What an agency will do with one task (minutes after dispatch; ``None``: never)."""

    acknowledge_after: int | None
    complete_after: int | None


@dataclass(frozen=True)
class Profiles:
    """Profiles per agency id, with defaults for the rest."""

    defaults: Profile
    agencies: dict[str, Profile]

    def of(self, agency: str) -> Profile:
        """The agency's profile, or the defaults."""
        return self.agencies.get(agency, self.defaults)

    def decide(self, seed: int, plan_task_id: str, agency: str) -> Answer:
        """Whether and when ``agency`` answers the task; the same inputs give the same answer."""
        profile = self.of(agency)
        rng = random.Random(f"{seed}:{plan_task_id}")
        if rng.random() < profile.no_answer:
            return Answer(None, None)
        ack = profile.acknowledge.draw(rng)
        return Answer(ack, ack + profile.complete.draw(rng))


class ProfilesError(ValueError):
    """An agency profile file is invalid; ``problems`` says where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid agency profiles\n" + "\n".join(str(p) for p in problems))


def load_profiles(path: str | Path | None = None) -> Profiles:
    """Read agency profiles (the bundled defaults when ``path`` is ``None``).

    Raises:
        ProfilesError: Listing every problem with file, line and field.
    """
    file = Path(path) if path is not None else DEFAULT_PROFILES
    problems: list[Problem] = []
    root = read_document(file, str(file), problems)
    profiles = None if root is None else _profiles(root)
    if problems or profiles is None:
        raise ProfilesError(problems or [Problem(str(file), 0, "", "no profiles")])
    return profiles


_KEYS = ("acknowledge_minutes", "complete_minutes", "no_answer")


def _profiles(root: Field) -> Profiles | None:
    top = root.mapping(("defaults",), ("agencies",))
    if top is None:
        return None
    defaults = _profile(top["defaults"].mapping(_KEYS, ()), None) if "defaults" in top else None
    if defaults is None:
        return None
    agencies: dict[str, Profile] = {}
    for agency, field in top.items("agencies"):
        profile = _profile(field.mapping((), _KEYS), defaults)
        if profile is not None:
            agencies[agency] = profile
    return Profiles(defaults, agencies)


def _profile(record: Record | None, base: Profile | None) -> Profile | None:
    if record is None:
        return None
    ack = _delay(record.get("acknowledge_minutes"))
    done = _delay(record.get("complete_minutes"))
    no_answer = _probability(record.get("no_answer"))
    if base is None:
        if ack is None or done is None or no_answer is None:
            return None
        return Profile(ack, done, no_answer)
    return replace(
        base,
        acknowledge=ack or base.acknowledge,
        complete=done or base.complete,
        no_answer=base.no_answer if no_answer is None else no_answer,
    )


def _delay(field: Field | None) -> Delay | None:
    if field is None:
        return None
    record = field.mapping(("median", "p90"), ())
    if record is None or "median" not in record or "p90" not in record:
        return None
    median = _number(record["median"])
    p90 = _number(record["p90"])
    if median is None or p90 is None:
        return None
    if median <= 0 or p90 < median:
        field.fail(f"need 0 < median <= p90, got median {median:g} and p90 {p90:g}")
        return None
    return Delay(median, p90)


def _probability(field: Field | None) -> float | None:
    if field is None:
        return None
    value = _number(field)
    if value is not None and not 0 <= value <= 1:
        field.fail(f"{value:g} is not a probability between 0 and 1")
        return None
    return value


def _number(field: Field) -> float | None:
    node = field.node
    text = str(getattr(node, "value", ""))
    try:
        value = float(text)
    except ValueError:
        field.fail(f"expected a number, got {text!r}")
        return None
    if not math.isfinite(value) or not isinstance(node.value, str):
        field.fail(f"expected a number, got {text!r}")
        return None
    return value
