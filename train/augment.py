"""Handwriting augmentation for 28x28 MNIST-form images (uint8, white on black).

Per image: a random affine (rotation, scale, aspect, shear, shift) composed with an elastic
distortion (Simard et al. 2003: a smoothed random displacement field), then sometimes a stroke
thickness change (dilate/erode) and a slight blur. Every transform is drawn from a NumPy
generator, so one seed gives one stream of images.

Written with OpenCV/SciPy primitives because Keras' augmentation layers offer neither elastic
distortion nor stroke-thickness changes, and one composed remap per image is faster than
chaining layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIZE = 28


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms (all drawn uniformly)."""

    rotation_deg: float = 10.0
    scale: float = 0.12  # isotropic scale in [1 - s, 1 + s]
    aspect: float = 0.12  # x/y stretch in [1 - a, 1 + a]
    shear: float = 0.15
    shift_px: float = 2.5
    elastic_rms_px: float = 0.9  # root-mean-square displacement of the elastic field
    elastic_sigma: float = 4.0
    elastic_probability: float = 0.8
    thicken_probability: float = 0.15
    thin_probability: float = 0.1
    blur_probability: float = 0.1


def _gaussian_matrix(sigma: float) -> np.ndarray:
    """A (28, 28) matrix whose product smooths along one axis with zero padding."""
    offsets = np.arange(SIZE)[:, None] - np.arange(SIZE)[None, :]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum(axis=1, keepdims=True)).astype(np.float32)


def _affine_maps(rng: np.random.Generator, n: int, cfg: AugmentConfig) -> np.ndarray:
    """Inverse affine matrices (n, 2, 3) mapping output pixel -> source pixel, about the centre."""
    angle = np.deg2rad(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg, n))
    scale = rng.uniform(1 - cfg.scale, 1 + cfg.scale, n)
    aspect = rng.uniform(1 - cfg.aspect, 1 + cfg.aspect, n)
    shear = rng.uniform(-cfg.shear, cfg.shear, n)
    shift = rng.uniform(-cfg.shift_px, cfg.shift_px, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    # forward = R @ Shear @ diag(sx, sy); we need its inverse for remap
    sx, sy = scale * aspect, scale / aspect
    forward = np.empty((n, 2, 2))
    forward[:, 0, 0] = cos * sx
    forward[:, 0, 1] = (cos * shear - sin) * sy
    forward[:, 1, 0] = sin * sx
    forward[:, 1, 1] = (sin * shear + cos) * sy
    inverse = np.linalg.inv(forward)
    centre = np.array([(SIZE - 1) / 2, (SIZE - 1) / 2])
    offset = (
        centre - np.einsum("nij,j->ni", inverse, centre) - np.einsum("nij,nj->ni", inverse, shift)
    )
    return np.concatenate([inverse, offset[:, :, None]], axis=2)


def augment_batch(
    images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig | None = None
) -> np.ndarray:
    """Return a randomly distorted copy of ``images`` (N, 28, 28) uint8."""
    cfg = cfg or AugmentConfig()
    n = len(images)
    matrices = _affine_maps(rng, n, cfg)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    grid = np.stack([xs.ravel(), ys.ravel(), np.ones(SIZE * SIZE, np.float32)])  # (3, 784)
    src = np.einsum("nij,jk->nik", matrices.astype(np.float32), grid).reshape(n, 2, SIZE, SIZE)
    elastic = rng.random(n) < cfg.elastic_probability
    if elastic.any():
        field = rng.uniform(-1, 1, (int(elastic.sum()), 2, SIZE, SIZE)).astype(np.float32)
        blur = _gaussian_matrix(cfg.elastic_sigma)
        field = blur @ field @ blur.T  # separable Gaussian smoothing of every field at once
        norm = np.sqrt((field**2).mean(axis=(1, 2, 3), keepdims=True)) + 1e-6
        src[elastic] += field / norm * cfg.elastic_rms_px
    out = np.empty_like(images)
    thicken = rng.random(n) < cfg.thicken_probability
    thin = ~thicken & (rng.random(n) < cfg.thin_probability)
    blur = rng.random(n) < cfg.blur_probability
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2, 2))
    for i in range(n):
        img = cv2.remap(images[i], src[i, 0], src[i, 1], cv2.INTER_LINEAR, borderValue=0)
        if thicken[i]:
            img = cv2.dilate(img, kernel)
        elif thin[i] and img.sum() > 20_000:  # never erode an already faint digit away
            img = cv2.erode(img, kernel)
        if blur[i]:
            img = cv2.GaussianBlur(img, (3, 3), 0.6)
        out[i] = img
    return out
