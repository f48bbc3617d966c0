"""The pixel limit holds whatever decodes the photo (issue #19, item 8): a file Pillow cannot open
goes to OpenCV only once its header's size has passed the limit, so an 11000 x 11000 Radiance HDR
(7.7 MB; it cost 2.8 GB and 30 s here before it was refused) is refused from its header."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from bad_files.images import hdr_bomb, png_bomb

from fundus_viewer.core.errors import ImageTooLargeError, NotAnImageError
from fundus_viewer.core.images import header_size, load_image

PROBE = """
import json, resource, sys, time
from fundus_viewer.core.errors import ImageLoadError
from fundus_viewer.core.images import load_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    load_image(sys.argv[1])
    said = "loaded"
except ImageLoadError as exc:
    said = f"{type(exc).__name__}: {exc}"
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"said": said, "seconds": time.perf_counter() - start, "grown_mb": grown / 1024}))
"""


@pytest.mark.parametrize("name", ["bomb.hdr", "bomb.png"])
def test_an_hdr_bomb_is_refused_from_its_header(tmp_path, name):
    path = hdr_bomb(tmp_path / name)
    run = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True)
    result = json.loads(run.stdout)
    assert result["said"] == (
        f"ImageTooLargeError: {path}: is 11000 x 11000 pixels, more than the 100 MP this viewer accepts"
    )
    assert result["seconds"] < 0.5 and result["grown_mb"] < 100, result


def test_a_png_declaring_a_huge_size_is_refused(tmp_path):
    with pytest.raises(ImageTooLargeError, match="huge.png: is 11000 x 11000 pixels"):
        load_image(png_bomb(tmp_path / "huge.png"))


def test_formats_only_opencv_reads_still_load_within_the_limit(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    pam = tmp_path / "small.pam"
    cv2.imwrite(str(pam), rgb[..., ::-1])
    assert np.array_equal(load_image(pam).rgb, rgb)
    hdr = tmp_path / "small.hdr"
    cv2.imwrite(str(hdr), (rgb[..., ::-1] / 255.0).astype(np.float32))
    assert load_image(hdr).rgb.shape == (6, 9, 3)
    assert header_size(hdr.read_bytes()[:4096]) == (9, 6)


def test_a_file_whose_header_cannot_be_read_is_not_decoded(tmp_path):
    """Pillow cannot open it and its header gives no size: OpenCV never sees it."""
    odd = tmp_path / "odd.png"
    odd.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\nno resolution line\n")
    with pytest.raises(NotAnImageError, match="odd.png: not a readable image"):
        load_image(odd)
    assert header_size(b"P7\nWIDTH 5\nDEPTH 3\nENDHDR\n") is None
    assert header_size(b"P6\n# made by hand\n640 480\n255\n") == (640, 480)
    assert header_size(b"+X 12 -Y 7") is None  # the resolution line alone is no Radiance header


def test_the_corpus_bombs_are_small_on_disk(tmp_path):
    assert hdr_bomb(tmp_path / "b.hdr").stat().st_size < 8_000_000
    assert png_bomb(tmp_path / "b.png").stat().st_size < 200
    assert Path(tmp_path / "b.hdr").read_bytes().startswith(b"#?RADIANCE")


def test_a_decoy_resolution_line_before_the_header_ends_is_not_believed(tmp_path):
    """Radiance puts the resolution on the line after the blank one ending the header; a decoy
    "-Y 10 +X 10" line earlier passed the check and OpenCV decoded the real 11000 x 11000 (2.85 GB)."""
    real = hdr_bomb(tmp_path / "real.hdr").read_bytes()
    decoy = tmp_path / "decoy.hdr"
    decoy.write_bytes(real.replace(b"#?RADIANCE\n", b"#?RADIANCE\n-Y 10 +X 10\n", 1))
    assert header_size(decoy.read_bytes()[:4096]) == (11000, 11000)
    with pytest.raises(ImageTooLargeError, match="decoy.hdr: is 11000 x 11000 pixels"):
        load_image(decoy)
    assert header_size(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n-Y 10 +X 10\n\nrest") is None
    assert header_size(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 10 +X 10 junk\n") is None
    # PAM: OpenCV refuses a field given twice, so must we (else the last one would be believed)
    assert header_size(b"P7\nWIDTH 2\nHEIGHT 2\nWIDTH 11000\nDEPTH 3\nENDHDR\n") is None


def test_a_float_rgb_tiff_loads(tmp_path):
    """Pillow cannot identify a 32-bit float RGB TIFF; OpenCV decodes it once its IFD gives the size."""
    rgb = np.random.default_rng(0).random((5, 7, 3), dtype=np.float32)
    path = tmp_path / "float.tif"
    cv2.imwrite(str(path), rgb[..., ::-1])
    assert load_image(path).rgb.shape == (5, 7, 3)
    tifffile = pytest.importorskip("tifffile")  # writes the byte order and BigTIFF cv2.imwrite does not
    for options in ({"byteorder": ">"}, {"bigtiff": True}):
        other = tmp_path / "other.tif"
        tifffile.imwrite(other, rgb, photometric="rgb", **options)
        assert load_image(other).rgb.shape == (5, 7, 3), options
