"""Reading fundus photos from disk into 8-bit RGB arrays, with a specific error for every bad file.

Pillow decodes (it reads the size before the pixels, so a decompression bomb is refused before it
costs memory, and it knows EXIF orientation); OpenCV is the fallback for 16-bit colour TIFFs and the
few formats Pillow cannot open (Radiance HDR, PFM, PAM), and is given a file only once its header's
size has passed the same limit.
"""

from __future__ import annotations

import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fundus_viewer.core.errors import (
    BlankImageError,
    EmptyImageFileError,
    ImageNotFoundError,
    ImageTooLargeError,
    NotAnImageError,
    TruncatedImageError,
)

# Re-exported (the redundant aliases): where callers look for them.
from fundus_viewer.core.formats import IMAGE_SUFFIXES as IMAGE_SUFFIXES
from fundus_viewer.core.formats import list_images as list_images

if TYPE_CHECKING:
    from collections.abc import Callable

    from fundus_viewer.core.dicom import DicomInfo

# Fundus cameras top out near 25 MP; anything past 100 MP is refused before decoding.
MAX_PIXELS = 100_000_000
_BLANK_RANGE = 2  # grey levels: a photo whose pixels all lie within this range carries no picture


@dataclass(frozen=True, eq=False)
class FundusImage:
    """An RGB photo (H x W x 3, uint8) and where it came from."""

    rgb: np.ndarray
    path: str | None = None
    dicom: DicomInfo | None = None  # for a DICOM photo: laterality, date, device, SOP Instance UID

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else "<array>"


def load_image(path: str | Path, frame: int = 0) -> FundusImage:
    """Read JPEG, PNG, TIFF or BMP (8/16-bit, grey/RGB/RGBA, EXIF-rotated) or DICOM (``frame`` of a
    multi-frame file) as upright 8-bit RGB."""
    path = Path(path)
    if not path.exists():
        raise ImageNotFoundError(path, "no such file")
    if path.is_dir():
        raise NotAnImageError(path, "is a folder, not an image")
    if path.stat().st_size == 0:
        raise EmptyImageFileError(path, "the file is empty (0 bytes)")
    from fundus_viewer.core.dicom import is_dicom_file

    if is_dicom_file(path):
        from fundus_viewer.core.dicom import read_dicom

        rgb, info = read_dicom(path, frame)
        check_size(path, rgb.shape[1], rgb.shape[0])
        check_not_blank(rgb, path)
        return FundusImage(rgb=rgb, path=str(path), dicom=info)
    try:
        rgb = _decode_with_pillow(path)
    except _PillowCannotDecode as exc:
        rgb = _decode_with_opencv(path, exc.size)
    check_not_blank(rgb, path)
    return FundusImage(rgb=rgb, path=str(path))


def as_fundus_image(image) -> FundusImage:
    """Accept a FundusImage, a path, or an RGB/grey array (uint8, uint16 or float in [0, 1])."""
    if isinstance(image, FundusImage):
        return image
    if isinstance(getattr(image, "image", None), FundusImage):  # a core.photo.PreparedPhoto
        return image.image
    if isinstance(image, (str, Path)):
        return load_image(image)
    array = np.asarray(image)
    return FundusImage(rgb=_to_rgb8(array, "<array>"))


def check_not_blank(rgb: np.ndarray, path) -> None:
    # OpenCV's min/max lets go of the GIL: on a 12 MP photo numpy's would stall the window's thread
    low, high = (int(v) for v in cv2.minMaxLoc(np.ascontiguousarray(rgb).reshape(rgb.shape[0], -1))[:2])
    if high - low <= _BLANK_RANGE:
        raise BlankImageError(path, f"the image is blank (every pixel has value {low}..{high})")


def upright_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) of the photo as ``load_image`` shows it (EXIF rotation applied), from its header
    alone; None where the header cannot say (the photo is then measured when it is opened)."""
    path = Path(path)
    from fundus_viewer.core.dicom import dicom_size, is_dicom_file

    try:
        if is_dicom_file(path):
            return dicom_size(path)
        with Image.open(path) as im:
            width, height = im.size
            turned = im.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientations with a quarter turn
        return (height, width) if turned else (width, height)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None


class _PillowCannotDecode(Exception):
    """Pillow cannot decode the file; ``size``: what its header said, where Pillow could read one."""

    def __init__(self, size: tuple[int, int] | None = None):
        self.size = size


def _decode_with_pillow(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; our own limit is checked first.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                width, height = im.size
                check_size(path, width, height)
                im.load()
                upright = ImageOps.exif_transpose(im)
                if upright.mode in ("RGB;16", "RGB;16B", "RGB;16L"):
                    raise _PillowCannotDecode((width, height))
                return _to_rgb8(_pil_array(upright), path)
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(path, f"refused as a decompression bomb ({exc})") from None
        except UnidentifiedImageError:
            raise _PillowCannotDecode() from None
        except (OSError, SyntaxError, ValueError) as exc:
            message = str(exc)
            if "truncated" in message.lower() or isinstance(exc, SyntaxError) or "broken" in message.lower():
                raise TruncatedImageError(path, f"the file is truncated or damaged ({message})") from None
            raise NotAnImageError(path, f"could not be decoded as an image ({message})") from None


def _decode_with_opencv(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """``size``: (width, height) as Pillow read it from the header, where it could (a 16-bit colour
    TIFF). Otherwise the size comes from our own reading of the header: OpenCV checks its pixel limit
    only against OPENCV_IO_MAX_IMAGE_PIXELS as set before cv2 was first imported (1 G pixels by
    default), so an 11000 x 11000 HDR would cost 3.5 GB and 19 s before any check of ours ran. A file
    whose header we cannot read is not given to OpenCV at all."""
    if size is None:
        with open(path, "rb") as handle:
            head = handle.read(_HEADER_BYTES)
            size = tiff_size(handle) if head[:4] in _TIFF_MAGIC else header_size(head)
        if size is None:
            raise NotAnImageError(path, "not a readable image (JPEG, PNG, TIFF or BMP expected)")
    check_size(path, *size)
    data = np.fromfile(path, dtype=np.uint8)
    try:
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise NotAnImageError(path, f"could not be decoded ({str(exc).strip().splitlines()[-1]})") from None
    if decoded is None:
        raise TruncatedImageError(path, "the file is truncated or damaged (OpenCV could not decode it)")
    check_size(path, decoded.shape[1], decoded.shape[0])
    if decoded.ndim == 3 and decoded.shape[2] == 3:
        decoded = decoded[..., ::-1]
    elif decoded.ndim == 3 and decoded.shape[2] == 4:
        decoded = decoded[..., [2, 1, 0, 3]]
    return _to_rgb8(np.ascontiguousarray(decoded), path)


_HEADER_BYTES = 4096  # the headers read below are text of a few lines
_HDR_RESOLUTION = re.compile(rb"^[-+]([XY]) +(\d+) +[-+]([XY]) +(\d+)$", re.MULTILINE)
_PAM_FIELD = re.compile(rb"^(WIDTH|HEIGHT)\s+(\d+)", re.MULTILINE)
_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")  # classic and BigTIFF, both byte orders


def tiff_size(handle) -> tuple[int, int] | None:
    """(width, height) from the first IFD of the TIFF open in ``handle`` (binary, seekable): the IFD
    may lie anywhere in the file (libtiff writes it after the pixels). None where it cannot say."""
    handle.seek(0)
    head = handle.read(16)
    order = "<" if head[:2] == b"II" else ">"
    big = head[2:4] in (b"+\0", b"\0+")
    # BigTIFF: 8-byte offsets and counts, 20-byte entries; classic: 4-byte offsets, 12-byte entries
    offset_format, count_format, entry_size = ("Q", "Q", 20) if big else ("I", "H", 12)
    try:
        (offset,) = struct.unpack_from(order + offset_format, head, 8 if big else 4)
        handle.seek(offset)
        (count,) = struct.unpack(order + count_format, handle.read(struct.calcsize(count_format)))
        entries = handle.read(entry_size * min(count, 4096))
        sizes = {}
        for start in range(0, len(entries) - entry_size + 1, entry_size):
            tag, kind = struct.unpack_from(order + "HH", entries, start)
            if tag in (256, 257) and kind in (3, 4, 16):  # ImageWidth, ImageLength: SHORT, LONG, LONG8
                value_format = {3: "H", 4: "I", 16: "Q"}[kind]
                sizes[tag] = struct.unpack_from(order + value_format, entries, start + (12 if big else 8))[0]
    except (struct.error, OSError, OverflowError):
        return None
    return (sizes[256], sizes[257]) if len(sizes) == 2 else None


def header_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) declared by the header of a format OpenCV decodes and Pillow does not (here:
    Radiance HDR, PFM, PAM; PNM too), from the file's first bytes; None for anything else. OpenEXR
    and JPEG XL are not built into this OpenCV."""
    if head.startswith(b"#?"):  # Radiance: text lines, a blank line, then e.g. "-Y 480 +X 640"
        # only the line right after the blank one is the resolution (an earlier one could be a decoy)
        end = head.find(b"\n\n")
        found = _HDR_RESOLUTION.fullmatch(head[end + 2 :].split(b"\n", 1)[0]) if end >= 0 else None
        if found is None:
            return None
        sizes = {found.group(1): int(found.group(2)), found.group(3): int(found.group(4))}
        return (sizes[b"X"], sizes[b"Y"]) if set(sizes) == {b"X", b"Y"} else None
    if head.startswith(b"P7"):  # PAM: WIDTH and HEIGHT lines before ENDHDR
        pairs: list[tuple[bytes, bytes]] = _PAM_FIELD.findall(head.split(b"ENDHDR")[0])
        fields = dict(pairs)  # a field given twice: OpenCV refuses the file, so do we
        return (int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])) if len(pairs) == len(fields) == 2 else None
    if re.match(rb"P[1-6Ff]\s", head):
        # PNM and PFM: magic, then width and height as whitespace-separated tokens (comments: "#" lines)
        text = re.sub(rb"#[^\n]*", b" ", head[2:])
        tokens = text.split()
        if len(tokens) >= 2 and tokens[0].isdigit() and tokens[1].isdigit():
            return int(tokens[0]), int(tokens[1])
    return None


def check_size(path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise NotAnImageError(path, f"has no pixels ({width} x {height})")
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(
            path, f"is {width} x {height} pixels, more than the {MAX_PIXELS // 1_000_000} MP this viewer accepts"
        )


def _pil_array(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im.convert("I")).astype(np.uint16)
    if im.mode == "I":
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
    if im.mode == "F":
        return np.asarray(im, dtype=np.float32)
    if im.mode in ("RGB", "RGBA", "L", "LA"):
        return np.asarray(im)
    if im.mode in ("P", "PA", "1"):
        return np.asarray(im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB"))
    return np.asarray(im.convert("RGB"))  # CMYK, YCbCr, LAB ...


def _to_rgb8(array: np.ndarray, path) -> np.ndarray:
    """Scale to 8 bits, drop alpha over black (transparent = no data), and make three channels."""
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise NotAnImageError(path, f"has an unsupported shape {array.shape}")
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        # the common case, as it is: the float path below would hold 4 float32 copies of a 12 MP photo
        return np.ascontiguousarray(array)
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32)
    elif array.dtype == np.uint16:
        scaled = array.astype(np.float32) / 257.0
    elif np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float32))
        peak = float(finite.max()) if finite.size else 0.0
        scaled = finite * (255.0 if peak <= 1.0 else 255.0 / peak)
    elif array.dtype == np.bool_:
        scaled = array.astype(np.float32) * 255.0
    else:
        scaled = array.astype(np.float32)
    if scaled.ndim == 2:
        scaled = scaled[..., None]
    channels = scaled.shape[2]
    if channels in (2, 4):
        alpha = scaled[..., -1:] / 255.0
        scaled = scaled[..., :-1] * alpha
    if scaled.shape[2] == 1:
        scaled = np.repeat(scaled, 3, axis=2)
    return np.ascontiguousarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def photo_sizes(folder: str | Path, by_name: bool = False) -> Callable[[str], tuple[int, int] | None]:
    """``sizes(name)`` for ``boxes.load_coco``: the upright size of the photo ``folder / name`` from its
    header, None where there is none. ``by_name``: the name's last part only (the annotation store keys
    photos by name). A name that leads out of the folder (through a link) is never read."""
    root = Path(folder).resolve()

    def size(name: str) -> tuple[int, int] | None:
        path = (root / (Path(name).name if by_name else name)).resolve()
        return upright_size(path) if path.is_relative_to(root) and path.is_file() else None

    return size
