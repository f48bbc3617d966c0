"""DICOM photos: pixels, colour models, frames, tags, and what happens with files that are not photos.
The files are built here with pydicom from a shared HRF photo where the data is present, else from a
synthetic one."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_files import PATIENT_ID, PATIENT_NAME, write_dicom

from fundus_viewer.core.errors import NotAnImageError, TruncatedImageError
from fundus_viewer.core.images import load_image


@pytest.fixture
def rgb(shared_data, make_fundus):
    photo = shared_data / "hrf" / "images" / "01_g.jpg"
    return load_image(photo).rgb if photo.exists() else make_fundus()


def test_uncompressed_and_rle_pixels_are_the_photo(tmp_path, rgb):
    for compression in (None, "rle"):
        image = load_image(write_dicom(tmp_path / f"{compression}.dcm", rgb, compression=compression))
        assert np.array_equal(image.rgb, rgb)


def test_jpeg_ybr_is_converted_to_rgb(tmp_path, rgb):
    image = load_image(write_dicom(tmp_path / "jpeg.dcm", rgb, compression="jpeg"))
    assert image.rgb.shape == rgb.shape
    # YBR_FULL_422 left unconverted would be off by tens of grey levels in every channel
    assert np.abs(image.rgb.astype(int) - rgb).mean() < 2.0
    assert image.dicom.transfer_syntax.startswith("JPEG Baseline")


def test_tags_are_read_and_identity_is_not(tmp_path, rgb):
    image = load_image(write_dicom(tmp_path / "a.dcm", rgb, laterality="L"))
    info = image.dicom
    assert (info.laterality, info.acquired, info.device, info.modality) == (
        "L",
        "2024-03-01T10:15:00",
        "ACME Fundus 9",
        "OP",
    )
    assert info.sop_instance_uid.startswith("1.2.")
    assert info.says() == "left eye · 2024-03-01T10:15:00 · ACME Fundus 9"
    text = repr(info.as_dict())
    assert PATIENT_NAME not in text and PATIENT_ID not in text and "1950" not in text


def test_a_file_without_suffix_is_recognised_by_its_preamble(tmp_path, rgb):
    path = write_dicom(tmp_path / "IM000001", rgb)
    assert np.array_equal(load_image(path).rgb, rgb)


def test_every_frame_of_a_multi_frame_file(tmp_path, rgb):
    from fundus_viewer.core.batch.inputs import collect_items

    path = write_dicom(tmp_path / "DOE_JANE.dcm", rgb, frames=3)
    uid = load_image(path).dicom.sop_instance_uid
    items = collect_items([tmp_path])  # named by UID: the file name may carry the patient's
    assert [(i.key, i.frame) for i in items] == [(f"{uid}#0", 0), (f"{uid}#1", 1), (f"{uid}#2", 2)]
    for frame in range(3):
        assert np.array_equal(load_image(path, frame).rgb, np.roll(rgb, 7 * frame, axis=1))
    with pytest.raises(NotAnImageError, match="3 frame"):
        load_image(path, 3)


def test_no_pixel_data_and_damaged_pixel_data_say_so(tmp_path, rgb):
    with pytest.raises(NotAnImageError, match="without pixel data"):
        load_image(write_dicom(tmp_path / "sr.dcm", rgb, pixel_data=False))
    path = write_dicom(tmp_path / "cut.dcm", rgb, compression="jpeg")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises((TruncatedImageError, NotAnImageError)) as caught:
        load_image(path)
    assert "cut.dcm" in str(caught.value)


def test_a_study_names_a_dicom_case_by_its_uid_only(tmp_path, rgb):
    from fundus_viewer.core.study.create import collect_cases

    folder = tmp_path / "DOE_JANE"
    folder.mkdir()
    path = write_dicom(folder / "DOE_JANE_right.dcm", rgb)
    [case] = collect_cases({"real": [path]}, size=64)
    assert case.source == load_image(path).dicom.sop_instance_uid


def test_palette_colour_goes_through_its_lookup_table(tmp_path):
    from dicom_files import write_palette_dicom

    indices = np.tile(np.arange(256, dtype=np.uint8), (8, 1))
    lut = np.stack([np.arange(256) * 257, (255 - np.arange(256)) * 257, np.full(256, 128 * 257)], axis=1).astype(
        np.uint16
    )
    image = load_image(write_palette_dicom(tmp_path / "palette.dcm", indices, lut))
    assert image.rgb.shape == (8, 256, 3)
    np.testing.assert_array_equal(image.rgb[0, :, 0], np.arange(256))  # red = index
    np.testing.assert_array_equal(image.rgb[0, :, 1], 255 - np.arange(256))
    assert (image.rgb[..., 2] == 128).all()


def test_signed_and_high_bit_depth_grey_is_scaled_not_clipped(tmp_path):
    from dicom_files import write_grey_dicom

    ramp = np.tile(np.arange(-2048, 2048, 16), (4, 1))  # 12-bit signed: -2048 .. 2032
    grey = load_image(write_grey_dicom(tmp_path / "signed.dcm", ramp, 12, signed=True)).rgb[..., 0]
    assert (
        grey[0, 0] == 0 and grey[0, -1] == 254 and (np.diff(grey[0].astype(int)) >= 0).all()
    )  # clipping made half of it 0
    inverted = load_image(
        write_grey_dicom(
            tmp_path / "mono1.dcm",
            np.tile(np.arange(0, 4096, 16), (4, 1)),
            12,
            signed=False,
            interpretation="MONOCHROME1",
        )
    ).rgb
    assert inverted[0, 0, 0] == 255 and inverted[0, -1, 0] == 1 and (inverted[..., 0] == inverted[..., 2]).all()
