"""The one list of visualisation methods and the one name of each pathology.

Every menu, CLI choice, table title and map file name is derived from here, so a method is added (or
renamed) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Pathology(StrEnum):
    """A glaucomatous finding the pathology-aware method maps, and a box label ("RL", "RNFLD")."""

    RL = "RL"  # rim loss: maps of high centroid-centric moment of inertia
    RNFLD = "RNFLD"  # retinal nerve fibre layer defect: low CMI

    @property
    def key(self) -> str:
        """The lower-case key of the method's two maps (``maps["rl"]``, ``--pathology rl``)."""
        return self.value.lower()

    @property
    def map_name(self) -> str:
        """The map's name in map files, overlays and batch stores (``pathology-rl``)."""
        return f"pathology-{self.key}"

    @property
    def display_name(self) -> str:  # not "title": that is a str method
        return {"RL": "Rim loss (RL, high CMI)", "RNFLD": "RNFL defect (RNFLD, low CMI)"}[self.value]

    @classmethod
    def parse(cls, text: str) -> Pathology:
        """ "RL", "rl", "pathology-rl" ... -> Pathology.RL; ValueError for anything else."""
        name = text.strip().upper().removeprefix("PATHOLOGY-")
        try:
            return cls(name)
        except ValueError:
            raise ValueError(f"unknown pathology {text!r}; use {' or '.join(p.value for p in cls)}") from None


PATHOLOGIES: tuple[Pathology, ...] = tuple(Pathology)
LABELS: tuple[str, ...] = tuple(p.value for p in Pathology)  # box labels and COCO category names


@dataclass(frozen=True)
class Method:
    key: str  # in CLI choices, file names and stored scores
    title: str
    kind: str  # "pathology": one map per Pathology; "baseline": one map of the glaucoma class's evidence
    slow: bool = False  # seconds per photo on a CPU (many forward passes)


METHODS: tuple[Method, ...] = (
    Method("pathology", "Ours (pathology-aware)", "pathology"),
    Method("cam", "CAM", "baseline"),
    Method("gbp", "Guided Backprop", "baseline"),
    Method("smoothgrad", "SmoothGrad", "baseline", slow=True),
    Method("occlusion", "Occlusion", "baseline", slow=True),
)
METHOD_KEYS: tuple[str, ...] = tuple(m.key for m in METHODS)
BASELINES: tuple[str, ...] = tuple(m.key for m in METHODS if m.kind == "baseline")
TITLES: dict[str, str] = {m.key: m.title for m in METHODS}


def method(key: str) -> Method:
    for m in METHODS:
        if m.key == key:
            return m
    raise KeyError(f"unknown method {key!r}; choose from {', '.join(METHOD_KEYS)}")


def map_method(map_name: str) -> str:
    """The method that makes a map (``pathology-rl`` -> ``pathology``, ``cam`` -> ``cam``)."""
    return "pathology" if map_name in {p.map_name for p in Pathology} else method(map_name).key


def map_title(name: str) -> str:
    """A map's title in figures and reports: "pathology-rl" / "rl" -> "Rim loss (RL, high CMI)";
    "cam" -> "CAM (baseline)"."""
    try:
        return Pathology.parse(name).display_name
    except ValueError:
        return f"{TITLES.get(name, name)} (baseline)"


def no_evidence(name: str) -> str:
    """What an all-zero map says instead of a blank photo: a pathology map's emptiness depends on the
    thresholds, a baseline's on the photo alone."""
    try:
        Pathology.parse(name)
    except ValueError:
        return "no positive evidence on this photo"
    return "no positive evidence at these thresholds"
