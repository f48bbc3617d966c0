"""One way to find bundled files (models, samples) from a source tree, an installed wheel or a frozen app."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve()


def resources_dir() -> Path:
    """The folder that holds ``models/`` and ``samples/``.

    Source checkout: the top-level ``resources/``. Installed wheel: the package
    ``fundus_viewer.resources`` (pyproject maps the top-level folder there). Frozen (PyInstaller):
    ``fundus_viewer/resources`` under the bundle root.
    """
    candidates = []
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        candidates.append(Path(sys._MEIPASS) / "fundus_viewer" / "resources")
    candidates.append(_HERE.parents[1] / "resources")  # installed: fundus_viewer/resources
    candidates.append(_HERE.parents[2] / "resources")  # source tree: <repo>/resources
    for candidate in candidates:
        if (candidate / "models").is_dir() or (candidate / "samples").is_dir():
            return candidate
    return candidates[-1]


def models_dir() -> Path:
    return resources_dir() / "models"


def samples_dir() -> Path:
    return resources_dir() / "samples"


def default_classifier_path() -> Path:
    return models_dir() / "classifier.safetensors"
