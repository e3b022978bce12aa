"""Task data as integer events (x (samples, steps, channels), y), NumPy only.

* ``digits``: scikit-learn's 8x8 handwritten digits, each pixel a thermometer code
  of binary spikes (``DIGITS_LEVELS`` thresholds on the 0..16 intensity), the
  whole image in the first step (``DIGITS_ROWS_PER_STEP`` rows per step; 1 is
  row by row, in the spirit of sequential MNIST), then ``DIGITS_TAIL`` silent
  steps; per-sample label. A fixed seeded split.
* ``digits-ttfs``: the same digits and split, time-to-first-spike coded for theta
  networks: one channel per pixel, which spikes once at tick 0 (t = 0) when the
  pixel is at least ``DIGITS_TTFS_THRESHOLD``, else never.
* ``ecg``: the QT database via ``spikeforge.datasets.load_qtdb``.
* MNIST IDX files and SHD-style HDF5 spike files that users bring themselves.

Every loader checks what it reads and raises ``DataError`` (an ``InputError``)
with one line naming the file and the problem.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from spikeforge.golden.simulate import InputError

__all__ = [
    "DataError", "TASKS", "THETA_TASKS", "load_task", "encode_rows", "load_digits_split",
    "DIGITS_LEVELS", "DIGITS_TAIL", "DIGITS_ROWS_PER_STEP", "DIGITS_SEED", "DIGITS_TEST_FRACTION",
    "load_idx", "load_mnist_idx", "load_shd",
    "encode_ttfs", "load_digits_ttfs", "load_mnist_ttfs", "split_validation",
    "DIGITS_TTFS_THRESHOLD", "MNIST_TTFS_THRESHOLD", "VALIDATION_SEED",
]


class DataError(InputError):
    """Training data are missing or malformed; the message names the file and the problem."""


#: Intensity thresholds (0..16 scale) of the thermometer code: a pixel emits one
#: spike on each channel whose threshold it reaches.
DIGITS_LEVELS = (4, 8, 12)
#: Silent steps after the last row, so the recurrent layer and the readout settle before
#: the decision.
DIGITS_TAIL = 4
#: Rows presented per step: all 8, so one step carries the image (8 x 8 pixels x 3 levels =
#: 192 channels) and 4 silent steps follow. Row by row (1: 8 + 2 steps, 24 channels) the
#: recipe scored 2 points lower with 2.4x the synaptic operations (docs/training.md).
DIGITS_ROWS_PER_STEP = 8
DIGITS_SEED = 0
DIGITS_TEST_FRACTION = 0.25


def encode_rows(images, levels, max_value: float, tail: int = 0,
                rows_per_step: int = 1) -> np.ndarray:
    """Images (n, rows, cols) to events (n, rows / rows_per_step + tail, channels).

    Rows are presented ``rows_per_step`` at a time, top to bottom; channel
    ``(j * cols + c) * len(levels) + k`` of a step spikes (+1) when pixel
    (row j of the group, column c) is at least ``levels[k]``. Thermometer
    code: brighter pixels fire on more channels.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise DataError(f"images: shape {images.shape}; expected (samples, rows, columns)")
    if not levels or any(not 0 < lv <= max_value for lv in levels):
        raise DataError(f"levels {levels!r}: expected thresholds in (0, {max_value}]")
    n, rows, cols = images.shape
    if rows_per_step < 1 or rows % rows_per_step:
        raise DataError(f"rows_per_step {rows_per_step!r}: must divide the {rows} rows")
    codes = np.stack([images >= lv for lv in levels], axis=-1)  # (n, rows, cols, L)
    steps, channels = rows // rows_per_step, rows_per_step * cols * len(levels)
    x = np.zeros((n, steps + tail, channels), np.int64)
    x[:, :steps] = codes.reshape(n, steps, channels)
    return x


def shifted(images, shifts) -> np.ndarray:
    """Copies of ``images`` (n, rows, cols) moved by each (dy, dx), zero filled."""
    out = []
    for dy, dx in shifts:
        moved = np.roll(images, (dy, dx), axis=(1, 2))
        if dy > 0:
            moved[:, :dy] = 0
        elif dy < 0:
            moved[:, dy:] = 0
        if dx > 0:
            moved[:, :, :dx] = 0
        elif dx < 0:
            moved[:, :, dx:] = 0
        out.append(moved)
    return np.concatenate(out)


#: Training-set augmentation: every image also shifted by one pixel each way.
DIGITS_SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def load_digits_split(split: str, *, levels=DIGITS_LEVELS, tail: int = DIGITS_TAIL,
                      rows_per_step: int = DIGITS_ROWS_PER_STEP, seed: int = DIGITS_SEED,
                      test_fraction: float = DIGITS_TEST_FRACTION, augment: bool = False,
                      validation: float = 0.0):
    """scikit-learn digits, encoded; ``split`` is 'train' or 'test' (fixed seeded split), or
    'fit' / 'valid': the training images without / with only the ``validation`` fraction
    held out by ``split_validation`` (before any augmentation, so no shifted copy of a
    validation image is trained on).

    ``augment`` adds one-pixel shifted copies (``DIGITS_SHIFTS``) of every image.
    """
    if split not in ("train", "test", "fit", "valid"):
        raise DataError(f"digits split {split!r}: expected 'train', 'test', 'fit' or 'valid'")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits task needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    images, labels = digits.images, digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(round(test_fraction * len(labels)))
    idx = order[:n_test] if split == "test" else order[n_test:]
    images, labels = images[idx], labels[idx]
    if split in ("fit", "valid"):
        fit_x, fit_y, valid_x, valid_y = split_validation(images, labels, validation)
        images, labels = (fit_x, fit_y) if split == "fit" else (valid_x, valid_y)
    if augment:
        images = shifted(images, DIGITS_SHIFTS)
        labels = np.tile(labels, len(DIGITS_SHIFTS))
    return encode_rows(images, levels, 16.0, tail, rows_per_step), labels


#: Pixels at or above this (0..16 scale) spike at t = 0 in the digits-ttfs code.
DIGITS_TTFS_THRESHOLD = 8
#: Pixels at or above this (0..255) spike at t = 0 in the mnist-ttfs code (the paper's).
MNIST_TTFS_THRESHOLD = 128
#: Seed of the validation split carved from the training samples (the same for every
#: training seed, so runs with different seeds are compared on the same samples).
VALIDATION_SEED = 1


def encode_ttfs(images, threshold: float, steps: int) -> np.ndarray:
    """Images (n, ...) to time-to-first-spike events (n, steps, pixels) int8: a pixel at or
    above ``threshold`` spikes once, at tick 0; the other ticks are silent."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise DataError(f"images: shape {images.shape}; expected (samples, pixels...)")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise DataError(f"steps {steps!r}: expected a positive number of ticks")
    flat = images.reshape(len(images), -1)
    x = np.zeros((len(images), int(steps), flat.shape[1]), np.int8)   # MNIST: 60,000 x 784
    x[:, 0] = flat >= threshold
    return x


def load_digits_ttfs(split: str, steps: int, *, threshold: float = DIGITS_TTFS_THRESHOLD,
                     seed: int = DIGITS_SEED, test_fraction: float = DIGITS_TEST_FRACTION):
    """scikit-learn digits, TTFS-coded (64 channels, ``steps`` ticks), with the split of
    ``load_digits_split``: 'test' is the first 449 of ``default_rng(0).permutation(1797)``,
    'train' the other 1348 (carve validation samples with ``split_validation``)."""
    if split not in ("train", "test"):
        raise DataError(f"digits split {split!r}: expected 'train' or 'test'")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits task needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    n_test = int(round(test_fraction * len(digits.target)))
    idx = order[:n_test] if split == "test" else order[n_test:]
    return encode_ttfs(digits.images[idx], threshold, steps), digits.target[idx].astype(np.int64)


def split_validation(x, y, fraction: float, seed: int = VALIDATION_SEED):
    """``(x_fit, y_fit, x_valid, y_valid)``: a seeded ``fraction`` of the (training)
    samples held out for validation; the rest keep their order."""
    n = len(x)
    if not 0 <= fraction < 1:
        raise DataError(f"validation fraction {fraction!r}: expected 0 <= fraction < 1")
    n_valid = int(round(fraction * n))
    held = np.zeros(n, bool)
    held[np.random.default_rng(seed).permutation(n)[:n_valid]] = True
    return x[~held], y[~held], x[held], y[held]


def load_ecg(split: str, folder=None):
    """QTDB records (x in {-1, 0, 1}, per-step labels); see ``spikeforge.datasets``."""
    from spikeforge.datasets import load_qtdb
    return load_qtdb(split, folder)


def load_task(task: str, split: str, folder=None, **kwargs):
    """(x, y) of a built-in task."""
    if task == "digits":
        return load_digits_split(split, **kwargs)
    if task == "ecg":
        return load_ecg(split, folder)
    if task == "digits-ttfs":
        return load_digits_ttfs(split, **kwargs)
    if task == "mnist-ttfs":
        raise DataError("task 'mnist-ttfs': bring the IDX files (load_mnist_ttfs)")
    raise DataError(f"task {task!r}: expected one of {', '.join(TASKS)}")


TASKS = ("ecg", "digits", "digits-ttfs", "mnist-ttfs")
#: Tasks trained as theta networks (spikeforge.train.theta).
THETA_TASKS = ("digits-ttfs", "mnist-ttfs")


# -- MNIST IDX files --

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path) -> np.ndarray:
    """Read one IDX file (as MNIST ships them), gzip-compressed or not."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not an IDX file") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt gzip data: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = raw[2], raw[3]
    if dtype not in _IDX_TYPES:
        raise DataError(f"{path}: unknown IDX element type 0x{dtype:02x}")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header ({ndim} dimensions)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dt = np.dtype(_IDX_TYPES[dtype])
    expected = int(np.prod(shape)) * dt.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise DataError(f"{path}: IDX header says shape {shape} ({expected} bytes of data), "
                        f"file holds {len(body)}")
    return np.frombuffer(body, dt).reshape(shape)


def _load_idx_pair(images_path, labels_path):
    """IDX images (n, rows, cols) and their labels (n,) as integers 0..9, checked."""
    images = load_idx(images_path)
    labels = load_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{os.fspath(images_path)}: shape {images.shape}; expected images "
                        f"(samples, rows, columns)")
    if labels.ndim != 1:
        raise DataError(f"{os.fspath(labels_path)}: shape {labels.shape}; expected labels (samples,)")
    if len(labels) != len(images):
        raise DataError(f"{os.fspath(labels_path)}: {len(labels)} labels for {len(images)} images "
                        f"in {os.fspath(images_path)}")
    if labels.dtype.kind not in "iu" or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise DataError(f"{os.fspath(labels_path)}: labels must be integers 0..9")
    return images, labels.astype(np.int64)


def load_mnist_idx(images_path, labels_path, *, levels=(128,), tail: int = 0):
    """MNIST-style IDX images (n, rows, cols) uint8 and labels (n,), encoded row by row."""
    images, labels = _load_idx_pair(images_path, labels_path)
    return encode_rows(images, levels, 255.0, tail), labels


def load_mnist_ttfs(images_path, labels_path, steps: int, *,
                    threshold: float = MNIST_TTFS_THRESHOLD):
    """MNIST-style IDX images and labels, TTFS-coded (pixel >= ``threshold`` spikes at
    tick 0; 784 channels for 28x28 images)."""
    images, labels = _load_idx_pair(images_path, labels_path)
    return encode_ttfs(images, threshold, steps), labels


# -- SHD-style HDF5 spike files --

def load_shd(path, *, steps: int = 100, max_time: float = 1.4, channels: int | None = None):
    """Spoken-digit style HDF5 (``spikes/times`` s, ``spikes/units``, ``labels``) binned
    into ``steps`` steps of ``max_time / steps`` seconds; x is 1 where a unit spiked
    in a bin (binary events), spikes after ``max_time`` are dropped."""
    path = os.fspath(path)
    if not isinstance(steps, int) or steps < 1:
        raise DataError(f"steps {steps!r}: expected a positive integer")
    if not max_time > 0:
        raise DataError(f"max_time {max_time!r}: expected a positive duration in seconds")
    try:
        import h5py
    except ImportError:
        raise DataError("reading HDF5 spike files needs h5py: pip install h5py") from None
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: not an HDF5 file: {exc}") from None
    with fh:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in fh:
                raise DataError(f"{path}: missing dataset {key!r}; an SHD file holds "
                                f"spikes/times, spikes/units and labels")
        times, units = fh["spikes/times"][()], fh["spikes/units"][()]
        labels = np.asarray(fh["labels"][()])
    n = len(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{path}: labels has shape {labels.shape} dtype {labels.dtype}; "
                        f"expected integer labels (samples,)")
    if len(times) != n or len(units) != n:
        raise DataError(f"{path}: {len(times)} spike-time and {len(units)} unit lists "
                        f"for {n} labels")
    if channels is None:
        channels = 1 + max((int(np.max(u)) for u in units if len(u)), default=0)
    x = np.zeros((n, steps, channels), np.int64)
    for i, (t, u) in enumerate(zip(times, units)):
        t, u = np.asarray(t, np.float64), np.asarray(u, np.int64)
        if t.shape != u.shape:
            raise DataError(f"{path}: sample {i} has {t.size} spike times but {u.size} units")
        if u.size and (u.min() < 0 or u.max() >= channels):
            raise DataError(f"{path}: sample {i} has unit {int(u.max() if u.max() >= channels else u.min())} "
                            f"outside 0..{channels - 1}")
        keep = (t >= 0) & (t < max_time)
        bins = (t[keep] / max_time * steps).astype(np.int64)
        x[i, bins, u[keep]] = 1
    return x, labels.astype(np.int64)
