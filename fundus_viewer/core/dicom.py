"""DICOM photos (Ophthalmic Photography, secondary capture): pixels as 8-bit RGB and the few tags a
reader of fundus photos needs, never the patient's identity.

pydicom decodes; the JPEG, JPEG 2000 and RLE transfer syntaxes are handled by its pylibjpeg plugins
(and Pillow for baseline JPEG). YBR colour is converted to RGB, palette colour through its lookup
table, MONOCHROME1 inverted; a multi-frame file is one photo per frame (``frame``, 0-based).

What leaves this module of a file's identity is the SOP Instance UID: patient name, ID, birth date and
the like are not read into ``DicomInfo`` at all, so no output can carry them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fundus_viewer.core.errors import NotAnImageError, TruncatedImageError

if TYPE_CHECKING:
    from pydicom import Dataset

DICOM_SUFFIXES = (".dcm", ".dicom")
_PREAMBLE = 128


@dataclass(frozen=True)
class DicomInfo:
    """What a photo's tags say of it (empty strings where a tag is absent)."""

    sop_instance_uid: str
    modality: str = ""
    laterality: str = ""  # "R" / "L"
    acquired: str = ""  # ISO date (and time where the file has one)
    device: str = ""  # manufacturer and model
    frames: int = 1
    frame: int = 0
    transfer_syntax: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def says(self) -> str:
        """One line for a title bar: eye, date, device, frame (what is known of them)."""
        eye = {"R": "right eye", "L": "left eye"}.get(self.laterality.upper(), "")
        frame = f"frame {self.frame + 1} of {self.frames}" if self.frames > 1 else ""
        return " · ".join(part for part in (eye, self.acquired, self.device, frame) if part) or "DICOM"


def is_dicom_file(path: str | Path) -> bool:
    """A .dcm / .dicom file, or any file with the DICOM preamble ("DICM" at byte 128)."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as stream:
            stream.seek(_PREAMBLE)
            return stream.read(4) == b"DICM"
    except OSError:
        return False


def dicom_header(path: str | Path) -> tuple[str, int]:
    """(SOP Instance UID, frames) from a DICOM file's header alone; ("", 1) for anything unreadable
    (reading its pixels then says why)."""
    ds = _header_tags(path, ["SOPInstanceUID", "NumberOfFrames"])
    return ("", 1) if ds is None else (str(ds.get("SOPInstanceUID", "") or ""), _frames(ds))


def dicom_size(path: str | Path) -> tuple[int, int] | None:
    """(columns, rows) from a DICOM file's header alone; None where it has none."""
    ds = _header_tags(path, ["Rows", "Columns"])
    return (int(ds.Columns), int(ds.Rows)) if ds is not None and "Rows" in ds and "Columns" in ds else None


def _header_tags(path: str | Path, tags: list[str]) -> Dataset | None:
    """Just these tags of a DICOM file's header; None for anything unreadable (reading its pixels then
    says why)."""
    import pydicom

    try:
        return pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=tags)
    except Exception:  # noqa: BLE001 - any failure is reported where the pixels are read
        return None


def read_dicom(path: str | Path, frame: int = 0) -> tuple[np.ndarray, DicomInfo]:
    """(H x W x 3 uint8 RGB of one frame, its tags). A file without pixel data, a transfer syntax no
    installed decoder handles or a damaged one raises an ``ImageLoadError`` that says which."""
    from pydicom.pixels import apply_color_lut, pixel_array

    path = Path(path)
    ds = _read_header(path)
    frames = _frames(ds)
    if not 0 <= frame < frames:
        raise NotAnImageError(path, f"has {frames} frame(s); frame {frame} asked for")
    syntax = ds.file_meta.get("TransferSyntaxUID", "") if hasattr(ds, "file_meta") else ""
    name = getattr(syntax, "name", str(syntax))
    if "PixelData" not in ds:
        raise NotAnImageError(path, "holds floating-point pixel data (a parametric map, not a photo)")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    from fundus_viewer.core.images import check_size  # before decoding: a 100 MP limit costs no memory

    check_size(path, columns, rows)
    try:
        pixels = pixel_array(str(path), index=frame if frames > 1 else None)
        interpretation = str(ds.get("PhotometricInterpretation", "")).upper()
        if interpretation == "PALETTE COLOR":
            pixels = apply_color_lut(pixels, ds)
    except (NotImplementedError, RuntimeError) as exc:
        hint = (
            "; `pip install pylibjpeg-libjpeg` adds JPEG lossless and JPEG-LS"
            if "JPEG" in name and ("Lossless" in name or "LS" in name)
            else ""
        )
        raise NotAnImageError(
            path, f"its pixel data ({name}) cannot be decoded here: {_first_line(exc)}{hint}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - pydicom and its plugins raise many kinds on a damaged file
        raise TruncatedImageError(
            path, f"its pixel data ({name}) is damaged or incomplete: {type(exc).__name__}: {_first_line(exc)}"
        ) from None
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    rgb = _to_rgb8(path, np.asarray(pixels), int(ds.get("BitsStored", 8) or 8), interpretation, signed)
    info = DicomInfo(
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        modality=str(ds.get("Modality", "")),
        laterality=str(ds.get("ImageLaterality", "") or ds.get("Laterality", "")),
        acquired=_acquired(ds),
        device=" ".join(str(ds.get(tag, "")).strip() for tag in ("Manufacturer", "ManufacturerModelName")).strip(),
        frames=frames,
        frame=frame,
        transfer_syntax=name,
    )
    return rgb, info


def _read_header(path: Path):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=False, defer_size="1 KB")
    except InvalidDicomError as exc:
        raise NotAnImageError(path, f"is not a readable DICOM file ({_first_line(exc)})") from None
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise TruncatedImageError(path, f"the DICOM file is damaged or truncated ({_first_line(exc)})") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        kind = str(ds.get("Modality", "")) or "no modality"
        raise NotAnImageError(
            path, f"is a DICOM file without pixel data ({kind}: a report or a structured document, not a photo)"
        )
    return ds


def _frames(ds) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _acquired(ds) -> str:
    stamp = str(ds.get("AcquisitionDateTime", "") or "")
    date = stamp[:8] or str(ds.get("AcquisitionDate", "") or ds.get("ContentDate", "") or ds.get("StudyDate", "") or "")
    if len(date) < 8 or not date[:8].isdigit():
        return ""
    iso = f"{date[:4]}-{date[4:6]}-{date[6:8]}"
    time = stamp[8:14] or str(ds.get("AcquisitionTime", "") or "")[:6]
    return f"{iso}T{time[:2]}:{time[2:4]}:{time[4:6]}" if len(time) >= 6 and time[:6].isdigit() else iso


def _to_rgb8(path, pixels: np.ndarray, bits: int, interpretation: str, signed: bool = False) -> np.ndarray:
    """Scale to 8 bits by the bits stored (signed values shifted to start at 0; a palette's output by
    its 16-bit range), make three channels, invert MONOCHROME1 (where 0 is white)."""
    bits = max(1, min(bits, 16))
    if interpretation == "PALETTE COLOR":
        if pixels.dtype != np.uint8:
            pixels = np.clip(np.rint(pixels.astype(np.float32) * (255.0 / 65535)), 0, 255).astype(np.uint8)
    elif signed or pixels.dtype != np.uint8 or bits < 8:
        values = pixels.astype(np.float32) + (float(1 << (bits - 1)) if signed else 0.0)
        pixels = np.clip(np.rint(values * (255.0 / ((1 << bits) - 1))), 0, 255).astype(np.uint8)
    if pixels.ndim == 2:
        if interpretation == "MONOCHROME1":
            pixels = 255 - pixels
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    elif pixels.ndim != 3 or pixels.shape[2] != 3:
        raise NotAnImageError(
            path,
            f"has an unsupported pixel layout {pixels.shape} ({interpretation or 'no photometric interpretation'})",
        )
    return np.ascontiguousarray(pixels)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
