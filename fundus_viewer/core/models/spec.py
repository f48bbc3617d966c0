"""What every model spec (the JSON metadata a checkpoint carries) shares."""

from __future__ import annotations

from dataclasses import Field, asdict
from typing import Any, ClassVar, Self


class SpecDict:
    """``to_dict`` / ``from_dict`` for a dataclass spec; keys a newer version wrote are ignored."""

    # Set by @dataclass on every subclass; declared here so the mixin type-checks as a dataclass.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Self:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
