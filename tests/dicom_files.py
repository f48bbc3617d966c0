"""DICOM photos built with pydicom for the tests: Ophthalmic Photography with the tags a camera writes,
a patient's identity included (so that tests can show it never leaves the file)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

PATIENT_NAME = "DOE^JANE"
PATIENT_ID = "PID-4711-SECRET"
OPHTHALMIC_PHOTOGRAPHY = "1.2.840.10008.5.1.4.1.1.77.1.5.1"


def write_dicom(
    path: Path,
    rgb: np.ndarray,
    *,
    compression: str | None = None,
    frames: int = 1,
    pixel_data: bool = True,
    laterality: str = "R",
) -> Path:
    """``compression``: None (explicit little endian), "jpeg" (baseline, YBR_FULL_422) or "rle"."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless, generate_uid

    uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = OPHTHALMIC_PHOTOGRAPHY
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = OPHTHALMIC_PHOTOGRAPHY, uid
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = PATIENT_NAME, PATIENT_ID, "19500101"
    ds.Modality, ds.ImageLaterality = "OP", laterality
    ds.AcquisitionDateTime = "20240301101500"
    ds.Manufacturer, ds.ManufacturerModelName = "ACME", "Fundus 9"
    if pixel_data:
        ds.Rows, ds.Columns = rgb.shape[:2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        stack = np.stack([np.roll(rgb, 7 * k, axis=1) for k in range(frames)])  # frames that differ
        if frames > 1:
            ds.NumberOfFrames = frames
        if compression == "jpeg":
            from PIL import Image

            encoded = []
            for frame in stack:
                buffer = io.BytesIO()
                Image.fromarray(frame).save(buffer, format="JPEG", quality=95, subsampling=1)
                encoded.append(buffer.getvalue())
            ds.PixelData = encapsulate(encoded)
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
            ds.PhotometricInterpretation = "YBR_FULL_422"
            ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        else:
            ds.PixelData = stack.tobytes()
            if compression == "rle":
                ds.compress(RLELossless)
    else:
        ds.Modality = "SR"
    ds.save_as(str(path), enforce_file_format=True)
    return Path(path)


def _secondary_capture(shape, interpretation: str, bits_allocated: int, bits_stored: int, signed: bool = False):
    """A one-sample-per-pixel Secondary Capture dataset of ``shape``, pixel data still to be set."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID, "OT"
    ds.Rows, ds.Columns = shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, interpretation
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = (
        bits_allocated,
        bits_stored,
        bits_stored - 1,
        int(signed),
    )
    return ds


def write_palette_dicom(path: Path, indices: np.ndarray, lut: np.ndarray) -> Path:
    """A PALETTE COLOR image: ``indices`` (H x W uint8) into ``lut`` (256 x 3 uint16, 16-bit entries)."""
    ds = _secondary_capture(indices.shape, "PALETTE COLOR", 8, 8)
    for channel, colour in enumerate(("Red", "Green", "Blue")):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", lut[:, channel].astype("<u2").tobytes())
    ds.PixelData = indices.astype(np.uint8).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return Path(path)


def write_grey_dicom(
    path: Path, values: np.ndarray, bits_stored: int, signed: bool, interpretation: str = "MONOCHROME2"
) -> Path:
    """A grey image stored in 16 bits: ``values`` (H x W int) as given, ``bits_stored`` of them used."""
    ds = _secondary_capture(values.shape, interpretation, 16, bits_stored, signed)
    ds.PixelData = values.astype("<i2" if signed else "<u2").tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return Path(path)
