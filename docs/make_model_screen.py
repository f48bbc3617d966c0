"""Screenshots of File > Open model…: the window after an imported DenseNet-121 (seeded random weights,
so its maps mean nothing) replaced the bundled classifier, and that model's Help > Model card.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_model_screen.py PHOTO OUT_PREFIX

Writes OUT_PREFIX-window.png and OUT_PREFIX-card.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(photo: str, prefix: str) -> None:
    import torch
    import torchvision
    from screen_window import ScreenWindow  # beside this script

    from fundus_viewer.core.models.importing import import_classifier

    screen = ScreenWindow()
    window = screen.window
    screen.open_photo(photo)
    folder = Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    torch.save(
        torchvision.models.get_model("densenet121", weights=None, num_classes=2).state_dict(),
        folder / "densenet121_clinic.pth",
    )
    notes = folder / "notes.md"
    notes.write_text("Seeded random weights, for this screenshot only: the maps mean nothing.", encoding="utf-8")
    imported = import_classifier(
        folder / "densenet121_clinic.pth",
        "torchvision:densenet121",
        folder / "clinic-densenet121.safetensors",
        notes=notes.read_text(encoding="utf-8"),
    )
    shown = []
    window.analysis_shown.connect(shown.append)
    window.open_model(imported.path)  # what File > Open model… does with the chosen file
    screen.wait(lambda: bool(shown) and window.model_loaded.path == str(imported.path))
    screen.settle()
    window.grab().save(f"{prefix}-window.png")
    window.show_model_card()
    screen.settle()
    window._model_card.grab().save(f"{prefix}-card.png")
    window.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
