"""Photos that must be refused before any decoder spends memory on them, against the commands that take
a photo path. Each is small on disk; the bombs declare 11000 x 11000 pixels (121 MP, past the 100 MP
limit): a Radiance HDR that Pillow cannot open and OpenCV would decode into 1.4 GB of float32 (3.5 GB
and 19 s before it was refused), also renamed .png, and a PNG whose header alone says so."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from bad_files import BadFile

BOMB_SIDE = 11000


def hdr_bomb(path: Path, side: int = BOMB_SIDE) -> Path:
    """A valid run-length-encoded Radiance HDR of side x side black pixels (about 700 bytes a row)."""
    header = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (side, side)
    runs, left = b"", side
    while left:
        count = min(127, left)
        runs += bytes([128 + count, 128])  # a run of `count` bytes of value 128
        left -= count
    row = bytes([2, 2, side >> 8, side & 255]) + runs * 4  # four components, each one run-length row
    path.write_bytes(header + row * side)
    return path


def png_bomb(path: Path, side: int = BOMB_SIDE) -> Path:
    """A PNG whose IHDR says side x side RGB, with one tiny IDAT (the header is all a check may read)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))
    return path


def _truncated_jpeg(path: Path) -> Path:
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    ok, encoded = cv2.imencode(".jpg", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path.write_bytes(encoded.tobytes()[: len(encoded) // 2])
    return path


def _dicom_without_pixels(path: Path) -> Path:
    import numpy as np
    from dicom_files import write_dicom

    return write_dicom(path, np.zeros((8, 8, 3), np.uint8), pixel_data=False)


def _commands() -> tuple[tuple[str, ...], ...]:
    # classify and heatmap say the photo's error, then their summary line
    return (
        ("fundus-viewer", "segment-vessels", "--device", "cpu", "--out", "{tmp}/out", "{file}"),
        ("fundus-viewer", "classify", "--no-cup-disc", "--device", "cpu", "{file}"),
        ("fundus-viewer", "heatmap", "--device", "cpu", "--out", "{tmp}/out", "{file}"),
    )


def _case(case_id: str, make, says: str = "") -> BadFile:
    return BadFile(case_id, make, _commands(), says)


CASES: list[BadFile] = [
    _case("hdr-bomb", lambda folder: hdr_bomb(folder / "bomb.hdr"), "11000 x 11000"),
    _case("hdr-bomb-renamed-png", lambda folder: hdr_bomb(folder / "bomb.png"), "11000 x 11000"),
    _case("png-bomb", lambda folder: png_bomb(folder / "huge.png"), "11000 x 11000"),
    _case("truncated-jpeg", lambda folder: _truncated_jpeg(folder / "cut.jpg"), "truncated"),
    _case("empty-file", lambda folder: _write(folder / "empty.jpg", b""), "empty"),
    _case("text-named-jpg", lambda folder: _write(folder / "notes.jpg", b"these are my notes\n" * 20), "not"),
    _case("dicom-without-pixels", lambda folder: _dicom_without_pixels(folder / "no-pixels.dcm"), "pixel"),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
