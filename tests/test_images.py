"""Every supported format loads as upright 8-bit RGB; every bad file gets its own error."""

import cv2
import numpy as np
import pytest
from PIL import Image

from fundus_viewer.core import images
from fundus_viewer.core.errors import (
    BlankImageError,
    EmptyImageFileError,
    ImageLoadError,
    ImageNotFoundError,
    ImageTooLargeError,
    NotAnImageError,
    TruncatedImageError,
)
from fundus_viewer.core.images import as_fundus_image, load_image


@pytest.fixture
def picture():
    rng = np.random.default_rng(0)
    return (rng.random((30, 40, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
def test_lossless_8bit_rgb_is_exact(tmp_path, picture, suffix):
    path = tmp_path / f"a{suffix}"
    Image.fromarray(picture).save(path)
    loaded = load_image(path)
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (30, 40, 3)
    assert np.array_equal(loaded.rgb, picture)


def test_jpeg_loads_close(tmp_path):
    yy, xx = np.mgrid[0:30, 0:40]
    smooth = np.dstack([xx * 6, yy * 8, np.full_like(xx, 90)]).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "a.jpg", quality=95, subsampling=0)
    assert np.abs(load_image(tmp_path / "a.jpg").rgb.astype(int) - smooth).mean() < 3


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_rgb_and_grey(tmp_path, suffix):
    rng = np.random.default_rng(1)
    rgb16 = (rng.random((20, 30, 3)) * 65535).astype(np.uint16)
    grey16 = (rng.random((20, 30)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / f"rgb{suffix}"), rgb16[..., ::-1])  # OpenCV writes BGR
    cv2.imwrite(str(tmp_path / f"grey{suffix}"), grey16)
    rgb = load_image(tmp_path / f"rgb{suffix}").rgb
    assert rgb.dtype == np.uint8 and np.abs(rgb.astype(float) - rgb16 / 257).max() <= 1.0
    grey = load_image(tmp_path / f"grey{suffix}").rgb
    assert grey.shape == (20, 30, 3) and np.abs(grey[..., 1].astype(float) - grey16 / 257).max() <= 1.0
    assert (grey[..., 0] == grey[..., 2]).all()


def test_grey_8bit_and_rgba_over_black(tmp_path, picture):
    Image.fromarray(picture[..., 0]).save(tmp_path / "g.png")
    assert np.array_equal(load_image(tmp_path / "g.png").rgb[..., 2], picture[..., 0])
    alpha = np.full((30, 40), 255, np.uint8)
    alpha[:, :20] = 0  # left half transparent: no data there
    Image.fromarray(np.dstack([picture, alpha])).save(tmp_path / "rgba.png")
    loaded = load_image(tmp_path / "rgba.png").rgb
    assert loaded[:, :20].max() == 0 and np.array_equal(loaded[:, 20:], picture[:, 20:])


def test_exif_orientation_is_applied(tmp_path):
    picture = np.zeros((20, 40, 3), np.uint8)
    picture[:, :20] = 255  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    Image.fromarray(picture).save(tmp_path / "rot.jpg", exif=exif, quality=100)
    upright = load_image(tmp_path / "rot.jpg").rgb
    assert upright.shape == (40, 20, 3)
    assert upright[:20].mean() > 200 and upright[20:].mean() < 50  # white now on top


def test_missing_empty_folder_text(tmp_path):
    with pytest.raises(ImageNotFoundError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(EmptyImageFileError, match="empty"):
        load_image(tmp_path / "empty.jpg")
    with pytest.raises(NotAnImageError, match="folder"):
        load_image(tmp_path)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(NotAnImageError, match="not a readable image"):
        load_image(tmp_path / "notes.png")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_files(tmp_path, picture, suffix):
    Image.fromarray(picture).save(tmp_path / f"full{suffix}")
    data = (tmp_path / f"full{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedImageError, match="truncated"):
        load_image(tmp_path / f"cut{suffix}")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # 12000 x 10000 one-bit PNG: a few kB on disk, 120 MP (360 MB as RGB) when decoded
    Image.new("1", (12000, 10000)).save(tmp_path / "bomb.png")
    assert (tmp_path / "bomb.png").stat().st_size < 100_000
    with pytest.raises(ImageTooLargeError, match="12000 x 10000"):
        load_image(tmp_path / "bomb.png")


def test_blank_photos(tmp_path):
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(tmp_path / "black.png")
    Image.fromarray(np.full((50, 50, 3), 200, np.uint8)).save(tmp_path / "grey.png")
    for name in ("black.png", "grey.png"):
        with pytest.raises(BlankImageError, match="blank"):
            load_image(tmp_path / name)


def test_every_error_names_the_file_and_is_an_image_load_error(tmp_path):
    (tmp_path / "x.bmp").write_bytes(b"BM" + b"\0" * 10)
    with pytest.raises(ImageLoadError) as info:
        load_image(tmp_path / "x.bmp")
    assert "x.bmp" in str(info.value)


def test_arrays_are_accepted(picture):
    assert as_fundus_image(picture).rgb is not None
    floats = as_fundus_image(picture.astype(np.float32) / 255)
    assert np.abs(floats.rgb.astype(int) - picture).max() <= 1


def test_list_images(tmp_path, picture):
    for name in ("b.JPG", "a.png", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in images.list_images(tmp_path)] == ["a.png", "b.JPG"]
