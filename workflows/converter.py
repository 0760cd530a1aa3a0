"""tidegate's data converter: Temporal's JSON converter, with dataclasses (de)coded faster.

The wire format is exactly :attr:`DataConverter.default`'s (same bytes, tested), so histories,
the CLI and other clients need nothing special. Only the cost differs, which matters because a
citywide storm passes 500+ :class:`~plans.model.Task` dataclasses to ``record_tasks`` and again
to ``publish_tasks`` (~220 KB each):

- decoding: the SDK resolves a dataclass's field types with ``typing.get_type_hints`` for
  *every value* it decodes (our modules use postponed annotations, so that is an ``eval`` per
  field); here they are resolved once per class. 128 ms -> ~25 ms for 516 tasks;
- encoding: the SDK turns a dataclass into a dict with ``dataclasses.asdict``, which deep-copies
  the whole tree first; here each dataclass becomes a shallow dict and ``json`` walks the rest.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, get_type_hints

from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)


@functools.lru_cache(maxsize=512)
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """``(name, resolved type, init)`` per field; bounded in case a sandbox re-creates classes."""
    hints = get_type_hints(cls)
    return tuple((f.name, hints[f.name], f.init) for f in dataclasses.fields(cls))


class _DataclassDecoder(JSONTypeConverter):
    """What ``value_to_type`` does for a dataclass, with the field types cached."""

    def to_typed_value(self, hint: type, value: Any) -> Any:
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            return JSONTypeConverter.Unhandled
        if not isinstance(value, dict):
            raise TypeError(f"Cannot convert to dataclass {hint}, value is {type(value)} not dict")
        init: dict[str, Any] = {}
        late: dict[str, Any] = {}
        for name, field_type, in_init in _fields(hint):
            if name not in value:
                continue  # a missing required field fails in the constructor, as in the SDK
            try:
                converted = value_to_type(field_type, value[name], (self,))
            except Exception as err:
                raise TypeError(f"Failed converting field {name} on dataclass {hint}") from err
            (init if in_init else late)[name] = converted
        obj = hint(**init)
        for name, converted in late.items():
            object.__setattr__(obj, name, converted)
        return obj


class _ShallowDataclassEncoder(AdvancedJSONEncoder):
    """The SDK's encoder without ``dataclasses.asdict``'s deep copy (same output)."""

    def default(self, o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        return super().default(o)


class PayloadConverter(CompositePayloadConverter):
    """The default converters, with the JSON one swapped for the faster variant."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(
                    encoder=_ShallowDataclassEncoder, custom_type_converters=[_DataclassDecoder()]
                )
                if isinstance(converter, JSONPlainPayloadConverter)
                else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = dataclasses.replace(
    DataConverter.default, payload_converter_class=PayloadConverter
)
"""Pass as ``data_converter`` wherever a :class:`temporalio.client.Client` is connected."""
