"""Input files: encoded event sequences with optional labels.

An input file is an ``.npz`` holding

* ``x``: integer array (samples, steps, channels) of event values, 0 = no event;
* ``y`` (optional): integer labels, per sample (samples,) or per step (samples, steps).

Outputs of a run (``save_outputs``) hold the decisions, readout values, spike
and operation counts per sample, so anyone can score them independently and
compare the golden and RTL runs array by array.
"""

from __future__ import annotations

import os

import numpy as np

from .files import MAX_FILE_BYTES, atomic_write, read_npz
from .simulate import InputError, Result

__all__ = ["load_inputs", "save_inputs", "save_outputs", "OUTPUT_ARRAYS"]


def load_inputs(path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``x`` (and ``y`` if present); errors name the file and the problem."""
    path = os.fspath(path)
    data = read_npz(path, "input file", InputError, sizes={"x": MAX_FILE_BYTES, "y": MAX_FILE_BYTES})
    if "x" not in data:
        raise InputError(f"{path}: no array 'x' (found: {sorted(data) or 'nothing'}); "
                         f"an input file holds x (samples, steps, channels) and optional y")
    x, y = data["x"], data.get("y")
    if x.dtype.kind not in "iub":
        raise InputError(f"{path}: x has dtype {x.dtype}; events must be integers (0 = no event)")
    if x.ndim != 3:
        raise InputError(f"{path}: x has shape {x.shape}; expected (samples, steps, channels)")
    _check_int64(path, "x", x)
    if y is not None:
        if y.dtype.kind not in "iu":
            raise InputError(f"{path}: y has dtype {y.dtype}; labels must be integers")
        if y.shape not in (x.shape[:1], x.shape[:2]):
            raise InputError(f"{path}: y has shape {y.shape}; expected (samples,) = {x.shape[:1]} "
                             f"or (samples, steps) = {x.shape[:2]}")
        _check_int64(path, "y", y)
    return x.astype(np.int64), (None if y is None else y.astype(np.int64))


def _check_int64(path, name, a):
    """Unsigned values beyond int64 would wrap (2**64 - 1 would read as -1): refuse them."""
    if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.size and int(a.max()) > np.iinfo(np.int64).max:
        raise InputError(f"{path}: {name} holds {int(a.max())}, beyond any event value or label")


def save_inputs(path, x, y=None) -> None:
    arrays = {"x": np.asarray(x, dtype=np.int8 if np.abs(x).max(initial=0) < 128 else np.int64)}
    if y is not None:
        arrays["y"] = np.asarray(y, dtype=np.int64)
    with atomic_write(path, "input file") as fh:
        np.savez_compressed(fh, **arrays)


#: Arrays written by ``save_outputs``: the same for every simulator.
OUTPUT_ARRAYS = ("decisions", "readout", "synaptic_ops", "neuron_updates", "layer_spikes",
                 "input_events")


def save_outputs(path, result: Result, extra: dict | None = None) -> None:
    arrays = {"decisions": result.decisions, "readout": result.readout,
              "synaptic_ops": result.synops, "neuron_updates": result.neuron_updates,
              "layer_spikes": result.layer_spikes, "input_events": result.input_events}
    arrays.update(extra or {})
    with atomic_write(path, "output file") as fh:
        np.savez_compressed(fh, **arrays)
