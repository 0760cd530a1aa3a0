"""The plan's YAML schema: read each file of a plan directory into plan parts, strictly.

Unknown keys, missing keys, wrong types, bad ids and dangling references are reported as
``Problem`` objects that name the file, line and field. ``PlanReader.build`` returns a ``Plan``
only when no error was found. Each object's location is kept in ``PlanReader.origins`` so that
later checks (``plans.lint``) can point at the right line too.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import TemplateSyntaxError

from plans.catalogue import city_names_of, name_stems, normalise_name
from plans.errors import Problem, Severity
from plans.model import (
    CITYWIDE,
    LEVELS,
    RESPONSE_LEVELS,
    Action,
    Agency,
    AreaGroup,
    Asset,
    AssetKind,
    Audience,
    City,
    CompoundRule,
    District,
    EscalationKind,
    EscalationStep,
    Hazard,
    HazardLevel,
    HazardResponse,
    HazardTerms,
    Level,
    LevelTerms,
    NoticeSpec,
    Plan,
    Recipient,
    ResponseLevel,
    Scope,
    StandDown,
    compute_content_hash,
)
from plans.render import compile_template
from plans.terms import CAP_SEVERITIES, fold_term, mentions, signal_word_problem
from plans.yamlread import Field, Record, read_document

ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
"""Ids of districts, agencies, assets, actions (the part after the agency) and rules."""
LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]+)*")
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
CODE = re.compile(r"[0-9]{6}")
"""A GB/T 2260 division code of a city or district."""
CAP_SEVERITY = re.compile("|".join(CAP_SEVERITIES))

ID_WHAT = "an id of lowercase letters, digits and single hyphens"
ESCALATION_ORDER = (EscalationKind.REMINDER, EscalationKind.SUPERVISION, EscalationKind.WARNING)
EXPECTED_RECIPIENTS: dict[EscalationKind, tuple[Recipient, ...]] = {
    EscalationKind.REMINDER: (Recipient.AGENCY,),
    EscalationKind.SUPERVISION: (Recipient.DISTRICT_HQ, Recipient.CITY_HQ),
    EscalationKind.WARNING: (Recipient.CITY_HQ,),
}
"""Who each slip may go to: supervision goes to the district HQ, or the city HQ for city tasks."""

HEADER_FILE = "plan.yaml"
CATALOGUE_FILE = "catalogue.yaml"
ASSETS_FILE = "assets.yaml"
RULES_FILE = "rules.yaml"
ESCALATION_FILE = "escalation.yaml"
NOTICES_FILE = "notices.yaml"
ACTIONS_DIR = "actions"


@dataclass(frozen=True)
class Where:
    """Where an object of the plan was defined."""

    file: str
    line: int
    field: str


@dataclass
class _Policy:
    offsets: tuple[tuple[int, EscalationKind, Recipient], ...]
    where: Where


@dataclass
class PlanReader:
    """Reads the files of one plan directory; see the module docstring."""

    root: Path
    """The plan directory."""
    shown: Callable[[Path], str]
    """How to name a file in problems."""
    problems: list[Problem] = field(default_factory=list)
    """Everything found so far."""
    origins: dict[str, Where] = field(default_factory=dict)
    """Location of each object, keyed ``kind:id`` or ``kind:id:field``."""

    def __post_init__(self) -> None:
        self.header: dict[str, str] = {}
        self.languages: tuple[str, ...] = ("zh", "en")
        self.default_ack = 15
        self.default_stand_down = StandDown.STAND_DOWN
        self.default_policies: dict[Scope, tuple[str, Field]] = {}
        self.city: City | None = None
        self.citywide: District | None = None
        self.districts: list[District] = []
        self.groups: list[AreaGroup] = []
        self.hazard_terms: list[HazardTerms] = []
        self.level_terms: list[LevelTerms] = []
        self.agencies: list[Agency] = []
        self.assets: list[Asset] = []
        self.hazards: list[HazardResponse] = []
        self.compound: list[CompoundRule] = []
        self.policies: dict[str, _Policy] = {}
        self.messages: dict[str, dict[str, str]] = {}
        self.notices: list[NoticeSpec] = []
        self.actions: list[Action] = []

    # -- helpers ---------------------------------------------------------------------------

    def _errors(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    def _note(self, key: str, f: Field) -> None:
        self.origins[key] = Where(f.file, f.line, f.path)

    def _document(self, name: str, required: bool = True) -> Field | None:
        path = self.root / name
        if not path.is_file():
            if required:
                self.problems.append(Problem(self.shown(path), 0, "", "file is missing"))
            return None
        return read_document(path, self.shown(path), self.problems)

    def _text_by_language(self, f: Field, key: str, template: bool) -> dict[str, str] | None:
        fields = f.mapping(optional=self.languages)
        if fields is None:
            return None
        out: dict[str, str] = {}
        for lang in self.languages:
            if lang not in fields:
                f.fail(f"missing the {lang!r} text (every text needs: {', '.join(self.languages)})")
                continue
            child = fields[lang]
            self._note(f"{key}.{lang}", child)
            value = child.text(what="a non-empty text")
            if value is None:
                continue
            if template:
                try:
                    compile_template(value)
                except TemplateSyntaxError as exc:
                    child.fail(f"template syntax error on template line {exc.lineno}: {exc}")
                    continue
            out[lang] = value
        return out if len(out) == len(self.languages) else None

    def _names(self, m: Record, taken: Iterable[str], what: str) -> tuple[str, str, str] | None:
        """Read ``id``, ``zh`` and ``en``, rejecting an id already ``taken``; ``None`` if bad."""
        ident, zh, en = m.text("id", ID, ID_WHAT), m.text("zh"), m.text("en")
        if ident is not None and ident in set(taken):
            m["id"].fail(f"duplicate {what} id {ident!r}")
            return None
        if ident is None or zh is None or en is None:
            return None
        return ident, zh, en

    def _areas(self, f: Field | None) -> tuple[str, ...]:
        """Read a list of district and group ids; return district ids in catalogue order."""
        if f is None:
            return ()
        known = {d.id for d in self.districts}
        groups = {g.id: g.districts for g in self.groups}
        wanted: set[str] = set()
        for item in f.sequence() or []:
            value = item.text(ID, ID_WHAT)
            if value is None:
                continue
            if value in known:
                wanted.add(value)
            elif value in groups:
                wanted.update(groups[value])
            else:
                item.fail(f"unknown district or group {value!r}")
        return tuple(d.id for d in self.districts if d.id in wanted)

    # -- plan.yaml -------------------------------------------------------------------------

    def read_header(self) -> None:
        """Read ``plan.yaml``: id, version, titles, languages and defaults."""
        doc = self._document(HEADER_FILE)
        m = (
            doc.mapping(("plan_id", "version", "zh", "en", "languages", "defaults"))
            if doc
            else None
        )
        if m is None:
            return
        for key, pattern, what in (
            ("plan_id", ID, ID_WHAT),
            ("version", VERSION, "a version such as 2025.1"),
            ("zh", None, "a title"),
            ("en", None, "a title"),
        ):
            if key in m:
                value = m[key].text(pattern, what)
                if value is not None:
                    self.header[key] = value
        if "languages" in m:
            languages = m["languages"].texts(LANGUAGE, "a language code such as zh")
            if languages:
                self.languages = tuple(languages)
            else:
                m["languages"].fail("list at least one language")
        if "defaults" in m:
            self._defaults(m["defaults"])

    def _defaults(self, f: Field) -> None:
        m = f.mapping(("ack_timeout_minutes", "on_stand_down", "escalation"))
        if m is None:
            return
        if "ack_timeout_minutes" in m:
            ack = m["ack_timeout_minutes"].integer(1, 24 * 60)
            self.default_ack = ack if ack is not None else self.default_ack
        if "on_stand_down" in m:
            choice = m["on_stand_down"].choice(StandDown)
            self.default_stand_down = choice if choice is not None else self.default_stand_down
        if "escalation" in m:
            scopes = m["escalation"].mapping([s.value for s in Scope])
            for scope in Scope:
                if scopes is not None and scope.value in scopes:
                    name = scopes[scope.value].text(ID, ID_WHAT)
                    if name is not None:
                        self.default_policies[scope] = (name, scopes[scope.value])

    # -- catalogue.yaml --------------------------------------------------------------------

    def read_catalogue(self) -> None:
        """Read ``catalogue.yaml``: the city, areas, hazard and colour terms, and agencies."""
        doc = self._document(CATALOGUE_FILE)
        required = ("city", "citywide", "districts", "hazards", "levels", "agencies")
        m = doc.mapping(required, ("groups",)) if doc else None
        if m is None:
            return
        if "city" in m:
            self._city(m["city"])
        if "citywide" in m:
            self._citywide(m["citywide"])
        for item in m.sequence("districts"):
            self._district(item)
        for item in m.sequence("groups"):
            self._group(item)
        if "hazards" in m:
            self._hazard_terms(m["hazards"])
        if "levels" in m:
            self._level_terms(m["levels"])
        for item in m.sequence("agencies"):
            self._agency(item)
        self._check_aliases()
        self._check_codes()
        self._check_words()

    def _city(self, f: Field) -> None:
        m = f.mapping(("zh", "en"), ("aliases",))
        if m is None:
            return
        zh, en, aliases = m.text("zh"), m.text("en"), tuple(m.texts("aliases"))
        if zh and en:
            self.city = City(zh, en, aliases)
            self._note("city", f)

    def _citywide(self, f: Field) -> None:
        m = f.mapping(("zh", "en"), ("aliases", "codes"))
        if m is None:
            return
        zh = m.text("zh")
        en = m.text("en")
        aliases = tuple(m.texts("aliases"))
        if zh and en:
            self.citywide = District(CITYWIDE, zh, en, aliases, self._codes(m))
            self._note(f"area:{CITYWIDE}", f)

    def _district(self, f: Field) -> None:
        m = f.mapping(("id", "zh", "en"), ("aliases", "codes"))
        names = (
            self._names(m, [CITYWIDE, *(d.id for d in self.districts)], "district") if m else None
        )
        if m is None or names is None:
            return
        self.districts.append(District(*names, tuple(m.texts("aliases")), self._codes(m)))
        self._note(f"area:{names[0]}", f)

    def _codes(self, m: Record) -> tuple[str, ...]:
        return tuple(m.texts("codes", CODE, "a six-digit GB/T 2260 code in quotes"))

    def _group(self, f: Field) -> None:
        m = f.mapping(("id", "zh", "en", "districts"))
        if m is None:
            return
        taken = [CITYWIDE, *(d.id for d in self.districts), *(g.id for g in self.groups)]
        names = self._names(m, taken, "district or group")
        members = self._areas(m.get("districts"))
        if names is not None and not members:
            f.fail("a group needs at least one district")
        elif names is not None:
            self.groups.append(AreaGroup(*names, members))

    def _hazard_terms(self, f: Field) -> None:
        m = f.mapping([h.value for h in Hazard])
        for hazard in Hazard:
            words = self._words(m[hazard.value], "hazards") if m and hazard.value in m else None
            if words is not None:
                terms, signal_words, _ = words
                self.hazard_terms.append(HazardTerms(hazard, terms, signal_words))

    def _level_terms(self, f: Field) -> None:
        m = f.mapping([level.value for level in LEVELS])
        for level in LEVELS:
            words = self._words(m[level.value], "levels") if m and level.value in m else None
            if words is not None:
                terms, signal_words, severity = words
                self.level_terms.append(LevelTerms(level, terms, signal_words, severity))
        severities = [t.cap_severity for t in self.level_terms if t.cap_severity]
        if len(set(severities)) != len(severities):
            f.fail("two colours have the same cap_severity")

    def _words(
        self, f: Field, section: str
    ) -> tuple[tuple[str, ...], tuple[str, ...], str | None] | None:
        """Read one entry of ``hazards`` or ``levels``; ``None`` if it is not a mapping."""
        optional = ("terms", "cap_severity") if section == "levels" else ("terms",)
        m = f.mapping(("signal_words",), optional)
        if m is None:
            return None
        self._note(f"words:{f.path}", f)
        terms = _checked_texts(m.sequence("terms"), _term_problem)
        signal_words = _checked_texts(m.sequence("signal_words"), signal_word_problem)
        if "signal_words" in m and not signal_words:
            m["signal_words"].fail("list at least one word")
        severity = m.text("cap_severity", CAP_SEVERITY, "one of " + ", ".join(CAP_SEVERITIES))
        return terms, signal_words, severity

    def _agency(self, f: Field) -> None:
        m = f.mapping(("id", "zh", "en"))
        names = self._names(m, (a.id for a in self.agencies), "agency") if m else None
        if names is not None:
            self.agencies.append(Agency(*names))
            self._note(f"agency:{names[0]}", f)

    def _check_aliases(self) -> None:
        """Every name must lead to one area only, or ``resolve_areas`` would be ambiguous."""
        owner: dict[str, str] = {}
        areas = [*([self.citywide] if self.citywide else []), *self.districts]
        for area in areas:
            names = (area.id, area.zh, area.en, *area.aliases)
            if area.id == CITYWIDE:
                names = (*names, *city_names_of(self.city))
            for name in names:
                # City names match whole; district names match by stem (see name_stems).
                keys = [normalise_name(name)] if area.id == CITYWIDE else name_stems(name)
                clash = next((k for k in keys if owner.get(k, area.id) != area.id), None)
                if clash is not None:
                    self._problem(
                        f"area:{area.id}", f"name {name!r} is also a name of {owner[clash]!r}"
                    )
                for key in keys:
                    owner.setdefault(key, area.id)

    def _check_codes(self) -> None:
        """A GB/T 2260 code names one area only."""
        owner: dict[str, str] = {}
        for area in [*([self.citywide] if self.citywide else []), *self.districts]:
            for code in area.codes:
                if owner.setdefault(code, area.id) != area.id:
                    self._problem(
                        f"area:{area.id}", f"code {code} is also a code of {owner[code]!r}"
                    )

    def _check_words(self) -> None:
        """Each term names one hazard (colour); no signal word can read as two, or in a place name.

        A signal name mentioning two hazards or two colours is refused, so a word found inside
        another hazard's word (or inside an area's name, which signal names often carry, as in
        黄浦江高潮位黄色预警) would make good signals unreadable.
        """
        for section, entries in (
            ("hazards", [(str(t.hazard), t.terms, t.signal_words) for t in self.hazard_terms]),
            ("levels", [(str(t.level), t.terms, t.signal_words) for t in self.level_terms]),
        ):
            owner: dict[str, str] = {}
            for ident, terms, _ in entries:
                for term in (ident, *terms):
                    other = owner.setdefault(fold_term(term), ident)
                    if other != ident:
                        self._problem(
                            f"words:{section}.{ident}", f"term {term!r} is also a term of {other!r}"
                        )
            for ident, _, words in entries:
                for other, _, other_words in entries:
                    for word, inside in itertools.product(words, other_words):
                        if other != ident and mentions(inside, word):
                            self._problem(
                                f"words:{section}.{ident}",
                                f"signal word {word!r} occurs in {inside!r} of {other!r}: "
                                f"a {other} signal would name two {section}",
                            )
                for word, (area, name) in itertools.product(words, self._place_names()):
                    if mentions(name, word):
                        self._problem(
                            f"words:{section}.{ident}",
                            f"signal word {word!r} occurs in {name!r}, a name of {area!r}",
                        )

    def _place_names(self) -> list[tuple[str, str]]:
        """(area or group id, name) for every name of the catalogue's places."""
        places: list[tuple[str, Iterable[str]]] = [(CITYWIDE, city_names_of(self.city))]
        for area in [*([self.citywide] if self.citywide else []), *self.districts]:
            places.append((area.id, (area.zh, area.en, *area.aliases)))
        places += [(group.id, (group.zh, group.en)) for group in self.groups]
        return [(ident, name) for ident, names in places for name in names]

    def _problem(self, origin: str, message: str) -> None:
        """Record an error at the recorded location of ``origin`` (the catalogue if unknown)."""
        where = self.origins.get(origin)
        self.problems.append(
            Problem(
                where.file if where else CATALOGUE_FILE,
                where.line if where else 0,
                where.field if where else "",
                message,
            )
        )

    # -- assets.yaml -----------------------------------------------------------------------

    def read_assets(self) -> None:
        """Read ``assets.yaml``: pumping stations, waterlogging points, drainage teams."""
        doc = self._document(ASSETS_FILE)
        m = doc.mapping(("assets",)) if doc else None
        if m is None or "assets" not in m:
            return
        districts = {d.id for d in self.districts}
        for item in m.sequence("assets"):
            a = item.mapping(("id", "kind", "district", "zh", "en", "source"))
            if a is None:
                continue
            names = self._names(a, (x.id for x in self.assets), "asset")
            kind = a.choice("kind", AssetKind)
            district = a.text("district", ID, ID_WHAT)
            source = a.text("source")
            if district is not None and district not in districts:
                a["district"].fail(f"unknown district {district!r}")
            elif names and kind and district and source:
                ident, zh, en = names
                self.assets.append(Asset(ident, kind, district, zh, en, source))
                self._note(f"asset:{ident}", item)

    # -- rules.yaml ------------------------------------------------------------------------

    def read_rules(self) -> None:
        """Read ``rules.yaml``: colour-to-level map per hazard and the compound rules."""
        doc = self._document(RULES_FILE)
        m = doc.mapping(("response_levels",), ("compound",)) if doc else None
        if m is None:
            return
        if "response_levels" in m:
            hazards = m["response_levels"].mapping([h.value for h in Hazard])
            for hazard in Hazard:
                if hazards is not None and hazard.value in hazards:
                    self._hazard(hazard, hazards[hazard.value])
        for item in m.sequence("compound"):
            self._compound(item)

    def _hazard(self, hazard: Hazard, f: Field) -> None:
        m = f.mapping([level.value for level in LEVELS])
        if m is None:
            return
        found: dict[Level, ResponseLevel] = {}
        for level in LEVELS:
            if level.value in m:
                self._note(f"hazard:{hazard.value}:{level.value}", m[level.value])
                value = m[level.value].choice(ResponseLevel)
                if value is not None:
                    found[level] = value
        if len(found) != len(LEVELS):
            return
        ranks = [found[level].rank for level in LEVELS]
        if ranks != sorted(ranks):
            f.fail("a higher warning colour must not map to a lower response level")
            return
        self.hazards.append(HazardResponse(hazard, *(found[level] for level in LEVELS)))

    def _compound(self, f: Field) -> None:
        m = f.mapping(("id", "zh", "en", "when"), ("raise_by", "at_least", "districts"))
        if m is None:
            return
        names = self._names(m, (rule.id for rule in self.compound), "compound rule")
        raise_by = m.integer("raise_by", 0, len(RESPONSE_LEVELS) - 1) if "raise_by" in m else 0
        at_least = m.choice("at_least", ResponseLevel)
        districts = self._areas(m.get("districts"))
        when: list[HazardLevel] = []
        if "when" in m:
            conditions = m["when"].mapping(optional=[h.value for h in Hazard])
            for hazard in Hazard:
                if conditions is not None and hazard.value in conditions:
                    level = conditions[hazard.value].choice(Level)
                    if level is not None:
                        when.append(HazardLevel(hazard, level))
            if conditions is not None and len(conditions) < 2:
                m["when"].fail("a compound rule needs at least two hazards")
                return
        if names is None or raise_by is None or len(when) < 2:
            return
        if not raise_by and at_least is None:
            f.fail("a compound rule needs raise_by (1 to 3) or at_least")
            return
        self.compound.append(CompoundRule(*names, tuple(when), raise_by, at_least, districts))
        self._note(f"compound:{names[0]}", f)

    # -- escalation.yaml -------------------------------------------------------------------

    def read_escalation(self) -> None:
        """Read ``escalation.yaml``: named escalation policies and the slip templates."""
        doc = self._document(ESCALATION_FILE)
        m = doc.mapping(("policies", "messages")) if doc else None
        if m is None:
            return
        for name, f in m.items("policies"):
            if ID.fullmatch(name) is None:
                f.fail(f"policy name {name!r} is not {ID_WHAT}")
                continue
            self._policy(name, f)
        if "messages" in m:
            kinds = m["messages"].mapping([k.value for k in EscalationKind])
            for kind in EscalationKind:
                if kinds is not None and kind.value in kinds:
                    self._note(f"message:{kind.value}", kinds[kind.value])
                    texts = self._text_by_language(
                        kinds[kind.value], f"message:{kind.value}", template=True
                    )
                    if texts is not None:
                        self.messages[kind.value] = texts
        for scope, (name, f) in self.default_policies.items():
            if name not in self.policies:
                f.fail(f"unknown escalation policy {name!r} for scope {scope.value}")

    def _policy(self, name: str, f: Field) -> None:
        steps: list[tuple[int, EscalationKind, Recipient]] = []
        items = f.sequence()
        for item in items or []:
            m = item.mapping(("after_ack_minutes", "kind", "to"))
            if m is None:
                continue
            offset = m.integer("after_ack_minutes", 0, 7 * 24 * 60)
            kind = m.choice("kind", EscalationKind)
            to = m.choice("to", Recipient)
            if offset is None or kind is None or to is None:
                return
            if to not in EXPECTED_RECIPIENTS[kind]:
                allowed = " or ".join(r.value for r in EXPECTED_RECIPIENTS[kind])
                m["to"].fail(f"a {kind.value} goes to {allowed}, not {to.value}")
                return
            if steps and offset <= steps[-1][0]:
                m["after_ack_minutes"].fail("steps must come strictly later than the one before")
                return
            if steps and ESCALATION_ORDER.index(kind) < ESCALATION_ORDER.index(steps[-1][1]):
                m["kind"].fail(f"a {kind.value} cannot follow a {steps[-1][1].value}")
                return
            steps.append((offset, kind, to))
        if items is None:
            return
        kinds = [kind for _, kind, _ in steps]
        missing = [k.value for k in ESCALATION_ORDER if k not in kinds]
        if missing:
            f.fail("escalation gap: the chain has no " + ", ".join(missing))
            return
        if steps[0][0] != 0:
            f.fail("escalation gap: the first reminder must go out when the ack timeout expires")
            return
        self.policies[name] = _Policy(tuple(steps), Where(f.file, f.line, f.path))

    # -- notices.yaml ----------------------------------------------------------------------

    def read_notices(self) -> None:
        """Read ``notices.yaml``: public and passenger notice definitions."""
        doc = self._document(NOTICES_FILE)
        m = doc.mapping(("notices",)) if doc else None
        if m is None:
            return
        agencies = {a.id for a in self.agencies}
        for item in m.sequence("notices"):
            n = item.mapping(
                (
                    "id",
                    "agency",
                    "audience",
                    "zh",
                    "en",
                    "level",
                    "hazards",
                    "deadline_minutes",
                    "templates",
                )
            )
            if n is None:
                continue
            local = n.text("id", ID, ID_WHAT)
            agency = n.text("agency", ID, ID_WHAT)
            if agency is not None and agency not in agencies:
                n["agency"].fail(f"unknown agency {agency!r}")
                agency = None
            audience = n.choice("audience", Audience)
            zh = n.text("zh")
            en = n.text("en")
            level = n.choice("level", ResponseLevel)
            hazards = n.choices("hazards", Hazard)
            deadline = n.integer("deadline_minutes", 1, 7 * 24 * 60)
            key = f"notice:{agency}.{local}"
            templates = n.get("templates")
            texts = None
            if templates is not None:
                texts = self._text_by_language(templates, f"{key}:templates", template=True)
            if not hazards and "hazards" in n:
                n["hazards"].fail("list at least one hazard")
            if (
                local is None
                or agency is None
                or audience is None
                or zh is None
                or en is None
                or level is None
                or deadline is None
                or texts is None
                or not hazards
            ):
                continue
            spec = NoticeSpec(
                f"{agency}.{local}",
                agency,
                audience,
                zh,
                en,
                level,
                tuple(hazards),
                deadline,
                texts,
            )
            if any(s.id == spec.id for s in self.notices):
                n["id"].fail(f"duplicate notice id {spec.id!r}")
                continue
            self.notices.append(spec)
            self._note(key, item)

    # -- actions/<agency>.yaml -------------------------------------------------------------

    def read_actions(self) -> None:
        """Read every ``actions/*.yaml`` file, in file-name order."""
        folder = self.root / ACTIONS_DIR
        files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        if not files:
            self.problems.append(
                Problem(self.shown(folder), 0, "", "no action files (actions/<agency>.yaml)")
            )
        for path in files:
            doc = read_document(path, self.shown(path), self.problems)
            m = doc.mapping(("agency", "actions")) if doc else None
            if m is None or "agency" not in m:
                continue
            agency = m["agency"].text(ID, ID_WHAT)
            if agency is None:
                continue
            if agency not in {a.id for a in self.agencies}:
                m["agency"].fail(f"unknown agency {agency!r} (not in {CATALOGUE_FILE})")
                continue
            if path.stem != agency:
                m["agency"].fail(
                    f"actions for {agency!r} belong in actions/{agency}.yaml",
                    Severity.WARNING,
                )
            levels = (
                m["actions"].mapping(optional=[r.value for r in RESPONSE_LEVELS])
                if "actions" in m
                else None
            )
            for level in RESPONSE_LEVELS:
                if levels is not None and level.value in levels:
                    for item in levels[level.value].sequence() or []:
                        self._action(item, agency, level)

    def _action(self, f: Field, agency: str, level: ResponseLevel) -> None:
        m = f.mapping(
            ("id", "zh", "en", "hazards", "scope", "deadline_minutes", "instructions"),
            (
                "min_warning",
                "asset_kind",
                "districts",
                "ack_timeout_minutes",
                "escalation",
                "on_stand_down",
                "params",
            ),
        )
        if m is None:
            return
        local = m.text("id", ID, ID_WHAT)
        action_id = f"{agency}.{local}"
        key = f"action:{action_id}"
        zh = m.text("zh")
        en = m.text("en")
        hazards = m.choices("hazards", Hazard)
        if "hazards" in m and not hazards:
            m["hazards"].fail("list at least one hazard")
        min_warning = m.choice("min_warning", Level)
        scope = m.choice("scope", Scope)
        asset_kind = m.choice("asset_kind", AssetKind)
        if scope is Scope.ASSET and "asset_kind" not in m:
            f.fail("scope 'asset' needs asset_kind")
            scope = None
        elif scope is not None and scope is not Scope.ASSET and "asset_kind" in m:
            m["asset_kind"].fail("asset_kind is only for scope 'asset'")
            scope = None
        districts = self._areas(m.get("districts"))
        if scope is Scope.CITYWIDE and "districts" in m:
            m["districts"].fail("a citywide action cannot be limited to districts")
        deadline = m.integer("deadline_minutes", 1, 7 * 24 * 60)
        ack = (
            m["ack_timeout_minutes"].integer(1, 24 * 60)
            if "ack_timeout_minutes" in m
            else self.default_ack
        )
        if deadline is not None and ack is not None and ack >= deadline:
            field_ = m.get("ack_timeout_minutes") or m["deadline_minutes"]
            field_.fail(
                f"the ack timeout ({ack} min) must be shorter than the deadline ({deadline} min)"
            )
            ack = None
        stand_down = (
            m["on_stand_down"].choice(StandDown)
            if "on_stand_down" in m
            else self.default_stand_down
        )
        params: dict[str, str] = {}
        for name, value_field in m.items("params"):
            if re.fullmatch(r"[a-z_][a-z0-9_]*", name) is None:
                value_field.fail(f"parameter name {name!r} must be a lowercase identifier")
                continue
            value = value_field.scalar_text()
            if value is not None:
                params[name] = value
        instructions = None
        if "instructions" in m:
            instructions = self._text_by_language(m["instructions"], f"{key}:instructions", True)
        policy_field = m.get("escalation")
        policy = self._policy_for(scope, policy_field)
        if (
            local is None
            or zh is None
            or en is None
            or scope is None
            or deadline is None
            or ack is None
            or stand_down is None
            or instructions is None
            or policy is None
            or not hazards
        ):
            return
        name, chain = policy
        if any(a.id == action_id for a in self.actions):
            m["id"].fail(f"duplicate action id {action_id!r}")
            return
        self._note(key, f)
        self._note(f"{key}:escalation", policy_field or f)
        self.actions.append(
            Action(
                id=action_id,
                agency=agency,
                zh=zh,
                en=en,
                level=level,
                hazards=tuple(hazards),
                min_warning=min_warning,
                scope=scope,
                asset_kind=asset_kind,
                districts=districts,
                deadline_minutes=deadline,
                ack_timeout_minutes=ack,
                escalation=tuple(EscalationStep(ack + off, kind, to) for off, kind, to in chain),
                escalation_policy=name,
                on_stand_down=stand_down,
                params=params,
                instructions=instructions,
            )
        )

    def _policy_for(
        self, scope: Scope | None, f: Field | None
    ) -> tuple[str, tuple[tuple[int, EscalationKind, Recipient], ...]] | None:
        if scope is None:
            return None
        if f is not None:
            name = f.text(ID, ID_WHAT)
        else:
            name = self.default_policies.get(scope, ("", None))[0] or None
        if name is None:
            return None
        policy = self.policies.get(name)
        if policy is None:
            if f is not None:
                known = ", ".join(sorted(self.policies)) or "none"
                f.fail(f"unknown escalation policy {name!r} (known: {known})")
            return None
        if scope is Scope.CITYWIDE and any(
            to is Recipient.DISTRICT_HQ for _, _, to in policy.offsets
        ):
            target = f
            if target is not None:
                target.fail(
                    f"policy {name!r} escalates to a district HQ, but the action is citywide"
                )
            else:
                self.problems.append(
                    Problem(
                        policy.where.file,
                        policy.where.line,
                        policy.where.field,
                        f"default policy {name!r} for citywide actions escalates to a district HQ",
                    )
                )
            return None
        return name, policy.offsets

    # -- assembly --------------------------------------------------------------------------

    def read_all(self) -> None:
        """Read every file of the plan directory, in dependency order."""
        self.read_header()
        self.read_catalogue()
        self.read_assets()
        self.read_rules()
        self.read_escalation()
        self.read_notices()
        self.read_actions()

    def build(self) -> Plan | None:
        """Assemble the plan, or return ``None`` if any error was found."""
        header = self.header
        if self._errors() or self.city is None or self.citywide is None or len(header) < 4:
            return None
        if len(self.hazard_terms) != len(Hazard) or len(self.level_terms) != len(LEVELS):
            return None
        if len(self.hazards) != len(Hazard) or len(self.messages) != len(EscalationKind):
            return None
        plan = Plan(
            plan_id=header["plan_id"],
            version=header["version"],
            content_hash="",
            zh=header["zh"],
            en=header["en"],
            languages=self.languages,
            citywide=self.citywide,
            districts=tuple(self.districts),
            groups=tuple(self.groups),
            agencies=tuple(self.agencies),
            assets=tuple(self.assets),
            hazards=tuple(self.hazards),
            compound_rules=tuple(self.compound),
            actions=tuple(sorted(self.actions, key=lambda a: a.id)),
            notices=tuple(sorted(self.notices, key=lambda n: n.id)),
            escalation_messages={k.value: self.messages[k.value] for k in EscalationKind},
            city=self.city,
            hazard_terms=tuple(self.hazard_terms),
            level_terms=tuple(self.level_terms),
        )
        return dataclasses.replace(plan, content_hash=compute_content_hash(plan))


def _checked_texts(items: list[Field], problem: Callable[[str], str | None]) -> tuple[str, ...]:
    """Read a list of strings, reporting those ``problem`` finds fault with, and duplicates."""
    out: list[str] = []
    for item in items:
        value = item.text()
        if value is None:
            continue
        reason = problem(value)
        if reason is not None:
            item.fail(reason)
        elif value in out:
            item.fail(f"duplicate entry {value!r}")
        else:
            out.append(value)
    return tuple(out)


def _term_problem(term: str) -> str | None:
    return None if fold_term(term) else f"term {term!r} has no letters or digits"
