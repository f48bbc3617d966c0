"""The numbers stay (#20 item 7): P, the call, the vCDR and the OOD flag are remembered per photo file and
model in the user's cache, shown in the folder list, and back after a restart without analysing again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from main_windows import make_window
from PySide6.QtCore import Qt

from fundus_viewer.core.results_cache import Result, ResultsCache
from tests.test_review import folder, open_and_wait  # noqa: F401 - the review window's fixtures

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def test_a_result_counts_for_the_same_file_and_model_only(tmp_path):
    photo = tmp_path / "eye.png"
    photo.write_bytes(b"not really a photo, but a file with a size and a time")
    cache = ResultsCache(tmp_path / "cache" / "results.sqlite")
    said = Result(0.73, True, 0.61, False)
    assert cache.remember(photo, "model-a", said)
    assert cache.recall([photo], "model-a") == {photo: said}
    assert cache.recall([photo], "model-b") == {}  # another model's numbers are not this one's
    cache.close()
    with ResultsCache(tmp_path / "cache" / "results.sqlite") as again:  # a restart
        assert again.recall([photo, tmp_path / "gone.png"], "model-a") == {photo: said}
        stat = photo.stat()
        os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the photo changed since
        assert again.recall([photo], "model-a") == {}
        assert again.remember(photo, "model-a", Result(0.2, False))  # replaced, vCDR not measured
        assert again.recall([photo], "model-a") == {photo: Result(0.2, False, None, None)}


def test_no_cache_is_no_remembering_not_an_error(tmp_path):
    (tmp_path / "results.sqlite").mkdir()  # where the file should be, a folder
    assert ResultsCache.open(tmp_path / "results.sqlite") is None
    (tmp_path / "other.sqlite").write_bytes(b"x" * 4096)  # not SQLite
    assert ResultsCache.open(tmp_path / "other.sqlite") is None


def _row_text(window, name: str) -> str:
    for row in range(window.photos.count()):
        item = window.photos.item(row)
        if item.data(Qt.ItemDataRole.UserRole).endswith(name):
            return item.text()
    raise AssertionError(f"{name} not listed")


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
def test_the_list_shows_the_numbers_and_remembers_them_after_a_restart(qtbot, tiny_checkpoint, folder):  # noqa: F811
    shutil.copy(SAMPLES / "HRF_01_g.jpg", folder / "a-eye.jpg")  # a real photo: its disc is found
    (folder / "a-eye.png").unlink()
    window = make_window(qtbot, tiny_checkpoint)
    with qtbot.waitSignal(window.cup_disc_shown, timeout=60000):
        open_and_wait(qtbot, window, folder / "a-eye.jpg")
    p, vcdr = window.analysis.probability, window.cup_disc.vcdr
    assert 0 < vcdr < 1
    shown = _row_text(window, "a-eye.jpg")
    assert f"P {p:.2f}" in shown and f"vCDR {vcdr:.2f}" in shown
    assert "P " not in _row_text(window, "b-eye.png")
    window.close()

    again = make_window(qtbot, tiny_checkpoint)  # a restart: a new window, the same cache
    with qtbot.waitSignal(again.analysis_shown, timeout=30000) as shown_photo:
        assert again.open_photo(folder / "b-eye.png")
    assert shown_photo.args == ["b-eye.png"]
    # a-eye was not analysed in this window, and its numbers are back
    assert f"P {p:.2f} · vCDR {vcdr:.2f}" in _row_text(again, "a-eye.jpg")
    again.close()
