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

from .simulate import InputError, Result

__all__ = ["load_inputs", "save_inputs", "save_outputs", "OUTPUT_ARRAYS"]


def load_inputs(path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``x`` (and ``y`` if present); errors name the file and the problem."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            if "x" not in files:
                raise InputError(f"{path}: no array 'x' (found: {sorted(files) or 'nothing'}); "
                                 f"an input file holds x (samples, steps, channels) and optional y")
            x = data["x"]
            y = data["y"] if "y" in files else None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an input file") from None
    except InputError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not an input file (.npz): {exc}") from None
    if x.dtype.kind not in "iub":
        raise InputError(f"{path}: x has dtype {x.dtype}; events must be integers (0 = no event)")
    if x.ndim != 3:
        raise InputError(f"{path}: x has shape {x.shape}; expected (samples, steps, channels)")
    if y is not None:
        if y.dtype.kind not in "iu":
            raise InputError(f"{path}: y has dtype {y.dtype}; labels must be integers")
        if y.shape not in (x.shape[:1], x.shape[:2]):
            raise InputError(f"{path}: y has shape {y.shape}; expected (samples,) = {x.shape[:1]} "
                             f"or (samples, steps) = {x.shape[:2]}")
    return x.astype(np.int64), (None if y is None else y.astype(np.int64))


def save_inputs(path, x, y=None) -> None:
    arrays = {"x": np.asarray(x, dtype=np.int8 if np.abs(x).max(initial=0) < 128 else np.int64)}
    if y is not None:
        arrays["y"] = np.asarray(y, dtype=np.int64)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


#: Arrays written by ``save_outputs``: the same for every simulator.
OUTPUT_ARRAYS = ("decisions", "readout", "synaptic_ops", "neuron_updates", "layer_spikes",
                 "input_events")


def save_outputs(path, result: Result, extra: dict | None = None) -> None:
    arrays = {"decisions": result.decisions, "readout": result.readout,
              "synaptic_ops": result.synops, "neuron_updates": result.neuron_updates,
              "layer_spikes": result.layer_spikes, "input_events": result.input_events}
    arrays.update(extra or {})
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
