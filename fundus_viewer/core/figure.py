"""A figure for a paper or a record: the photo at its own pixel size with its heat map(s), and a caption
that says how it was made.

The image part is the photo as ``core.overlay`` blends it (the pixels of ``heatmap``'s PNG overlays),
with the cup/disc outlines and ground-truth boxes where given, and the photo shown as the window shows
it (red-free, brightness: ``core.display_adjust``) where asked; several maps (RL and RNFLD side by
side) stand next to each other. Beneath comes a caption strip (file name, P(glaucoma) and the call, vCDR, the
map, its thresholds, the model and its checksum, the app's version, the date) beside a colour bar; the
call is the one the caller decided (``batch.tasks.call_row``, as the window and ``classify`` say it),
never recomputed from the rounded P shown; its font scales with the figure's width, so it reads the
same at any page width. The caption is also written into the PNG's text chunks: the file says how
it was made even where the strip is cropped off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from fundus_viewer import __version__
from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.display_adjust import DisplaySettings
from fundus_viewer.core.display_adjust import apply as apply_display
from fundus_viewer.core.drawing_colours import BOX_COLOURS, COLOUR_NAMES, OUTLINE_COLOURS, OUTLINE_NAMES, rgb
from fundus_viewer.core.methods import map_title, no_evidence
from fundus_viewer.core.overlay import colorize, overlay

if TYPE_CHECKING:
    from fundus_viewer.core.visualization.maps import PhotoMaps

BoxItem = tuple[str, tuple[float, float, float, float]]  # label, (x, y, w, h) in photo pixels
SEPARATOR = " · "
_INK, _PAPER = (20, 20, 20), (255, 255, 255)


@dataclass(frozen=True)
class Figure:
    pixels: np.ndarray  # H x W x 3 uint8: the photo part at the photo's own size, the caption beneath
    caption: list[str]  # the caption's lines, as drawn and as written into the PNG
    top: int = 0  # rows above the photo part (the maps' titles)


def call_facts(model, maps: PhotoMaps) -> dict:
    """``call`` and ``call_threshold`` for ``make_figure``: the call ``classify``, the report and the
    window make (``call_row``: ``model.calls_glaucoma`` on the unrounded P); none without a P."""
    from fundus_viewer.core.batch.tasks import call_row

    probability = maps.analysis.probability if maps.analysis is not None else maps.probability
    if probability is None:
        return {}
    return {"call": call_row(model, probability)["prediction"], "call_threshold": model.calibration.threshold}


def caption_lines(
    maps: PhotoMaps,
    names: Sequence[str],
    colormap: str,
    opacity: float,
    call: str | None = None,
    call_threshold: float | None = None,
    vcdr: float | None = None,
    boxes: Sequence[BoxItem] = (),
    outlines: Sequence[str] = (),
    model_sha256: str | None = None,
    display: DisplaySettings | None = None,
    when: datetime | None = None,
) -> list[str]:
    """Three lines: the photo and its result; the map(s) and how they were drawn; the model and the app.
    ``call``: the model's call ("glaucoma", "normal") as the caller decided it; ``outlines``: the names
    ("disc", "cup") of the outlines drawn."""
    from fundus_viewer.core.visualization.maps import checkpoint_sha256, photo_label, recorded_probability

    photo = maps.photo
    result = [photo_label(photo), f"{photo.width} × {photo.height} px"]
    probability = recorded_probability(maps)
    if probability is not None:
        said = f"P(glaucoma) {probability:.3f}"
        if call:
            said += f" → {call}" + (f" (call at P ≥ {call_threshold:.2f})" if call_threshold is not None else "")
        result.append(said)
    if vcdr is not None:
        result.append("no optic disc found" if np.isnan(vcdr) else f"vCDR {vcdr:.2f}")

    drawn = []
    if not names:
        drawn.append("no map")
    elif len(names) == 1:
        drawn.append(f"Map: {map_title(names[0])}")
    else:
        sides = ("left", "right") if len(names) == 2 else tuple(str(i) for i in range(1, len(names) + 1))
        drawn.append("Maps: " + ", ".join(f"{side} {map_title(n)}" for side, n in zip(sides, names, strict=False)))
    for name in names:  # an all-zero map is the bare photo: say so, or it reads as "nothing wrong here"
        if maps.maps[name].peak <= 0:
            drawn.append(f"{map_title(name)}: {no_evidence(name)}" if len(names) > 1 else no_evidence(name))
    if any(n.startswith("pathology-") for n in names):
        t = maps.thresholds
        drawn += [f"θ act {t.theta_act:.2f}", f"θ CMI {t.cmi_low:.2f}–{t.cmi_high:.2f}"]
        drawn.append(f"CMI scaled by {t.normalization}")
    elif names:
        drawn.append("thresholds do not apply to a baseline")
    if names:
        drawn.append(f"{colormap} at opacity {opacity:.2f}, each map scaled to its peak")
    if display is not None and not display.identity:
        drawn.append(_display_words(display))
    if outlines:
        each = [f"{OUTLINE_NAMES[n]} ({COLOUR_NAMES[OUTLINE_COLOURS[n]]})" for n in OUTLINE_COLOURS if n in outlines]
        drawn.append(" and ".join(each) + (" outlines" if len(each) > 1 else " outline"))
    if boxes:
        counts = {label: sum(1 for b in boxes if b[0] == label) for label in BOX_COLOURS}
        drawn.append("boxes: " + ", ".join(f"{n} {label}" for label, n in counts.items() if n))

    model = maps.model
    made = []
    if model:
        digest = model_sha256 or checkpoint_sha256(model.get("checkpoint"))
        name = Path(model["checkpoint"]).name if model.get("checkpoint") else "model"
        made.append(f"Model {name} ({model.get('arch')}, {model.get('input_size')} px)")
        if digest:
            made.append(f"sha256 {digest[:12]}")
    when = when or datetime.now(UTC)
    made += [f"Fundus Viewer {__version__}", when.strftime("%Y-%m-%d %H:%M UTC")]
    return [SEPARATOR.join(part) for part in (result, drawn, made)]


def make_figure(
    maps: PhotoMaps,
    names: Sequence[str] = (),
    colormap: str = "inferno",
    opacity: float = 0.6,
    call: str | None = None,
    call_threshold: float | None = None,
    vcdr: float | None = None,
    outlines: dict | None = None,
    boxes: Iterable[BoxItem] = (),
    model_sha256: str | None = None,
    display: DisplaySettings | None = None,
) -> Figure:
    """The figure of ``names`` (map names of ``maps``; none: the bare photo) with ``outlines`` ("disc" /
    "cup": closed (N, 2) x, y polygons) and ``boxes`` drawn on each panel; ``display``: the photo as
    the window shows it (red-free, brightness...), said in the caption; the maps are the photo's own.
    ``call``: the model's call, decided by the caller (``call_row(...)["prediction"]``), with the
    ``call_threshold`` it was made at."""
    names, boxes = [n for n in names if n in maps.maps], list(boxes)
    photo = maps.photo
    width, height = photo.width, photo.height
    panels = max(1, len(names))
    gap = max(4, width // 100) if panels > 1 else 0
    total = panels * width + (panels - 1) * gap
    size = max(12, round(total / 90))  # about a 10 pt caption on a page-wide figure
    drawn = [n for n, points in (outlines or {}).items() if _drawable(n, points)]
    caption = caption_lines(
        maps, names, colormap, opacity, call, call_threshold, vcdr, boxes, drawn, model_sha256, display
    )
    shown = photo.rgb if display is None else apply_display(photo.rgb, display)

    header = _header([map_title(n) for n in names], width, gap, total, size) if names else None
    strip = _caption_strip(caption, total, size, colormap if names else None)
    top = 0 if header is None else header.shape[0]
    canvas = np.full((top + height + strip.shape[0], total, 3), 255, np.uint8)
    if header is not None:
        canvas[:top] = header
    line = max(2, round(width / 700))
    for index in range(panels):
        if names:
            name = names[index]
            heat = maps.full(name)  # 48 MB on a 12 MP photo: one at a time
            panel = overlay(shown, heat, colormap, opacity, extent=maps.maps[name].extent)
            del heat
        else:
            panel = np.array(shown, copy=True)
        _draw_marks(panel, outlines, boxes, line)
        x = index * (width + gap)
        canvas[top : top + height, x : x + width] = panel
        del panel
    canvas[top + height :] = strip
    return Figure(canvas, caption, top)


def write_figure(figure: Figure, path: str | Path) -> Path:
    """The figure as PNG, atomically, its caption in the text chunks (``Description``: every line;
    PNG keeps text that is not Latin-1, such as θ, in its UTF-8 chunk, iTXt)."""
    info = PngInfo()
    title, *_ = figure.caption
    info.add_text("Title", title.split(SEPARATOR)[0])
    info.add_text("Description", "\n".join(figure.caption))
    info.add_text("Software", f"Fundus Viewer {__version__}")
    info.add_text("Creation Time", datetime.now(UTC).isoformat(timespec="seconds"))
    image = Image.fromarray(figure.pixels)
    # zlib level 1: a 12 MP figure in about a second; the default level takes several for a few % less
    return atomic_write(path, lambda stream: image.save(stream, "PNG", pnginfo=info, compress_level=1))


def write_figures(
    maps: PhotoMaps, folder: str | Path, colormap: str = "inferno", stem: str | None = None, **facts
) -> list[Path]:
    """``STEM.NAME.figure.png`` for each of the photo's maps (``heatmap --figure``); ``facts``: what
    ``make_figure`` takes besides the maps (call, call_threshold, opacity, ...)."""
    folder, stem = Path(folder), stem or Path(maps.photo.name).stem
    return [
        write_figure(make_figure(maps, [name], colormap, **facts), folder / f"{stem}.{name}.figure.png")
        for name in maps.maps
    ]


def _display_words(display: DisplaySettings) -> str:
    words = []
    if display.red_free:
        words.append("red-free (green channel" + (", CLAHE)" if display.clahe else ")"))
    if not display.tone_identity:
        words.append(
            f"brightness {display.brightness:+.2f}, contrast {display.contrast:.2f}, gamma {display.gamma:.2f}"
        )
    return "photo shown " + ", ".join(words)


def _draw_marks(panel: np.ndarray, outlines: dict | None, boxes: list[BoxItem], line: int) -> None:
    """Outlines and boxes onto one panel, in place, in the window's colours."""
    for name, points in (outlines or {}).items():
        if _drawable(name, points):
            polygon = np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(panel, [polygon], True, rgb(OUTLINE_COLOURS[name]), line, cv2.LINE_AA)
    for label, (x, y, w, h) in boxes:
        # photo pixel x spans [x, x + 1): the box's last column is x + w - 1
        corner0 = (round(x), round(y))
        corner1 = (max(round(x), round(x + w) - 1), max(round(y), round(y + h) - 1))
        cv2.rectangle(panel, corner0, corner1, rgb(BOX_COLOURS.get(label, "#ffffff")), line, cv2.LINE_AA)


def _drawable(name: str, points) -> bool:
    return points is not None and len(points) > 0 and name in OUTLINE_COLOURS


def _header(titles: list[str], width: int, gap: int, total: int, size: int) -> np.ndarray:
    """Each panel's map title, centred above it."""
    font = _font(size)
    image = Image.new("RGB", (total, round(size * 1.7)), _PAPER)
    draw = ImageDraw.Draw(image)
    for index, title in enumerate(titles):
        centre = index * (width + gap) + width / 2
        draw.text((centre, image.height / 2), title, font=font, fill=_INK, anchor="mm")
    return np.asarray(image)


def _caption_strip(lines: list[str], total: int, size: int, colormap: str | None) -> np.ndarray:
    """The caption's lines, wrapped at their separators, and (with a map) the colour bar on the right."""
    font, small = _font(size), _font(max(10, round(size * 0.8)))
    margin = size
    bar_width = max(12 * size, total // 5) if colormap else 0
    text_width = total - 2 * margin - (bar_width + margin if colormap else 0)
    wrapped = [row for line in lines for row in _wrap(line, font, text_width)]
    step = round(size * 1.4)
    bar_height = 3 * step + size if colormap else 0
    image = Image.new("RGB", (total, 2 * margin + max(len(wrapped) * step, bar_height)), _PAPER)
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(wrapped):
        draw.text((margin, margin + row * step), text, font=font, fill=_INK)
    if colormap:
        x0, y0 = total - margin - bar_width, margin
        draw.text((x0, y0), "heat (1 = the map's peak)", font=small, fill=_INK)
        y0 += step
        colours = colorize(np.linspace(0, 1, bar_width, dtype=np.float32)[None, :], colormap)
        image.paste(Image.fromarray(np.repeat(colours, size, axis=0)), (x0, y0))
        draw.rectangle((x0, y0, x0 + bar_width - 1, y0 + size - 1), outline=_INK, width=max(1, size // 16))
        for value, anchor in ((0.0, "la"), (0.5, "ma"), (1.0, "ra")):
            x = x0 + value * (bar_width - 1)
            draw.line((x, y0 + size, x, y0 + size + size // 3), fill=_INK, width=max(1, size // 16))
            draw.text((x, y0 + size + size // 3), f"{value:g}", font=small, fill=_INK, anchor=anchor)
    return np.asarray(image)


def _wrap(line: str, font, width: int) -> list[str]:
    """One caption line as rows no wider than ``width``, broken at its separators."""
    rows: list[str] = []
    for part in line.split(SEPARATOR):
        if rows and font.getlength(rows[-1] + SEPARATOR + part) <= width:
            rows[-1] += SEPARATOR + part
        else:
            rows.append(part)
    return rows


@lru_cache(maxsize=8)
def _font(size: int):
    """DejaVu Sans (θ, ×, → included), from the system's fonts or matplotlib's; Pillow's own otherwise."""
    import importlib.util

    candidates = ["DejaVuSans.ttf"]  # Pillow looks in the system's font folders
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        candidates.append(str(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"))
    for candidate in candidates:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size)
