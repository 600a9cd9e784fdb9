"""Photographing a page: paper, ink layers, camera geometry, light, optics, sensor, JPEG.

A page is a float32 BGR array (0..255) that layers are painted onto; ``Camera`` turns it
into the uint8 BGR image a camera would deliver, and maps ink positions through the same
geometry so the truth boxes follow the digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from benchmarks.corpora.items import Box

# Paper colours (BGR): white, cream, grey, recycled; sticky-note yellow where allowed.
PAPERS = ((244, 245, 246), (214, 234, 244), (222, 226, 228), (200, 214, 222))
STICKY_NOTE = (120, 228, 250)
# Pens (BGR, opacity range): black, blue ballpoint, dark blue, pencil grey.
PENS = (
    ((32, 30, 30), (0.9, 1.0)),
    ((130, 55, 30), (0.85, 1.0)),
    ((90, 30, 15), (0.9, 1.0)),
    ((95, 92, 90), (0.7, 0.9)),
)


def paper_color(rng: np.random.Generator, sticky_notes: bool = False) -> np.ndarray:
    """A paper tint (BGR float32), slightly varied around one of ``PAPERS``."""
    choices = (*PAPERS, STICKY_NOTE) if sticky_notes else PAPERS
    base = np.array(choices[int(rng.integers(len(choices)))], np.float32)
    return np.clip(base + rng.uniform(-6, 6, 3).astype(np.float32), 0, 255)


def pen(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A pen colour (BGR float32) and its opacity."""
    color, (low, high) = PENS[int(rng.integers(len(PENS)))]
    return np.array(color, np.float32), float(rng.uniform(low, high))


def smooth_noise(height: int, width: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field (float32, roughly -1..1) with features about ``cell`` px across."""
    rows, cols = max(2, int(height / cell) + 2), max(2, int(width / cell) + 2)
    coarse = rng.uniform(-1, 1, (rows, cols)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def blank_page(height: int, width: int, color: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paper of ``color`` with faint blotches (fibres, uneven coating)."""
    page = np.empty((height, width, 3), np.float32)
    page[:] = color
    blotches = smooth_noise(height, width, float(rng.uniform(8, 40)), rng)
    page += (blotches * float(rng.uniform(1.0, 4.0)))[..., None]
    return page


def paint(page: np.ndarray, alpha: np.ndarray, color: np.ndarray, x: int = 0, y: int = 0) -> None:
    """Lay ``color`` over ``page`` with coverage ``alpha`` (0..1) at offset (x, y), in place."""
    height, width = alpha.shape
    region = page[y : y + height, x : x + width]
    region += (color - region) * alpha[..., None]


def ink_points(alpha: np.ndarray, x: int = 0, y: int = 0, level: float = 0.3) -> np.ndarray:
    """Page coordinates (N, 2) float32 of the pixels of ``alpha`` (at x, y) inked above ``level``."""
    rows, cols = np.nonzero(alpha > level)
    return np.stack([cols + x, rows + y], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Camera:
    """How a page is photographed: the ranges each shot's settings are drawn from."""

    degrees: float = 3.0  # rotation, either way
    skew: float = 0.03  # perspective: corner shift as a fraction of the image side
    exposure: tuple[float, float] = (0.72, 1.04)
    gradient: float = 0.35  # light falling off across the frame, at most this share
    vignette: float = 0.3
    shadow: float = 0.3  # chance of a soft shadow edge across the frame
    blur: tuple[float, float] = (0.3, 1.2)  # Gaussian sigma, px
    noise: tuple[float, float] = (2.0, 6.0)  # sensor noise sigma, gray levels
    jpeg: tuple[int, int] = (60, 90)

    def light(self, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        """A multiplicative light field: exposure, gradient, vignette, maybe a shadow."""
        small_h, small_w = max(2, height // 8), max(2, width // 8)
        ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
        u, v = xs / (small_w - 1) - 0.5, ys / (small_h - 1) - 0.5
        field = np.full((small_h, small_w), rng.uniform(*self.exposure), np.float32)
        theta = rng.uniform(0, 2 * np.pi)
        along = u * np.cos(theta) + v * np.sin(theta)  # -0.7..0.7
        field *= 1 - rng.uniform(0, self.gradient) * (along + 0.71) / 1.42
        field *= 1 - rng.uniform(0, self.vignette) * (u * u + v * v) * 2
        if rng.random() < self.shadow:
            phi = rng.uniform(0, 2 * np.pi)
            offset = rng.uniform(-0.3, 0.3)
            softness = rng.uniform(0.02, 0.12)
            side = (u * np.cos(phi) + v * np.sin(phi) - offset) / softness
            field *= 1 - rng.uniform(0.15, 0.4) / (1 + np.exp(-np.clip(side, -30, 30)))
        return cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)

    def shoot(
        self,
        page: np.ndarray,
        rng: np.random.Generator,
        inks: Sequence[np.ndarray] = (),
        margin: int = 2,
    ) -> tuple[np.ndarray, list[Box]]:
        """Photograph ``page``; return the BGR uint8 photo and the box of each of ``inks``
        (page coordinates from ``ink_points``) in the photo.

        The geometry is redrawn, each time gentler, until every box lies ``margin`` px
        inside the photo, so a digit is never cut by the frame edge."""
        height, width = page.shape[:2]
        gentle = 1.0
        for _ in range(8):
            matrix = homography(width, height, self.degrees * gentle, self.skew * gentle, rng)
            boxes = [transformed_box(points, matrix) for points in inks]
            if all(_inside(box, width, height, margin) for box in boxes):
                break
            gentle /= 2
        else:
            matrix = np.eye(3)
            boxes = [transformed_box(points, matrix) for points in inks]
        photo = cv2.warpPerspective(
            page, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        photo *= self.light(height, width, rng)[..., None]
        sigma = rng.uniform(*self.blur)
        if sigma > 0.25:
            photo = cv2.GaussianBlur(photo, (0, 0), sigma)
        photo += rng.standard_normal(photo.shape, dtype=np.float32) * np.float32(
            rng.uniform(*self.noise)
        )
        return jpeg(photo, int(rng.integers(self.jpeg[0], self.jpeg[1] + 1))), boxes


def homography(
    width: int, height: int, degrees: float, skew: float, rng: np.random.Generator
) -> np.ndarray:
    """A rotation of up to ``degrees`` about the centre plus a perspective tilt moving each
    corner up to ``skew`` of the side (3x3, page -> photo)."""
    angle = rng.uniform(-degrees, degrees)
    rotation = np.vstack([cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0), [0, 0, 1]])
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    jitter = rng.uniform(-skew, skew, (4, 2)) * (width, height)
    tilt = cv2.getPerspectiveTransform(corners, (corners + jitter).astype(np.float32))
    return tilt @ rotation


def transformed_box(points: np.ndarray, matrix: np.ndarray) -> Box:
    """The pixel box (x, y, w, h) holding ``points`` (N, 2) after the homography ``matrix``."""
    moved = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), matrix)
    low = np.floor(moved.min(axis=(0, 1)) + 0.5).astype(int)
    high = np.floor(moved.max(axis=(0, 1)) + 0.5).astype(int)
    return int(low[0]), int(low[1]), int(high[0] - low[0] + 1), int(high[1] - low[1] + 1)


def _inside(box: Box, width: int, height: int, margin: int) -> bool:
    x, y, w, h = box
    return x >= margin and y >= margin and x + w <= width - margin and y + h <= height - margin


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` (float, any range) clipped to uint8 and passed through JPEG at ``quality``."""
    pixels = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)
