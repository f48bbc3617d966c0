"""Screenshots of Patho-GAN ▸ Train a generator… while a real short run goes: during the vessel
segmentation before step 1, and mid-training (#20 item 9). The bundled sample photos are the data.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_gan_train_progress_screen.py OUT_DIR
        # OUT_DIR/segmenting.png, OUT_DIR/training.png, OUT_DIR/stopped.png
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(out: str) -> None:
    from PySide6.QtWidgets import QApplication

    from fundus_viewer.gui.gan_train_panel import GanTrainPanel

    app = QApplication.instance() or QApplication([])
    folder = Path(out)
    shutil.rmtree(folder / "run", ignore_errors=True)
    data = folder / "data"
    for label, names in (("glaucoma", ["HRF_01_g.jpg"]), ("normal", ["HRF_01_h.jpg", "CHASE_DB1_Image_05L.jpg"])):
        (data / label).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(ROOT / "resources" / "samples" / name, data / label / name)
    panel = GanTrainPanel()
    panel.resize(1000, 900)
    panel.data.setText(str(data))
    panel.out.setText(str(folder / "run"))
    panel.steps.setValue(400)
    panel.extra.setText("--label all --size 64 --gen-base 8 --sample-every 5 --checkpoint-every 10 --workers 0")
    panel.show()

    def wait(condition, seconds: float = 600.0) -> None:
        end = time.perf_counter() + seconds
        while not condition():
            app.processEvents()
            time.sleep(0.01)
            if time.perf_counter() > end:
                raise TimeoutError(panel.progress.phase.text())

    def shot(name: str) -> None:
        for _ in range(30):
            app.processEvents()
            time.sleep(0.02)
        panel.grab().save(str(folder / name))
        print(f"{name}: {panel.progress.phase.text()}")

    panel.start()
    wait(lambda: panel.progress.phase.text().startswith("Segmenting vessels 1/"))
    shot("segmenting.png")
    wait(lambda: (panel.progress.step or 0) >= 36)
    panel.refresh()
    shot("training.png")
    panel.stop()
    wait(lambda: panel.start_button.isEnabled())
    shot("stopped.png")


if __name__ == "__main__":
    main(sys.argv[1])
