"""The kit's one renderer of MNIST digits written on paper, as a camera sees them.

Used by the sample video (``camera_demo.synth``), the tests, the benchmarks of the kit's own
pipeline and the training of the non-digit judge. (The reading benchmark in
``benchmarks/corpora`` deliberately draws its pages with code of its own, so that the kit is
never measured on the renderer it was developed against.)

A canvas is a float32 array of gray levels 0..255, shape (H, W) or (H, W, 3) for BGR. Build
one with ``paper`` or ``textured_paper``, draw with ``draw_ink`` / ``draw_ruled_line`` /
``add_specks``, degrade it with ``add_lighting`` / ``add_shadow`` / ``add_noise`` / ``blur`` /
``jpeg``, then ``finish`` it into the dtype wanted. ``digit_on_paper``, ``digit_page`` and
``written_row`` are the common compositions, ``camera_view`` a hand-held camera's frame of a
page, and ``blank_frame`` and friends make frames that hold no digit at all.

MNIST images are white digits on black with gray anti-aliased edges; a digit is drawn by
treating its pixel values as ink coverage (alpha), so edges stay soft at any size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from runtime.images import require_opencv

Color = float | tuple[float, float, float]
Box = tuple[int, int, int, int]  # x, y, w, h

PAPER = 235.0
INK = 25.0
# Coverage above which a pixel counts toward a digit's ink box.
BOX_COVERAGE = 0.25
MNIST_INK_SPAN = 20.0  # MNIST digits are scaled to fit 20x20 pixels inside the 28x28 image


def paper(height: int, width: int, level: Color = PAPER, channels: int = 1) -> np.ndarray:
    """A uniform canvas: (H, W) gray when ``channels`` is 1, else (H, W, 3) BGR."""
    shape = (height, width) if channels == 1 else (height, width, channels)
    canvas = np.empty(shape, np.float32)
    canvas[...] = level
    return canvas


def textured_paper(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A BGR sheet as a camera sees it: a tinted brightness with a lighting gradient and
    vignette, coarse fibre texture and fine grain. ``size`` is (width, height)."""
    cv2 = require_opencv()
    width, height = size
    yy, xx = np.mgrid[-1.0 : 1.0 : complex(height), -1.0 : 1.0 : complex(width)].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    gradient = (math.cos(angle) * xx + math.sin(angle) * yy) * rng.uniform(8, 35)
    vignette = -(xx**2 + yy**2) * rng.uniform(0, 25)
    coarse = rng.normal(0, 1, (height // 16 + 2, width // 16 + 2)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(2, 6)
    grain = cv2.GaussianBlur(
        rng.standard_normal((height, width), dtype=np.float32) * 2, (0, 0), 0.8
    )
    gray = rng.uniform(175, 235) + gradient + vignette + texture + grain
    tint = np.array([rng.uniform(0.88, 1.0), rng.uniform(0.95, 1.0), 1.0], dtype=np.float32)
    return gray[:, :, None] * tint


def pen_color(rng: np.random.Generator) -> np.ndarray:
    """A BGR ink: graphite or black pen, or blue pen."""
    darkness = rng.uniform(10, 70)
    if rng.random() < 0.5:
        return np.full(3, darkness, dtype=np.float32)
    return np.array([darkness + 70, darkness + 20, darkness], dtype=np.float32)


def ink_coverage(
    digit: np.ndarray, height: float | None = None, thickness: int = 0, angle: float = 0.0
) -> np.ndarray:
    """Ink coverage 0..1 of an MNIST digit (28x28 uint8), resized, re-stroked and turned.

    ``height``: size of the 28x28 field in pixels (the digit itself is ~20/28 of it).
    ``thickness``: pixels to add to (dilate) or, when negative, remove from (erode) each side
    of every stroke, at the rendered size. ``angle``: rotation in degrees (counter-clockwise);
    a turned digit is cropped to its ink box.
    """
    cv2 = require_opencv()
    alpha = digit.astype(np.float32) / 255.0
    side = round(height) if height is not None else digit.shape[0]
    if angle:
        scale = (height or digit.shape[0]) / digit.shape[0]
        span = math.ceil(digit.shape[0] * scale * 1.5) + 2
        matrix = cv2.getRotationMatrix2D((14.0, 14.0), angle, scale)
        matrix[:, 2] += (span / 2 - 14.0, span / 2 - 14.0)
        alpha = cv2.warpAffine(alpha, matrix, (span, span), flags=cv2.INTER_LINEAR)
        ys, xs = np.nonzero(alpha > BOX_COVERAGE)
        alpha = alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    elif side != digit.shape[0]:
        interpolation = cv2.INTER_AREA if side < digit.shape[0] else cv2.INTER_CUBIC
        alpha = np.clip(cv2.resize(alpha, (side, side), interpolation=interpolation), 0, 1)
    return restroke(alpha, thickness)


def restroke(coverage: np.ndarray, thickness: int) -> np.ndarray:
    """Ink coverage with ``thickness`` px added to (dilated) or, when negative, removed from
    (eroded) each side of every stroke; ink at the array's edge cannot grow past it."""
    if not thickness:
        return coverage
    cv2 = require_opencv()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(thickness) + 1,) * 2)
    return cv2.dilate(coverage, kernel) if thickness > 0 else cv2.erode(coverage, kernel)


def draw_ink(canvas: np.ndarray, coverage: np.ndarray, x: int, y: int, ink: Color = INK) -> None:
    """Blend ``coverage`` into ``canvas`` with its top-left corner at (x, y), clipped."""
    height, width = coverage.shape
    top, left = max(0, y), max(0, x)
    bottom, right = min(canvas.shape[0], y + height), min(canvas.shape[1], x + width)
    if top >= bottom or left >= right:
        return
    alpha = coverage[top - y : bottom - y, left - x : right - x]
    region = canvas[top:bottom, left:right]
    if region.ndim == 3:
        alpha = alpha[:, :, None]
    region *= 1.0 - alpha
    region += alpha * np.asarray(ink, np.float32)


def ink_box(coverage: np.ndarray, x: int, y: int, level: float = 0.1) -> Box:
    """Bounding box (x, y, w, h) in canvas pixels of the ink (coverage > ``level``) drawn at (x, y)."""
    rows = np.flatnonzero(coverage.max(axis=1) > level)
    cols = np.flatnonzero(coverage.max(axis=0) > level)
    return (
        x + int(cols[0]),
        y + int(rows[0]),
        int(cols[-1] - cols[0] + 1),
        int(rows[-1] - rows[0] + 1),
    )


def draw_ruled_line(
    canvas: np.ndarray, y: float, thickness: int = 2, level: Color = 120.0, slope: float = 0.0
) -> None:
    """A ruled line across the whole canvas at height ``y`` (tilted by ``slope`` px per px)."""
    cv2 = require_opencv()
    width = canvas.shape[1]
    start = (0, round(y))
    end = (width - 1, round(y + slope * (width - 1)))
    cv2.line(canvas, start, end, _color_tuple(level), thickness, lineType=cv2.LINE_AA)


def add_specks(
    canvas: np.ndarray,
    count: int,
    rng: np.random.Generator,
    radius: tuple[int, int] = (1, 2),
    level: Color = INK,
) -> None:
    """``count`` small round dots (dust, pen specks) at random places."""
    cv2 = require_opencv()
    height, width = canvas.shape[:2]
    for _ in range(count):
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(
            canvas, center, int(rng.integers(radius[0], radius[1] + 1)), _color_tuple(level), -1
        )


def add_lighting(canvas: np.ndarray, strength: float, rng: np.random.Generator) -> None:
    """Uneven light: a linear gradient in a random direction times a vignette.

    The darkest spot receives ``1 - strength`` of the brightest spot's light; paper and ink
    are both scaled, as a camera sees reflected light.
    """
    height, width = canvas.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx / width + np.sin(angle) * yy / height
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    radius = np.hypot(xx / width - rng.uniform(0.3, 0.7), yy / height - rng.uniform(0.3, 0.7))
    light = 0.6 * ramp + 0.4 * (1.0 - np.clip(radius / 0.8, 0, 1))
    light = 1.0 - strength * (1.0 - (light - light.min()) / max(float(np.ptp(light)), 1e-6))
    _scale(canvas, light)


def add_shadow(
    canvas: np.ndarray, darkness: float, rng: np.random.Generator, softness: float = 3.0
) -> None:
    """A hard-edged shadow (a hand, a phone) over a random half-plane, ``darkness`` 0..1."""
    height, width = canvas.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    distance = (xx - rng.uniform(0.2, 0.8) * width) * np.cos(angle) + (
        yy - rng.uniform(0.2, 0.8) * height
    ) * np.sin(angle)
    inside = 1.0 / (1.0 + np.exp(-distance / softness))
    _scale(canvas, 1.0 - darkness * inside)


def add_noise(canvas: np.ndarray, sigma: float, rng: np.random.Generator) -> None:
    """Gaussian sensor noise with standard deviation ``sigma`` gray levels."""
    noise = rng.standard_normal(canvas.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    canvas += noise


def blur(canvas: np.ndarray, sigma: float) -> np.ndarray:
    """Defocus: a Gaussian blur of ``sigma`` pixels."""
    return require_opencv().GaussianBlur(canvas, (0, 0), sigma)


def jpeg(canvas: np.ndarray, quality: int = 60) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (blocking and ringing artefacts)."""
    cv2 = require_opencv()
    ok, data = cv2.imencode(".jpg", finish(canvas), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the canvas as JPEG")
    flag = cv2.IMREAD_GRAYSCALE if canvas.ndim == 2 else cv2.IMREAD_COLOR
    return cv2.imdecode(data, flag).astype(np.float32)


def finish(canvas: np.ndarray, dtype: type | np.dtype = np.uint8) -> np.ndarray:
    """Clip to 0..255 and convert: uint8, uint16 (0..65535) or float (0..1)."""
    clipped = np.clip(canvas, 0.0, 255.0)
    kind = np.dtype(dtype)
    if kind == np.uint8:
        return (clipped + 0.5).astype(np.uint8)
    if kind == np.uint16:
        return (clipped * (65535.0 / 255.0) + 0.5).astype(np.uint16)
    if np.issubdtype(kind, np.floating):
        return (clipped / 255.0).astype(kind)
    raise ValueError(f"finish() makes uint8, uint16 or float images, not {kind}")


def digit_on_paper(
    digit: np.ndarray,
    size: tuple[int, int] = (96, 96),
    field: int = 56,
    offset: tuple[int, int] = (0, 0),
    thickness: int = 0,
    paper_level: Color = PAPER,
    ink: Color = INK,
    channels: int = 1,
) -> np.ndarray:
    """One MNIST digit as ink on a (H, W) = ``size`` float32 canvas.

    ``field``: the 28x28 field's size in pixels; ``offset``: shift of its centre from the
    canvas centre. Degrade and ``finish`` the result as needed.
    """
    canvas = paper(*size, level=paper_level, channels=channels)
    coverage = ink_coverage(digit, field, thickness)
    x = (size[1] - field) // 2 + offset[0]
    y = (size[0] - field) // 2 + offset[1]
    draw_ink(canvas, coverage, x, y, ink)
    return canvas


@dataclass(frozen=True)
class Page:
    """A synthetic frame: the float32 canvas and, left to right, each digit's ink box and label."""

    canvas: np.ndarray
    boxes: list[Box]
    labels: list[int]


def digit_page(
    digits: Sequence[np.ndarray],
    labels: Sequence[int],
    size: tuple[int, int] = (480, 640),
    field: int = 90,
    spacing: int = 0,
    top: int | None = None,
    thickness: int = 0,
    paper_level: Color = PAPER,
    ink: Color = INK,
    channels: int = 1,
) -> Page:
    """A row of digits written on plain paper, centred horizontally.

    Each digit's ``field`` x ``field`` square (MNIST's 28x28 frame, the ink filling ~70% of
    it) follows the previous one after ``spacing`` px (negative: the squares overlap).
    ``top``: the row's top edge; by default the row is centred vertically.
    """
    height, width = size
    step = field + spacing
    row_width = step * (len(digits) - 1) + field
    x = (width - row_width) // 2
    y = (height - field) // 2 if top is None else top
    canvas = paper(height, width, level=paper_level, channels=channels)
    boxes = []
    for digit in digits:
        coverage = ink_coverage(digit, field, thickness)
        draw_ink(canvas, coverage, x, y, ink)
        boxes.append(ink_box(coverage, x, y))
        x += step
    return Page(canvas=canvas, boxes=boxes, labels=[int(label) for label in labels])


@dataclass(frozen=True)
class WrittenRow:
    """Digits written in a row on a textured sheet, before the camera: the BGR canvas, each
    digit's label, ink box and source index, and the camera's blur and noise for this sheet."""

    canvas: np.ndarray
    labels: tuple[int, ...]
    boxes: tuple[Box, ...]
    indices: tuple[int, ...]
    blur_sigma: float
    noise_sigma: float


def written_row(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    size: tuple[int, int] = (640, 480),
    indices: Sequence[int] | None = None,
    max_digits: int = 4,
    margin: float = 22.0,
    max_rotation: float = 10.0,
) -> WrittenRow:
    """Write MNIST digits in a row at a random place, height and slant on a fresh sheet.

    ``size`` is (width, height); ``indices`` picks the digits (left to right), by default
    1..``max_digits`` random ones; ``margin`` (px) keeps them off the frame's edges.
    """
    width, height = size
    if indices is None:
        count = int(rng.integers(1, max_digits + 1))
        indices = [int(i) for i in rng.integers(0, len(images), count)]
    count = len(indices)
    row_height = rng.uniform(45, 110) * min(1.0, height / 480, width / 640)
    usable = width - 2 * margin
    while True:
        patches = [
            ink_coverage(
                images[i],
                28 * row_height / MNIST_INK_SPAN * rng.uniform(0.9, 1.1),
                angle=rng.uniform(-max_rotation, max_rotation),
            )
            for i in indices
        ]
        # Ink gaps of one written number: well under the reader's gap between numbers
        # (runtime.segment._WORD_GAP, 0.45 of a digit's height), as people space digits.
        gaps = [int(rng.uniform(0.1, 0.35) * row_height) for _ in range(count - 1)]
        total = sum(p.shape[1] for p in patches) + sum(gaps)
        if total <= usable:
            break
        row_height *= 0.85
    tallest = max(p.shape[0] for p in patches)
    jitter = 0.15 * row_height
    low = margin + tallest / 2 + jitter
    high = height - low
    centre_y = rng.uniform(low, high) if high > low else height / 2
    x = int(rng.uniform(margin, width - margin - total + 1))

    alpha = np.zeros((height, width), dtype=np.float32)
    boxes = []
    for slot, patch in enumerate(patches):
        ph, pw = patch.shape
        y = int(np.clip(centre_y - ph / 2 + rng.uniform(-jitter, jitter), 0, height - ph))
        alpha[y : y + ph, x : x + pw] = np.maximum(alpha[y : y + ph, x : x + pw], patch)
        boxes.append((x, y, pw, ph))
        x += pw + (gaps[slot] if slot < len(gaps) else 0)
    alpha = (alpha * rng.uniform(0.8, 1.0))[:, :, None]
    canvas = textured_paper(rng, size) * (1 - alpha) + pen_color(rng) * alpha
    return WrittenRow(
        canvas,
        tuple(int(labels[i]) for i in indices),
        tuple(boxes),
        tuple(int(i) for i in indices),
        blur_sigma=rng.uniform(0.5, 1.2),
        noise_sigma=rng.uniform(2, 6),
    )


def camera_view(
    row: WrittenRow,
    rng: np.random.Generator,
    shake_px: float = 2.0,
    shake_deg: float = 0.8,
    shake_zoom: float = 0.02,
) -> tuple[np.ndarray, tuple[Box, ...]]:
    """One uint8 BGR camera frame of ``row`` and the digits' boxes in it: a hand-held camera's
    small shift, turn and zoom (sub-pixel, so every frame samples the ink anew), lighting
    flicker, lens blur and sensor noise."""
    cv2 = require_opencv()
    height, width = row.canvas.shape[:2]
    matrix = cv2.getRotationMatrix2D(
        (width / 2, height / 2),
        rng.uniform(-shake_deg, shake_deg),
        1 + rng.uniform(-shake_zoom, shake_zoom),
    )
    matrix[:, 2] += rng.uniform(-shake_px, shake_px, 2)
    view = cv2.warpAffine(
        row.canvas, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    view *= 1 + rng.normal(0, 0.02)
    view = cv2.GaussianBlur(view, (0, 0), row.blur_sigma)
    view += rng.normal(0, row.noise_sigma, view.shape).astype(np.float32)
    boxes = tuple(_moved_box(box, matrix, (width, height)) for box in row.boxes)
    return finish(view), boxes


def _moved_box(box: Box, matrix: np.ndarray, size: tuple[int, int]) -> Box:
    """The bounding box of ``box``'s corners moved by the 2x3 affine ``matrix``, inside the frame."""
    x, y, w, h = box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], np.float64)
    moved = corners @ matrix.T
    x0, y0 = np.floor(moved.min(axis=0)).astype(int)
    x1, y1 = np.ceil(moved.max(axis=0)).astype(int)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(size[0], int(x1)), min(size[1], int(y1))
    return x0, y0, x1 - x0, y1 - y0


def blank_frame(
    size: tuple[int, int] = (480, 640), rng: np.random.Generator | None = None
) -> np.ndarray:
    """Plain paper with mild sensor noise."""
    rng = rng or np.random.default_rng(0)
    canvas = paper(*size)
    add_noise(canvas, 2.0, rng)
    return canvas


def gradient_frame(
    size: tuple[int, int] = (480, 640), rng: np.random.Generator | None = None
) -> np.ndarray:
    """Paper under strongly uneven light."""
    rng = rng or np.random.default_rng(0)
    canvas = paper(*size)
    add_lighting(canvas, 0.6, rng)
    add_noise(canvas, 2.0, rng)
    return canvas


def noise_frame(
    size: tuple[int, int] = (480, 640), rng: np.random.Generator | None = None
) -> np.ndarray:
    """Uniform random pixels 0..255 (a covered lens at high gain, static)."""
    rng = rng or np.random.default_rng(0)
    return rng.uniform(0, 255, size).astype(np.float32)


def texture_frame(
    size: tuple[int, int] = (480, 640), rng: np.random.Generator | None = None
) -> np.ndarray:
    """A textured surface (a wooden table): noise smoothed at several scales plus grain."""
    cv2 = require_opencv()
    rng = rng or np.random.default_rng(0)
    height, width = size
    canvas = np.zeros(size, np.float32)
    for scale, weight in ((4, 14.0), (16, 18.0), (64, 22.0)):
        coarse = rng.normal(0, 1, (height // scale + 2, width // scale + 2)).astype(np.float32)
        canvas += (
            weight
            * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)[:height, :width]
        )
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    canvas += 10.0 * np.sin(xx / 7.0 + 3.0 * np.sin(yy / 40.0))
    return canvas + 140.0


def table_frame(
    size: tuple[int, int] = (480, 640), rng: np.random.Generator | None = None
) -> np.ndarray:
    """A blank sheet of paper lying on a textured table, both under uneven light."""
    rng = rng or np.random.default_rng(0)
    height, width = size
    canvas = texture_frame(size, rng) * 0.5
    left, top = (
        int(rng.integers(width // 16, width // 3)),
        int(rng.integers(height // 16, height // 3)),
    )
    right, bottom = (
        int(rng.integers(2 * width // 3, width - width // 32)),
        int(rng.integers(2 * height // 3, height - height // 32)),
    )
    canvas[top:bottom, left:right] = PAPER
    canvas = blur(canvas, 1.0)
    add_lighting(canvas, 0.4, rng)
    add_noise(canvas, 3.0, rng)
    return canvas


def ruled_frame(
    size: tuple[int, int] = (480, 640),
    spacing: int = 48,
    slope: float = 0.01,
    margin: int | None = 80,
) -> np.ndarray:
    """Empty ruled paper: horizontal lines every ``spacing`` px and an optional margin line."""
    cv2 = require_opencv()
    canvas = paper(*size)
    for y in range(spacing // 2, size[0], spacing):
        draw_ruled_line(canvas, y, thickness=2, level=150.0, slope=slope)
    if margin is not None:
        cv2.line(canvas, (margin, 0), (margin, size[0] - 1), 170.0, 2, lineType=cv2.LINE_AA)
    return canvas


def _color_tuple(level: Color) -> tuple[float, ...]:
    return (float(level),) * 3 if np.isscalar(level) else tuple(float(v) for v in level)


def _scale(canvas: np.ndarray, factor: np.ndarray) -> None:
    canvas *= factor[:, :, None] if canvas.ndim == 3 else factor


# Hershey fonts that ship with OpenCV: the kit renders letters and words with these (the
# reading benchmark uses other fonts, so it measures writing the kit never trained on).
HERSHEY_FONTS = (
    0,  # FONT_HERSHEY_SIMPLEX
    1,  # FONT_HERSHEY_PLAIN
    2,  # FONT_HERSHEY_DUPLEX
    3,  # FONT_HERSHEY_COMPLEX
    4,  # FONT_HERSHEY_TRIPLEX
    5,  # FONT_HERSHEY_COMPLEX_SMALL
    6,  # FONT_HERSHEY_SCRIPT_SIMPLEX
    7,  # FONT_HERSHEY_SCRIPT_COMPLEX
)


def text_coverage(
    text: str,
    height: float,
    font: int = 0,
    thickness: int = 2,
    shear: float = 0.0,
    angle: float = 0.0,
) -> np.ndarray:
    """Ink coverage 0..1 of ``text`` written in a Hershey font, letters about ``height`` px tall,
    slanted by ``shear`` (x per y) and turned by ``angle`` degrees; cropped to its ink."""
    cv2 = require_opencv()
    scale = cv2.getFontScaleFromHeight(font, max(4, round(height)), thickness)
    (width, tall), base = cv2.getTextSize(text, font, scale, thickness)
    pad = thickness + round(abs(shear) * (tall + base)) + 4
    glyphs = np.zeros((tall + base + 2 * pad, width + 2 * pad), np.uint8)
    cv2.putText(glyphs, text, (pad, pad + tall), font, scale, 255, thickness, cv2.LINE_AA)
    return slant_and_turn(glyphs.astype(np.float32) / 255.0, shear, angle, pad)


def slant_and_turn(coverage: np.ndarray, shear: float, angle: float, pad: int = 4) -> np.ndarray:
    """Ink coverage 0..1 slanted by ``shear`` (x per y) and turned by ``angle`` degrees about
    its centre, cropped to its ink (a 1x1 blank when there is none)."""
    cv2 = require_opencv()
    rows, cols = coverage.shape
    matrix = cv2.getRotationMatrix2D((cols / 2, rows / 2), angle, 1.0)
    matrix[0, 1] += shear
    matrix[0, 2] -= shear * rows / 2
    side = round(math.hypot(rows, cols)) + 2 * pad
    matrix[:, 2] += ((side - cols) / 2, (side - rows) / 2)
    alpha = np.clip(cv2.warpAffine(coverage, matrix, (side, side), flags=cv2.INTER_LINEAR), 0, 1)
    ys, xs = np.nonzero(alpha > 0.05)
    if ys.size == 0:
        return np.zeros((1, 1), np.float32)
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def draw_grid(canvas: np.ndarray, spacing: float, level: Color = 170.0, thickness: int = 1) -> None:
    """Graph paper: horizontal and vertical lines every ``spacing`` px."""
    cv2 = require_opencv()
    height, width = canvas.shape[:2]
    color = _color_tuple(level)
    for y in np.arange(spacing / 2, height, spacing):
        cv2.line(canvas, (0, round(y)), (width - 1, round(y)), color, thickness, cv2.LINE_AA)
    for x in np.arange(spacing / 2, width, spacing):
        cv2.line(canvas, (round(x), 0), (round(x), height - 1), color, thickness, cv2.LINE_AA)


def draw_margin(canvas: np.ndarray, x: float, level: Color = 150.0, thickness: int = 2) -> None:
    """A vertical margin line at ``x``."""
    cv2 = require_opencv()
    color = _color_tuple(level)
    cv2.line(canvas, (round(x), 0), (round(x), canvas.shape[0] - 1), color, thickness, cv2.LINE_AA)


def draw_holes(
    canvas: np.ndarray, x: float, radius: float, spacing: float, level: Color = 50.0
) -> None:
    """Binder holes down the left edge, showing a dark table through the sheet."""
    cv2 = require_opencv()
    for y in np.arange(spacing / 2, canvas.shape[0], spacing):
        centre = (round(x), round(y))
        cv2.circle(canvas, centre, round(radius), _color_tuple(level), -1, cv2.LINE_AA)


def photograph(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uint8 camera picture of ``canvas``: uneven light, lens blur, sensor noise and, often,
    JPEG compression."""
    image = canvas.copy()
    add_lighting(image, rng.uniform(0.0, 0.45), rng)
    image = blur(image, rng.uniform(0.3, 1.3))
    add_noise(image, rng.uniform(1.0, 6.0), rng)
    if rng.random() < 0.6:
        image = jpeg(image, int(rng.integers(55, 95)))
    return finish(image)


def draw_ruled_lines_at(canvas: np.ndarray, spacing: float, rng: np.random.Generator) -> None:
    """Notebook ruling: lines every ``spacing`` px, of one random tint, weight and tilt."""
    level = (rng.uniform(150, 215), rng.uniform(140, 205), rng.uniform(110, 200))
    thickness = int(rng.integers(1, 3))
    slope = rng.uniform(-0.02, 0.02)
    for y in np.arange(rng.uniform(0, spacing), canvas.shape[0], spacing):
        draw_ruled_line(canvas, y, thickness=thickness, level=level, slope=slope)
