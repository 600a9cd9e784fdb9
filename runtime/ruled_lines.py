"""Erase ruled lines, grids, margins and page edges from an ink mask, keeping the digits on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.images import require_opencv

# A line is a straight run of ink at least _SPAN of the frame across (width for horizontal
# lines, height for vertical ones), or _EDGE_SPAN when it reaches the frame's edge; a digit's
# stroke is never that long and never reaches the edge. Lines may lean _TILT_DEG from level
# (a page photographed at an angle) and break for _GAP of the frame (a faint stretch).
_SPAN = 0.5
_EDGE_SPAN = 0.25
_TILT_DEG = 12.0
_GAP = 0.04
# Hough follows a line in steps of 1 degree: a line leaning between two steps drifts off the
# followed direction and comes back as collinear segments, each too short to count as a line
# on its own (graph paper's lines, photographed). A segment of at least _PART of the frame
# whose ends lie within _SAME_LINE_PX of a longer segment's line is part of that line.
_PART = 0.08
_SAME_LINE_PX = 2.0
# Hough also leaves stretches of a line out when, the rest of the line taken, they are too
# short to gather its votes: collinear segments are joined across any gap that ink fills to
# _INKED along the line, and a line is followed to the frame's edges the same way.
_INKED = 0.8
# Lines are erased this wide (px): ruled lines are 1-2 px thick at detection resolution.
_LINE_WIDTH = 3
# Strokes crossing a line are bridged over gaps up to this many px; what is left of the lines
# lies within _BAND px of them.
_BRIDGE = 9
_BAND = 5
# Ink at least this many px thick across a line is a pen stroke on it, not the line; so is
# ink at least _DARKER times as strong as the line's own.
_STROKE = 5
_DARKER = 2.0


def remove_ruled_lines(
    mask: np.ndarray, detect_on: np.ndarray | None = None, ink: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Erase ruled lines, grids, margins and page edges from a 0/255 mask.

    Lines are found with OpenCV's probabilistic Hough transform, which follows a tilted or
    broken line exactly (a morphological opening by a level kernel loses it). Their pixels
    are erased; where a stroke crosses a line, the line pixels between its two sides are
    kept (a closing across the line), so a digit written across a line stays whole. Lines
    are looked for in ``detect_on`` when given (a mask of fainter ink, in which a light line
    is not broken into dashes). With ``ink`` (the ink strength of which ``mask`` is a
    threshold), ink on a line at least ``_DARKER`` times as strong as that line's own is a pen
    stroke along it and is kept. Returns the cleaned mask and a band (0/255) around the lines
    that were found.
    """
    cv2 = require_opencv()
    found = _find_lines(mask if detect_on is None else detect_on)
    if not found:
        return mask, np.zeros_like(mask)
    across = (np.zeros_like(mask), np.zeros_like(mask))  # horizontal, vertical lines
    for line in found:
        for x0, y0, x1, y1 in [*line.found, *line.joins]:
            cv2.line(across[0 if line.horizontal else 1], (x0, y0), (x1, y1), 255, _LINE_WIDTH)
    lines = cv2.bitwise_or(*across)
    clean = cv2.bitwise_and(mask, cv2.bitwise_not(lines))
    restored = clean
    for drawn, bridge, thick in zip(
        across, ((1, _BRIDGE), (_BRIDGE, 1)), ((1, _STROKE), (_STROKE, 1)), strict=True
    ):
        if not cv2.countNonZero(drawn):
            continue
        on_line = cv2.bitwise_and(drawn, mask)
        # A stroke crossing the line: ink on both sides, bridged across it.
        bridged = cv2.morphologyEx(clean, cv2.MORPH_CLOSE, _rect(cv2, bridge))
        # A stroke running along the line: ink thicker across it than the line itself.
        wide = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _rect(cv2, thick))
        kept = cv2.bitwise_and(cv2.bitwise_or(bridged, wide), on_line)
        restored = cv2.bitwise_or(restored, kept)
    if ink is not None:  # a stroke along a line, darker than it (only on the lines drawn above)
        restored = cv2.bitwise_or(restored, cv2.bitwise_and(_darker_than_lines(ink, found), mask))
    band = cv2.dilate(lines, np.ones((_BAND, _BAND), np.uint8))
    return restored, band


def _darker_than_lines(ink: np.ndarray, lines: list[Line]) -> np.ndarray:
    """0/255: where ``ink`` is at least ``_DARKER`` times the median ink along the darkest
    line through it (measured along the longest segment Hough found of it): a pen stroke
    written along a line, not the line."""
    cv2 = require_opencv()
    near = cv2.dilate(ink, np.ones((3, 3), np.uint8))  # the line's core, wherever it falls
    levels = []
    for line in lines:
        xs, ys = _points(max(line.found, key=lambda p: max(abs(p[2] - p[0]), abs(p[3] - p[1]))))
        levels.append(float(np.median(near[ys, xs])))
    level = np.zeros_like(ink)
    for index in np.argsort(levels):  # the darkest line last, so it wins where lines cross
        value = min(255, round(_DARKER * levels[index]))
        for x0, y0, x1, y1 in [*lines[index].found, *lines[index].joins]:
            cv2.line(level, (x0, y0), (x1, y1), value, _LINE_WIDTH)
    return np.where((level > 0) & (ink >= level), np.uint8(255), np.uint8(0))


def _rect(cv2, size: tuple[int, int]) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_RECT, size)


Segment = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Line:
    """A ruled line: its segments (x0, y0, x1, y1), those Hough found and those joining them
    or following the line to the frame's edge."""

    horizontal: bool
    found: list[Segment]
    joins: list[Segment]


def _find_lines(mask: np.ndarray) -> list[Line]:
    """Straight runs of ink long enough to be lines."""
    cv2 = require_opencv()
    height, width = mask.shape
    side = min(height, width)
    gap = max(2, int(_GAP * max(height, width)))
    found = cv2.HoughLinesP(
        mask,
        rho=1,
        theta=np.pi / 180,
        threshold=max(10, int(0.15 * side)),
        minLineLength=max(10, int(_PART * side)),
        maxLineGap=gap,
    )
    if found is None:
        return []
    segments = np.asarray(found, np.float64).reshape(-1, 4)
    dx, dy = np.abs(segments[:, 2] - segments[:, 0]), np.abs(segments[:, 3] - segments[:, 1])
    tilt = np.tan(np.deg2rad(_TILT_DEG))
    horizontal = dy <= tilt * dx
    level = horizontal | (dx <= tilt * dy)  # the rest are slanted runs: strokes, not rulings
    lengths = np.maximum(dx, dy)
    long = level & (lengths >= _EDGE_SPAN * side)  # a line has at least one long run found
    if not long.any():
        return []
    near = cv2.dilate(mask, np.ones((3, 3), np.uint8))  # a line drifting 1 px off its fit
    lines: list[Line] = []
    for orientation in (True, False):
        chosen = np.flatnonzero(level & (horizontal == orientation))
        if not long[chosen].any():
            continue
        along, extent = (0, width) if orientation else (1, height)
        for group in _collinear_groups(segments[chosen], long[chosen], along):
            if lengths[chosen[group]].sum() < _EDGE_SPAN * extent:
                continue  # too little of it found to be a line, however it is joined
            for run, joins in _runs(segments[chosen[group]], along, extent, near, gap):
                low = min(part[along] for part in [*run, *joins])
                high = max(part[along + 2] for part in [*run, *joins])
                at_edge = low <= 2 or high >= extent - 3
                if high - low >= _SPAN * extent or (at_edge and high - low >= _EDGE_SPAN * extent):
                    lines.append(Line(orientation, run, joins))
    return lines


def _collinear_groups(segments: np.ndarray, seeds: np.ndarray, along: int) -> list[np.ndarray]:
    """Indices of ``segments`` (x0, y0, x1, y1 rows, all about level along axis ``along``: 0
    for x, 1 for y) grouped into lines around the long ones (``seeds``): two seeds one of which
    ends within ``_SAME_LINE_PX`` of the other's line are one line, and so is a shorter
    segment whose two ends lie that close to a seed's line. Segments near no seed are left
    out."""
    across = 1 - along
    a0, a1 = segments[:, along], segments[:, along + 2]
    c0, c1 = segments[:, across], segments[:, across + 2]
    slope = (c1 - c0) / np.where(a1 == a0, 1.0, a1 - a0)
    seed = np.flatnonzero(seeds)
    # [k, j]: how far segment j's ends lie from seed k's line
    off = np.maximum(
        np.abs(c0[None, :] - (c0[seed, None] + slope[seed, None] * (a0[None, :] - a0[seed, None]))),
        np.abs(c1[None, :] - (c0[seed, None] + slope[seed, None] * (a1[None, :] - a0[seed, None]))),
    )
    on_line = off <= _SAME_LINE_PX
    parent = list(range(len(seed)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    between = on_line[:, seed]
    for k, m in zip(*np.nonzero(np.triu(between | between.T, 1)), strict=True):
        parent[root(int(k))] = root(int(m))
    group = np.full(len(segments), -1)
    group[seed] = [root(k) for k in range(len(seed))]
    others = np.flatnonzero(~seeds)
    near_seed = on_line[:, others]
    placed = near_seed.any(axis=0)
    group[others[placed]] = group[seed[near_seed.argmax(axis=0)[placed]]]
    return [np.flatnonzero(group == g) for g in np.unique(group[group >= 0])]


def _runs(
    parts: np.ndarray, along: int, extent: int, near: np.ndarray, gap: int
) -> list[tuple[list[Segment], list[Segment]]]:
    """Collinear segments (x0, y0, x1, y1 rows) chained into runs along axis ``along``, each
    segment from its low end to its high end: a segment joins the run before it across a gap
    of at most ``gap`` or one that ink (``near``) fills to ``_INKED``, and a run is followed
    to the frame's edges where ink fills the way. Per run: its segments, and the joins."""
    ends = parts.reshape(-1, 2, 2).copy()
    backwards = ends[:, 0, along] > ends[:, 1, along]
    ends[backwards] = ends[backwards, ::-1]
    runs: list[tuple[list[Segment], list[Segment]]] = []
    reach = np.zeros(2)  # the high end of the last run
    for start, end in ends[np.argsort(ends[:, 0, along])]:
        segment: Segment = (*map(int, start), *map(int, end))
        if runs and (start[along] <= reach[along] + gap or _inked(near, reach, start) >= _INKED):
            run, joins = runs[-1]
            if start[along] > reach[along]:
                joins.append((*map(int, reach), *map(int, start)))
            run.append(segment)
            if end[along] > reach[along]:
                reach = end
            continue
        runs.append(([segment], []))
        reach = end
    for run, joins in runs:
        first = np.array(min(run, key=lambda part: part[along])[:2], np.float64)
        last = np.array(max(run, key=lambda part: part[along + 2])[2:], np.float64)
        if last[along] == first[along]:
            continue
        step = (last - first) / (last[along] - first[along])
        for edge, at in ((0, first), (extent - 1, last)):
            out = np.clip(at + step * (edge - at[along]), 0, np.array(near.shape[::-1]) - 1)
            if abs(out[along] - at[along]) >= 1 and _inked(near, at, out) >= _INKED:
                low, high = (out, at) if edge == 0 else (at, out)
                joins.append((*map(round, low), *map(round, high)))
    return runs


def _points(segment: Segment) -> tuple[np.ndarray, np.ndarray]:
    """The pixels (xs, ys) of a segment, one per step along its longer axis."""
    x0, y0, x1, y1 = segment
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    along = np.arange(steps + 1) / steps
    return np.rint(x0 + along * (x1 - x0)).astype(np.intp), np.rint(y0 + along * (y1 - y0)).astype(
        np.intp
    )


def _inked(near: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """The share of the straight way from ``start`` to ``end`` (x, y) that has ink."""
    xs, ys = _points((*map(round, start), *map(round, end)))
    return float(np.count_nonzero(near[ys, xs])) / len(xs)
