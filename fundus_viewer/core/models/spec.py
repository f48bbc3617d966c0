"""What every model spec (the JSON metadata a checkpoint carries) shares."""

from __future__ import annotations

from dataclasses import asdict


class SpecDict:
    """``to_dict`` / ``from_dict`` for a dataclass spec; keys a newer version wrote are ignored."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
