"""Hazard and warning-colour terms: the plan's words for them, and reading them out of text.

The words live in the plan's catalogue (``hazards`` and ``levels`` in ``catalogue.yaml``, loaded
into ``Plan.hazard_terms`` and ``Plan.level_terms``); this module only applies them, for every
caller: alert intake (JSON fields, CAP ``event``, ``eventCode`` and ``parameter``), ``tidegate
plan explain`` and drills. A term therefore means the same thing everywhere.

* A *term* is a whole value (``typhoon``, ``台风``, ``Storm Surge``, ``橙色``, ``Ⅱ``, ``II级``),
  matched after :func:`fold_term`: case, spaces, punctuation and tone marks do not matter, and
  compatibility characters fold (``Ⅱ`` is ``II``). A hazard's or colour's id is a term too.
* A *signal word* is found inside a signal name (``暴雨橙色预警``, "Typhoon Blue Warning
  Signal"): Chinese words as substrings, English words as whole words, so "Shared" never reads
  as red. :func:`read_signal` lists every hazard and colour a name mentions.

Everything here is pure; look-up tables are folded once per plan object.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from plans.model import Hazard, Level, Plan

CAP_SEVERITIES = ("Minor", "Moderate", "Severe", "Extreme")
"""CAP 1.2 severities a colour may be read from (``Unknown`` never names one)."""

_NOT_WORD = re.compile(r"[\W_]+")
_EN_WORD = re.compile(r"[a-z]+")


def fold_term(text: str) -> str:
    """Fold a term for look-up: compatibility forms, no tone marks, case, spaces or punctuation.

    Args:
        text: Any spelling, e.g. ``" Storm-Surge "`` or ``"Ⅱ级"``.

    Returns:
        The folded form, e.g. ``"stormsurge"`` or ``"ii级"``.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", bare).casefold())


def _fold_signal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def signal_word_problem(word: str) -> str | None:
    """Why ``word`` cannot be a signal word (``None`` if it can).

    English words are matched as whole words of letters, so they must be one such word;
    other words are matched as substrings, so they may hold no spaces.
    """
    folded = _fold_signal(word)
    if word.isascii() and not _EN_WORD.fullmatch(folded):
        return f"{word!r} is not a single English word of letters"
    if not folded.strip() or any(c.isspace() for c in folded):
        return f"{word!r} must not be empty or hold spaces"
    return None


def mentions(text: str, word: str) -> bool:
    """Whether signal word ``word`` occurs in ``text``, by the signal-name matching rules."""
    folded = _fold_signal(text)
    return _found(_fold_signal(word), folded, set(_EN_WORD.findall(folded)))


def _found(key: str, folded: str, words: set[str]) -> bool:
    """Whether a folded signal word occurs in a folded text whose English words are ``words``."""
    return key in words if key.isascii() else key in folded


@dataclass(frozen=True)
class Terms:
    """A plan's terms and signal words, folded once for fast look-ups."""

    hazards: dict[str, Hazard]
    """Folded term -> hazard."""
    levels: dict[str, Level]
    """Folded term -> colour."""
    hazard_words: tuple[tuple[str, Hazard], ...]
    """(folded signal word, hazard), in catalogue order."""
    level_words: tuple[tuple[str, Level], ...]
    """(folded signal word, colour), in catalogue order."""
    severities: dict[str, Level]
    """CAP severity -> colour."""

    @classmethod
    def of(cls, plan: Plan) -> Terms:
        """Index ``plan``'s hazard and level terms."""
        hazards = {
            fold_term(term): t.hazard
            for t in plan.hazard_terms
            for term in (t.hazard.value, *t.terms)
        }
        levels = {
            fold_term(term): t.level for t in plan.level_terms for term in (t.level.value, *t.terms)
        }
        return cls(
            hazards=hazards,
            levels=levels,
            hazard_words=tuple(
                (_fold_signal(w), t.hazard) for t in plan.hazard_terms for w in t.signal_words
            ),
            level_words=tuple(
                (_fold_signal(w), t.level) for t in plan.level_terms for w in t.signal_words
            ),
            severities={t.cap_severity: t.level for t in plan.level_terms if t.cap_severity},
        )


_TERMS: dict[int, tuple[Plan, Terms]] = {}
_TERMS_KEPT = 8


def terms(plan: Plan) -> Terms:
    """The :class:`Terms` of ``plan``, built once per plan object."""
    cached = _TERMS.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    built = Terms.of(plan)
    if len(_TERMS) >= _TERMS_KEPT:
        _TERMS.pop(next(iter(_TERMS)))
    # The plan is kept alongside, so its id cannot be reused while the entry exists.
    _TERMS[id(plan)] = (plan, built)
    return built


def parse_hazard(name: str, plan: Plan) -> Hazard | None:
    """Map a hazard term to a ``Hazard``; typhoon and gale (台风, 大风) both give ``wind``.

    Args:
        name: e.g. ``typhoon``, ``gale``, ``暴雨``, ``storm surge``, ``flood``.
        plan: The plan whose catalogue applies.

    Returns:
        The hazard, or ``None`` when the term is not known.
    """
    return terms(plan).hazards.get(fold_term(name))


def parse_level(name: str, plan: Plan) -> Level | None:
    """Map a colour term (``orange``, ``橙色``, ``橙``, ``Ⅱ``, ``II级``) to a ``Level``.

    Args:
        name: The term.
        plan: The plan whose catalogue applies.

    Returns:
        The colour, or ``None`` when the term is not known.
    """
    return terms(plan).levels.get(fold_term(name))


def read_signal(name: str, plan: Plan) -> tuple[tuple[Hazard, ...], tuple[Level, ...]]:
    """Every hazard and every colour a signal name mentions, each once, in catalogue order.

    Args:
        name: A signal name such as ``暴雨橙色预警`` or ``Typhoon Blue Warning Signal``.
        plan: The plan whose catalogue applies.

    Returns:
        ``(hazards, levels)``; one of each for a well-formed name, none when the name does not
        mention one, several when it is ambiguous (``暴雨蓝色预警升级为黄色预警``).
    """
    known = terms(plan)
    folded = _fold_signal(name)
    words = set(_EN_WORD.findall(folded))
    hazards = [hazard for key, hazard in known.hazard_words if _found(key, folded, words)]
    levels = [level for key, level in known.level_words if _found(key, folded, words)]
    return tuple(dict.fromkeys(hazards)), tuple(dict.fromkeys(levels))


def severity_level(severity: str, plan: Plan) -> Level | None:
    """The colour a CAP ``severity`` (``Minor`` ... ``Extreme``) stands for, if the plan says."""
    return terms(plan).severities.get(severity)
