"""Training data: digits encoding, MNIST IDX and SHD HDF5 loaders and their errors."""

import gzip

import numpy as np
import pytest

from conftest import require_extra

from spikeforge.golden import InputError
from spikeforge.train.data import (DIGITS_LEVELS, DIGITS_ROWS_PER_STEP, DIGITS_TAIL, DataError,
                                   encode_rows, load_digits_split, load_idx, load_mnist_idx,
                                   load_shd, load_task)

require_extra("sklearn", "dev")


def test_encode_rows_thermometer_code():
    img = np.array([[[0, 5, 16], [12, 3, 8]]])  # 1 image, 2 rows, 3 columns
    x = encode_rows(img, (4, 8, 12), 16.0, tail=1)
    assert x.shape == (1, 3, 9) and x.dtype == np.int64
    assert x[0, 0].tolist() == [0, 0, 0, 1, 0, 0, 1, 1, 1]
    assert x[0, 1].tolist() == [1, 1, 1, 0, 0, 0, 1, 1, 0]
    assert not x[0, 2].any()
    two = encode_rows(img, (4,), 16.0, rows_per_step=2)
    assert two.shape == (1, 1, 6) and two[0, 0].tolist() == [0, 1, 1, 1, 0, 1]
    with pytest.raises(DataError, match="rows_per_step 3"):
        encode_rows(img, (4,), 16.0, rows_per_step=3)
    with pytest.raises(DataError, match="levels"):
        encode_rows(img, (0,), 16.0)
    with pytest.raises(DataError, match="expected \\(samples, rows, columns\\)"):
        encode_rows(img[0], (4,), 16.0)


def test_digits_split_is_fixed_and_disjoint():
    xtr, ytr = load_digits_split("train")
    xte, yte = load_digits_split("test")
    # the whole image in the first step, then the silent tail
    steps = 8 // DIGITS_ROWS_PER_STEP + DIGITS_TAIL
    channels = DIGITS_ROWS_PER_STEP * 8 * len(DIGITS_LEVELS)
    assert xtr.shape == (1348, steps, channels) and xte.shape == (449, 5, 192)
    assert not xte[:, 1:].any()
    assert set(np.unique(xte)) <= {0, 1} and set(ytr) == set(range(10))
    again, _ = load_digits_split("test")
    assert np.array_equal(again, xte)
    # no test image is in the training set (compare the raw codes)
    train_codes = {row.tobytes() for row in xtr.astype(np.int8)}
    assert sum(row.tobytes() in train_codes for row in xte.astype(np.int8)) < 5
    aug, yaug = load_digits_split("train", augment=True)
    assert aug.shape[0] == 5 * 1348 and np.array_equal(aug[:1348], xtr) and len(yaug) == len(aug)
    with pytest.raises(DataError, match="split 'dev'"):
        load_digits_split("dev")
    # the validation images are held out before augmentation: no shifted copy is trained on
    fit, _ = load_digits_split("fit", validation=0.1)
    valid, yvalid = load_digits_split("valid", validation=0.1)
    assert len(fit) + len(valid) == 1348 and len(valid) == 135 == len(yvalid)
    fit_codes = {row.tobytes() for row in fit.astype(np.int8)}
    assert not any(row.tobytes() in fit_codes for row in valid.astype(np.int8))
    fit_aug, _ = load_digits_split("fit", validation=0.1, augment=True)
    assert len(fit_aug) == 5 * len(fit) and np.array_equal(fit_aug[:len(fit)], fit)
    whole, _ = load_digits_split("fit", validation=0.0)
    assert np.array_equal(whole, xtr) and len(load_digits_split("valid")[0]) == 0
    with pytest.raises(DataError, match="task 'mnist'"):
        load_task("mnist", "train")
    assert issubclass(DataError, InputError)


def write_idx(path, array, code, compress=False):
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 5, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"img{suffix}", images, 0x08, compress)
    write_idx(tmp_path / f"lab{suffix}", labels, 0x08, compress)
    assert np.array_equal(load_idx(tmp_path / f"img{suffix}"), images)
    x, y = load_mnist_idx(tmp_path / f"img{suffix}", tmp_path / f"lab{suffix}")
    assert x.shape == (5, 28, 28) and np.array_equal(y, labels)
    assert np.array_equal(x, (images >= 128).astype(np.int64))
    wide = np.arange(6, dtype=">i4").reshape(2, 3)
    write_idx(tmp_path / "i32", wide, 0x0C)
    assert np.array_equal(load_idx(tmp_path / "i32"), wide)


def test_mnist_idx_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_idx(tmp_path / "missing")
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01")
    with pytest.raises(DataError, match="bad magic number"):
        load_idx(tmp_path / "bad")
    (tmp_path / "type").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(DataError, match="unknown IDX element type 0x07"):
        load_idx(tmp_path / "type")
    write_idx(tmp_path / "short", np.zeros((3, 4), np.uint8), 0x08)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-2])
    with pytest.raises(DataError, match="file holds 10"):
        load_idx(tmp_path / "short")
    (tmp_path / "gz").write_bytes(b"\x1f\x8bjunk")
    with pytest.raises(DataError, match="corrupt gzip"):
        load_idx(tmp_path / "gz")
    write_idx(tmp_path / "img", np.zeros((3, 4, 4), np.uint8), 0x08)
    write_idx(tmp_path / "lab", np.zeros(2, np.uint8), 0x08)
    with pytest.raises(DataError, match="2 labels for 3 images"):
        load_mnist_idx(tmp_path / "img", tmp_path / "lab")
    with pytest.raises(DataError, match="expected labels"):
        load_mnist_idx(tmp_path / "img", tmp_path / "img")


def ragged(lists, dtype):
    out = np.empty(len(lists), dtype=object)
    for i, values in enumerate(lists):
        out[i] = np.asarray(values, dtype)
    return out


def write_shd(path, times, units, labels):
    h5py = require_extra("h5py", "train")
    with h5py.File(path, "w") as fh:
        vf = h5py.vlen_dtype(np.float32)
        vu = h5py.vlen_dtype(np.uint16)
        fh.create_dataset("spikes/times", data=ragged(times, np.float32), dtype=vf)
        fh.create_dataset("spikes/units", data=ragged(units, np.uint16), dtype=vu)
        fh.create_dataset("labels", data=np.asarray(labels, np.uint8))


def test_shd_hdf5_binning(tmp_path):
    path = tmp_path / "shd.h5"
    write_shd(path, [[0.0, 0.05, 0.95, 2.0], [0.5]], [[3, 3, 0, 1], [2]], [4, 7])
    x, y = load_shd(path, steps=10, max_time=1.0, channels=5)
    assert x.shape == (2, 10, 5) and y.tolist() == [4, 7]
    assert x[0, 0, 3] == 1 and x[0, 9, 0] == 1 and x[0].sum() == 2  # two spikes share a bin; 2.0 s dropped
    assert x[1, 5, 2] == 1 and x[1].sum() == 1
    x, _ = load_shd(path, steps=10, max_time=1.0)
    assert x.shape[2] == 4  # channels from the largest unit


def test_shd_hdf5_errors(tmp_path):
    h5py = require_extra("h5py", "train")
    with pytest.raises(DataError, match="no such file"):
        load_shd(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_text("junk")
    with pytest.raises(DataError, match="not an HDF5 file"):
        load_shd(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "nolabels.h5", "w") as fh:
        fh.create_dataset("spikes/times", data=np.zeros(1))
    with pytest.raises(DataError, match="missing dataset 'spikes/units'"):
        load_shd(tmp_path / "nolabels.h5")
    path = tmp_path / "wide.h5"
    write_shd(path, [[0.1]], [[9]], [0])
    with pytest.raises(DataError, match="unit 9 outside 0..4"):
        load_shd(path, channels=5)
    with pytest.raises(DataError, match="steps 0"):
        load_shd(path, steps=0)
    write_shd(tmp_path / "count.h5", [[0.1], [0.2]], [[1], [1]], [0])
    with pytest.raises(DataError, match="for 1 labels"):
        load_shd(tmp_path / "count.h5")
