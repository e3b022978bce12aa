"""Import trained networks from other tools into a float ``FloatNetwork``.

``torch-srnn``: PyTorch state dicts in the layout of the published SRNN
reference code (Yin, Corradi & Bohté): one hidden layer (``i2h``, ``h2h``,
``h2o``, ``tau_m_h``, ``tau_adp_h``, ``tau_m_o``, ``tau_adp_o``) or two
(``i_2_h1``, ``h1_2_h1``, ``h1_2_h2``, ``h2_2_h2``, ``h2o``, ``tau_*_h1``,
``tau_*_h2``, ``tau_*_o``). Linear layers store ``weight`` as (out, in); the
two biases feeding a layer add up. Files are read with ``weights_only=True``:
a pickled whole model is refused, never executed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .golden import Decision, FloatLayer, FloatNetwork, NeuronKind

__all__ = ["ImportFileError", "SrnnOptions", "srnn_from_state_dict", "load_torch_state_dict",
           "import_torch_srnn"]


class ImportFileError(ValueError):
    """A file to import is malformed or unsupported; the message names the key."""


@dataclass
class SrnnOptions:
    """What the state dict does not store (defaults: the reference code's)."""

    b0: float = 0.01                  # baseline threshold b_j0
    beta: float = 1.8                 # adaptation strength of adapting layers
    tau_m: float | None = None        # membrane tau for files that store none
    adapt_hidden: bool = True         # hidden layers are ALIF (else LIF)
    readout: str = "li"               # "li" (leaky integrator) or "alif" (spiking, membrane read)
    decision: Decision = Decision.PER_STEP
    skip_steps: int = 0
    name: str = "srnn"


# (input weight, recurrent weight or None, tau suffix) per layer, for each layout.
_LAYOUTS = {
    "one hidden layer": [("i2h", "h2h", "h"), ("h2o", None, "o")],
    "two hidden layers": [("i_2_h1", "h1_2_h1", "h1"), ("h1_2_h2", "h2_2_h2", "h2"), ("h2o", None, "o")],
}


def load_torch_state_dict(path) -> dict:
    """Tensors of a ``.pth`` state dict as float64 NumPy arrays."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImportFileError(f"{path}: no such file")
    try:
        import torch
    except ImportError:
        raise ImportFileError("reading PyTorch files needs PyTorch: pip install 'spikeforge[train]'") from None
    import pickle
    import zipfile
    with open(path, "rb") as fh:
        legacy_pickle = fh.read(1) == b"\x80"  # torch.save before 1.6 wrote a bare pickle
    if not (zipfile.is_zipfile(path) or legacy_pickle):
        raise ImportFileError(f"{path}: not a readable PyTorch file (neither torch.save's zip "
                              f"format nor its legacy pickle format)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ImportFileError(f"{path}: holds pickled Python objects (a whole model?), which are not "
                           f"loaded for safety; save model.state_dict() instead") from None
    except Exception as exc:  # torch raises RuntimeError/EOFError/zipfile errors for junk
        raise ImportFileError(f"{path}: not a readable PyTorch file: {exc}".splitlines()[0]) from None
    for wrapper in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ImportFileError(f"{path}: not a state dict (a mapping of names to tensors)")
    out = {}
    for key, tensor in obj.items():
        # only dense real tensors with data: sparse, meta, quantised or complex ones are refused
        if tensor.layout is not torch.strided or tensor.is_sparse:
            raise ImportFileError(f"{path}: {key}: a {tensor.layout} tensor; a state dict for "
                                  f"spikeforge holds dense tensors")
        if tensor.is_meta or tensor.device.type != "cpu":
            raise ImportFileError(f"{path}: {key}: a tensor without data ({tensor.device}); "
                                  f"save the trained weights themselves")
        if tensor.is_quantized or tensor.is_complex() or tensor.dtype is torch.bool:
            raise ImportFileError(f"{path}: {key}: dtype {tensor.dtype}; expected real floats "
                                  f"(dequantise first)")
        if tensor.numel() > 1 << 26:
            raise ImportFileError(f"{path}: {key}: {tensor.numel():,} elements, more than a "
                                  f"network file may hold")
        out[key] = tensor.detach().to(torch.float64).numpy()
    return out


def srnn_from_state_dict(state: dict, options: SrnnOptions | None = None) -> FloatNetwork:
    opts = options or SrnnOptions()
    if opts.readout not in ("li", "alif"):
        raise ImportFileError(f"readout {opts.readout!r}: choose 'li' or 'alif'")
    layout = next((name for name, layers in _LAYOUTS.items()
                   if f"{layers[0][0]}.weight" in state), None)
    if layout is None:
        raise ImportFileError(f"no SRNN layout recognised: expected 'i2h.weight' (one hidden layer) or "
                           f"'i_2_h1.weight' (two); found keys {sorted(state)[:8]}")
    specs = _LAYOUTS[layout]
    used = set()

    def take(key, shape=None):
        if key not in state:
            raise ImportFileError(f"{layout}: missing key {key!r}")
        value = np.asarray(state[key], np.float64)
        if shape is not None and value.shape != shape:
            raise ImportFileError(f"{key}: shape {value.shape}, expected {shape}")
        if not np.all(np.isfinite(value)):
            raise ImportFileError(f"{key}: contains NaN or infinity")
        used.add(key)
        return value

    layers = []
    n_in = None
    for i, (ff, rec, suffix) in enumerate(specs):
        w = take(f"{ff}.weight")
        if w.ndim != 2:
            raise ImportFileError(f"{ff}.weight: shape {w.shape}, expected (out, in)")
        size = w.shape[0]
        if n_in is not None and w.shape[1] != n_in:
            raise ImportFileError(f"{ff}.weight: shape {w.shape}, expected ({size}, {n_in}) "
                               f"to follow the previous layer")
        bias = take(f"{ff}.bias", (size,)) if f"{ff}.bias" in state else np.zeros(size)
        w_rec = None
        if rec is not None:
            w_rec = take(f"{rec}.weight", (size, size)).T
            if f"{rec}.bias" in state:
                bias = bias + take(f"{rec}.bias", (size,))
        last = i == len(specs) - 1
        if f"tau_m_{suffix}" in state:
            tau_m = take(f"tau_m_{suffix}", (size,))
        elif opts.tau_m is not None:
            tau_m = np.full(size, float(opts.tau_m))
        else:
            raise ImportFileError(f"missing key 'tau_m_{suffix}'; give tau_m (it was fixed during "
                               f"training) with --tau-m")
        kind = (NeuronKind.LI if opts.readout == "li" else NeuronKind.ALIF) if last else \
            (NeuronKind.ALIF if opts.adapt_hidden else NeuronKind.LIF)
        tau_adp = take(f"tau_adp_{suffix}", (size,)) if f"tau_adp_{suffix}" in state else \
            np.full(size, 1.0)
        if kind is NeuronKind.ALIF and f"tau_adp_{suffix}" not in state:
            raise ImportFileError(f"missing key 'tau_adp_{suffix}' for adapting layer {suffix!r}")
        layers.append(FloatLayer(kind=kind, w_in=w.T.copy(), w_rec=w_rec, bias=bias, tau_m=tau_m,
                                 tau_adp=tau_adp, b0=opts.b0,
                                 beta=opts.beta if kind is NeuronKind.ALIF else 0.0,
                                 name="readout" if last else f"hidden{i + 1}"))
        n_in = size
    unknown = sorted(set(state) - used)
    if unknown:
        raise ImportFileError(f"{layout}: unexpected keys {unknown[:6]}; spikeforge does not know "
                           f"how to map them")
    return FloatNetwork(n_inputs=layers[0].w_in.shape[0], layers=layers, decision=opts.decision,
                        skip_steps=opts.skip_steps, name=opts.name)


def import_torch_srnn(path, options: SrnnOptions | None = None) -> FloatNetwork:
    state = load_torch_state_dict(path)
    try:
        return srnn_from_state_dict(state, options)
    except ImportFileError as exc:
        raise ImportFileError(f"{os.fspath(path)}: {exc}") from None
