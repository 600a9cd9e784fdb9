"""Examples for the classifier's second job, judging whether a candidate is a digit.

The reader proposes every plausible ink group and lets the classifier decide
(``runtime.segment``), so the classifier is trained on exactly what the reader proposes:
the reader's own candidates (``runtime.segment.candidate_regions``) on synthetic camera
pictures of pages (``camera_demo.paper``):

- pages without digits: ruled and graph paper, margin lines, binder holes, wood-like
  textures, letters and words that do not look like digits (OpenCV's Hershey fonts and the
  handwriting fonts of ``train.glyphs``),
  scribbles and blobs: every candidate is a negative;
- pages of MNIST *training* digits, apart, close and touching, on plain or ruled paper: a
  candidate holding exactly one digit is a positive with that digit's label (the reader's
  own crop of it), one holding part of a digit or two digits is a negative;
- digits in OpenCV's Hershey fonts (printed and script styles) and in the handwriting
  fonts of ``train.glyphs``, as positives beyond MNIST's writers.

Negatives get the outlier-exposure target (uniform over the classes), so the softmax learns
to be unsure exactly where the reader proposes something that is not one digit. Nothing here
uses the reading benchmark's fonts or generators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camera_demo import paper
from runtime.segment import candidate_regions
from train import glyphs

FRAME = (480, 640)
# Share of the typed digits, and of the lines of words, written in a handwriting font
# (train.glyphs) rather than a Hershey font
HANDWRITTEN_SHARE = 0.5
# Shares of a digit's ink inside a candidate's box: at least _WHOLE of one digit and under
# _OTHER_DIGIT of any other is that digit; under _PART of every digit (a fragment) or _PART
# of two digits (a merge) is a non-digit; anything between is left out as unclear.
_WHOLE = 0.92
_OTHER_DIGIT = 0.08
_PART = 0.45
# A straight stroke 20 px long and ~2.5 px wide has a spread ratio near 0.13; a 1 with a
# slanted hook or a serif is wider.
_BAR_SPREAD = 0.16


def font_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` digits written in OpenCV's Hershey fonts (printed and script) and in
    handwriting fonts (``train.glyphs``), slanted, turned and of any pen width, in MNIST form
    with their labels: writing styles beyond MNIST's for the positives."""
    from runtime.preprocess import to_mnist

    rng = np.random.default_rng([seed, 2])
    images = np.zeros((count, 28, 28), np.uint8)
    labels = rng.integers(0, 10, count)
    fonts = glyphs.training_fonts()
    for index, digit in enumerate(labels):
        size = rng.uniform(30, 90)
        if rng.random() < HANDWRITTEN_SHARE:
            coverage = glyphs.digit_coverage(
                int(digit),
                size,
                fonts[int(rng.integers(len(fonts)))],
                rng.uniform(-0.3, 0.3),
                rng.uniform(-8, 8),
                int(rng.integers(0, max(1, round(size / 25)) + 1)),
            )
        else:
            coverage = paper.text_coverage(
                str(digit),
                size,
                int(rng.choice(paper.HERSHEY_FONTS)),
                int(rng.integers(1, max(2, round(size / 10)) + 1)),
                rng.uniform(-0.3, 0.3),
                rng.uniform(-8, 8),
            )
        images[index] = to_mnist(coverage)
    return images, labels.astype(np.int64)


@dataclass(frozen=True)
class JudgeExamples:
    """The reader's candidates on synthetic pages, in MNIST form (28x28 uint8, white on black)."""

    negatives: np.ndarray
    positives: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.negatives) + len(self.positives)


def page(
    index: int, seed: int, images: np.ndarray, labels: np.ndarray, digit_share: float = 0.55
) -> tuple[np.ndarray, list[PlacedDigit]]:
    """Synthetic picture ``index`` of a stream: uint8 BGR, and the digits written on it (a
    share ``digit_share`` of the pages hold MNIST digits from ``images``/``labels``)."""
    rng = np.random.default_rng([seed, index])
    if rng.random() < digit_share:
        canvas, placed = digit_page(rng, images, labels)
    else:
        canvas, placed = digit_free_page(rng), []
    return paper.photograph(canvas, rng), placed


def threshold_page(
    index: int, seed: int, images: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, list[PlacedDigit]]:
    """Held-out picture ``index`` for choosing the acceptance threshold, mixed as a camera
    sees pages: a third MNIST digits from ``images``/``labels`` (``digit_page``), a third a
    number in a handwriting font never trained on (``glyphs.threshold_fonts``), a third
    without digits (``digit_free_page``), words in those fonts. Uint8 BGR and the digits."""
    rng = np.random.default_rng([seed, index])
    unseen = glyphs.threshold_fonts()
    kind = rng.random()
    if kind < 1 / 3:
        canvas, placed = digit_page(rng, images, labels, unseen)
    elif kind < 2 / 3:
        canvas, placed = font_number_page(rng, unseen)
    else:
        canvas, placed = digit_free_page(rng, unseen), []
    return paper.photograph(canvas, rng), placed


def harvest(
    pages: int,
    seed: int,
    images: np.ndarray,
    labels: np.ndarray,
    workers: int = 2,
) -> JudgeExamples:
    """The candidates of ``pages`` synthetic pictures (``page``), labelled by where the
    digits are.

    Page ``i`` draws from ``default_rng([seed, i])``, so the result does not depend on
    ``workers`` (threads: OpenCV and NumPy release the GIL for the heavy parts).
    """
    from concurrent.futures import ThreadPoolExecutor

    def one_page(index: int) -> list[tuple[np.ndarray, int | None]]:
        image, placed = page(index, seed, images, labels)
        found = []
        for region in candidate_regions(image):
            digit = label(region.box, placed)
            if digit is None and straight_bar(region.image):
                digit = -1  # a straight stroke is a 1 to any reader: never taught as a non-digit
            found.append((region.image, digit))
        return found

    negatives: list[np.ndarray] = []
    positives: list[np.ndarray] = []
    digits: list[int] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for found in pool.map(one_page, range(pages)):
            for image, digit in found:
                if digit is None:
                    negatives.append(image)
                elif digit >= 0:
                    positives.append(image)
                    digits.append(digit)
    typed, typed_labels = font_digits(pages, seed)
    empty = np.zeros((0, 28, 28), np.uint8)
    return JudgeExamples(
        negatives=np.stack(negatives) if negatives else empty,
        positives=np.concatenate([np.stack(positives) if positives else empty, typed]),
        labels=np.concatenate([np.asarray(digits, np.int64), typed_labels]),
    )


def straight_bar(image: np.ndarray) -> bool:
    """Is the MNIST-form ink one straight stroke (its spread across its main axis under
    ``_BAR_SPREAD`` of its length)? Such a candidate cannot be told from a 1 by its looks."""
    ys, xs = np.nonzero(image > 64)
    if len(xs) < 3:
        return False
    weights = image[ys, xs].astype(np.float64)
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    centred = points - np.average(points, axis=0, weights=weights)
    covariance = (centred * weights[:, None]).T @ centred / weights.sum()
    minor, major = np.sqrt(np.maximum(np.linalg.eigvalsh(covariance), 0.0))
    return minor < _BAR_SPREAD * major


@dataclass(frozen=True)
class PlacedDigit:
    """An MNIST digit written on a page: its label and its ink coverage at (x, y)."""

    label: int
    x: int
    y: int
    coverage: np.ndarray

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Where the digit's coverage lies on the page: (x, y, w, h)."""
        return self.x, self.y, self.coverage.shape[1], self.coverage.shape[0]

    def share_inside(self, box) -> float:
        """The share of this digit's ink inside ``box`` (x, y, w, h)."""
        bx, by, bw, bh = box
        h, w = self.coverage.shape
        x0, y0 = max(bx - self.x, 0), max(by - self.y, 0)
        x1, y1 = min(bx + bw - self.x, w), min(by + bh - self.y, h)
        if x1 <= x0 or y1 <= y0:
            return 0.0
        return float(self.coverage[y0:y1, x0:x1].sum() / self.coverage.sum())


def label(box, placed: list[PlacedDigit]) -> int | None:
    """The digit a candidate holds, None for a non-digit, -1 when it is neither clearly.

    A candidate holds a digit when nearly all of that digit's ink and almost none of another
    digit's ink lies in its box; it is a non-digit when it holds only a part of every digit
    (a fragment) or good parts of two digits (a merge).
    """
    if not placed:
        return None
    shares = sorted(((digit.share_inside(box), digit.label) for digit in placed), reverse=True)
    best, label = shares[0]
    other = shares[1][0] if len(shares) > 1 else 0.0
    if best < _PART or other >= _PART:
        return None
    if best >= _WHOLE and other < _OTHER_DIGIT:
        return label
    return -1


def digit_page(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    word_fonts: list[int] | None = None,
) -> tuple[np.ndarray, list[PlacedDigit]]:
    """MNIST digits in a row, apart, close or touching, on plain or ruled paper, sometimes
    beside words (``_write_words``): the BGR canvas and the digits written on it."""
    height, width = FRAME
    canvas = _page_sheet(rng)
    count = int(rng.integers(1, 6))
    field = rng.uniform(40, 170)
    spacing = (
        field * rng.uniform(-0.15, 0.4) if rng.random() < 0.5 else field * rng.uniform(0.0, 0.8)
    )
    while count > 1 and count * field + (count - 1) * spacing > width - 60:
        count -= 1
    x = rng.uniform(30, max(31, width - 30 - count * field - (count - 1) * spacing))
    y = rng.uniform(20, max(21, height - 20 - field))
    ink = paper.pen_color(rng)
    placed: list[PlacedDigit] = []
    for _ in range(count):
        index = int(rng.integers(len(images)))
        coverage = paper.ink_coverage(
            images[index],
            field * rng.uniform(0.9, 1.1),
            thickness=int(rng.choice([-1, 0, 0, 0, 1, 2])) if field > 70 else 0,
            angle=rng.uniform(-12, 12),
        )
        top = round(y + rng.uniform(-0.1, 0.1) * field)
        paper.draw_ink(canvas, coverage, round(x), top, ink)
        placed.append(PlacedDigit(int(labels[index]), round(x), top, coverage))
        x += coverage.shape[1] + spacing
    _words_beside(canvas, rng, placed, word_fonts)
    return canvas, placed


def font_number_page(
    rng: np.random.Generator, fonts: list[int]
) -> tuple[np.ndarray, list[PlacedDigit]]:
    """A number of 1-6 digits in one of the handwriting ``fonts`` and pen, on plain or ruled
    paper, sometimes beside words in the same fonts: the BGR canvas and its digits."""
    height, width = FRAME
    canvas = _page_sheet(rng)
    font = fonts[int(rng.integers(len(fonts)))]
    size = rng.uniform(30, 130)
    shear, angle = rng.uniform(-0.3, 0.3), rng.uniform(-6, 6)
    pen = int(rng.integers(0, max(1, round(size / 25)) + 1))
    digits = rng.integers(0, 10, int(rng.integers(1, 7)))
    inks = [glyphs.digit_coverage(int(d), size, font, shear, angle, pen) for d in digits]
    gaps = size * rng.uniform(-0.05, 0.35, len(inks))  # after each digit; negative: touching
    while len(inks) > 1 and sum(i.shape[1] for i in inks) + gaps[1 : len(inks)].sum() > width - 60:
        inks, digits = inks[:-1], digits[:-1]
    tallest = max(ink.shape[0] for ink in inks)
    x = rng.uniform(30, max(31, width - 30 - sum(i.shape[1] for i in inks) - gaps[1:].sum()))
    bottom = rng.uniform(20 + tallest, height - 20)
    ink_color = paper.pen_color(rng)
    placed: list[PlacedDigit] = []
    for digit, coverage, gap in zip(digits, inks, gaps, strict=False):
        top = round(bottom - coverage.shape[0])
        paper.draw_ink(canvas, coverage, round(x), top, ink_color)
        placed.append(PlacedDigit(int(digit), round(x), top, coverage))
        x += coverage.shape[1] + gap
    _words_beside(canvas, rng, placed, fonts)
    return canvas, placed


def digit_free_page(rng: np.random.Generator, word_fonts: list[int] | None = None) -> np.ndarray:
    """A BGR canvas a camera may see that holds no digit (its words: ``_write_words``)."""
    kind = rng.choice(["ruled", "graph", "texture", "words", "scribbles", "plain"])
    if kind == "texture":
        gray = (
            paper.texture_frame(FRAME, rng) if rng.random() < 0.6 else paper.table_frame(FRAME, rng)
        )
        return np.repeat(gray[:, :, None], 3, axis=2)
    canvas = _sheet(rng)
    if kind == "ruled" or (kind == "words" and rng.random() < 0.5):
        paper.draw_ruled_lines_at(canvas, rng.uniform(20, 55), rng)
    if kind == "graph":
        paper.draw_grid(canvas, rng.uniform(10, 36), level=rng.uniform(140, 215))
    if kind == "words":
        _write_words(canvas, rng, fonts=word_fonts)
    if kind == "scribbles":
        _scribble(canvas, rng)
    if kind == "plain":
        paper.add_specks(canvas, int(rng.integers(0, 40)), rng, radius=(1, 3))
    return canvas


def _sheet(rng: np.random.Generator) -> np.ndarray:
    """A sheet of paper, sometimes with a margin line and binder holes."""
    canvas = paper.textured_paper(rng, (FRAME[1], FRAME[0]))
    if rng.random() < 0.3:
        margin = rng.uniform(40, 120)
        paper.draw_margin(canvas, margin, level=(rng.uniform(120, 200), 120.0, 220.0))
    if rng.random() < 0.15:
        paper.draw_holes(canvas, rng.uniform(15, 35), rng.uniform(8, 18), rng.uniform(70, 110))
    return canvas


def _page_sheet(rng: np.random.Generator) -> np.ndarray:
    """A sheet for a page of digits: plain, or ruled one time in three or so."""
    canvas = _sheet(rng)
    if rng.random() < 0.35:
        paper.draw_ruled_lines_at(canvas, rng.uniform(24, 60), rng)
    return canvas


def _words_beside(
    canvas: np.ndarray, rng: np.random.Generator, placed: list[PlacedDigit], fonts: list[int] | None
) -> None:
    """Sometimes (one page in four) words beside the digits ``placed``, clear of them."""
    if rng.random() < 0.25:
        _write_words(canvas, rng, avoid=[digit.box for digit in placed], fonts=fonts)


def _write_words(
    canvas: np.ndarray,
    rng: np.random.Generator,
    avoid: list | None = None,
    fonts: list[int] | None = None,
) -> None:
    """Lines of letter strings that look like no digit, in one font (a Hershey font or one of
    the handwriting ``fonts``, by default ``glyphs.training_fonts``) and pen."""
    height, width = canvas.shape[:2]
    size = rng.uniform(18, 110)
    shear, ink = rng.uniform(-0.35, 0.35), paper.pen_color(rng)
    handwriting = glyphs.load()
    # A font with few of the letters (Navilu: none but signs) writes no words.
    fonts = [
        font
        for font in fonts or glyphs.training_fonts()
        if len(handwriting.letters[font]) >= len(glyphs.LETTERS) // 2
    ]
    if rng.random() < HANDWRITTEN_SHARE and fonts:
        font = fonts[int(rng.integers(len(fonts)))]
        letters = sorted(handwriting.letters[font])
        pen = int(rng.integers(0, max(1, round(size / 25)) + 1))

        def coverage_of(text: str) -> np.ndarray:
            gaps = rng.uniform(-0.05, 0.2, len(text))
            return glyphs.word_coverage(text, size, font, gaps, shear, rng.uniform(-4, 4), pen)
    else:
        letters = list(glyphs.LETTERS)
        hershey = int(rng.choice(paper.HERSHEY_FONTS))
        thickness = int(rng.integers(1, max(2, round(size / 12)) + 1))

        def coverage_of(text: str) -> np.ndarray:
            return paper.text_coverage(text, size, hershey, thickness, shear, rng.uniform(-4, 4))

    y = rng.uniform(10, height / 3)
    while y < height - size - 10:
        x = rng.uniform(10, width / 4)
        for _ in range(int(rng.integers(1, 5))):
            length = int(rng.integers(1, 8))
            coverage = coverage_of("".join(rng.choice(letters, length)))
            h, w = coverage.shape
            if x + w > width - 10:
                break
            box = (round(x), round(y), w, h)
            if not any(_intersection(box, other) for other in avoid or []):
                paper.draw_ink(canvas, coverage, round(x), round(y), ink)
            x += w + size * rng.uniform(0.3, 1.2)
        y += size * rng.uniform(1.3, 2.5)


def _scribble(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Pen scribbles, crossings-out, blobs and specks."""
    from runtime.images import require_opencv

    cv2 = require_opencv()
    height, width = canvas.shape[:2]
    color = tuple(float(v) for v in paper.pen_color(rng))
    for _ in range(int(rng.integers(1, 6))):
        centre = rng.uniform((60, 60), (width - 60, height - 60))
        spread = rng.uniform(15, 90)
        points = (centre + rng.normal(0, spread, (int(rng.integers(3, 12)), 2))).astype(np.int32)
        if rng.random() < 0.3:
            axes = (int(rng.uniform(6, spread)), int(rng.uniform(4, spread)))
            cv2.ellipse(
                canvas,
                tuple(int(v) for v in centre),
                axes,
                rng.uniform(0, 180),
                0,
                360,
                color,
                -1,
                cv2.LINE_AA,
            )
        else:
            cv2.polylines(
                canvas, [points], rng.random() < 0.3, color, int(rng.integers(1, 7)), cv2.LINE_AA
            )
    paper.add_specks(canvas, int(rng.integers(0, 25)), rng, radius=(1, 3))


def _intersection(a, b) -> int:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, width) * max(0, height)
