"""Ink pieces of a frame and the candidate digits they could form, recall first.

A frame's ink (after ruled-line removal) falls into connected pieces. No rule here decides
what is a digit: the only filters are ones that can never remove a real digit (a piece
touching the frame edge is cut off by the frame; a piece smaller than a quarter of the
smallest digit in both directions is a speck). The pieces are ordered into lines and, along
each line, grouped into *candidates*: runs of up to ``MAX_PIECES`` neighbouring pieces (a
digit drawn in several strokes, a 5's detached bar, a digit cut by a ruled line) and cuts of
the parts of one wide piece between any two of its candidate cut columns (digits written
touching). The classifier then chooses among them (``runtime.segment``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.images import require_opencv

Box = tuple[int, int, int, int]

# A piece belongs to a line when its centre is this many line heights from the line's centre.
_LINE_REACH = 0.75
# Candidates join at most this many neighbouring pieces...
MAX_PIECES = 4
# ... lying at most this fraction of the taller one's height apart (a stroke that lifted off).
_JOIN_GAP = 0.35
# A joined candidate wider than this times its height holds more than one digit; one taller
# than _JOIN_HEIGHT times its tallest piece stacks things no digit is made of (lines of text).
_JOIN_ASPECT = 1.4
_JOIN_HEIGHT = 2.2
# A piece at least this wide for its height may hold touching digits. It may be cut at the
# thinnest columns of its ink (local minima of the column profile, where touching digits
# meet) and at the even divisions into 2 and 3, at most _MAX_CUTS columns, each at least
# _MIN_PART of the height from the next: no digit is narrower.
_CUT_ASPECT = 0.9
_MAX_CUTS = 6
_MIN_PART = 0.15
# A piece with this share of its pixels where ruled lines were erased is what is left of them,
# unless it is as tall and as wide as the smallest digit: on closely ruled paper the lines'
# bands cover most of the page, and most of a digit's ink lies on them.
_LINE_RESIDUE = 0.8
# A piece whose faint surroundings form one structure this many times its size, spanning this
# share of the frame's short side, is a fragment of that structure (wood grain, a crease).
_STRUCTURE = 2.5
_STRUCTURE_SPAN = 0.5
# ... and a structure the threshold mostly missed, its faint area at least this many times the
# ink in it: digits joined only by thin faint lines (a ruling the line finder lost) are not one
# (measured on the reading benchmark's tune split: digits joined so 1.17-1.34, wood grain
# 2.4 and up).
_STRUCTURE_FAINT = 1.5


@dataclass(frozen=True)
class Piece:
    """One connected piece of ink: its box in mask pixels and its label in the label image."""

    box: Box
    label: int


@dataclass(frozen=True)
class Candidate:
    """A possible digit: the pieces it joins and, for a part of a cut piece, the columns it keeps.

    ``start`` and ``end`` index the line's pieces (``end`` exclusive); ``columns`` is
    ``(x0, x1)`` in mask pixels for a part of one cut piece, else ``None``.
    """

    start: int
    end: int
    box: Box
    columns: tuple[int, int] | None = None


@dataclass(frozen=True)
class Cut:
    """The ways to cut a wide piece (line index ``piece``) into touching digits: ``columns``
    (frame pixels, its left and right edges included) and, for each pair ``(i, j)`` of them,
    the candidate between them (None when it holds no ink)."""

    piece: int
    columns: tuple[int, ...]
    parts: dict[tuple[int, int], Candidate | None]


def ink_pieces(
    mask: np.ndarray,
    shortest: float,
    lines: np.ndarray | None = None,
    structure: np.ndarray | None = None,
) -> tuple[np.ndarray, list[Piece]]:
    """The label image and the pieces of a 0/255 mask, without specks, pieces cut by the
    frame edge, what is left of erased ruled lines (pieces lying almost wholly,
    ``_LINE_RESIDUE``, on the ``lines`` mask), and fragments of a larger structure: pieces
    whose connected part of the fainter ``structure`` mask (which holds ``mask``) is far
    larger than they are and spans a good part of the frame (the grain of a wooden table, a
    long crease), which no digit is."""
    cv2 = require_opencv()
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask, connectivity=8, ltype=_label_type(mask)
    )
    height, width = mask.shape
    left, top, w, h = (stats[1:, i] for i in range(4))
    touches_edge = (left <= 0) | (top <= 0) | (left + w >= width) | (top + h >= height)
    big_enough = np.maximum(w, h) >= max(2.0, shortest / 4)
    keep = ~touches_edge & big_enough
    if lines is not None and cv2.countNonZero(lines):
        on_lines = np.bincount(labels[lines > 0].ravel(), minlength=len(stats))[1:]
        residue = on_lines >= _LINE_RESIDUE * stats[1:, cv2.CC_STAT_AREA]
        keep &= ~residue | (np.minimum(w, h) >= shortest)
    if structure is not None and keep.any():
        keep &= ~_fragments(labels, stats, structure, min(height, width))
    kept = np.flatnonzero(keep) + 1
    return labels, [Piece(tuple(int(v) for v in stats[i, :4]), int(i)) for i in kept]


def _label_type(mask: np.ndarray) -> int:
    """16-bit labels where they cannot overflow (they are markedly faster than 32-bit here):
    a mask holds at most one 8-connected piece per 2x2 block, and never more pieces than
    inked pixels (a page photo's mask is mostly paper)."""
    cv2 = require_opencv()
    blocks = -(-mask.shape[0] // 2) * -(-mask.shape[1] // 2)
    most_pieces = min(blocks, cv2.countNonZero(mask))
    return cv2.CV_16U if most_pieces < np.iinfo(np.uint16).max else cv2.CV_32S


def _fragments(
    labels: np.ndarray, stats: np.ndarray, structure: np.ndarray, side: int
) -> np.ndarray:
    """For each piece (label 1..N), is it a fragment of a far larger faint structure?"""
    cv2 = require_opencv()
    count, parts, part_stats, _ = cv2.connectedComponentsWithStats(
        structure, connectivity=8, ltype=_label_type(structure)
    )
    inked = labels > 0
    part_of = np.zeros(len(stats), np.int64)
    np.maximum.at(part_of, labels[inked], parts[inked])
    part_extent = part_stats[part_of[1:], 2:4].max(axis=1)
    part_extent[part_of[1:] == 0] = 0
    extent = stats[1:, 2:4].max(axis=1)
    ink_in_part = np.bincount(parts[inked], minlength=count)[part_of[1:]]
    faint = part_stats[part_of[1:], cv2.CC_STAT_AREA] >= _STRUCTURE_FAINT * ink_in_part
    return (part_extent >= _STRUCTURE * extent) & (part_extent >= _STRUCTURE_SPAN * side) & faint


def lines_of(pieces: list[Piece]) -> list[list[Piece]]:
    """The pieces grouped into lines (top to bottom), each sorted left to right.

    Pieces are taken tallest first; a piece joins the line whose band (the vertical span of
    its tallest piece) its vertical centre is near (within ``_LINE_REACH`` of the band's
    height from the band's centre: a 5's bar above its body is), so the bands never grow and
    small pieces of consecutive text lines never chain two lines into one.
    """
    lines: list[list[Piece]] = []
    bands: list[tuple[float, float]] = []
    for piece in sorted(pieces, key=lambda p: -p.box[3]):
        _, y, _, h = piece.box
        centre = y + h / 2
        for line, (top, bottom) in zip(lines, bands, strict=True):
            if abs(centre - (top + bottom) / 2) <= _LINE_REACH * (bottom - top):
                line.append(piece)
                break
        else:
            lines.append([piece])
            bands.append((y, y + h))
    order = sorted(range(len(lines)), key=lambda i: bands[i][0] + bands[i][1])
    return [sorted(lines[i], key=lambda p: p.box[0] + p.box[2] / 2) for i in order]


def candidates(
    line: list[Piece], labels: np.ndarray, shortest: float, tallest: float
) -> tuple[list[Candidate], list[Cut]]:
    """Every candidate digit of a line, within the digit height range ``shortest``..``tallest``
    (mask pixels): joined runs of neighbouring pieces, and the ways to cut wide pieces."""
    found: list[Candidate] = []
    cuts: list[Cut] = []
    for start in range(len(line)):
        box = line[start].box
        tallest_piece = box[3]
        for end in range(start + 1, min(start + MAX_PIECES, len(line)) + 1):
            if end > start + 1:
                piece_h = line[end - 1].box[3]
                if _gap(box, line[end - 1].box) > _JOIN_GAP * max(box[3], piece_h):
                    break
                tallest_piece = max(tallest_piece, piece_h)
                box = union(box, line[end - 1].box)
                if box[2] > _JOIN_ASPECT * box[3] or box[3] > _JOIN_HEIGHT * tallest_piece:
                    break
            if shortest <= box[3] <= tallest:
                found.append(Candidate(start, end, box))
        piece = line[start]
        if piece.box[2] >= _CUT_ASPECT * piece.box[3] and shortest <= piece.box[3] <= tallest:
            cuts.extend(_cuts(start, piece, labels, shortest))
    return found, cuts


def _cuts(index: int, piece: Piece, labels: np.ndarray, shortest: float) -> list[Cut]:
    """The candidate cut columns of a wide piece and every part between two of them."""
    x, y, w, h = piece.box
    own = labels[y : y + h, x : x + w] == piece.label
    profile = np.convolve(np.count_nonzero(own, axis=0), np.ones(3), mode="same")
    gap = max(2, round(_MIN_PART * h))
    minima = [
        c for c in range(1, w - 1) if profile[c] <= profile[c - 1] and profile[c] < profile[c + 1]
    ]
    chosen: list[int] = []
    for column in [*sorted(minima, key=lambda c: profile[c]), w // 2, w // 3, 2 * w // 3]:
        if gap <= column <= w - gap and all(abs(column - c) >= gap for c in chosen):
            chosen.append(column)
        if len(chosen) == _MAX_CUTS:
            break
    if not chosen:
        return []
    columns = [0, *sorted(chosen), w]
    parts: dict[tuple[int, int], Candidate | None] = {}
    for i in range(len(columns)):
        for j in range(i + 1, len(columns)):
            if (i, j) == (0, len(columns) - 1):
                continue  # the whole piece is a candidate of its own
            x0, x1 = columns[i], columns[j]
            rows = np.flatnonzero(own[:, x0:x1].any(axis=1))
            if rows.size == 0 or rows[-1] - rows[0] + 1 < shortest:
                parts[i, j] = None
                continue
            box = (x + x0, y + int(rows[0]), x1 - x0, int(rows[-1] - rows[0] + 1))
            parts[i, j] = Candidate(index, index + 1, box, (x + x0, x + x1))
    return [Cut(index, tuple(x + c for c in columns), parts)]


def candidate_mask(candidate: Candidate, line: list[Piece], labels: np.ndarray) -> np.ndarray:
    """The 0/255 mask of a candidate's ink within its box."""
    x, y, w, h = candidate.box
    window = labels[y : y + h, x : x + w]
    wanted = np.array([piece.label for piece in line[candidate.start : candidate.end]])
    lookup = np.zeros(int(max(window.max(), wanted.max())) + 1, np.uint8)
    lookup[wanted] = 255
    return lookup[window]


def _gap(a: Box, b: Box) -> int:
    """Horizontal gap between two boxes (negative when they overlap)."""
    return max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2])


def union(a: Box, b: Box) -> Box:
    """The box (x, y, w, h) holding both ``a`` and ``b``."""
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return x0, y0, x1 - x0, y1 - y0
