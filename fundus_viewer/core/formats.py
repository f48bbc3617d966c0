"""Which files are photos: cheap to import (no image library), so the window can list a folder before
OpenCV and Pillow have loaded."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")


def list_images(folder: str | Path) -> list[Path]:
    """The photos of a folder (not recursive), sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
