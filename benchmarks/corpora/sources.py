"""What the generators draw from: MNIST's test set, UCI optdigits and the font files, loaded on
first use."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from benchmarks.corpora import fonts
from runtime.errors import DatasetError


class Sources:
    """MNIST (from ``mnist_dir``, else ``$DIGIT_KIT_MNIST_DIR``) and fonts (under
    ``font_roots``, else ``fonts.font_roots()``), each loaded when a corpus first needs it."""

    def __init__(
        self,
        mnist_dir: str | os.PathLike[str] | None = None,
        font_roots: tuple[Path, ...] | None = None,
    ) -> None:
        self.mnist_dir = mnist_dir
        self.font_roots = font_roots
        self._mnist: tuple[np.ndarray, np.ndarray] | None = None
        self._optdigits: tuple[np.ndarray, np.ndarray] | None = None
        self._fonts: dict[str, dict[str, Path]] = {}

    def mnist_test(self) -> tuple[np.ndarray, np.ndarray]:
        """MNIST's test images (10000, 28, 28) uint8 and labels (10000,)."""
        if self._mnist is None:
            from train.data import load_mnist

            data = load_mnist(self.mnist_dir, download=False)
            self._mnist = (data.x_test, data.y_test)
        return self._mnist

    def optdigits(self) -> tuple[np.ndarray, np.ndarray]:
        """UCI optdigits' test set as scikit-learn ships it: images (1797, 8, 8), 0..16, and
        labels (1797,)."""
        if self._optdigits is None:
            try:
                from sklearn.datasets import load_digits
            except ImportError as exc:
                raise DatasetError(
                    "the optdigits corpus needs scikit-learn (pip install -e '.[desktop]')"
                ) from exc
            data = load_digits()
            self._optdigits = (np.asarray(data.images, np.uint8), np.asarray(data.target))
        return self._optdigits

    def handwriting(self) -> dict[str, Path]:
        """The six handwriting fonts, name -> file (``FontsMissingError`` if any is missing)."""
        return self._located("handwriting", fonts.HANDWRITING)

    def printed(self) -> dict[str, Path]:
        """The DejaVu fonts used for printed pages, name -> file."""
        return self._located("printed", fonts.PRINTED)

    def check(self, needs: tuple[str, ...]) -> None:
        """Load what ``needs`` names ("mnist", "optdigits", "handwriting", "printed") now, so a missing
        source fails before any reading starts."""
        loaders = {
            "mnist": self.mnist_test,
            "optdigits": self.optdigits,
            "handwriting": self.handwriting,
            "printed": self.printed,
        }
        for need in needs:
            loaders[need]()

    def _located(self, key: str, wanted: tuple[fonts.FontFile, ...]) -> dict[str, Path]:
        if key not in self._fonts:
            self._fonts[key] = fonts.locate(wanted, self.font_roots)
        return self._fonts[key]
