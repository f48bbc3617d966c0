"""The user's preferences as QSettings keeps them: every key in one place, read and written typed.

A new window starts with these (the threshold panel, the annotator, the device); File ▸ Preferences…
changes them. The paper's thresholds stay what "Reset to the paper's thresholds" gives back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings

from fundus_viewer.core.drawing_colours import HEAT_COLORMAPS

if TYPE_CHECKING:
    from fundus_viewer.core.visualization.selection import Thresholds

ANNOTATOR = "annotate/annotator"  # the name recorded with every box; "" until asked
FORMER_NAMES = "annotate/former_names"  # the user's earlier names, offered for taking over their boxes
COLORMAP = "view/colormap"  # the heat maps' colour map (the panel also keeps the last one chosen here)
THETA_ACT = "thresholds/theta_act"
CMI_LOW = "thresholds/cmi_low"
CMI_HIGH = "thresholds/cmi_high"
CMI_SCALE = "thresholds/cmi_normalization"
DEVICE = "model/device"  # auto, cpu or cuda: where the classifier runs, from the next start

COLORMAPS = HEAT_COLORMAPS
DEVICES = ("auto", "cpu", "cuda")


def colormap() -> str:
    name = QSettings().value(COLORMAP, "inferno", type=str)
    return name if name in COLORMAPS else "inferno"


def _threshold(settings: QSettings, key: str, paper: float) -> float:
    """One stored threshold, as the panel shows it; the paper's where it is missing or not a number.

    Not ``type=float``: that gives 0.0 for text that is no number (θ act 0, silently) and, read back from
    the INI file after a restart, a float32 (0.1 came back as 0.10000000149)."""
    from fundus_viewer.gui.controls import DECIMALS

    try:
        return round(float(settings.value(key, paper)), DECIMALS)
    except (TypeError, ValueError):
        return paper


def thresholds() -> Thresholds:
    """The user's default thresholds; the paper's where none were set (or what is stored is not valid)."""
    from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS as paper
    from fundus_viewer.core.visualization.selection import Thresholds

    settings = QSettings()
    try:
        return Thresholds(
            _threshold(settings, THETA_ACT, paper.theta_act),
            _threshold(settings, CMI_LOW, paper.cmi_low),
            _threshold(settings, CMI_HIGH, paper.cmi_high),
            str(settings.value(CMI_SCALE, paper.normalization)),
        )
    except ValueError:  # out of range, or low above high: the paper's, not a window that fails to open
        return paper


def save_thresholds(chosen: Thresholds) -> None:
    settings = QSettings()
    settings.setValue(THETA_ACT, chosen.theta_act)
    settings.setValue(CMI_LOW, chosen.cmi_low)
    settings.setValue(CMI_HIGH, chosen.cmi_high)
    settings.setValue(CMI_SCALE, chosen.normalization)


def device() -> str:
    choice = QSettings().value(DEVICE, "auto", type=str)
    return choice if choice in DEVICES else "auto"
