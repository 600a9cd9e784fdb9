"""MNIST loading: strict IDX parsing, checksums, and clear errors when data is missing."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from runtime.errors import DatasetError
from train import data as mnist_data


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_parse_idx_round_trip():
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    parsed = mnist_data.parse_idx(idx_bytes(array))
    assert parsed.shape == (2, 3, 4)
    assert np.array_equal(parsed, array)


def test_parse_idx_truncated_data():
    raw = idx_bytes(np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(
        DatasetError, match=r"images\.idx: truncated: header says shape \(5, 28, 28\)"
    ):
        mnist_data.parse_idx(raw[:-10], name="images.idx")


def test_parse_idx_truncated_header():
    with pytest.raises(DatasetError, match="truncated IDX header"):
        mnist_data.parse_idx(bytes([0, 0, 8, 3, 0, 0]), name="x")
    with pytest.raises(DatasetError, match="not even a header"):
        mnist_data.parse_idx(b"\x00", name="x")


def test_parse_idx_wrong_magic():
    raw = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    raw[2] = 0x0D  # float32 type code: not what MNIST uses
    with pytest.raises(DatasetError, match="not an IDX unsigned-byte file"):
        mnist_data.parse_idx(bytes(raw), name="x")
    with pytest.raises(DatasetError, match="magic"):
        mnist_data.parse_idx(b"PK\x03\x04" + bytes(100), name="x")


def test_parse_idx_size_mismatch_trailing_bytes():
    raw = idx_bytes(np.zeros((3,), np.uint8)) + b"\x00\x00"
    with pytest.raises(DatasetError, match="has trailing bytes"):
        mnist_data.parse_idx(raw, name="labels")


def test_loads_canonical_files(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_train.dtype == np.uint8
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(mnist.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert (
        mnist.sha256["train-images-idx3-ubyte.gz"]
        == mnist_data.CANONICAL_SHA256["train-images-idx3-ubyte.gz"]
    )


def write_raw_dataset(directory: Path, mnist, tamper: str | None = None) -> None:
    for key, stem in mnist_data.IDX_STEMS.items():
        array = getattr(mnist, key).copy()
        if key == tamper:
            array.flat[0] ^= 0xFF
        (directory / stem).write_bytes(idx_bytes(array))


def test_raw_idx_files_load_and_verify(tmp_path, mnist):
    write_raw_dataset(tmp_path, mnist)
    loaded = mnist_data.load_mnist(tmp_path)
    assert np.array_equal(loaded.y_test, mnist.y_test)
    assert (
        loaded.sha256["t10k-labels-idx1-ubyte"]
        == mnist_data.CANONICAL_SHA256["t10k-labels-idx1-ubyte"]
    )


def test_checksum_failure_names_file(tmp_path, mnist):
    write_raw_dataset(tmp_path, mnist, tamper="y_test")
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte: SHA-256 mismatch"):
        mnist_data.load_mnist(tmp_path)


def test_corrupt_gzip_is_reported(tmp_path, mnist_path):
    for stem in mnist_data.IDX_STEMS.values():
        (tmp_path / f"{stem}.gz").write_bytes((mnist_path / f"{stem}.gz").read_bytes())
    target = tmp_path / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])
    with pytest.raises(
        DatasetError, match=r"train-labels-idx1-ubyte\.gz: corrupt or truncated gzip"
    ):
        mnist_data.load_mnist(tmp_path)


def test_gzip_with_wrong_content_size(tmp_path, mnist_path):
    for stem in mnist_data.IDX_STEMS.values():
        (tmp_path / f"{stem}.gz").write_bytes((mnist_path / f"{stem}.gz").read_bytes())
    short = idx_bytes(np.zeros(59999, np.uint8))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(short))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte\.gz: SHA-256 mismatch"):
        mnist_data.load_mnist(tmp_path)
    with pytest.raises(DatasetError, match=r"y_train has shape \(59999,\)"):
        mnist_data.load_idx_dir(tmp_path, verify=False)


def test_npz_checksum_is_verified(tmp_path, mnist):
    path = tmp_path / "mnist.npz"
    np.savez(
        path, x_train=mnist.x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test
    )
    with pytest.raises(DatasetError, match=r"mnist\.npz: SHA-256 mismatch"):
        mnist_data.load_mnist(tmp_path)
    unverified = mnist_data.load_npz(path, verify=False)
    assert np.array_equal(unverified.y_train, mnist.y_train)


def test_empty_directory_gets_clear_error(tmp_path):
    with pytest.raises(DatasetError, match=r"no MNIST dataset in .*train-images-idx3-ubyte\.gz"):
        mnist_data.load_mnist(tmp_path)
    with pytest.raises(DatasetError, match=r"does not exist\. Pass --data DIR"):
        mnist_data.load_mnist(tmp_path / "nope")


def test_env_var_is_used(tmp_path, monkeypatch, mnist_path):
    monkeypatch.setenv(mnist_data.ENV_VAR, str(mnist_path))
    assert mnist_data.load_mnist().source == str(mnist_path)
    monkeypatch.setenv(mnist_data.ENV_VAR, str(tmp_path))
    with pytest.raises(DatasetError, match="no MNIST dataset"):
        mnist_data.load_mnist()


def test_nothing_found_and_download_fails(tmp_path, monkeypatch):
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DatasetError, match="no MNIST dataset found: pass --data DIR"):
        mnist_data.load_mnist(download=False)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    import keras

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(
        DatasetError, match=r"download .* failed .*network is unreachable.*--data DIR"
    ):
        mnist_data.load_mnist()
