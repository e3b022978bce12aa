"""Data set loaders that return events in the input-file format (x, y).

Nothing is downloaded: QTDB is read from a folder the user points at (the
project's tests use ``../shared/data/qtdb``); the digits ship with scikit-learn.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .golden.simulate import InputError

__all__ = ["load_qtdb", "default_qtdb_dir", "QTDB_CLASSES", "QTDB_SKIP_STEPS"]

QTDB_CLASSES = 6
#: The reference code does not score the first 10 steps of each record.
QTDB_SKIP_STEPS = 10


def default_qtdb_dir() -> Path:
    """``$SPIKEFORGE_QTDB`` or ``../shared/data/qtdb`` beside the project checkout."""
    env = os.environ.get("SPIKEFORGE_QTDB")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "qtdb"


def load_qtdb(split: str, folder=None) -> tuple[np.ndarray, np.ndarray]:
    """QTDB records of ``split`` ('train' or 'test'): x (records, 1301, 4) in {-1,0,1},
    y (records, 1301) class index per step (unlabelled steps count as class 0)."""
    if split not in ("train", "test"):
        raise InputError(f"QTDB split {split!r}: expected 'train' or 'test'")
    folder = Path(folder) if folder is not None else default_qtdb_dir()
    path = folder / f"QTDB_{split}.mat"
    if not path.is_file():
        raise InputError(f"{path}: QTDB file not found; point SPIKEFORGE_QTDB at the folder "
                         f"holding QTDB_train.mat and QTDB_test.mat")
    from scipy.io import loadmat
    try:
        mat = loadmat(path)
    except Exception as exc:  # scipy raises several unrelated types for bad files
        raise InputError(f"{path}: not a readable MATLAB file: {exc}") from None
    for key in ("x", "y"):
        if key not in mat:
            raise InputError(f"{path}: missing variable {key!r}")
    x, y = mat["x"], mat["y"]
    if x.ndim != 3 or x.shape[2] != 4:
        raise InputError(f"{path}: x has shape {x.shape}, expected (records, steps, 4)")
    if y.shape != x.shape[:2] + (QTDB_CLASSES,):
        raise InputError(f"{path}: y has shape {y.shape}, expected {x.shape[:2] + (QTDB_CLASSES,)}")
    x = x.astype(np.int64)
    if not np.isin(x, (-1, 0, 1)).all():
        raise InputError(f"{path}: x holds values outside {{-1, 0, 1}}")
    if not np.isin(y.sum(axis=2), (0, 1)).all():
        raise InputError(f"{path}: y has more than one class at some step")
    # About 10 % of steps carry no class (all-zero rows); argmax files them
    # under class 0, as an argmax over the one-hot labels does in training.
    return x, np.argmax(y, axis=2).astype(np.int64)
