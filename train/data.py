"""MNIST loading: local IDX files (``.gz`` or raw) or Keras' ``mnist.npz``, checksum-verified.

Where the data comes from, in order:
1. the directory passed as ``data_dir`` (the ``--data`` flag), else
2. the directory named by the ``DIGIT_KIT_MNIST_DIR`` environment variable, else
3. Keras' cache (``~/.keras/datasets/mnist.npz``), downloaded there by
   ``keras.utils.get_file`` with its SHA-256 checked when it is not there yet.

An explicitly named directory never triggers a download: if it holds no dataset that is an error.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runtime.errors import DatasetError, DigitKitError

ENV_VAR = "DIGIT_KIT_MNIST_DIR"
KERAS_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

# Canonical SHA-256 of the four MNIST files, compressed and raw (LeCun/Cortes/Burges distribution).
CANONICAL_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_UBYTE = 0x08
_EXPECTED_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}


@dataclass(frozen=True)
class MnistData:
    """MNIST as uint8 arrays: images (N, 28, 28) white digit on black, labels (N,) in 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: dict[str, str] = field(default_factory=dict)

    def first_training(self, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The first ``limit`` training images and labels (all of them for None); more than
        there are is a ``DigitKitError``, not silently all of them."""
        if limit is None:
            return self.x_train, self.y_train
        if limit > len(self.y_train):
            raise DigitKitError(
                f"--train-limit {limit}: {self.source} holds only {len(self.y_train)} "
                "training images"
            )
        return self.x_train[:limit], self.y_train[:limit]


def sha256_of(path: Path) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse an uncompressed IDX (unsigned byte) buffer strictly: magic, dimensions, byte count.

    Hand-written because no maintained library parses IDX with these checks; the format is
    a 4-byte magic (0, 0, type 0x08, ndim), ndim big-endian uint32 sizes, then the data.
    """
    if len(raw) < 4:
        raise DatasetError(f"{name}: truncated IDX file ({len(raw)} bytes, not even a header)")
    zero0, zero1, dtype_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or dtype_code != _IDX_UBYTE or not 1 <= ndim <= 4:
        raise DatasetError(
            f"{name}: not an IDX unsigned-byte file (magic {raw[:4].hex()}, expected 000008 + ndim 01..04)"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(f"{name}: truncated IDX header ({len(raw)} of {header_len} bytes)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_len + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DatasetError(
            f"{name}: {problem}: header says shape {dims} ({expected} bytes), file has {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)


def _read_maybe_gzip(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt or truncated gzip file ({exc})") from exc


def _find_idx_file(directory: Path, stem: str) -> Path | None:
    # Both the canonical names and the dotted variant some mirrors use (train-images.idx3-ubyte).
    dotted = stem.replace("-idx", ".idx")
    for candidate in (f"{stem}.gz", stem, f"{dotted}.gz", dotted):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def _check_sha256(path: Path, canonical_name: str, verify: bool) -> str:
    actual = sha256_of(path)
    expected = CANONICAL_SHA256.get(canonical_name) if canonical_name in CANONICAL_SHA256 else None
    if verify and expected is not None and actual != expected:
        raise DatasetError(
            f"{path}: SHA-256 mismatch (got {actual}, expected {expected}). The file is corrupt or "
            "not the canonical MNIST; delete it and fetch the original files again."
        )
    return actual


def _validate(arrays: dict[str, np.ndarray], source: str) -> None:
    for key, shape in _EXPECTED_SHAPES.items():
        if arrays[key].shape != shape:
            raise DatasetError(f"{source}: {key} has shape {arrays[key].shape}, expected {shape}")
    for key in ("y_train", "y_test"):
        if arrays[key].max() > 9:
            raise DatasetError(f"{source}: {key} holds labels above 9")


def load_idx_dir(directory: Path, verify: bool = True) -> MnistData:
    """Load the four IDX files from ``directory``, checking structure and canonical SHA-256."""
    arrays: dict[str, np.ndarray] = {}
    hashes: dict[str, str] = {}
    for key, stem in IDX_STEMS.items():
        path = _find_idx_file(directory, stem)
        if path is None:
            raise DatasetError(f"{directory}: missing {stem}.gz (or {stem})")
        arrays[key] = parse_idx(_read_maybe_gzip(path), name=str(path))
        # Dotted names hold the same bytes as the canonical ones, so they share the checksums.
        canonical = f"{stem}.gz" if path.suffix == ".gz" else stem
        hashes[path.name] = _check_sha256(path, canonical, verify)
    _validate(arrays, str(directory))
    return MnistData(**arrays, source=str(directory), sha256=hashes)


def load_npz(path: Path, verify: bool = True) -> MnistData:
    """Load Keras' ``mnist.npz`` (keys x_train, y_train, x_test, y_test), checking its SHA-256."""
    actual = sha256_of(path)
    if verify and actual != KERAS_NPZ_SHA256:
        raise DatasetError(
            f"{path}: SHA-256 mismatch (got {actual}, expected {KERAS_NPZ_SHA256}); "
            "delete it so it can be downloaded again."
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key].astype(np.uint8, copy=False) for key in _EXPECTED_SHAPES}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable mnist.npz ({exc})") from exc
    _validate(arrays, str(path))
    return MnistData(**arrays, source=str(path), sha256={path.name: actual})


def _has_dataset(directory: Path) -> bool:
    return (directory / "mnist.npz").is_file() or _find_idx_file(
        directory, IDX_STEMS["x_train"]
    ) is not None


def load_from_dir(directory: str | os.PathLike[str], verify: bool = True) -> MnistData:
    """Load MNIST from a directory holding the IDX files or ``mnist.npz``."""
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise DatasetError(
            f"MNIST directory {path} does not exist. Pass --data DIR (or set {ENV_VAR}) to a directory "
            "holding the four *-idx?-ubyte.gz files or mnist.npz, or omit both to download into Keras' cache."
        )
    if _find_idx_file(path, IDX_STEMS["x_train"]) is not None:
        return load_idx_dir(path, verify)
    if (path / "mnist.npz").is_file():
        return load_npz(path / "mnist.npz", verify)
    raise DatasetError(
        f"no MNIST dataset in {path}: expected train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (or uncompressed) or mnist.npz."
    )


def _download_with_keras() -> MnistData:
    try:
        from keras.utils import get_file
    except ImportError as exc:
        raise DatasetError(
            f"no MNIST dataset found and Keras (needed to download it) is not installed: pass "
            f"--data DIR or set {ENV_VAR}=DIR to a directory holding the four *-idx?-ubyte.gz files."
        ) from exc
    try:
        path = get_file("mnist.npz", origin=KERAS_NPZ_URL, file_hash=KERAS_NPZ_SHA256)
    except Exception as exc:  # network errors surface from urllib under many types
        raise DatasetError(
            f"MNIST is not available locally and the download from {KERAS_NPZ_URL} failed ({exc}). "
            f"Put the four canonical *-idx?-ubyte.gz files (or mnist.npz) in a directory and pass "
            f"--data DIR or set {ENV_VAR}=DIR."
        ) from exc
    return load_npz(Path(path))


def keras_cache_dir() -> Path:
    """Where ``keras.utils.get_file`` keeps datasets (honours ``KERAS_HOME``)."""
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(base) / "datasets"


def load_mnist(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> MnistData:
    """Load MNIST from ``data_dir``, ``$DIGIT_KIT_MNIST_DIR`` or Keras' cache (downloading if allowed)."""
    if data_dir is not None:
        return load_from_dir(data_dir)
    env_dir = os.environ.get(ENV_VAR)
    if env_dir:
        return load_from_dir(env_dir)
    cache = keras_cache_dir()
    if _has_dataset(cache):
        return load_from_dir(cache)
    if not download:
        raise DatasetError(
            f"no MNIST dataset found: pass --data DIR or set {ENV_VAR}=DIR to a directory holding the "
            f"four *-idx?-ubyte.gz files or mnist.npz (nothing in Keras' cache {cache} either)."
        )
    return _download_with_keras()
