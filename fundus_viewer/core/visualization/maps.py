"""The one place that makes a photo's maps (the pathology-aware pair and any baselines) and writes them.

``build_maps`` serves ``fundus-viewer heatmap``, ``evaluate`` and the window's export alike: the window
hands in the analysis and baselines it has already computed, the others let it compute them.
``write_maps`` writes each map as ``STEM.NAME.npy`` (float32, the photo's height x width) and a PNG
overlay, atomically (``.partial`` then rename), and a ``STEM.maps.json`` sidecar that records the
photo, the model, the layers and the thresholds, so a map on disk can say how it was made.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fundus_viewer import __version__
from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.digest import file_sha256
from fundus_viewer.core.methods import Pathology
from fundus_viewer.core.photo import PreparedPhoto, prepare_photo
from fundus_viewer.core.visualization.baselines import BASELINES, BaselineMap, baseline_map
from fundus_viewer.core.visualization.heat import GridMap
from fundus_viewer.core.visualization.pathology import PathologyAnalysis
from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS, Thresholds

SIDECAR_FORMAT = 1


@dataclass
class PhotoMaps:
    """One photo's maps by file name part ("pathology-rl", "pathology-rnfld", "cam", ...)."""

    photo: PreparedPhoto
    maps: dict[str, GridMap]
    thresholds: Thresholds
    analysis: PathologyAnalysis | None = None
    notes: dict[str, str] = field(default_factory=dict)  # method -> what it is (e.g. Grad-CAM for CAM)
    model: dict = field(default_factory=dict)  # what the sidecar says of the classifier
    counts: str = ""  # feature maps kept per layer, for the pathology-aware pair
    probability: float | None = None  # P(glaucoma) where it comes without an analysis (a batched run's)

    def full(self, name: str) -> np.ndarray:
        """One map on the photo's own grid: the map export writes and the metrics score."""
        return self.maps[name].full()

    @staticmethod
    def scored_by(method: str, pathology: str) -> str:
        """The map that scores ``pathology`` ("RL" / "RNFLD") for ``method``: the pathology-aware method's
        own map of that pathology; a baseline's single map scores both."""
        return Pathology.parse(pathology).map_name if method == "pathology" else method


def build_maps(
    visualizer,
    image,
    methods: Iterable[str] = ("pathology",),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    analysis: PathologyAnalysis | None = None,
    baselines: dict[str, BaselineMap] | None = None,
) -> PhotoMaps:
    """The maps of ``methods`` ("pathology" and any of the baselines) for one photo.

    ``analysis`` and ``baselines``: ones computed already for this photo (the window's), reused as
    they are; anything missing is computed, sharing the photo's one preparation.
    """
    methods = tuple(methods)
    unknown = [m for m in methods if m != "pathology" and m not in BASELINES]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from pathology, {', '.join(BASELINES)}")
    photo = analysis.image if analysis is not None else prepare_photo(image)
    maps: dict[str, GridMap] = {}
    notes: dict[str, str] = {}
    counts = ""
    if "pathology" in methods:
        analysis = analysis if analysis is not None else visualizer.analyze(photo)
        heat = analysis.heatmaps(
            thresholds.theta_act, thresholds.cmi_low, thresholds.cmi_high, thresholds.normalization
        )
        maps.update({Pathology.parse(key).map_name: grid_map for key, grid_map in heat.maps.items()})
        counts = heat.counts_text()
    baselines = dict(baselines or {})
    wanted = [m for m in methods if m != "pathology"]
    if any(m not in baselines for m in wanted):
        _, transform, x = visualizer.prepare(photo)
        for method in wanted:
            if method not in baselines:
                baselines[method] = baseline_map(method, visualizer.model, x, transform)
    for method in wanted:
        maps[method] = baselines[method].map
        if baselines[method].note:
            notes[method] = baselines[method].note
    # the layers that made these maps: the analysis's, which a later change of layers does not touch
    layers = analysis.layer_names if analysis is not None else visualizer.layers
    return PhotoMaps(photo, maps, thresholds, analysis, notes, describe_model(visualizer.model, layers), counts)


def describe_model(model, layers) -> dict:
    spec = model.spec
    return {
        "checkpoint": getattr(model, "checkpoint_path", None),
        "arch": spec.arch,
        "input_size": spec.input_size,
        "crop": spec.crop,
        "layers": list(layers),
    }


def checkpoint_sha256(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return file_sha256(path)
    except OSError:
        return None


def write_maps(result: PhotoMaps, folder: str | Path, colormap: str = "inferno", stem: str | None = None) -> list[Path]:
    """Every map as .npy and PNG overlay, then the sidecar; returns the .npy paths. Each file is written
    atomically; the sidecar comes last, so a folder with a sidecar holds all its maps. One map on the
    photo's grid exists at a time (a 12 MP photo's map is 48 MB)."""
    from fundus_viewer.core.overlay import overlay, write_png

    folder = Path(folder)
    stem = stem or Path(result.photo.name).stem
    written = []
    for name in result.maps:
        heat = result.full(name)
        save_npy(folder / f"{stem}.{name}.npy", heat)
        picture = overlay(result.photo.rgb, heat, colormap, extent=result.maps[name].extent)
        write_png(folder / f"{stem}.{name}.png", picture)
        written.append(folder / f"{stem}.{name}.npy")
        del heat
    write_sidecar(result, folder / f"{stem}.maps.json", colormap)
    return written


def write_sidecar(result: PhotoMaps, path: Path, colormap: str = "inferno") -> Path:
    photo = result.photo
    record = {
        "format": SIDECAR_FORMAT,
        "written_by": f"fundus-viewer {__version__}",
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "photo": photo_record(photo),
        "model": {**result.model, "sha256": checkpoint_sha256(result.model.get("checkpoint"))},
        "probability_glaucoma": recorded_probability(result),
        "thresholds": asdict(result.thresholds),
        "feature_maps": result.counts,
        "maps": {
            name: {
                "file": f"{path.name.removesuffix('.maps.json')}.{name}.npy",
                "extent": list(grid_map.extent),
                "grid": list(grid_map.grid.shape),
                "note": result.notes.get(name, ""),
            }
            for name, grid_map in result.maps.items()
        },
        "colormap": colormap,
    }
    atomic_write(path, json.dumps(record, indent=1).encode("utf-8"))
    return path


def photo_label(photo) -> str:
    """What a written record calls the photo: its file name; a DICOM photo its SOP Instance UID."""
    return photo_record(photo)["name"]


def photo_record(photo) -> dict:
    """Name, path and size; a DICOM photo by its SOP Instance UID alone (its path may name the patient)."""
    dicom = getattr(getattr(photo, "image", None), "dicom", None)
    if dicom is not None:
        return {
            "name": dicom.sop_instance_uid,
            "path": None,
            "sop_instance_uid": dicom.sop_instance_uid,
            "frame": dicom.frame,
            "width": photo.width,
            "height": photo.height,
        }
    return {"name": photo.name, "path": photo.path, "width": photo.width, "height": photo.height}


def recorded_probability(result: PhotoMaps) -> float | None:
    """P(glaucoma) as the sidecar and the figure record it (six decimals); not for deciding the call."""
    value = result.analysis.probability if result.analysis is not None else result.probability
    return None if value is None else round(float(value), 6)


def read_sidecar(path: str | Path) -> dict:
    """A sidecar as written; ``thresholds`` comes back as a ``Thresholds``."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    if record.get("format") != SIDECAR_FORMAT:
        raise ValueError(f"{path}: sidecar format {record.get('format')!r}, this Fundus Viewer reads {SIDECAR_FORMAT}")
    record["thresholds"] = Thresholds(**record["thresholds"])
    return record


def save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda stream: np.save(stream, np.asarray(array, dtype=np.float32)))
