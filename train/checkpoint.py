"""Training checkpoints, written and read the same way by every trainer.

A checkpoint holds tensors and plain data only, so it is read with
``torch.load(weights_only=True)``: a checkpoint is user input, and a full
unpickler would run any code it holds. It is written whole or not at all (a
temporary file renamed into place).
"""

from __future__ import annotations

import json
import pickle
import zipfile

import torch

from spikeforge.golden.files import atomic_write

__all__ = ["write_checkpoint", "read_checkpoint"]


def write_checkpoint(ckpt: dict, path) -> None:
    """``torch.save`` ``ckpt`` to ``path`` atomically (``history`` is JSON text)."""
    with atomic_write(path, "checkpoint") as fh:
        torch.save(ckpt, fh)


def read_checkpoint(path, recipe: str) -> tuple[dict, int, list]:
    """The checkpoint at ``path`` of recipe ``recipe``, its epoch and its history; a
    ``ValueError`` naming the file and the field for anything else."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError,
            TypeError, AttributeError, IndexError, KeyError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a spikeforge training checkpoint (only tensors and "
                         f"plain data are loaded): {first}") from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path}: not a spikeforge training checkpoint "
                         f"(holds a {type(ckpt).__name__}, not a dict)")
    if ckpt.get("recipe") != recipe:
        raise ValueError(f"{path}: checkpoint of recipe {ckpt.get('recipe')!r}, not {recipe!r}")
    epoch = ckpt.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"{path}: epoch: {epoch!r} is not a non-negative integer")
    try:
        history = json.loads(ckpt.get("history"))
    except (TypeError, json.JSONDecodeError):
        history = None
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ValueError(f"{path}: history: not a JSON list of epoch records")
    return ckpt, epoch, history
