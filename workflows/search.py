"""tidegate's custom search attributes: one definition for starters, workflows and dev servers.

They make responses findable in the Temporal Web UI and with ``temporal workflow list``, e.g.
``TidegateResponseLevel = 'I' AND TidegateDrill = false``.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

REGION = SearchAttributeKey.for_keyword("TidegateRegion")
"""The region (or drill) a response serves; set at start."""
DRILL = SearchAttributeKey.for_bool("TidegateDrill")
"""True for drills; set at start."""
RESPONSE_LEVEL = SearchAttributeKey.for_keyword("TidegateResponseLevel")
"""Highest response level in any area (``IV``..``I``), or ``none``; kept current."""
HAZARDS = SearchAttributeKey.for_keyword_list("TidegateHazards")
"""Hazards with a warning in force; kept current."""

KEYS: tuple[SearchAttributeKey[Any], ...] = (REGION, HAZARDS, RESPONSE_LEVEL, DRILL)
