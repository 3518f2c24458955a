"""Reading users' image files: every format converts to uint8 grayscale, every bad file gives one line."""

from __future__ import annotations

import image_cases
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from cxr_lib.data.images import MIN_SIDE, load_image_file, to_grayscale_uint8
from cxr_lib.errors import ImageInputError


@pytest.mark.parametrize("name", list(image_cases.GOOD))
def test_good_files_load_as_uint8_grayscale(tmp_path, name):
    file_name, write = image_cases.GOOD[name]
    image = load_image_file(write(tmp_path / file_name))
    assert image.dtype == np.uint8 and image.ndim == 2
    assert min(image.shape) >= MIN_SIDE
    assert image.max() > image.min()  # the content survived the conversion


@pytest.mark.parametrize("name", list(image_cases.BAD))
def test_bad_files_raise_one_clear_line(tmp_path, name):
    file_name, write, phrase = image_cases.BAD[name]
    with pytest.raises(ImageInputError) as info:
        load_image_file(write(tmp_path / file_name))
    message = str(info.value)
    assert phrase in message and "\n" not in message
    assert file_name in message


def test_missing_file(tmp_path):
    with pytest.raises(ImageInputError, match="does not exist"):
        load_image_file(tmp_path / "nope.png")


def test_sixteen_bit_uses_the_full_range(tmp_path):
    pixels = np.full((32, 32), 1000, np.uint16)
    pixels[:, 16:] = 3000  # a 12-bit image using a narrow band of the 16-bit range
    from PIL import Image

    Image.fromarray(pixels).save(tmp_path / "band.png")
    image = load_image_file(tmp_path / "band.png")
    assert image[0, 0] == 0 and image[0, -1] == 255


def test_rgba_transparency_goes_to_black(tmp_path):
    from PIL import Image

    pixels = np.zeros((20, 20, 4), np.uint8)
    pixels[..., :3] = 255
    pixels[:, 10:, 3] = 255  # left half transparent white, right half opaque white
    Image.fromarray(pixels, "RGBA").save(tmp_path / "alpha.png")
    image = load_image_file(tmp_path / "alpha.png")
    assert image[:, :10].max() == 0 and image[:, 10:].min() == 255


def test_dicom_monochrome1_is_inverted(tmp_path):
    ramp = np.tile(np.arange(32, dtype=np.uint16) * 100, (32, 1))
    normal = load_image_file(image_cases.write_dicom(tmp_path / "m2.dcm", ramp, "MONOCHROME2"))
    inverted = load_image_file(image_cases.write_dicom(tmp_path / "m1.dcm", ramp, "MONOCHROME1"))
    assert np.array_equal(inverted, 255 - normal)
    assert normal[0, 0] < normal[0, -1]


@settings(max_examples=60, deadline=None)
@given(arrays(st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_]),
              st.one_of(st.tuples(st.integers(1, 40), st.integers(1, 40)),
                        st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4])))))
def test_any_array_gives_uint8_or_a_clear_error(array):
    try:
        image = to_grayscale_uint8(array)
    except ImageInputError as exc:
        assert "\n" not in str(exc)
        return
    assert image.dtype == np.uint8 and image.ndim == 2 and min(image.shape) >= MIN_SIDE


def test_float_images_are_read_in_float64_and_nan_or_inf_is_refused_before_any_arithmetic() -> None:
    import warnings

    wide = np.full((40, 40, 4), 60000, dtype=np.float16)  # three channels summed in float16 would overflow
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from the arithmetic
        image = to_grayscale_uint8(wide)
        for bad in (np.nan, np.inf):  # in the alpha channel: refused before alpha is divided by its maximum
            broken = np.ones((40, 40, 4))
            broken[0, 0, 3] = bad
            with pytest.raises(ImageInputError, match="NaN or infinite"):
                to_grayscale_uint8(broken)
    assert image.dtype == np.uint8 and image.shape == (40, 40)
