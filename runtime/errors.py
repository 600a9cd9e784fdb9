"""Exceptions raised by the kit. Every user-facing failure is one of these, with a clear message."""


class DigitKitError(Exception):
    """Base class for all errors raised by the digit kit."""


class ModelFormatError(DigitKitError):
    """A model file is missing, not a TFLite flatbuffer, or not a model this kit can run."""


class MetadataMismatchError(ModelFormatError):
    """A model's embedded metadata does not belong to its weights (tampered or mismatched file)."""


class UnsupportedOpError(ModelFormatError):
    """The pure-NumPy backend met an operator it does not implement."""


class BackendUnavailableError(DigitKitError):
    """The requested inference backend is not installed on this machine."""


class ImageError(DigitKitError, ValueError):
    """An input image has the wrong shape, dtype or values (empty, NaN, ...)."""


class NoDigitFoundError(ImageError):
    """An image holds no ink that could be a digit."""


class DatasetError(DigitKitError):
    """The MNIST dataset is missing, truncated, corrupt or fails its checksum."""
