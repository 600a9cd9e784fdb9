"""``fonts-notes``: 640x480 photos of a handwritten note, one number among its words.

1-3 lines of short lowercase words (``benchmarks.corpora.words``) in one of the six
handwriting fonts, one line holding a number of 1-4 digits before, between or after its words
("buy 12 eggs"), all on one baseline per line, written with one pen at one font size: the
digits as tall as the font makes them beside its letters. On plain or ruled paper, then
photographed. The truth is the number, so a word read as digits counts against the reading
(edit distance), as a number lost among words does. Index ``i`` uses font ``i % 6``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.corpora.fonts import height_ratio, truetype
from benchmarks.corpora.items import Item, item_rng
from benchmarks.corpora.paper import draw_ruled
from benchmarks.corpora.photo import (
    Camera,
    blank_page,
    ink_points,
    paint,
    paper_color,
    pen,
    smooth_noise,
)
from benchmarks.corpora.sources import Sources
from benchmarks.corpora.words import words

NAME = "fonts-notes"
SIZE = 120  # 20 per font
TUNE_SIZE = 360
NEEDS = ("handwriting",)
FRAME = (480, 640)
MARGIN = 30
MIN_HEIGHT, MAX_HEIGHT = 30.0, 90.0  # digit ink height, px
# Tables a page lies on (BGR): dark wood, grey laminate, dark blue desk mat, light oak.
TABLES = ((40, 62, 92), (88, 90, 92), (70, 45, 35), (110, 160, 196))
DIGITS = "0123456789"
CAMERA = Camera()


def _advance(font, text: str, stroke: int) -> float:
    """How far the pen moves writing ``text`` (px), its stroke included."""
    return font.getlength(text) + 2 * stroke


def _write(draw: ImageDraw.ImageDraw, font, text: str, x: int, baseline: int, stroke: int) -> float:
    """Draw ``text`` with its baseline at (x, baseline); return the pen's advance."""
    draw.text(
        (x, baseline), text, font=font, anchor="ls", fill=255, stroke_width=stroke, stroke_fill=255
    )
    return _advance(font, text, stroke)


def _ink(draw: ImageDraw.ImageDraw, font, text: str, x: int, baseline: int, stroke: int):
    """The ink (as ``ink_points``) that ``_write`` lays down for ``text`` at (x, baseline)."""
    left, top, right, bottom = draw.textbbox(
        (x, baseline), text, font=font, anchor="ls", stroke_width=stroke
    )
    own = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    _write(ImageDraw.Draw(own), font, text, x - left, baseline - top, stroke)
    return ink_points(np.asarray(own, np.float32) / 255.0, left, top)


def _line_width(font, line, gaps, number: str, digit_gaps, size: float, stroke: int) -> float:
    """How wide ``_write`` writes ``line`` (px): its tokens, the digits of the number apart by
    ``digit_gaps`` and the tokens by ``gaps`` (x ``size``)."""
    width = size * float(sum(gaps[:-1]))
    for token in line:
        if token == number:
            width += sum(_advance(font, digit, stroke) for digit in token)
            width += size * float(sum(digit_gaps[:-1]))
        else:
            width += _advance(font, token, stroke)
    return width


@dataclass(frozen=True)
class Note:
    """How a note is written: its frame (height, width) and margin (px), its digits' ink
    height range (px), how many lines (and words a line) it may hold, upper bound excluded,
    and how often the photo shows the table around the page."""

    frame: tuple[int, int] = FRAME
    margin: int = MARGIN
    digit_height: tuple[float, float] = (MIN_HEIGHT, MAX_HEIGHT)
    lines: tuple[int, int] = (1, 4)
    words: tuple[int, int] = (1, 4)
    surround: float = 0.0  # share of photos showing the table around the page


def _on_table(page, inks, frame: tuple[int, int], around, rng: np.random.Generator):
    """``page`` laid on a dark table filling ``frame``, ``around`` (top, bottom, left, right
    shares of the frame) showing on its sides; the ``inks`` moved with it."""
    top, left = round(frame[0] * around[0]), round(frame[1] * around[2])
    table = np.empty((*frame, 3), np.float32)
    table[:] = TABLES[int(rng.integers(len(TABLES)))] + rng.uniform(-10, 10, 3)
    table += (smooth_noise(*frame, float(rng.uniform(20, 80)), rng) * 12.0)[..., None]
    height, width = page.shape[:2]
    table[top : top + height, left : left + width] = page
    return table, [points + np.float32([left, top]) for points in inks]


def make(split: str, index: int, sources: Sources) -> list[Item]:
    """Item ``index`` of ``split``."""
    return [photographed_note(NAME, split, index, sources, Note())]


def photographed_note(
    corpus: str, split: str, index: int, sources: Sources, note: Note, **item: float
) -> Item:
    """Item ``index`` of ``corpus``'s ``split``: a note written as ``note`` says, photographed;
    ``item``: further ``Item`` fields."""
    fonts = sources.handwriting()
    name = list(fonts)[index % len(fonts)]
    rng = item_rng(corpus, split, index)
    lines = [
        words(rng, int(rng.integers(*note.words))) for _ in range(int(rng.integers(*note.lines)))
    ]
    number_line = int(rng.integers(len(lines)))
    number = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 5))))
    lines[number_line].insert(int(rng.integers(len(lines[number_line]) + 1)), number)
    # the font size that makes its digits as tall as the note's digit_height
    size = rng.uniform(*note.digit_height) / height_ratio(fonts[name], DIGITS)
    word_gaps = [list(rng.uniform(0.3, 0.6, len(line))) for line in lines]
    digit_gaps = rng.uniform(0.02, 0.12, len(number))
    weight = float(rng.uniform(0, 0.03))
    # The table around the page: 2-6% of the frame on each side (top, bottom, left, right).
    around = rng.uniform(0.02, 0.06, 4) if note.surround and rng.random() < note.surround else None
    frame_h, frame_w = note.frame
    if around is not None:  # the note is written on the page, inside the frame
        frame_h = round(note.frame[0] * (1 - around[0] - around[1]))
        frame_w = round(note.frame[1] * (1 - around[2] - around[3]))
    margin = note.margin
    while True:  # fit the note: for its height drop lines (not the number's), else shrink;
        # for its width drop words (never the number), else shrink
        font = truetype(fonts[name], round(size))
        stroke = round(weight * size)
        line_gap = size * 1.4
        if len(lines) * line_gap > frame_h - 2 * margin:
            others = [row for row in range(len(lines)) if row != number_line]
            if not others:
                size *= 0.9
                continue
            del lines[others[-1]], word_gaps[others[-1]]
            number_line -= others[-1] < number_line
            continue
        widths = [
            _line_width(font, line, gaps, number, digit_gaps, size, stroke)
            for line, gaps in zip(lines, word_gaps, strict=True)
        ]
        longest = int(np.argmax(widths))
        if widths[longest] <= frame_w - 2 * margin:
            break
        words_at = [k for k, token in enumerate(lines[longest]) if token != number]
        if len(lines[longest]) > 1 and words_at:
            del lines[longest][words_at[-1]], word_gaps[longest][words_at[-1]]
        else:
            size *= 0.9
    page = blank_page(frame_h, frame_w, paper_color(rng), rng)
    first = rng.uniform(margin + size, max(margin + size, frame_h - margin - len(lines) * line_gap))
    ruled = rng.random() < 0.5
    if ruled:
        draw_ruled(page, rng, line_gap, phase=first + rng.uniform(0.0, 0.1) * size)
    ink = Image.new("L", (frame_w, frame_h), 0)
    draw = ImageDraw.Draw(ink)
    digit_inks = []
    for row, (line, gaps) in enumerate(zip(lines, word_gaps, strict=True)):
        x = rng.uniform(margin, max(margin, frame_w - margin - widths[row]))
        baseline = first + row * line_gap
        for token, gap in zip(line, gaps, strict=True):
            if token == number:
                for digit, digit_gap in zip(token, digit_gaps, strict=True):
                    digit_inks.append(_ink(draw, font, digit, round(x), round(baseline), stroke))
                    x += _write(draw, font, digit, round(x), round(baseline), stroke)
                    x += digit_gap * size
            else:
                x += _write(draw, font, token, round(x), round(baseline), stroke)
            x += gap * size
    color, opacity = pen(rng)
    paint(page, np.asarray(ink, np.float32) / 255.0 * opacity, color)
    if around is not None:
        page, digit_inks = _on_table(page, digit_inks, note.frame, around, rng)
    photo, boxes = CAMERA.shoot(page, rng, digit_inks)
    tags = (("font", name), ("paper", "ruled" if ruled else "plain"))
    if note.surround:
        tags += (("table", "around the page" if around is not None else "none"),)
    return Item(corpus, split, index, photo, number, boxes=tuple(boxes), tags=tags, **item)
