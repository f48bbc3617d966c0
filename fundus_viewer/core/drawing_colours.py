"""Colours of what is drawn over a photo: the heat maps' colour maps, and the box labels and cup/disc
outlines, chosen apart from those heat colours. The window, the CLI and the exported figure share
them, so a figure's boxes look as they did on screen and every place offers the same colour maps."""

from __future__ import annotations

HEAT_COLORMAPS = ("inferno", "viridis", "cividis")  # perceptually uniform only; the first is the default
BOX_COLOURS = {"RL": "#00e5ff", "RNFLD": "#9dff00"}
OUTLINE_COLOURS = {"disc": "#ffffff", "cup": "#00e5ff"}
OUTLINE_NAMES = {"disc": "optic disc", "cup": "cup"}  # what a caption calls each outline
# what a caption calls each colour above, so the words cannot drift from the pixels
COLOUR_NAMES = {"#ffffff": "white", "#00e5ff": "cyan", "#9dff00": "lime"}


def rgb(colour: str) -> tuple[int, int, int]:
    """ "#rrggbb" -> (r, g, b)."""
    value = int(colour.removeprefix("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255
