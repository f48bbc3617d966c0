"""What every model spec (the JSON metadata a checkpoint carries) shares, and how it is checked.

A checkpoint's metadata is input like any other: each field is checked against its declared type and
its bounds before anything is built from it, so a crafted or damaged file gets one line naming the
file and the field, never a traceback or a 10 GB allocation.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from dataclasses import Field, asdict, dataclass
from typing import Any, ClassVar, Self

from fundus_viewer.core.errors import CheckpointError


@dataclass(frozen=True)
class Between:
    """A number in [low, high] (both inclusive; ``math.inf`` for no upper bound)."""

    low: float
    high: float

    def refuses(self, value) -> str:
        if self.low <= value <= self.high:
            return ""
        high = "" if self.high == math.inf else f" to {self.high:g}"
        return f"from {self.low:g}{high}" if high else f"at least {self.low:g}"


@dataclass(frozen=True)
class OneOf:
    choices: tuple[str, ...]

    def refuses(self, value) -> str:
        return "" if value in self.choices else f"one of {', '.join(self.choices)}"


Limit = Between | OneOf


def checked_fields(cls, data, where: str, limits: Mapping[str, Limit] = {}) -> dict[str, Any]:  # noqa: B006
    """The fields of dataclass ``cls`` found in ``data``, each of its declared type and within
    ``limits`` (per element for a tuple); keys ``cls`` does not know (a newer version's) are left out.

    ``where`` names what is read (``FILE: spec``); a CheckpointError says which field is wrong and why.
    """
    if not isinstance(data, dict):
        raise CheckpointError(f"{where} is a JSON {_json_type(data)}, not an object of named fields")
    hints = typing.get_type_hints(cls)
    clean = {}
    for name, value in data.items():
        if name not in cls.__dataclass_fields__:
            continue
        label = f"{where} field '{name}'"
        clean[name] = _typed(hints[name], value, label)
        limit = limits.get(name)
        if limit is not None and clean[name] is not None:
            for item in clean[name] if isinstance(clean[name], tuple) else (clean[name],):
                wanted = limit.refuses(item)
                if wanted:
                    raise CheckpointError(f"{label} is {_show(value)}; it must be {wanted}")
    return clean


def _typed(hint, value, label: str):
    """``value`` as type ``hint`` (lists become tuples); CheckpointError where it is not one."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = (a for a in args if a is not type(None))  # only X | None is used in specs
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise CheckpointError(f"{label} is {_show(value)}; it must be a list")
        if args[-1] is not Ellipsis and len(value) != len(args):
            raise CheckpointError(f"{label} is {_show(value)}; it must have {len(args)} values")
        return tuple(_typed(args[0], item, label) for item in value)
    expected = origin or hint
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        # an integer is a float too (JSON writes 1.0 as 1); NaN is never a setting
        float: isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value),
        str: isinstance(value, str),
        dict: isinstance(value, dict),
    }.get(expected, True)
    if not ok:
        name = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "an object"}
        raise CheckpointError(f"{label} is {_show(value)}; it must be {name[expected]}")
    return float(value) if expected is float else value


def _json_type(value) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), "null")


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class SpecDict:
    """``to_dict`` / ``from_dict`` for a dataclass spec; keys a newer version wrote are ignored."""

    # Set by @dataclass on every subclass; declared here so the mixin type-checks as a dataclass.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "model spec", limits: Mapping[str, Limit] = {}) -> Self:  # noqa: B006
        """Every field type-checked (and bounded by ``limits``): CheckpointError naming ``where``."""
        return cls(**checked_fields(cls, data, where, limits))
