"""Find and read the handwritten digits in a photo (e.g. a camera frame of a page).

Recall first, the classifier decides. The frame is searched on a reduced copy
(``WORK_SIDE``): paper brightness is divided out and ink thresholded (``runtime.ink``), ruled
lines and grids are erased (``runtime.ruled_lines``), and the remaining ink pieces are
grouped into candidate digits (``runtime.proposals``) with only filters that cannot remove a
real digit. ``find_digits`` returns those proposals; ``read_digits`` and ``read_number``
classify every candidate of a line in one batch and choose, per line, the reading that
accepts the most digits (ties: the most confident), so a digit written in pieces is joined
and touching digits are cut apart by recognition. What is accepted follows the classifier's
one rule (``DigitClassifier.accepts``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Protocol

import numpy as np

from runtime.errors import NoDigitFoundError
from runtime.images import (
    as_gray_u8,
    require_opencv,
    shrink_by,
    shrink_scale,
    shrink_step,
    shrunk_shape,
)
from runtime.ink import InkMap, Polarity, ink_map, relative_ink
from runtime.preprocess import ink_to_mnist
from runtime.proposals import (
    Box,
    Candidate,
    Cut,
    Piece,
    candidate_mask,
    candidates,
    ink_pieces,
    lines_of,
    union,
)
from runtime.ruled_lines import remove_ruled_lines

if TYPE_CHECKING:
    from runtime.classifier import Prediction

# Detection resolution (longest side, px): 640x480 frames are searched at 320x240; digits
# min_height asks for that are too small for it are searched again in a finer copy
# (see _searches and work_step).
WORK_SIDE = 320
# The smallest digit searched for is this many pixels of the work copy tall.
_SHORTEST_WORK_PIXELS = 6.0
# The smallest digit searched for by default, as a fraction of the picture's height.
MIN_HEIGHT = 0.04
# Digits under the work copy's floor are searched in a finer copy, up to this many times
# that floor (so a line of small writing is not split between two searches).
_FINE_REACH = 2.0
# Regions at least this many work pixels tall or wide are cut from the work image; smaller
# ones from the full-resolution frame, so a 20 px MNIST digit never comes from a blurry crop.
_DETAILED_ENOUGH = 40
# Paper brightness is estimated on a thumbnail of this long side (px), erasing strokes up to
# _MAX_STROKE of the frame's long side wide.
_THUMB_SIDE = 80
_MAX_STROKE = 0.1
# A line's reading is the one accepting the most digits; confidence only breaks ties. A piece
# is cut only when it is not read as one digit, and read cut only when every part of the cut
# is accepted.
_CONFIDENCE_WEIGHT = 1e-3
_LEAST = 1e-9
# Words and numbers on a line are apart by more than this times the taller neighbour's height;
# an unexplained piece at least _LETTER_HEIGHT of the digits' height makes a word writing.
_WORD_GAP = 0.45
# Gaps are measured between boxes at least this share of their height wide (a narrower box, a 1,
# centred in that width): 90% of MNIST's training digits other than 1 are at least 0.6 as wide
# as tall, so a 1 is as far from its neighbours as any digit written in its place would be.
_NARROWEST_DIGIT = 0.6
_LETTER_HEIGHT = 0.4
_NOT_A_DIGIT = 0.5
# A doubted touching pair: a piece as tall as the word's digits (_PAIR_HEIGHT of the tallest)
# and at least as wide as tall (two digits side by side; MNIST's median digit is 0.8 as wide
# as tall), whose best cut in two has both parts read as digits (_NOT_A_DIGIT or more).
_PAIR_HEIGHT = 0.85
_PAIR_WIDTH = 1.0
# A misread digit: in a word of at least _CLEAR_AROUND_MISREAD accepted digits whose heights
# are even (the tallest at most _EVEN_HEIGHTS times the shortest), the one piece read as no
# digit, of the same height, is a badly written digit of the number, not a letter.
_CLEAR_AROUND_MISREAD = 3
_EVEN_HEIGHTS = 1.15
# A doubted number: a word with no clear digit whose pieces (those at least _LETTER_HEIGHT of
# its tallest) are all doubted digits, at least _DOUBTED_TOGETHER of them, of even heights.
_DOUBTED_TOGETHER = 2
# A number beside words: in a word holding a letter, the pieces further than
# _BESIDE_WORDS_GAP x the taller neighbour's height from every letter's group are no writing.
_BESIDE_WORDS_GAP = 0.3
# The heuristic rules of _in_numbers and the lone doubted digit, switchable so that the
# reading benchmark can measure what each buys (python -m benchmarks.bench_reading --without
# RULE).
_DOUBTED_IN_NUMBERS = True
_WORDS_ARE_NOT_NUMBERS = True
_MISREAD_IN_NUMBERS = True
_DOUBTED_NUMBERS = True
_NUMBERS_BESIDE_WORDS = True
_LONE_DOUBTED_DIGIT = True


@dataclass(frozen=True, eq=False)
class DigitRegion:
    """A candidate digit in a frame: ``box`` (x, y, w, h) in the frame's pixels and ``image``,
    its 28x28 uint8 MNIST-form crop (white on black) ready for the classifier.

    Compared by identity: element-wise array equality has no single truth value."""

    box: Box
    image: np.ndarray


@dataclass(frozen=True)
class ReadDigit:
    """A digit region and the classifier's prediction for it."""

    region: DigitRegion
    prediction: Prediction


@dataclass(frozen=True)
class NumberReading:
    """The digits read in a frame in reading order; ``text`` spells them all.

    ``numbers`` groups them as they are written: a number ends at the end of a line and at a
    gap as wide as between words, so "305" above "61" is ``("305", "61")`` and ``text`` is
    "30561"."""

    text: str
    digits: tuple[ReadDigit, ...]
    numbers: tuple[str, ...] = ()
    candidates: int = 0  # how many candidate digits the classifier judged


class ProbabilityModel(Protocol):
    """What the reader needs from a classifier (``runtime.DigitClassifier`` fits)."""

    def predict_proba(self, batch: np.ndarray) -> np.ndarray: ...

    def accepts(self, confidence: float, digit: int) -> bool: ...


@dataclass
class _Line:
    pieces: list[Piece]
    candidates: list[Candidate]
    cuts: list[Cut]


class FrameCandidates:
    """A frame's candidate digits, and the choice among them once they are classified.

    ``regions`` lists every candidate (overlapping alternatives: joins and cut parts);
    ``choose`` takes their class probabilities (in that order) and the acceptance rule and
    returns the reading, so the same choice serves the reader and the training's choice of
    the acceptance threshold.
    """

    def __init__(
        self,
        image: np.ndarray,
        polarity: Polarity = "dark_on_light",
        min_contrast: float = 24.0,
        min_height: float = MIN_HEIGHT,
        max_height: float = 0.8,
    ) -> None:
        _check_heights(min_height, max_height)
        cv2 = require_opencv()
        self._gray = as_gray_u8(image)
        step = work_step(self._gray.shape, min_height)
        work = shrink_by(self._gray, step)
        self._scale = shrink_scale(self._gray.shape, step)  # frame pixels per work pixel
        self._found = ink_map(
            work, polarity, min_contrast, max_stroke=_MAX_STROKE, thumb_side=_THUMB_SIDE
        )
        # Fainter ink (half the threshold) shows lines whole and joins the fragments of a
        # texture's long strokes (wood grain) that the threshold breaks apart.
        _, faint = cv2.threshold(
            self._found.ink, self._found.threshold // 2, 255, cv2.THRESH_BINARY
        )
        mask, lines = remove_ruled_lines(self._found.mask, detect_on=faint, ink=self._found.ink)
        height = work.shape[0]
        shortest, tallest = _shortest(height, min_height), max_height * height
        structure = cv2.bitwise_and(faint, cv2.bitwise_not(lines))
        self._labels, pieces = ink_pieces(mask, shortest, lines, structure)
        # A piece taller than any digit searched for (the edge of a page with the table beyond
        # it) would join every line of writing beside it into one.
        pieces = [piece for piece in pieces if piece.box[3] <= tallest]
        self._lines = [
            _Line(line, *candidates(line, self._labels, shortest, tallest))
            for line in lines_of(pieces)
        ]
        self._jobs: list[tuple[int, Candidate]] = []
        self.regions: list[DigitRegion] = []
        for number, line in enumerate(self._lines):
            parts = [part for cut in line.cuts for part in cut.parts.values() if part is not None]
            for candidate in [*line.candidates, *parts]:
                region = self._region(line, candidate)
                if region is not None:
                    self._jobs.append((number, candidate))
                    self.regions.append(region)

    def default_grouping(self) -> list[DigitRegion]:
        """One region per run of joined pieces, the longest join from each piece (no judge)."""
        index = {job: i for i, job in enumerate(self._jobs)}
        found = []
        for number, line in enumerate(self._lines):
            covered = -1
            for candidate in line.candidates:  # in order of their first piece
                if candidate.start <= covered:
                    continue
                longest = max(
                    (
                        c
                        for c in line.candidates
                        if c.start == candidate.start and (number, c) in index
                    ),
                    key=lambda c: c.end,
                    default=None,
                )
                if longest is not None:
                    found.append(self.regions[index[number, longest]])
                    covered = longest.end - 1
        return found

    def choose(
        self, probabilities: np.ndarray, accepts: Callable[[float, int], bool]
    ) -> list[tuple[DigitRegion, np.ndarray]]:
        """The digits read, in reading order: per line the reading accepting the most digits
        (``_best_reading``), without the digits of words (``_in_numbers``)."""
        return [digit for number in self.choose_numbers(probabilities, accepts) for digit in number]

    def choose_numbers(
        self,
        probabilities: np.ndarray,
        accepts: Callable[[float, int], bool],
        lone_digit: bool = True,
    ) -> list[list[tuple[DigitRegion, np.ndarray]]]:
        """``choose``'s digits grouped into numbers (see ``NumberReading.numbers``); in a frame
        where no line reads a digit, its lone doubted digit (``_lone_doubted_digit``) unless
        ``lone_digit`` is False."""
        judged: dict[tuple[int, Candidate], tuple[DigitRegion, np.ndarray]] = {
            job: (region, row)
            for job, region, row in zip(self._jobs, self.regions, probabilities, strict=True)
        }
        numbers = []
        for number, line in enumerate(self._lines):
            numbers.extend(_best_reading(number, line, judged, accepts))
        if not numbers and lone_digit and _LONE_DOUBTED_DIGIT:
            numbers = self._lone_doubted_digit(judged)
        return numbers

    def _lone_doubted_digit(
        self, judged: dict[tuple[int, Candidate], tuple[DigitRegion, np.ndarray]]
    ) -> list[list[tuple[DigitRegion, np.ndarray]]]:
        """In a frame where nothing was read, its one piece of digit height (every other
        piece under ``_LETTER_HEIGHT`` of it) if the judge reads it as a doubted digit
        (``_NOT_A_DIGIT`` or more): a lone mark on a page is a digit more often than not
        where the judge thinks so; beside other writing it is not vouched for."""
        pieces = [
            (number, i, piece)
            for number, line in enumerate(self._lines)
            for i, piece in enumerate(line.pieces)
        ]
        if not pieces:
            return []
        top = max(piece.box[3] for _, _, piece in pieces)
        tall = [(number, i) for number, i, piece in pieces if piece.box[3] >= _LETTER_HEIGHT * top]
        if len(tall) != 1:
            return []
        number, i = tall[0]
        candidate = _pieces_read_alone(number, self._lines[number], judged).get(i)
        if candidate is None:
            return []
        region, row = judged[number, candidate]
        return [[(region, row)]] if float(row.max()) >= _NOT_A_DIGIT else []

    def _region(self, line: _Line, candidate: Candidate) -> DigitRegion | None:
        """The candidate's box in frame pixels and MNIST-form crop (None if its ink is too faint)."""
        mask = candidate_mask(candidate, line.pieces, self._labels)
        if candidate.columns is not None:
            x0, x1 = candidate.columns
            mask[:, : x0 - candidate.box[0]] = 0
            mask[:, x1 - candidate.box[0] :] = 0
        box, ink, keep = _digit_crop(self._gray, self._found, self._scale, candidate.box, mask)
        try:
            return DigitRegion(box, ink_to_mnist(ink, keep))
        except NoDigitFoundError:
            return None


def candidate_regions(
    image: np.ndarray,
    polarity: Polarity = "dark_on_light",
    min_height: float = MIN_HEIGHT,
    max_height: float = 0.8,
) -> list[DigitRegion]:
    """Every candidate ``read_digits`` judges in ``image``: joined runs of pieces and the parts
    of cut pieces, overlapping one another (what the non-digit judge is trained on)."""
    return [
        r
        for frame in _searches(image, polarity, 24.0, min_height, max_height)
        for r in frame.regions
    ]


def find_digits(
    image: np.ndarray,
    polarity: Polarity = "dark_on_light",
    min_contrast: float = 24.0,
    min_height: float = MIN_HEIGHT,
    max_height: float = 0.8,
) -> list[DigitRegion]:
    """Every plausible digit in ``image`` (recall first), left to right, lines top to bottom:
    each piece of ink of digit height, joined with its close neighbours.

    These are proposals, not judgements: ``read_digits`` / ``read_number`` let the classifier
    decide which are digits and join or cut pieces by recognition. ``image``: any array
    ``runtime.images`` accepts (a BGR camera frame, a grayscale scan, ...). ``polarity``: pen
    on paper by default; ``"light_on_dark"`` for chalk on a board, ``"auto"`` to guess.
    ``min_height`` / ``max_height``: a digit's height as a fraction of the frame's height.
    ``min_contrast``: how much darker than the paper ink must be (gray levels of 255).
    Raises ``ImageError`` for a bad array.
    """
    searches = _searches(image, polarity, min_contrast, min_height, max_height)
    found = [region for frame in searches for region in frame.default_grouping()]
    return (
        [found[i] for i in reading_order([region.box for region in found])]
        if len(searches) > 1
        else found
    )


def read_digits(
    image: np.ndarray,
    classifier: ProbabilityModel,
    polarity: Polarity = "dark_on_light",
    min_height: float = MIN_HEIGHT,
    max_height: float = 0.8,
) -> list[tuple[DigitRegion, np.ndarray]]:
    """The digits read in ``image``, in reading order: (region, probabilities).

    Every candidate of the frame is classified in one ``predict_proba`` call; per line the
    reading with the most accepted digits (then the most confident) is kept, with the doubted
    digits that its numbers vouch for (see ``_in_numbers``); in a frame where that reads
    nothing, a doubted digit standing alone on the page.
    """
    numbers, _ = _read(image, classifier, polarity, min_height, max_height)
    return [digit for number in numbers for digit in number]


def _read(
    image: np.ndarray,
    classifier: ProbabilityModel,
    polarity: Polarity,
    min_height: float,
    max_height: float,
) -> tuple[list[list[tuple[DigitRegion, np.ndarray]]], int]:
    """The accepted digits of ``image`` grouped into numbers, one ``predict_proba`` call, and
    how many candidates were judged."""
    if not (hasattr(classifier, "predict_proba") and hasattr(classifier, "accepts")):
        raise TypeError(
            "classifier must be a runtime.DigitClassifier (or have predict_proba and accepts), "
            f"got {type(classifier).__name__}"
        )
    searches = _searches(image, polarity, 24.0, min_height, max_height)
    regions = [region for frame in searches for region in frame.regions]
    if not regions:
        return [], 0
    probabilities = np.asarray(
        classifier.predict_proba(np.stack([region.image for region in regions])), np.float32
    )
    if len(searches) == 1:
        return searches[0].choose_numbers(probabilities, classifier.accepts), len(regions)
    rows = np.split(probabilities, np.cumsum([len(frame.regions) for frame in searches[:-1]]))
    numbers = [
        number
        for frame, own in zip(searches, rows, strict=True)
        for number in frame.choose_numbers(own, classifier.accepts, lone_digit=False)
    ]
    if not numbers:  # a doubted digit alone on the page: the usual search's, else the finer's
        for frame, own in zip(searches, rows, strict=True):
            numbers = frame.choose_numbers(own, classifier.accepts)
            if numbers:
                break
    order = reading_order(
        [reduce(union, [region.box for region, _ in number]) for number in numbers]
    )
    return [numbers[i] for i in order], len(regions)


def _searches(
    image: np.ndarray,
    polarity: Polarity,
    min_contrast: float,
    min_height: float,
    max_height: float,
) -> list[FrameCandidates]:
    """The frame searched once, or, where ``min_height`` asks for digits under the usual
    copy's floor (6 px of its ``WORK_SIDE`` copy), twice: a finer copy (``work_step``) for the
    digits up to ``_FINE_REACH`` times that floor, the usual copy for larger ones. One finer
    search for all would read large digits worse (the line finder's sizes are in pixels of its
    copy); the finer search's reach keeps a line of small writing in one search."""
    _check_heights(min_height, max_height)  # as given: the finer search's are the kit's own
    gray = as_gray_u8(image)
    # the usual copy's smallest digit as a fraction of the height (half a pixel more: work_step
    # then picks that very copy for digits from it up)
    usual = shrink_step(gray.shape, WORK_SIDE)
    floor = (_SHORTEST_WORK_PIXELS + 0.5) * usual / gray.shape[0]
    split = _FINE_REACH * floor
    if work_step(gray.shape, min_height) == usual or split >= max_height:
        return [FrameCandidates(gray, polarity, min_contrast, min_height, max_height)]
    return [
        FrameCandidates(gray, polarity, min_contrast, split, max_height),
        FrameCandidates(gray, polarity, min_contrast, min_height, split),
    ]


def read_number(
    image: np.ndarray,
    classifier: ProbabilityModel,
    polarity: Polarity = "dark_on_light",
    min_height: float = MIN_HEIGHT,
    max_height: float = 0.8,
) -> NumberReading:
    """Read the digits in ``image`` (``read_digits``, the same arguments) with each digit's
    prediction, as one string (``text``) and as the numbers written (``numbers``). A digit's
    ``prediction.accepted`` is the acceptance rule's verdict on it alone: False for a doubted
    digit read because its number vouches for it."""
    from runtime.classifier import Prediction

    def read(region: DigitRegion, row: np.ndarray) -> ReadDigit:
        values = row.tolist()
        index = int(row.argmax())
        accepted = classifier.accepts(values[index], index)
        return ReadDigit(region, Prediction(index, values[index], tuple(values), accepted))

    chosen, candidates = _read(image, classifier, polarity, min_height, max_height)
    numbers = [[read(region, row) for region, row in number] for number in chosen]
    texts = tuple("".join(str(item.prediction.digit) for item in number) for number in numbers)
    digits = tuple(item for number in numbers for item in number)
    return NumberReading("".join(texts), digits, texts, candidates)


def _check_heights(min_height: float, max_height: float) -> None:
    """``ValueError`` unless 0 < ``min_height`` < ``max_height`` <= 1 (``TypeError`` for what
    is no number)."""
    for name, value in (("min_height", min_height), ("max_height", max_height)):
        try:
            if isinstance(value, str | bytes | bool):
                raise TypeError
            float(value)  # a NumPy scalar or 0-d array too
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a number, got {type(value).__name__} {value!r}"
            ) from None
    if not 0.0 < float(min_height) < float(max_height) <= 1.0:  # NaN fails too
        raise ValueError(
            f"need 0 < min_height < max_height <= 1, got min_height={min_height}, "
            f"max_height={max_height}"
        )


def work_step(shape: tuple[int, ...], min_height: float = MIN_HEIGHT) -> float:
    """The step by which a picture of ``shape`` is reduced for the search: the integer one to
    ``WORK_SIDE`` on its longer side, or, where digits of ``min_height`` of its height would
    be under a few pixels of that copy (a page photographed whole), the one that makes them
    that few pixels (fractional: a 640x480 frame asked for 2% digits is searched at 400x300,
    not at full resolution)."""
    usual = shrink_step(shape, WORK_SIDE)
    fine_enough = shape[0] * min_height / _SHORTEST_WORK_PIXELS
    if fine_enough >= usual:
        return usual
    # Under 2 the integer step down (1) would search up to four times the pixels (a step of
    # 1.08 still read 117 FPS in bench_camera against 106 at 1); from 2 up the integer step
    # down keeps the fast reduction, and the digits a little over 6 px.
    return max(1.0, fine_enough) if fine_enough < 2 else int(fine_enough)


def smallest_searched(shape: tuple[int, ...], min_height: float = MIN_HEIGHT) -> int:
    """The height in pixels of the smallest digit searched for in a picture of ``shape``:
    ``min_height`` of its height, and at least a few pixels of the reduced copy searched
    (only in pictures under 150 px tall at the default ``min_height``)."""
    step = work_step(shape, min_height)
    work_height = shrunk_shape(shape, step)[0]
    return math.ceil(_shortest(work_height, min_height) * step)


def _shortest(work_height: int, min_height: float) -> float:
    """The smallest digit searched for, in pixels of the reduced copy ``work_height`` tall."""
    return max(_SHORTEST_WORK_PIXELS, min_height * work_height)


def _best_reading(
    number: int, line: _Line, judged: dict, accepts: Callable[[float, int], bool]
) -> list[list[tuple[DigitRegion, np.ndarray]]]:
    """The line's reading accepting the most digits (then the most confident), one list per
    number: a dynamic programme over the pieces, left to right, where each step leaves a
    piece out, takes a joined candidate, or takes a piece that is not one digit cut into
    digits. Digits of a word that holds letters are dropped (``_in_numbers``)."""

    def value(candidate: Candidate) -> tuple[float, tuple]:
        item = judged.get((number, candidate))
        if item is None:
            return 0.0, (candidate, None)
        confidence = float(item[1].max())
        if not accepts(confidence, int(item[1].argmax())):
            return 0.0, (candidate, None)
        return 1.0 + _CONFIDENCE_WEIGHT * math.log(max(confidence, _LEAST)), (candidate, item)

    def best_cut(cut: Cut) -> tuple[float, list]:
        """The best reading of a cut piece: a dynamic programme over its cut columns."""
        last = len(cut.columns) - 1
        inner: list[tuple[float, list]] = [(0.0, [])] + [(-math.inf, [])] * last
        for i in range(last):
            if inner[i][0] == -math.inf:
                continue
            for j in range(i + 1, last + 1):
                part = cut.parts.get((i, j))
                if part is None:
                    continue
                points, taken = value(part)
                if taken[1] is None:
                    continue  # every part of a cut must be a digit: no "1" and a fragment
                if inner[i][0] + points > inner[j][0]:
                    inner[j] = (inner[i][0] + points, [*inner[i][1], taken])
        return inner[last]

    count = len(line.pieces)
    best: list[tuple[float, list]] = [(0.0, [])] + [(-math.inf, [])] * count
    starting: dict[int, list] = {}
    for candidate in line.candidates:
        points, taken = value(candidate)
        starting.setdefault(candidate.start, []).append((candidate.end, points, [taken]))
    read_whole = {
        candidate.start
        for candidate in line.candidates
        if candidate.end == candidate.start + 1 and value(candidate)[1][1] is not None
    }
    for cut in line.cuts:
        if cut.piece in read_whole:
            continue  # a piece read as one digit is not cut: a 6 is not a "(" and an "o"
        points, taken = best_cut(cut)
        if points > -math.inf:
            starting.setdefault(cut.piece, []).append((cut.piece + 1, points, taken))
    for start in range(count):
        score, reading = best[start]
        if score == -math.inf:
            continue
        for end, points, taken in [(start + 1, 0.0, []), *starting.get(start, [])]:
            if score + points > best[end][0]:
                best[end] = (score + points, [*reading, *taken])
    word_of = _words([piece.box for piece in line.pieces])
    numbers: dict[tuple[int, int], list[tuple[DigitRegion, np.ndarray]]] = {}
    kept, number_of = _in_numbers(number, line, judged, best[count][1], word_of)
    for candidate, item in kept:
        numbers.setdefault(number_of[candidate.start], []).append(item)
    return list(numbers.values())


def _pieces_read_alone(number: int, line: _Line, judged: dict) -> dict[int, Candidate]:
    """Each piece of line ``number`` that was classified on its own: piece index -> the
    candidate holding just that piece."""
    return {
        candidate.start: candidate
        for candidate in line.candidates
        if candidate.end == candidate.start + 1 and (number, candidate) in judged
    }


def _words(boxes: Sequence[Box], gap: float = _WORD_GAP) -> list[int]:
    """Each box's word, for the boxes of one line left to right: words are apart by more than
    ``gap`` x the taller neighbour's height (boxes widened to ``_NARROWEST_DIGIT``)."""
    word_of, word, right = [], 0, None
    for x, _, w, h in boxes:
        if w < _NARROWEST_DIGIT * h:
            x, w = x + (w - _NARROWEST_DIGIT * h) / 2, _NARROWEST_DIGIT * h
        if right is not None and x - right[0] > gap * max(h, right[1]):
            word += 1
        word_of.append(word)
        right = (x + w, h) if right is None or x + w > right[0] else right
    return word_of


def _in_numbers(
    number: int, line: _Line, judged: dict, taken: list, word_of: list[int]
) -> tuple[list, list]:
    """The digits of a reading (``taken``: (candidate, item or None if rejected)) that belong
    to numbers, not to words: its accepted digits, and doubted ones where a number vouches for
    them (doubted digits among clear ones, doubted touching pairs, doubted numbers); and each
    piece's number (its word, or in a word holding a letter its close group, so that
    "7 abc 12" is two numbers).

    ``word_of``: each piece's word (``_words``). A word holding a letter is writing, not a
    number: an ``o`` or ``l`` in "hello" looks like a digit on its own, not beside the ``h``
    and ``e``; but a number written a space after the word's letters is no writing
    (``_in_writing``). A letter is a piece the reading does not explain as digits (no accepted
    candidate covers it, or a part cut from it was rejected), of at least ``_LETTER_HEIGHT``
    of the word's digits' height, which the classifier, on its own, finds no digit at all
    (confidence under ``_NOT_A_DIGIT``) and that is no doubted touching pair
    (``_doubted_pairs``); a digit it merely doubts does not turn a number into a word, nor
    does one misread digit among clear ones (``_misread_digits``).
    """
    accepted = [(candidate, item) for candidate, item in taken if item is not None]
    pieces = line.pieces
    explained = np.zeros(len(pieces), bool)
    for candidate, _ in accepted:
        explained[candidate.start : candidate.end] = True
    for candidate, item in taken:
        if item is None and candidate.columns is not None:
            explained[candidate.start] = False  # a rejected part of a cut piece
    tallest: dict[int, int] = {}
    for candidate, _ in accepted:
        index = word_of[candidate.start]
        tallest[index] = max(tallest.get(index, 0), candidate.box[3])
    alone = _pieces_read_alone(number, line, judged)

    def confidence(i: int) -> float:
        return float(judged[number, alone[i]][1].max()) if i in alone else 0.0

    # A word holding a piece of an accepted digit is no doubted number (a join can reach
    # across a word's gap).
    words_with_clear_digits = set(tallest) | {word_of[i] for i in np.flatnonzero(explained)}
    doubted_numbers = [
        (alone[i], judged[number, alone[i]])
        for i in _doubted_numbers(pieces, word_of, words_with_clear_digits, confidence)
    ]
    if not accepted:
        return doubted_numbers, [(word, 0) for word in word_of]

    unexplained = [
        i
        for i, piece in enumerate(pieces)
        if not explained[i]
        and word_of[i] in tallest
        and piece.box[3] >= _LETTER_HEIGHT * tallest[word_of[i]]
    ]
    pairs = _doubted_pairs(number, line, judged, unexplained, tallest, word_of)
    letters = [i for i in unexplained if confidence(i) < _NOT_A_DIGIT and i not in pairs]
    misread: set[int] = set()
    word_letters: list[int] = []  # the letters that make their words writing
    if _WORDS_ARE_NOT_NUMBERS:
        misread = _misread_digits(letters, accepted, pieces, word_of)
        word_letters = [i for i in letters if i not in misread]
    writing = {word_of[i] for i in word_letters}
    in_writing, number_of = _in_writing(pieces, word_of, writing, word_letters)
    kept = [item for item in accepted if not in_writing[item[0].start]]
    if _DOUBTED_IN_NUMBERS:
        # In a number of clear digits, a piece the classifier reads as a digit but doubts
        # (between _NOT_A_DIGIT and its acceptance bar) is one of its digits, and a doubted
        # touching pair is two of them.
        for i in unexplained:
            # Beside a word's letters, only clear digits are a number.
            if word_of[i] in writing or i in misread:
                continue
            if i in pairs:
                kept += [(part, judged[number, part]) for part in pairs[i]]
            elif i in alone:
                kept.append((alone[i], judged[number, alone[i]]))
        kept += doubted_numbers
        kept.sort(key=lambda item: item[0].start)
    return kept, number_of


def _in_writing(
    pieces: Sequence[Piece], word_of: list[int], writing: set[int], letters: list[int]
) -> tuple[list[bool], list[tuple[int, int]]]:
    """Whether each piece is writing: in a word holding a letter (``writing``) and, with the
    number-beside-words rule, in the same close group (``_BESIDE_WORDS_GAP``) as one of its
    letters, so "page 7464" written with a narrow space keeps its number (its clear digits:
    ``_in_numbers`` vouches for no doubted digit in a word holding a letter). Also each
    piece's number: its word, and in a word holding a letter its close group."""
    if not _NUMBERS_BESIDE_WORDS:
        return [word in writing for word in word_of], [(word, 0) for word in word_of]
    close = _words([piece.box for piece in pieces], _BESIDE_WORDS_GAP)
    lettered = {close[i] for i in letters}
    pairs = list(zip(word_of, close, strict=True))
    return (
        [word in writing and group in lettered for word, group in pairs],
        [(word, group if word in writing else 0) for word, group in pairs],
    )


def _even(heights: Sequence[int]) -> bool:
    """Whether the tallest of ``heights`` is at most ``_EVEN_HEIGHTS`` times the shortest."""
    return max(heights) <= _EVEN_HEIGHTS * min(heights)


def _doubted_numbers(
    pieces: Sequence[Piece],
    word_of: list[int],
    words_with_clear_digits: set[int],
    confidence: Callable[[int], float],
) -> list[int]:
    """The pieces of doubted numbers: words with no clear digit whose pieces of at least
    ``_LETTER_HEIGHT`` of the word's tallest are all doubted digits (``confidence`` of
    ``_NOT_A_DIGIT`` or more, a 1 under its stricter bar too), at least ``_DOUBTED_TOGETHER``
    of them, of even heights (``_even``), none as wide as a touching pair (``_PAIR_WIDTH``:
    read whole, it would be one digit). With the doubted-digit rule or this one off, none."""
    if not (_DOUBTED_IN_NUMBERS and _DOUBTED_NUMBERS):
        return []
    found = []
    for word in sorted(set(word_of) - words_with_clear_digits):
        members = [i for i, w in enumerate(word_of) if w == word]
        top = max(pieces[i].box[3] for i in members)
        tall = [i for i in members if pieces[i].box[3] >= _LETTER_HEIGHT * top]
        if (
            len(tall) >= _DOUBTED_TOGETHER
            and all(confidence(i) >= _NOT_A_DIGIT for i in tall)
            and all(pieces[i].box[2] < _PAIR_WIDTH * pieces[i].box[3] for i in tall)
            and _even([pieces[i].box[3] for i in tall])
        ):
            found += tall
    return found


def _misread_digits(
    letters: list[int],
    accepted: Sequence[tuple[Candidate, tuple]],
    pieces: Sequence[Piece],
    word_of: list[int],
) -> set[int]:
    """The ``letters`` (pieces read as no digit) that are badly written digits of a number: the
    only one of its word, beside at least ``_CLEAR_AROUND_MISREAD`` accepted digits (a
    two-letter word such as "so" reads "50") of even heights (``_even``), and as tall as they
    are within that same factor. Neither read nor a letter: the number is read without it.
    With the rule off, none."""
    if not _MISREAD_IN_NUMBERS:
        return set()
    word_letters: dict[int, list[int]] = {}
    for i in letters:
        word_letters.setdefault(word_of[i], []).append(i)
    digit_heights: dict[int, list[int]] = {}
    for candidate, _ in accepted:
        digit_heights.setdefault(word_of[candidate.start], []).append(candidate.box[3])
    misread = set()
    for word, found in word_letters.items():
        heights = digit_heights.get(word, [])
        if (
            len(found) == 1
            and len(heights) >= _CLEAR_AROUND_MISREAD
            and _even(heights)
            and min(heights) / _EVEN_HEIGHTS
            <= pieces[found[0]].box[3]
            <= _EVEN_HEIGHTS * max(heights)
        ):
            misread.add(found[0])
    return misread


def _doubted_pairs(
    number: int,
    line: _Line,
    judged: dict,
    unexplained: list[int],
    tallest: dict[int, int],
    word_of: list[int],
) -> dict[int, tuple[Candidate, Candidate]]:
    """The unexplained pieces that are doubted touching pairs (``_PAIR_HEIGHT``,
    ``_PAIR_WIDTH``), each with the two parts of its best cut in two (by the weaker part's
    confidence). With the doubted-digit rule off, none."""
    if not _DOUBTED_IN_NUMBERS:
        return {}
    pairs = {}
    for cut in line.cuts:
        if cut.piece not in unexplained:
            continue
        _, _, width, height = line.pieces[cut.piece].box
        if height < _PAIR_HEIGHT * tallest[word_of[cut.piece]] or width < _PAIR_WIDTH * height:
            continue
        last = len(cut.columns) - 1
        best: tuple[float, Candidate, Candidate] | None = None
        for middle in range(1, last):
            left, right = cut.parts.get((0, middle)), cut.parts.get((middle, last))
            if (number, left) not in judged or (number, right) not in judged:
                continue
            weaker = min(float(judged[number, part][1].max()) for part in (left, right))
            if best is None or weaker > best[0]:
                best = (weaker, left, right)
        if best is not None and best[0] >= _NOT_A_DIGIT:
            pairs[cut.piece] = best[1:]
    return pairs


def reading_order(boxes: Sequence[Box]) -> list[int]:
    """Indices of ``boxes`` (x, y, w, h) in reading order: lines top to bottom, each left to right.

    A box joins a line when its vertical centre lies within the line's vertical extent.
    """
    return [index for line in _reading_lines(boxes) for index in line]


def numbers_in(boxes: Sequence[Box], apart_at_gaps: bool = True) -> list[list[int]]:
    """Indices of digit ``boxes`` grouped into the numbers written, in reading order
    (``reading_order``): a number ends at the end of a line and, with ``apart_at_gaps``, at a
    gap between digits as wide as between words (``NumberReading.numbers`` measures the gaps
    between all ink pieces, so a mark that is no digit can join two numbers there)."""
    numbers = []
    for line in _reading_lines(boxes):
        if not apart_at_gaps:
            numbers.append(line)
            continue
        word_of = _words([boxes[index] for index in line])
        for word in range(word_of[-1] + 1):
            numbers.append([index for index, w in zip(line, word_of, strict=True) if w == word])
    return numbers


def _reading_lines(boxes: Sequence[Box]) -> list[list[int]]:
    """``reading_order``'s lines: indices of ``boxes``, lines top to bottom, each left to right."""
    lines: list[list[int]] = []
    extents: list[list[float]] = []
    for index in sorted(range(len(boxes)), key=lambda i: boxes[i][1] + boxes[i][3] / 2):
        _, y, _, h = boxes[index]
        centre = y + h / 2
        for line, extent in zip(lines, extents, strict=True):
            if extent[0] <= centre <= extent[1]:
                line.append(index)
                extent[0], extent[1] = min(extent[0], y), max(extent[1], y + h)
                break
        else:
            lines.append([index])
            extents.append([y, y + h])
    return [sorted(line, key=lambda i: boxes[i][0]) for line in lines]


def _digit_crop(
    gray: np.ndarray,
    found: InkMap,
    scale: tuple[float, float],
    box: Box,
    region_mask: np.ndarray,
) -> tuple[Box, np.ndarray, np.ndarray]:
    """The region's box in frame pixels (``scale``: frame pixels per work pixel, rows and
    columns), its ink and its clear-ink mask: cut from the work image when that holds enough
    detail for a 20 px digit, else recomputed from the full-resolution frame."""
    cv2 = require_opencv()
    x, y, w, h = box
    frame_h, frame_w = gray.shape
    along_y, along_x = scale
    # the tolerance: a step such as 480 * 0.02 / 6 is 1.5999999999999999, not 1.6
    x0, y0 = math.floor(x * along_x + 1e-6), math.floor(y * along_y + 1e-6)
    x1 = min(frame_w, math.ceil((x + w) * along_x - 1e-6))
    y1 = min(frame_h, math.ceil((y + h) * along_y - 1e-6))
    if scale == (1.0, 1.0) or max(w, h) >= _DETAILED_ENOUGH:
        return (x0, y0, x1 - x0, y1 - y0), found.ink[y : y + h, x : x + w], region_mask
    size = (x1 - x0, y1 - y0)
    paper = cv2.resize(found.paper[y : y + h, x : x + w], size, interpolation=cv2.INTER_LINEAR)
    ink = cv2.subtract(relative_ink(gray[y0:y1, x0:x1], paper, found.dark_on_light), found.level)
    grown = cv2.resize(region_mask, size, interpolation=cv2.INTER_NEAREST)
    # The full-resolution clear ink of this region: the threshold within the grown mask.
    reach = cv2.getStructuringElement(cv2.MORPH_RECT, (math.ceil(max(scale)) + 1,) * 2)
    _, clear = cv2.threshold(ink, max(0, found.threshold - 1), 255, cv2.THRESH_BINARY)
    keep = cv2.bitwise_and(clear, cv2.dilate(grown, reach))
    if not cv2.countNonZero(keep):
        keep = grown
    return (x0, y0, x1 - x0, y1 - y0), ink, keep
