"""digit-classify: reading numbers and single digits from image files, its output and errors.

Fast tests use a small model built in-process (tests/tflite_builder.py); the slow ones use the
converter's real int8 file and pages from the reading benchmark's generators (tune split).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tflite_builder as tb

from runtime import DigitClassifier
from runtime.cli import main

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = tb.FloatMlp.random(seed=11, hidden=24)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli_models")
    path = folder / "int8.tflite"
    path.write_bytes(tb.with_metadata(tb.int8_mlp(WEIGHTS), format="int8"))
    return {"int8": path}


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return tb.random_images(8, seed=3)


# --- command line ---------------------------------------------------------------------------


def as_one_digit(result: dict) -> dict:
    """A picture read as one digit: the digit, accepted or not."""
    assert result["read_as"] == "one digit"
    return result["digits"][0] if result["digits"] else result["best_guess"]


@pytest.fixture(scope="module")
def image_files(tmp_path_factory, images) -> list[Path]:
    import cv2

    folder = tmp_path_factory.mktemp("images")
    paths = []
    for index in range(3):
        path = folder / f"digit_{index}.png"
        assert cv2.imwrite(str(path), images[index])
        paths.append(path)
    return paths


def test_cli_prints_one_line_per_image(built, image_files, images, capsys):
    """28x28 files are MNIST form: one digit each, with its confidence."""
    assert main([*map(str, image_files), "--model", str(built["int8"])]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    clf = DigitClassifier(built["int8"])
    assert len(lines) == len(image_files)
    for line, path, image in zip(lines, image_files, images, strict=False):
        prediction = clf.predict(image)
        if prediction.accepted:
            assert line == f"{path}: {prediction.digit}  confidence {prediction.confidence:.3f}"
        else:
            assert line.startswith(
                f"{path}: no digit read (as one digit it looks most like {prediction.digit}, "
                f"confidence {prediction.confidence:.3f}, "
                f"below {clf.acceptance_bar(prediction.digit):g})"
            )


@pytest.mark.slow
def test_a_28x28_file_told_its_polarity_is_prepared_as_a_photo(
    tflite_models, mnist, tmp_path, capsys
):
    """Dark digits cut from grey paper (229, not white), 28x28: read right with the polarity
    given, as without it and with auto; chalk-like ones on a dark grey board (40, not black),
    with the polarity given. Taking the inverted picture as MNIST form instead left a grey
    ground, and no digit was read; without a polarity, a 28x28 picture on a dark ground is
    MNIST form, so its ground must be black."""
    import cv2

    rng = np.random.default_rng(0)
    model = str(tflite_models["int8"])
    digits, labels = mnist.x_test[:12].astype(np.float32) / 255, mnist.y_test[:12]
    cases = {
        "dark_on_light": (229 - digits * 200, ([], ["--polarity", "auto"])),
        "light_on_dark": (40 + digits * 200, ()),
    }
    for polarity, (stack, others) in cases.items():
        paths = []
        for index, picture in enumerate(stack + rng.normal(0, 3, stack.shape)):
            paths.append(tmp_path / f"{polarity}_{index}.png")
            assert cv2.imwrite(str(paths[-1]), np.clip(picture, 0, 255).astype(np.uint8))
        for extra in (["--polarity", polarity], *others):
            args = [*map(str, paths), "--model", model, "--threshold", "0", "--json", *extra]
            assert main(args) == 0
            results = json.loads(capsys.readouterr().out)["results"]
            read = [as_one_digit(result)["digit"] for result in results]
            right = sum(digit == label for digit, label in zip(read, labels, strict=True))
            assert right >= 11, (polarity, extra, read, labels.tolist())


@pytest.mark.slow
def test_auto_polarity_reads_a_28x28_digit_either_way_round(tflite_models, mnist, tmp_path, capsys):
    import cv2

    digit = mnist.x_test[int(np.flatnonzero(mnist.y_test == 3)[0])]
    clf = DigitClassifier(tflite_models["int8"], threshold=0.0)
    # Read as MNIST form (the model as it is), the dark-on-white picture is another digit.
    assert clf.predict(digit).digit == 3 and clf.predict_proba((255 - digit)[None]).argmax() != 3
    for name, picture in (("white_on_black.png", digit), ("dark_on_white.png", 255 - digit)):
        path = tmp_path / name
        assert cv2.imwrite(str(path), picture)
        args = [str(path), "--model", str(tflite_models["int8"]), "--threshold", "0", "--json"]
        assert main([*args, "--polarity", "auto"]) == 0
        (result,) = json.loads(capsys.readouterr().out)["results"]
        assert as_one_digit(result)["digit"] == 3, name


def test_cli_json_output(built, image_files, images, capsys):
    args = [*map(str, image_files), "--model", str(built["int8"]), "--json"]
    assert main([*args, "--backend", "numpy", "--threshold", "0.05"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["backend"] == "numpy" and document["threshold"] == 0.05
    bars = document["acceptance_bars"]  # index = digit; a 1 must be surer (odds 4 : 0.05's)
    assert bars[1] == pytest.approx(0.2 / 1.15, abs=1e-6) and bars[:1] + bars[2:] == [0.05] * 9
    expected = DigitClassifier(built["int8"], threshold=0.05).predict_batch(images[:3])
    for result, prediction in zip(document["results"], expected, strict=True):
        assert result["read_as"] == "one digit"
        if prediction.accepted:
            (digit,) = result["digits"]
            assert result["number"] == str(prediction.digit)
            assert result["numbers"] == [str(prediction.digit)]
        else:  # not a digit: listed apart, as what it looks most like
            assert (result["number"], result["numbers"], result["digits"]) == ("", [], [])
            digit = result["best_guess"]
        assert digit["digit"] == prediction.digit and digit["box"] == [0, 0, 28, 28]
        assert digit["confidence"] == pytest.approx(prediction.confidence, abs=1e-6)
        assert digit["probabilities"] == pytest.approx(prediction.probabilities, abs=1e-6)


def test_json_digits_all_have_the_same_keys_and_a_rejected_picture_has_none(
    built, image_files, images, capsys
):
    """Every digit listed was read (accepted: a picture read as one digit has no number to
    vouch for a doubted one), whichever way the picture was read."""
    args = [*map(str, image_files), "--model", str(built["int8"]), "--json"]
    for threshold in ("0", "1"):
        assert main([*args, "--threshold", threshold]) == 0
        results = json.loads(capsys.readouterr().out)["results"]
        for result in results:
            keys = {"digit", "confidence", "accepted", "box", "probabilities"}
            assert all(set(digit) == keys for digit in result["digits"])
            if threshold == "1":  # nothing is that sure
                assert result["digits"] == [] and set(result["best_guess"]) == keys
                assert not result["best_guess"]["accepted"]
            else:
                assert len(result["digits"]) == 1 and "best_guess" not in result
                assert result["digits"][0]["accepted"]


def test_cli_bad_image_file_is_one_error_line_and_exit_2(built, image_files, tmp_path, capsys):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not an image")
    missing = tmp_path / "missing.png"
    code = main(
        [str(image_files[0]), str(not_an_image), str(missing), "--model", str(built["int8"])]
    )
    assert code == 2
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 1
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert str(not_an_image) in errors[0] and "decode" in errors[0]
    assert str(missing) in errors[1] and "no such file" in errors[1]


@pytest.mark.parametrize("damage", ["data", "end"])
def test_a_damaged_png_is_one_error_line(built, images, damage, tmp_path, capfd):
    """libpng prints its complaint on stderr from C ("libpng error: IDAT: CRC error") before
    OpenCV gives up: digit-classify says it in its own one line instead."""
    import cv2

    png = bytearray(cv2.imencode(".png", images[0])[1].tobytes())
    if damage == "data":
        png[png.index(b"IDAT") + 8] ^= 0xFF  # the compressed pixels no longer match their CRC
    else:
        del png[-12:]  # cut short: no IEND
    path = tmp_path / "damaged.png"
    path.write_bytes(png)
    assert main([str(path), "--model", str(built["int8"])]) == 2
    captured = capfd.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"digit-classify: error: {path}: not an image file OpenCV can decode")


def test_libpng_s_reason_is_in_the_error_line_and_other_lines_pass(tmp_path, monkeypatch, capfd):
    import os

    from runtime import cli
    from runtime.errors import ImageError

    def damaged(path):
        os.write(2, b"[ WARN:0@0.005] global grfmt_png.cpp:792 PNG input buffer is incomplete\n")
        os.write(2, b"libpng warning: IDAT: incorrect data check\n")
        os.write(2, b"libpng error: IDAT: CRC error\n")
        os.write(2, b"a line of something else\n")
        raise ImageError(f"{path}: not an image file OpenCV can decode")

    monkeypatch.setattr(cli, "read_image_file", damaged)
    with pytest.raises(ImageError) as raised:
        cli.read_image(tmp_path / "d.png")
    assert str(raised.value) == (
        f"{tmp_path / 'd.png'}: not an image file OpenCV can decode (libpng: IDAT: CRC error)"
    )
    assert capfd.readouterr().err == "a line of something else\n"


@pytest.mark.parametrize("model", ["missing", "text"])
def test_cli_bad_model_is_one_error_line_and_exit_2(image_files, tmp_path, capsys, model):
    path = tmp_path / "model.tflite"
    if model == "text":
        path.write_text("not a model")
    assert main([str(image_files[0]), "--model", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("digit-classify: error: ")


def test_cli_bad_arguments_exit_2(built, image_files):
    with pytest.raises(SystemExit) as raised:
        main([str(image_files[0]), "--model", str(built["int8"]), "--backend", "gpu"])
    assert raised.value.code == 2


def test_python_dash_m_runtime(built, image_files):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runtime",
            str(image_files[0]),
            "--model",
            str(built["int8"]),
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["image"] == str(image_files[0])


def test_files_are_read_as_they_look(built, images, tmp_path, capsys):
    """A digit on a transparent background and a 12-bit gray PNG read like the 8-bit original;
    a directory is named as one."""
    import cv2

    digit = images[0]
    plain, transparent, deep = (
        tmp_path / "plain.png",
        tmp_path / "alpha.png",
        tmp_path / "12bit.png",
    )
    cv2.imwrite(str(plain), digit)
    bgra = np.zeros((28, 28, 4), np.uint8)  # black ink on nothing: the alpha holds the digit
    bgra[..., 3] = 255 - digit
    cv2.imwrite(str(transparent), bgra)
    cv2.imwrite(str(deep), (digit.astype(np.uint32) * 4095 // 255).astype(np.uint16))
    args = ["--model", str(built["int8"]), "--json"]
    assert main([str(plain), str(transparent), str(deep), *args]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [as_one_digit(r)["digit"] for r in results] == [as_one_digit(results[0])["digit"]] * 3
    probabilities = [np.array(as_one_digit(r)["probabilities"]) for r in results]
    assert np.abs(probabilities[1] - probabilities[0]).max() < 0.02
    assert np.abs(probabilities[2] - probabilities[0]).max() < 0.02
    assert main([str(tmp_path), "--model", str(built["int8"])]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_a_blank_page_reads_as_no_digit(built, tmp_path, capsys):
    import cv2

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160), 230, np.uint8))
    for mode in ([], ["--one-digit"]):
        assert main([str(blank), "--model", str(built["int8"]), *mode]) == 0
        assert (
            capsys.readouterr().out
            == f"{blank}: no digit read (no ink stands out from the paper)\n"
        )
    assert main([str(blank), "--model", str(built["int8"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert (result["number"], result["digits"]) == ("", [])


def test_a_closed_pipe_stops_digit_classify_quietly(built, image_files):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime",
            *map(str, image_files * 3000),
            "--model",
            str(built["int8"]),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline()
    process.stdout.close()  # like `| head -1`
    assert process.wait(timeout=120) == 141
    assert b"Traceback" not in process.stderr.read()


@pytest.mark.slow
def test_photos_of_digits_classify_like_mnist(tflite_models, mnist, tmp_path, capsys):
    import cv2

    from camera_demo import paper as drawing

    clf = DigitClassifier(tflite_models["int8"])
    count = 200
    photos = [
        drawing.finish(drawing.digit_on_paper(mnist.x_test[i], channels=3)) for i in range(count)
    ]
    labels = mnist.y_test[:count]
    direct = (clf.predict_proba(mnist.x_test[:count]).argmax(1) == labels).mean()
    photographed = np.mean([p.digit for p in clf.predict_batch(photos)] == labels)
    assert photographed >= direct - 0.03, (photographed, direct)
    paths = []
    for index, photo in enumerate(photos[:5]):
        paths.append(tmp_path / f"photo_{index}.jpg")
        assert cv2.imwrite(str(paths[-1]), photo)
    args = [*map(str, paths), "--model", str(tflite_models["int8"]), "--json", "--one-digit"]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    expected = [clf.predict(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)).digit for path in paths]
    assert [as_one_digit(r)["digit"] for r in results] == expected


@pytest.mark.slow
def test_a_photo_of_a_number_reads_as_the_number(tflite_models, mnist_path, tmp_path, capsys):
    """The issue's "472": a photo with several digits gives the number and each digit's box."""
    import cv2

    from benchmarks.corpora import Sources, generate

    items = [i for i in generate("camera", "tune", 40, Sources(mnist_path)) if len(i.text) >= 3]
    paths = []
    for index, item in enumerate(items[:6]):
        paths.append(tmp_path / f"page_{index}.jpg")
        assert cv2.imwrite(str(paths[-1]), item.image)
    assert main([*map(str, paths), "--model", str(tflite_models["int8"]), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    exact = 0
    for result, item in zip(results, items, strict=False):
        # The digits read make the numbers, each left to right; a photo where none is found
        # falls back to one whole-image digit, rejected, and no number.
        assert result["number"] == "".join(str(d["digit"]) for d in result["digits"])
        assert result["number"] == "".join(result["numbers"])
        digits = iter(result["digits"])
        for number in result["numbers"]:
            boxes = [next(digits)["box"] for _ in number]
            assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
        exact += result["number"] == item.text
    assert exact >= 4, [(r["number"], i.text) for r, i in zip(results, items, strict=False)]


@pytest.mark.slow
def test_small_digits_on_a_big_photo_are_found_with_a_lower_min_height(
    tflite_models, mnist, tmp_path, capsys
):
    """A whole page photographed from afar: digits 2.5% of the picture's height."""
    import cv2

    page = np.full((4000, 3000), 225, np.uint8)
    for slot, label in enumerate((3, 0, 5)):
        digit = mnist.x_test[int(np.flatnonzero(mnist.y_test == label)[0])]
        ink = cv2.resize(255 - digit, (140, 140), interpolation=cv2.INTER_CUBIC)
        x = 1400 + 110 * slot
        page[1900:2040, x : x + 140] = np.minimum(page[1900:2040, x : x + 140], ink)
    photo = tmp_path / "page.jpg"
    assert cv2.imwrite(str(photo), page)
    model = str(tflite_models["int8"])
    assert main([str(photo), "--model", model]) == 0
    assert "none found of at least 4.0% of the picture's height (--min-height, " in (
        capsys.readouterr().out
    )
    # the quickly trained test model doubts its digits: the search is what is tested here
    args = ["--min-height", "0.015", "--threshold", "0.3", "--json"]
    assert main([str(photo), "--model", model, *args]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["read_as"] == "numbers" and "searched_down_to" not in result
    for x, y, w, h in (digit["box"] for digit in result["digits"]):
        assert x >= 1400 and x + w <= 1400 + 2 * 110 + 140 and y >= 1900 and y + h <= 2040


def test_the_numbers_of_a_page_are_printed_apart():
    """Two numbers ("305" above "61") are not printed as one ("30561"); a doubted digit
    their number vouches for is marked."""
    from runtime.cli import _line

    digits = [
        {"digit": int(c), "confidence": 0.99, "accepted": c != "1", "box": [10 * i, 0, 8, 12]}
        for i, c in enumerate("30561")
    ]
    record = {
        "image": "page.jpg",
        "read_as": "numbers",
        "number": "30561",
        "numbers": ["305", "61"],
        "digits": digits,
    }
    line = _line(record, 0.9)
    assert line.startswith("page.jpg: 305 61  (3 0.990 at 0,0,8,12, ")
    assert line.endswith(", 1 0.990 (doubted) at 40,0,8,12)")


@pytest.mark.opencv
def test_a_picture_under_6_pixels_tall_was_searched_whole(built, tmp_path, capsys):
    """The search's 6-pixel floor is above a tiny picture's height: searched_down_to stays a
    fraction of it (the whole picture), not 6 times it."""
    import cv2

    assert cv2.imwrite(str(tmp_path / "tiny.png"), np.full((1, 3), 220, np.uint8))
    args = [str(tmp_path / "tiny.png"), "--model", str(built["int8"]), "--json"]
    assert main([*args, "--threshold", "1"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["searched_down_to"] == 1.0


@pytest.mark.opencv
def test_no_digit_read_says_whether_candidates_were_found(built, tmp_path, capsys):
    """Candidates judged and refused are not "none found"; when none is found, the height
    searched down to is the search's real floor (6 pixels), not --min-height below it."""
    import cv2

    shape = np.full((480, 640), 220, np.uint8)
    cv2.rectangle(shape, (300, 180), (350, 270), 30, 6)
    speck = np.full((480, 640), 220, np.uint8)
    cv2.rectangle(speck, (300, 200), (302, 204), 30, -1)  # 5 px tall
    paths = [tmp_path / "shape.png", tmp_path / "speck.png"]
    for path, image in zip(paths, (shape, speck), strict=True):
        assert cv2.imwrite(str(path), image)
    args = [*map(str, paths), "--model", str(built["int8"]), "--threshold", "1"]
    assert main([*args, "--min-height", "0.01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "(1 candidate found, none read as a digit; as one digit" in lines[0]
    assert (
        "(none found of at least 1.2% of the picture's height (--min-height, and at least 6 pixels); "
        in lines[1]
    )
    assert main([*args, "--min-height", "0.01", "--json"]) == 0
    shape_result, speck_result = json.loads(capsys.readouterr().out)["results"]
    assert shape_result["candidates"] == 1 and "searched_down_to" not in shape_result
    assert speck_result["candidates"] == 0 and speck_result["searched_down_to"] == 0.0125
