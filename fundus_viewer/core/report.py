"""A report of one photo or a folder, as one self-contained HTML file that can be mailed: every image is
embedded (base64 JPEG at quality 90: about 0.17 MB a photo with its two maps, where PNG took 1.3 MB),
nothing is linked.

Per photo: the photo, its RL and RNFLD maps (and any baselines) over it, P(glaucoma) and the call, what
the call means (the calibration), the vertical cup-to-disc ratio, the out-of-distribution flag and the
maps kept per layer. For the report: the thresholds, the model (file, architecture, SHA-256), the app's
version and the date. A folder's report starts with a table of every photo (thumbnail, P, call, vCDR,
OOD) linking to its section.

The maps come from ``visualization.maps.build_maps`` and the columns from ``batch.tasks.call_row``,
exactly as ``heatmap`` and ``classify`` make them; the overlays are ``core.overlay``'s. All text is
escaped by the template (Jinja2's autoescape): a photo's name cannot become markup. The page is written
section by section (Jinja2's ``generate``), never held whole as one string.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from fundus_viewer import __version__
from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.methods import map_title, no_evidence
from fundus_viewer.core.visualization.maps import PhotoMaps, checkpoint_sha256, describe_model, photo_label
from fundus_viewer.core.visualization.selection import Thresholds

IMAGE_SIZE = 640  # px, the longer side of each embedded picture: sharp on screen, ~30 kB as JPEG
THUMBNAIL_SIZE = 160
JPEG_QUALITY = 90  # photos and smooth heat maps: no visible loss, a tenth of the PNG's bytes


@dataclass
class ReportImage:
    title: str
    jpeg: bytes
    note: str = ""  # e.g. "no positive evidence at these thresholds"

    @property
    def data_uri(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def encode_jpeg(rgb: np.ndarray) -> bytes:
    """An RGB uint8 image as JPEG bytes, as the report embeds it."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


@dataclass
class PhotoEntry:
    """One photo's section: ``row`` holds ``call_row``'s columns (empty for a photo that failed)."""

    name: str
    row: dict = field(default_factory=dict)
    images: list[ReportImage] = field(default_factory=list)
    thumbnail: ReportImage | None = None
    counts: str = ""  # feature maps kept per layer
    size: tuple[int, int] = (0, 0)  # the photo's width and height
    error: str = ""


@dataclass
class ReportContext:
    """What the whole report was made with."""

    title: str
    thresholds: Thresholds
    model: dict  # describe_model's record and the checkpoint's sha256
    calibration: str  # what the call means (Calibration.says)
    colormap: str = "inferno"
    written: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    app_version: str = __version__


def model_record(model, layers, sha256: str | None = None) -> dict:
    """The classifier as the report names it: ``describe_model``'s record, its file's name and SHA-256."""
    record = describe_model(model, layers)
    checkpoint = record.get("checkpoint")
    record["name"] = Path(checkpoint).name if checkpoint else type(model).__name__
    record["sha256"] = sha256 or checkpoint_sha256(checkpoint)
    return record


def report_context(title: str, model, layers, thresholds: Thresholds, colormap: str, sha256: str | None = None):
    return ReportContext(title, thresholds, model_record(model, layers, sha256), model.calibration.says(), colormap)


def _fit(width: int, height: int, longest: int) -> tuple[int, int]:
    scale = min(1.0, longest / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shrink(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (rgb.shape[1], rgb.shape[0]) == size:
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def photo_entry(
    result: PhotoMaps,
    model,
    measured=None,
    colormap: str = "inferno",
    opacity: float = 0.6,
    size: int = IMAGE_SIZE,
) -> PhotoEntry:
    """The section of one photo from its maps (``build_maps``, or the window's ``current_maps``) and its
    cup/disc measurement, where one was made."""
    from fundus_viewer.core.batch.tasks import call_row
    from fundus_viewer.core.overlay import overlay

    photo = result.photo
    analysis = result.analysis
    probability = analysis.probability if analysis is not None else result.probability
    ood = analysis.ood if analysis is not None else None
    row = call_row(model, probability, ood, measured) if probability is not None else {}
    shown = _fit(photo.width, photo.height, size)
    small = _shrink(photo.rgb, shown)
    scale = shown[0] / photo.width
    images = [ReportImage("Photo", encode_jpeg(small))]
    for name, grid_map in result.maps.items():
        heat = grid_map.render((0, 0, photo.width, photo.height), shown)
        extent = tuple(v * scale for v in grid_map.extent)
        images.append(
            ReportImage(
                map_title(name),
                encode_jpeg(overlay(small, heat, colormap, opacity, extent=extent)),
                no_evidence(name) if grid_map.peak <= 0 else result.notes.get(name, ""),
            )
        )
    thumbnail = ReportImage("thumbnail", encode_jpeg(_shrink(small, _fit(*shown, THUMBNAIL_SIZE))))
    return PhotoEntry(photo_label(photo), row, images, thumbnail, result.counts, (photo.width, photo.height))


def photo_entries(
    sources,
    visualizer,
    methods: Iterable[str] = ("pathology",),
    thresholds: Thresholds | None = None,
    segmenter=None,
    colormap: str = "inferno",
    size: int = IMAGE_SIZE,
    progress: Callable[[int, int, PhotoEntry], object] | None = None,
) -> list[PhotoEntry]:
    """Every photo of ``sources`` (photos, folders, manifests: ``batch.inputs.collect_items``, DICOM frames
    included) with its RL and RNFLD maps and those of ``methods``, decoded as a data-set run decodes
    them; a photo that cannot be read or analysed (any error but an interrupt) is an entry with its
    error and the others go on. ``progress(number, total, entry)`` after each."""
    from fundus_viewer.core.batch.inputs import collect_items
    from fundus_viewer.core.batch.loader import PhotoDataset
    from fundus_viewer.core.cup_disc import measure_cup_disc
    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.visualization.maps import build_maps
    from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS

    # the pathology-aware pair always: it is the report's subject, and its pass gives P and the OOD score
    methods = ("pathology", *(m for m in methods if m != "pathology"))
    items = collect_items(sources)
    photos = PhotoDataset(list(enumerate(items)), keep_photo=True)
    entries = []
    for number in range(len(photos)):
        prepared = photos[number]
        try:
            if prepared.error:
                raise FundusViewerError(prepared.error)
            result = build_maps(visualizer, prepared.photo, methods, thresholds or DEFAULT_THRESHOLDS)
            measured = measure_cup_disc(segmenter, prepared.photo) if segmenter is not None else None
            entry = photo_entry(result, visualizer.model, measured, colormap, size=size)
            if not prepared.item.dicom:  # a DICOM photo keeps its UID (its file name may name the patient)
                entry.name = _item_name(prepared.item)
        except Exception as exc:  # cv2.error, RuntimeError...: the photo's row says why; the others go on
            said = str(exc) if isinstance(exc, FundusViewerError) else f"{_error_type(exc)}: {exc}"
            entry = PhotoEntry(_item_name(prepared.item), error=said)
        entries.append(entry)
        if progress is not None:
            progress(number + 1, len(photos), entry)
    return entries


def _error_type(exc: Exception) -> str:
    """ "RuntimeError", "cv2.error" (whose bare name says nothing)."""
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _item_name(item) -> str:
    """A photo given by itself: its file name; one of a folder: its path below the folder (names repeat
    across sub-folders); a DICOM photo: its SOP Instance UID."""
    name = Path(item.path).name
    # collect_items keys a photo given by itself by its path, or (among several sources) by "NAME/NAME"
    return name if item.key in (item.path, f"{name}/{name}") else item.key


def _ood(row: dict) -> str:
    if "ood_flag" not in row:
        return ""
    if row["ood_flag"]:
        return f"⚠ unlike the training photos (OOD {row['ood_score']:.3f} > {row['ood_threshold']:.3f})"
    return f"like the training photos (OOD {row['ood_score']:.3f} ≤ {row['ood_threshold']:.3f})"


def _vcdr(row: dict) -> str:
    if "vertical_cdr" not in row:
        return "not measured"
    value = row["vertical_cdr"]
    return "no optic disc found" if value is None or math.isnan(value) else f"{value:.2f}"


def render_report(entries: list[PhotoEntry], context: ReportContext, table: bool | None = None) -> str:
    """The report as HTML text. ``table``: the table of every photo first (default: for more than one)."""
    return "".join(report_chunks(entries, context, table))


def report_chunks(entries: list[PhotoEntry], context: ReportContext, table: bool | None = None) -> Iterator[str]:
    """The report's HTML in pieces as the template yields them (``render_report`` joined)."""
    from jinja2 import Environment

    from fundus_viewer.core.report_template import TEMPLATE

    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    sections = [
        {
            "anchor": f"photo-{number}",
            "entry": entry,
            "probability": f"{entry.row['probability_glaucoma']:.3f}" if "probability_glaucoma" in entry.row else "",
            "call": entry.row.get("prediction", ""),
            "flagged": bool(entry.row.get("ood_flag")),
            "ood": _ood(entry.row),
            "vcdr": _vcdr(entry.row),
        }
        for number, entry in enumerate(entries, start=1)
    ]
    return environment.from_string(TEMPLATE).generate(
        context=context,
        thresholds=asdict(context.thresholds),
        sections=sections,
        table=len(entries) > 1 if table is None else table,
    )


def write_report(
    path: str | Path, entries: list[PhotoEntry], context: ReportContext, table: bool | None = None
) -> Path:
    """The report written atomically: a full disk leaves the earlier file (or none), never half of one;
    piece by piece, so a folder's report is never one string in memory."""

    def write(stream) -> None:
        for chunk in report_chunks(entries, context, table):
            stream.write(chunk.encode("utf-8"))

    return atomic_write(path, write)
