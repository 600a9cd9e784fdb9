"""Group the components of an ink mask into digit candidates and reject what is not writing.

Pieces of one digit are merged (broken strokes, a digit cut by a ruled line), blobs as wide
as several digits are split at their waists, and cheap tests drop what is not a digit:
specks, things touching the frame edge, textures, fringes along page edges and shadows,
solid blobs, dashes.
"""

from __future__ import annotations

import itertools

import numpy as np

from runtime.ink import InkMap, ink_percentile, stroke_width

Box = tuple[int, int, int, int]

# Blobs wider than _SPLIT_ASPECT x their height may be touching digits: they are split into
# width / (_DIGIT_ASPECT x height) parts where the ink has a waist (MNIST digits are at
# most 1.25 times as wide as tall).
_SPLIT_ASPECT = 1.3
_DIGIT_ASPECT = 0.8
_WAIST = 0.35
_MAX_SPLIT = 6
# Pieces of one digit: stacked within this fraction of the taller one's height, or a piece
# under _SIDE_PIECE of its neighbour's height right beside it.
_MERGE_GAP = 0.3
_SIDE_PIECE = 0.6
# Smaller pieces (longest side under this fraction of the digit's height) are specks.
_MIN_PIECE = 0.2
# More non-speck pieces than this: a texture (fabric, wood, gravel), not writing.
_MAX_PIECES = 120
# A digit's largest piece spans at least this fraction of its height (a long chain of
# small pieces is a texture or a dotted line).
_MAIN_PIECE = 0.35
# Faint ink (half the threshold) covering more than this fraction of a region's
# surroundings: the region is part of a texture.
_CLUTTER = 0.04
# Paper changing by more than this (relative) within 2 px is a page edge or hard shadow.
_PAPER_EDGE = 0.08
# A blob whose mean stroke is wider than this fraction of its height is not writing.
_MAX_STROKE_RATIO = 0.4
# Filling more than _BLOB_FILL of its box, without holes, with strokes wider than
# _BLOB_STROKE_RATIO of its height (or _DENSE_STROKE_RATIO when filling _DENSE_FILL): a
# solid blob. Bold pen digits measure up to 0.28 and fill up to 0.65 of their box, a bold
# MNIST 1 fills 0.9 with strokes of 0.21; a solid ellipse fills 0.79.
_BLOB_FILL = 0.6
_BLOB_STROKE_RATIO = 0.3
_DENSE_FILL = 0.72
_DENSE_STROKE_RATIO = 0.25
# A hole smaller than this fraction of the box is a pinhole, not a loop of a 0, 6, 8 or 9.
_MIN_HOLE = 0.01
# Wider than this (width / height) after splitting: a dash or a scribble, not a digit.
_MAX_ASPECT = 2.5
_SQUARE_3 = np.ones((3, 3), np.uint8)
_SQUARE_5 = np.ones((5, 5), np.uint8)


def candidate_digits(
    mask: np.ndarray, found: InkMap, shortest: float, tallest: float
) -> list[tuple[Box, np.ndarray]]:
    """Group the mask's components into digit candidates: (box, 0/255 mask of the box).

    ``shortest`` / ``tallest``: the digit heights accepted, in mask pixels.
    """
    import cv2

    # 16-bit labels: enough for any work-size frame, and markedly faster than 32-bit here.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask, connectivity=8, ltype=cv2.CV_16U
    )
    height, width = mask.shape
    left, top, w, h = (stats[1:, i] for i in range(4))
    touches_edge = (left <= 1) | (top <= 1) | (left + w >= width - 1) | (top + h >= height - 1)
    # Specks: pieces smaller than a quarter of the smallest digit in both directions.
    is_piece = ~touches_edge & (np.maximum(w, h) >= max(2.0, shortest / 4))
    pieces = np.flatnonzero(is_piece) + 1
    if pieces.size == 0 or pieces.size > _MAX_PIECES:
        return []
    paper_edges = _paper_edges(found.paper)
    faint = _faint_ink(found, mask)
    boxes = stats[pieces, :4]
    corners = boxes.tolist()  # plain ints: per-group arithmetic on tiny numpy arrays is slower
    candidates = []
    for group in merge_broken_strokes(boxes):
        members = [corners[i] for i in group]
        x0, y0 = min(b[0] for b in members), min(b[1] for b in members)
        x1, y1 = max(b[0] + b[2] for b in members), max(b[1] + b[3] for b in members)
        tallest_piece = max(b[3] for b in members)
        if not shortest <= y1 - y0 <= tallest or tallest_piece < _MAIN_PIECE * (y1 - y0):
            continue
        if _cluttered(faint, x0, y0, x1, y1):
            continue
        lookup = np.zeros(count, np.uint8)
        lookup[pieces[group]] = 255
        group_mask = lookup[labels[y0:y1, x0:x1]]
        if _on_paper_edge(group_mask, paper_edges[y0:y1, x0:x1]):
            continue
        for (bx, by, bw, bh), part in _split_wide(group_mask):
            part_ink = found.ink[y0 + by : y0 + by + bh, x0 + bx : x0 + bx + bw]
            if bh >= shortest and _looks_like_writing(part, cv2.bitwise_and(part_ink, part)):
                candidates.append(((x0 + bx, y0 + by, bw, bh), part))
    return candidates


def merge_broken_strokes(boxes: np.ndarray) -> list[np.ndarray]:
    """Group the indices of boxes (N, 4: x, y, w, h) that belong to one digit.

    Two pieces are one digit when
    - they overlap horizontally by half the narrower one and are stacked close together
      (or one is under half the other's height): a 5's bar above its body, the part of a
      digit that a ruled line cut off;
    - one lies inside the other;
    - a piece under ``_SIDE_PIECE`` of its neighbour's height sits right beside it, within
      its vertical extent: a stroke that lifted off.
    Neighbouring digits on a line have similar heights, so they stay apart; specks (under
    ``_MIN_PIECE`` of the digit's height) join nothing.
    """
    x0, y0 = boxes[:, 0].astype(np.float32), boxes[:, 1].astype(np.float32)
    w, h = boxes[:, 2].astype(np.float32), boxes[:, 3].astype(np.float32)
    x1, y1 = x0 + w, y0 + h
    overlap_x = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    overlap_y = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
    lower_h, upper_h = np.minimum(h[:, None], h[None]), np.maximum(h[:, None], h[None])
    narrower = np.minimum(w[:, None], w[None])
    close = np.maximum(3.0, _MERGE_GAP * upper_h)
    small = lower_h <= 0.5 * upper_h
    stacked = (
        (overlap_x >= 0.5 * narrower)
        & ((overlap_y <= 0.5 * lower_h) | small)
        & (-overlap_y <= close)
    )
    inside = (overlap_x >= narrower) & (overlap_y >= lower_h)
    beside = (
        (lower_h <= _SIDE_PIECE * upper_h)
        & (overlap_y >= 0.8 * lower_h)
        & (-overlap_x <= 0.5 * close)
    )
    extent = np.maximum(w, h)
    substantial = np.minimum(extent[:, None], extent[None]) >= _MIN_PIECE * upper_h
    joined = (stacked | inside | beside) & substantial

    group = np.arange(len(boxes))  # union-find parents; N is small (tens)
    for i, j in zip(*np.nonzero(np.triu(joined, 1)), strict=True):
        root_i, root_j = _root(group, i), _root(group, j)
        group[max(root_i, root_j)] = min(root_i, root_j)
    roots = np.array([_root(group, i) for i in range(len(boxes))])
    return [np.flatnonzero(roots == root) for root in np.unique(roots)]


def _root(parent: np.ndarray, index: int) -> int:
    while parent[index] != index:
        index = parent[index]
    return int(index)


def _split_wide(mask: np.ndarray) -> list[tuple[Box, np.ndarray]]:
    """Split a blob far wider than one digit (touching digits) at its thinnest columns.

    A cut needs a real waist: a column holding at most ``_WAIST`` of the blob's mean
    column ink near where an even split would cut; otherwise the blob stays whole.
    """
    height, width = mask.shape
    whole = [((0, 0, width, height), mask)]
    if width <= _SPLIT_ASPECT * height:
        return whole
    parts = round(width / (_DIGIT_ASPECT * height))
    if parts > _MAX_SPLIT:
        return []
    profile = np.count_nonzero(mask, axis=0)
    cuts = [0]
    for k in range(1, parts):
        centre, reach = k * width // parts, max(1, width // (3 * parts))
        lo, hi = max(cuts[-1] + 1, centre - reach), min(width - 1, centre + reach)
        if hi <= lo:
            continue
        cut = lo + int(np.argmin(profile[lo:hi]))
        if profile[cut] <= _WAIST * profile.mean():
            cuts.append(cut)
    if len(cuts) == 1:
        return whole
    cuts.append(width)
    pieces = []
    for start, stop in itertools.pairwise(cuts):
        part = mask[:, start:stop]
        rows = np.flatnonzero(part.any(axis=1))
        cols = np.flatnonzero(part.any(axis=0))
        if rows.size and cols.size:
            box = (
                start + int(cols[0]),
                int(rows[0]),
                int(cols[-1] - cols[0] + 1),
                int(rows[-1] - rows[0] + 1),
            )
            pieces.append((box, part[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]))
    return pieces


def _looks_like_writing(mask: np.ndarray, ink: np.ndarray) -> bool:
    """Cheap non-digit rejection: pen strokes are thin for their height, digits are not
    flat, and a thick region without loops that fills its box is a blob (a thumb, a stain).

    A bold 0, 6, 8 or 9 fills its box too, but has loops: holes in its mask or, when the
    pen filled them at this resolution, in the core of its ink (the levels above half the
    stroke level), where a solid blob stays solid.
    """
    import cv2

    height, width = mask.shape
    if width > _MAX_ASPECT * height:
        return False
    fill = cv2.countNonZero(mask) / (height * width)
    has_loop = False
    if fill > _BLOB_FILL:
        has_loop, mask = _loops(mask)
        if not has_loop:
            _, core = cv2.threshold(ink, ink_percentile(ink, 75) // 2, 255, cv2.THRESH_BINARY)
            has_loop, _ = _loops(cv2.bitwise_and(core, mask))
    width_of_stroke = stroke_width(mask)
    if width_of_stroke > _MAX_STROKE_RATIO * height:
        return False
    solid = width_of_stroke > _BLOB_STROKE_RATIO * height or (
        fill > _DENSE_FILL and width_of_stroke > _DENSE_STROKE_RATIO * height
    )
    return has_loop or not (fill > _BLOB_FILL and solid)


def _loops(mask: np.ndarray) -> tuple[bool, np.ndarray]:
    """Does the mask have a hole of at least ``_MIN_HOLE`` of its box? Also returns the mask
    with its pinholes filled (noise inside a blob would count as boundary and thin the
    estimated stroke)."""
    import cv2

    limit = _MIN_HOLE * mask.shape[0] * mask.shape[1]
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False, mask
    holes = [c for c, link in zip(contours, hierarchy[0], strict=True) if link[3] >= 0]
    areas = [cv2.contourArea(c) for c in holes]
    pinholes = [c for c, area in zip(holes, areas, strict=True) if area < limit]
    if pinholes:
        mask = cv2.drawContours(mask.copy(), pinholes, -1, 255, cv2.FILLED)
    return max(areas, default=0.0) >= limit, mask


def _faint_ink(found: InkMap, mask: np.ndarray) -> np.ndarray:
    """0/255 mask of faint ink away from the clear ink: texture just below the threshold.

    Clean paper has next to none (the anti-aliased fringe of strokes lies within the
    dilation); a wooden table, fabric or gravel is full of it.
    """
    import cv2

    _, faint = cv2.threshold(found.ink, found.threshold // 2, 255, cv2.THRESH_BINARY)
    near_strokes = cv2.dilate(mask, _SQUARE_5)
    return cv2.bitwise_and(faint, cv2.bitwise_not(near_strokes))


def _cluttered(faint: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> bool:
    """Does faint ink cover much of a region's surroundings (half its height around)?"""
    import cv2

    reach = max(2, (y1 - y0) // 2)
    around = faint[max(0, y0 - reach) : y1 + reach, max(0, x0 - reach) : x1 + reach]
    return cv2.countNonZero(around) > _CLUTTER * around.size


def _paper_edges(paper: np.ndarray) -> np.ndarray:
    """0/255 mask of where the paper estimate changes steeply (page edges, hard shadows, big
    dark objects): the paper there is known only roughly and ink-like fringes appear."""
    import cv2

    step = cv2.morphologyEx(paper, cv2.MORPH_GRADIENT, _SQUARE_3)
    _, edges = cv2.threshold(
        cv2.divide(step, paper, scale=255.0), _PAPER_EDGE * 255, 255, cv2.THRESH_BINARY
    )
    return edges


def _on_paper_edge(region: np.ndarray, edges: np.ndarray) -> bool:
    """Does most of a region's ink lie on a paper edge? Then it is a fringe, not writing."""
    import cv2

    return cv2.countNonZero(cv2.bitwise_and(region, edges)) > 0.5 * cv2.countNonZero(region)
