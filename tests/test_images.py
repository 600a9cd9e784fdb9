"""runtime.images: the one image policy, and every image entry point of the kit applying it."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
import tflite_builder as tb

from runtime.classifier import DigitClassifier
from runtime.errors import ImageError, NoDigitFoundError
from runtime.images import as_bgr_u8, as_gray_u8, mnist_batch_u8, to_u8, validated_array


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.array([[0, 128, 255]], np.uint8), [0, 128, 255]),
        (np.array([[False, True]]), [0, 255]),
        (np.array([[0.0, 0.5, 1.0]], np.float32), [0, 128, 255]),
        (np.array([[0.0, 127.6, 255.0]]), [0, 128, 255]),
        (np.array([[0, 7, 255]], np.int64), [0, 7, 255]),
        (np.array([[0, 200]], np.uint16), [0, 200]),  # 8-bit values in a 16-bit container
        (np.array([[0, 1023]], np.uint16), [0, 255]),  # 10-bit sensor
        (np.array([[0, 2048, 4095]], np.uint16), [0, 128, 255]),  # 12-bit sensor
        (np.array([[0, 65535]], np.uint16), [0, 255]),
        (np.array([[0, 2048, 4095]], ">u2"), [0, 128, 255]),  # big-endian 12-bit
    ],
    ids=[
        "uint8",
        "bool",
        "float01",
        "float255",
        "int64",
        "u16-8bit",
        "u16-10bit",
        "u16-12bit",
        "u16",
        "u16-big-endian",
    ],
)
def test_every_dtype_has_one_conversion(image, expected):
    converted = to_u8(validated_array(image))
    assert converted.dtype == np.uint8
    np.testing.assert_array_equal(converted.ravel(), expected)
    np.testing.assert_array_equal(as_gray_u8(image).ravel(), expected)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((1, 1), np.uint8),
        np.zeros((3, 7, 1), np.uint8),
        np.full((5, 9, 3), 200, np.uint8),
        np.full((6, 4, 4), 90, np.uint8),
        np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 16,
        np.linspace(0, 1, 30 * 20, dtype=np.float32).reshape(20, 30),
        np.ones((8, 8), bool),
    ],
    ids=["1x1", "gray-1ch", "bgr", "bgra", "gray16", "float", "bool"],
)
def test_frames_of_any_kind_become_8_bit_gray_and_bgr(frame):
    gray = as_gray_u8(frame)
    assert gray.dtype == np.uint8 and gray.shape == frame.shape[:2] and gray.flags.c_contiguous
    view = as_bgr_u8(frame)
    assert view.dtype == np.uint8 and view.shape == (*frame.shape[:2], 3)
    assert not np.shares_memory(view, frame)


def test_transparent_ink_is_composited_on_white_paper_as_dark_ink():
    bgra = np.zeros((10, 10, 4), np.uint8)
    bgra[3:7, 3:7] = (20, 20, 20, 255)  # opaque dark ink, the rest transparent
    gray = as_gray_u8(bgra)
    assert gray[0, 0] == 255 and gray[5, 5] == 20
    bgra[3:7, 3:7] = (250, 250, 250, 255)  # white ink: pen on paper all the same
    gray = as_gray_u8(bgra)
    assert gray[0, 0] == 255 and gray[5, 5] == 5
    mnist_form = np.zeros((28, 28, 4), np.uint8)  # a 28x28 picture as it looks
    for colour, paper in ((250, 0), (20, 255)):
        mnist_form[10:18, 10:18] = (colour, colour, colour, 255)
        gray = as_gray_u8(mnist_form)
        assert gray[0, 0] == paper and gray[12, 12] == colour


BAD_IMAGES = {
    "empty": (np.zeros((0, 0), np.uint8), "empty"),
    "empty_photo": (np.zeros((0, 50, 3), np.uint8), "empty"),
    "complex": (np.zeros((28, 28), np.complex64), "dtype complex64"),
    "object": (np.full((28, 28), None, dtype=object), "dtype object"),
    "strings": (np.full((28, 28), "7"), "dtype <U1"),
    "four_d": (np.zeros((1, 28, 28, 1), np.uint8), "2-D grayscale"),
    "one_d": (np.zeros(784, np.uint8), "2-D grayscale"),
    "two_channels": (np.zeros((40, 40, 2), np.uint8), "channels"),
    "nan": (np.full((28, 28), np.nan, np.float32), "NaN"),
    "inf": (np.full((28, 28), np.inf), "NaN or infinite"),
    "nan_photo": (np.full((60, 60), np.nan), "NaN"),
    "float_out_of_range": (np.full((28, 28), 300.0), "0..1 or 0..255"),
    "float_negative": (np.full((28, 28), -2.0), "0..1 or 0..255"),
    "int_negative": (np.full((28, 28), -1, np.int16), "must hold 0..255"),
    "int_out_of_range": (np.full((28, 28), 300, np.int32), "must hold 0..255"),
    "path": ("digit.png", "not a path"),
    "ragged": ([[1, 2], [3]], "not a rectangular array"),
    "none": (None, "is None, not a pixel array"),  # cv2.imread's answer for a missing file
}


@pytest.fixture(scope="module")
def classifier() -> DigitClassifier:
    return DigitClassifier(tb.int8_mlp(tb.FloatMlp.random(seed=2)), backend="numpy")


def entry_points(classifier):
    """Every public function that takes an image, and what it is called with."""
    from camera_demo.pipeline import FramePipeline
    from runtime.preprocess import preprocess
    from runtime.segment import find_digits

    pipeline = FramePipeline(classifier)
    return {
        "predict": classifier.predict,
        "predict_batch": lambda image: classifier.predict_batch([image]),
        "preprocess": preprocess,
        "find_digits": find_digits,
        "camera_pipeline": lambda image: pipeline.process(image, 0),
        "as_gray_u8": as_gray_u8,
    }


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_every_entry_point_refuses_bad_images_the_same_way(classifier, name):
    image, message = BAD_IMAGES[name]
    for entry, call in entry_points(classifier).items():
        with pytest.raises(ImageError, match=message) as raised:
            call(image)
        assert not isinstance(raised.value, NoDigitFoundError), entry
        assert "\n" not in str(raised.value) and len(str(raised.value)) < 200, entry


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (np.zeros((3, 28, 27), np.uint8), "shape"),
        (np.zeros((28, 28), np.uint8), "shape"),
        (np.full((2, 28, 28), np.nan), "NaN"),
        (np.full((2, 784), 300.0), "0..1 or 0..255"),
        ("images", "not a path"),
    ],
    ids=["shape", "single", "nan", "range", "string"],
)
def test_bad_batches_raise_image_error(classifier, batch, message):
    with pytest.raises(ImageError, match=message):
        mnist_batch_u8(batch)
    with pytest.raises(ImageError, match=message):
        classifier.predict_proba(batch)


def test_a_big_endian_batch_reads_as_the_same_batch_in_native_order(classifier):
    images = tb.random_images(3, seed=4).astype(np.uint16) * 16  # 12-bit samples
    expected = classifier.predict_proba(images)
    np.testing.assert_array_equal(classifier.predict_proba(images.astype(">u2")), expected)


def test_the_same_pixels_in_any_dtype_classify_the_same(classifier):
    images = tb.random_images(4, seed=9)
    expected = classifier.predict_proba(images)
    for variant in (
        images / 255.0,
        images.astype(np.float32),
        images.astype(np.int32),
        images.astype(np.uint16),
    ):
        np.testing.assert_array_equal(classifier.predict_proba(variant), expected)
        np.testing.assert_array_equal(
            [p.probabilities for p in classifier.predict_batch(list(variant))], expected
        )


def test_a_gif_this_opencv_does_not_decode_is_said_so(tmp_path, monkeypatch):
    import cv2

    from runtime.images import read_image_file

    path = tmp_path / "broken.gif"
    path.write_bytes(b"GIF89a" + bytes(20))
    if cv2.haveImageReader(str(path)):  # this OpenCV decodes GIFs: it is a damaged one
        with pytest.raises(ImageError, match=r"broken\.gif: not an image file OpenCV can decode$"):
            read_image_file(path)
    monkeypatch.setattr(cv2, "haveImageReader", lambda path: False)  # an OpenCV without GIFs
    with pytest.raises(ImageError, match=rf"a GIF, which OpenCV {cv2.__version__} does not"):
        read_image_file(path)


def _bmp_with_an_alpha_mask(bgra: np.ndarray) -> bytes:
    """A 32-bit BMP (BITMAPV4HEADER, bit fields with an alpha mask) as Windows tools write
    them; by hand because OpenCV before 5 writes 24 bits."""
    height, width = bgra.shape[:2]
    pixels = np.ascontiguousarray(bgra[::-1]).tobytes()  # rows bottom up, B G R A
    header = struct.pack(
        "<IiiHHIIiiII4I4s36x12x",
        108,
        width,
        height,
        1,
        32,
        3,
        len(pixels),
        2835,
        2835,
        0,
        0,
        0x00FF0000,
        0x0000FF00,
        0x000000FF,
        0xFF000000,
        b"BGRs",
    )
    offset = 14 + len(header)
    return struct.pack("<2sIHHI", b"BM", offset + len(pixels), 0, 0, offset) + header + pixels


def test_image_files_are_read_as_they_look(tmp_path):
    import cv2
    from PIL import Image

    from runtime.images import read_image_file

    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :10] = 255
    photo = Image.fromarray(wide)
    exif = photo.getexif()
    exif[0x0112] = 6  # EXIF orientation: the camera was turned by 90 degrees
    photo.save(tmp_path / "turned.jpg", exif=exif)
    assert read_image_file(tmp_path / "turned.jpg").shape == (40, 20, 3)
    deep = np.full((8, 8), 4095, np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    assert read_image_file(tmp_path / "deep.png").dtype == np.uint16
    cv2.imwrite(str(tmp_path / "alpha.png"), np.zeros((8, 8, 4), np.uint8))
    assert read_image_file(tmp_path / "alpha.png").shape == (8, 8, 4)
    # Known by its content, not its name: a transparent PNG named otherwise keeps its alpha,
    # and a JPEG named .png still follows its EXIF orientation.
    (tmp_path / "alpha.img").write_bytes((tmp_path / "alpha.png").read_bytes())
    assert read_image_file(tmp_path / "alpha.img").shape == (8, 8, 4)
    (tmp_path / "turned.png").write_bytes((tmp_path / "turned.jpg").read_bytes())
    assert read_image_file(tmp_path / "turned.png").shape == (40, 20, 3)
    # A 32-bit BMP's fourth byte is no transparency: many tools leave it zero everywhere,
    # which decoded unchanged (OpenCV 5.1: four channels) made the picture a blank page.
    stroke = np.full((16, 16, 4), 255, np.uint8)
    stroke[:, 6:9, :3], stroke[..., 3] = 0, 0
    (tmp_path / "bgrx.bmp").write_bytes(_bmp_with_an_alpha_mask(stroke))
    assert as_gray_u8(read_image_file(tmp_path / "bgrx.bmp")).min() == 0
    with pytest.raises(ImageError, match="is a directory"):
        read_image_file(tmp_path)
    with pytest.raises(ImageError, match="no such file"):
        read_image_file(tmp_path / "missing.png")
    os.mkfifo(tmp_path / "pipe.png")  # read, it would wait for a writer forever
    with pytest.raises(ImageError, match="not a regular file"):
        read_image_file(tmp_path / "pipe.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match="not an image file OpenCV can decode"):
        read_image_file(tmp_path / "notes.png")
    (tmp_path / "empty.png").touch()
    with pytest.raises(ImageError, match=r"empty\.png: the file is empty \(0 bytes\)"):
        read_image_file(tmp_path / "empty.png")


@pytest.mark.parametrize("progressive", [0, 1])
def test_a_jpeg_cut_short_is_an_error_and_a_whole_one_reads(tmp_path, progressive):
    # OpenCV decodes a cut-short JPEG with only a warning, the missing rows grey, and a
    # photo of "4729" then read "4779" with exit 0.
    import cv2

    from runtime.images import is_truncated_jpeg, read_image_file

    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    _, encoded = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_PROGRESSIVE, progressive])
    data = encoded.tobytes()
    (tmp_path / "whole.jpg").write_bytes(data + b"vendor trailer \xff\xda\x00")
    assert read_image_file(tmp_path / "whole.jpg").shape == (120, 160, 3)
    for end in (3, 100, len(data) // 2, len(data) - 2):
        (tmp_path / "cut.jpg").write_bytes(data[:end])
        with pytest.raises(ImageError, match="JPEG file is cut short"):
            read_image_file(tmp_path / "cut.jpg")
    assert not is_truncated_jpeg(b"\x89PNG not a JPEG")


def test_a_picture_whose_header_claims_too_many_pixels_is_an_image_error(tmp_path):
    # A 1 KB PNG claiming 100000x100000 pixels made OpenCV raise cv2.error (a traceback, and a
    # folder of pictures stopped at it) instead of an ImageError (exit 2, or the file skipped).
    import struct
    import zlib

    from runtime.images import read_image_file

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(100)))
    (tmp_path / "bomb.png").write_bytes(png + chunk(b"IEND", b""))
    with pytest.raises(ImageError, match=r"bomb\.png: not an image OpenCV can decode"):
        read_image_file(tmp_path / "bomb.png")


def test_unit_floats_a_rounding_step_above_one_stay_unit_floats():
    """A 0..1 image normalised in float32 may peak a hair above 1; it is not 0..255."""
    unit = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
    noisy = unit * np.float32(1.0000001)
    assert noisy.max() > 1.0
    np.testing.assert_array_equal(to_u8(noisy), to_u8(unit))
    np.testing.assert_array_equal(mnist_batch_u8(noisy[None]), to_u8(unit)[None])
    np.testing.assert_array_equal(to_u8(np.float32([[0.0, 1.0005]])), [[0, 255]])
    np.testing.assert_array_equal(to_u8(np.float32([[0.0, 1.5]])), [[0, 2]])  # 0..255 data


def test_a_batch_given_as_one_image_is_told_where_batches_go():
    with pytest.raises(ImageError, match="goes to predict_batch or predict_proba"):
        validated_array(np.zeros((5, 28, 28), np.uint8))
