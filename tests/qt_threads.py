"""The fixture that fails a test leaving a QThread running (napari's ``_dangling_qthreads``): every
``QThread.start`` during the test is recorded, so the app keeps no list of its threads for the tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_dangling_threads(qapp, monkeypatch):
    import shiboken6
    from PySide6.QtCore import QThread

    started: list[QThread] = []
    real_start = QThread.start

    def start(thread: QThread, *args) -> None:
        started.append(thread)
        real_start(thread, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    qapp.processEvents()
    running = [t for t in started if shiboken6.isValid(t) and t.isRunning()]
    for thread in running:  # stop them, so one leak does not break the tests after it
        thread.quit()
        thread.wait(5000)
    assert not running, f"QThreads left running: {[t.objectName() or repr(t) for t in running]}"
