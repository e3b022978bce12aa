"""Float networks: the trained description, its float64 reference simulator,
and the quantiser that turns it into a fixed-point ``Network``.

The float parameters are those of the SRNN reference code (Yin et al.):
weights and biases, per-neuron membrane and adaptation time constants
``tau_m``, ``tau_adp`` (in steps, dt = 1), baseline threshold ``b0`` and
adaptation strength ``beta``. One float step of a layer::

    alpha = exp(-1/tau_m); rho = exp(-1/tau_adp)
    b     = rho*b + (1-rho)*s_prev;  theta = b0 + beta*b
    u     = alpha*u + (1-alpha)*I - theta*s_prev;  s = u > theta
    (LI readout: u = alpha*u + (1-alpha)*I)
    (CUBA: i = alpha_syn*i + (1-alpha_syn)*I;  u = alpha*u + (1-alpha)*i - b0*s_prev;
     s = u > b0, with alpha_syn = exp(-1/tau_syn))

with ``I = x @ w_in + s_prev @ w_rec + bias``. Running the float network and
its quantised twin on the same inputs measures the quantisation loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import Rounding
from .network import Decision, Formats, Layer, Network, NetworkFileError, NeuronKind
from .simulate import decide

__all__ = ["FloatLayer", "FloatNetwork", "FloatResult", "simulate_float", "quantize",
           "QuantizeError"]


class QuantizeError(ValueError):
    """A float network cannot be represented in the chosen formats."""


@dataclass
class FloatLayer:
    kind: NeuronKind
    w_in: np.ndarray                 # (n_in, size)
    w_rec: np.ndarray | None = None  # (size, size)
    bias: np.ndarray | None = None   # (size,), zeros if None
    tau_m: np.ndarray | float = 20.0
    tau_adp: np.ndarray | float = 200.0
    b0: np.ndarray | float = 0.01
    beta: np.ndarray | float = 1.8
    name: str = ""
    tau_syn: np.ndarray | float = 5.0   # synaptic time constant (CUBA only)

    @property
    def size(self) -> int:
        return self.w_in.shape[1]

    def vectors(self) -> dict:
        """Per-neuron float vectors, validated (finite, positive time constants)."""
        n = self.size
        out = {}
        for name in ("bias", "tau_m", "tau_adp", "b0", "beta", "tau_syn"):
            value = getattr(self, name)
            vec = np.zeros(n) if value is None else np.broadcast_to(
                np.asarray(value, np.float64), (n,)).copy()
            if not np.all(np.isfinite(vec)):
                raise QuantizeError(f"layer {self.name or '?'}: {name} contains NaN or infinity")
            out[name] = vec
        for name in ("tau_m", "tau_adp", "tau_syn"):
            if np.any(out[name] <= 0):
                raise QuantizeError(f"layer {self.name or '?'}: {name} must be > 0 "
                                    f"(time constants in steps), got min {out[name].min()!r}")
        out["alpha"] = np.exp(-1.0 / out["tau_m"])
        out["rho"] = np.exp(-1.0 / out["tau_adp"])
        out["alpha_syn"] = np.exp(-1.0 / out["tau_syn"])
        if self.kind is not NeuronKind.ALIF:
            out["beta"][:] = 0.0
        if self.kind is NeuronKind.LI:
            out["b0"][:] = 0.0
        for name in ("w_in", "w_rec"):
            w = getattr(self, name)
            if w is not None and not np.all(np.isfinite(w)):
                raise QuantizeError(f"layer {self.name or '?'}: {name} contains NaN or infinity")
        return out


@dataclass
class FloatNetwork:
    n_inputs: int
    layers: list[FloatLayer]
    decision: Decision = Decision.PER_STEP
    skip_steps: int = 0
    name: str = "network"


@dataclass
class FloatResult:
    spikes: list[np.ndarray]
    readout: np.ndarray       # (samples, steps, outputs) float64
    decisions: np.ndarray


def simulate_float(net: FloatNetwork, x) -> FloatResult:
    """float64 reference of the same network on the same integer events."""
    x = np.asarray(x, dtype=np.float64)
    batch, steps, _ = x.shape
    params = [layer.vectors() for layer in net.layers]
    u = [np.zeros((batch, l.size)) for l in net.layers]
    b = [np.zeros((batch, l.size)) for l in net.layers]   # adaptation (ALIF), current (CUBA)
    s = [np.zeros((batch, l.size)) for l in net.layers]
    spikes = [np.zeros((batch, steps, l.size), bool) for l in net.layers if l.kind.spiking]
    readout = np.zeros((batch, steps, net.layers[-1].size))
    for t in range(steps):
        events = x[:, t, :]
        k = 0
        for i, (layer, p) in enumerate(zip(net.layers, params)):
            current = events @ layer.w_in + p["bias"]
            if layer.w_rec is not None:
                current = current + s[i] @ layer.w_rec
            if layer.kind is NeuronKind.LI:
                u[i] = p["alpha"] * u[i] + (1 - p["alpha"]) * current
            elif layer.kind is NeuronKind.CUBA:
                b[i] = p["alpha_syn"] * b[i] + (1 - p["alpha_syn"]) * current
                u[i] = p["alpha"] * u[i] + (1 - p["alpha"]) * b[i] - p["b0"] * s[i]
                s[i] = (u[i] > p["b0"]).astype(np.float64)
                spikes[k][:, t] = s[i] > 0
                k += 1
            else:
                b[i] = p["rho"] * b[i] + (1 - p["rho"]) * s[i]
                theta = p["b0"] + p["beta"] * b[i]
                u[i] = p["alpha"] * u[i] + (1 - p["alpha"]) * current - theta * s[i]
                s[i] = (u[i] > theta).astype(np.float64)
                spikes[k][:, t] = s[i] > 0
                k += 1
            events = s[i]
        readout[:, t] = u[-1]
    out_spikes = spikes[-1] if net.layers[-1].kind.spiking else None
    return FloatResult(spikes=spikes, readout=readout,
                       decisions=decide(net.decision, readout, out_spikes))


def quantize(net: FloatNetwork, formats: Formats | None = None) -> Network:
    """Fold and quantise a float network into a fixed-point ``Network``.

    Per layer, ``(1 - alpha)`` (with alpha already quantised, so the fold
    matches the integer leak) is folded into the weight columns and the bias,
    and one state scale is chosen so the largest folded weight uses the full
    weight width. Parameters are rounded to nearest (ties to even).
    """
    formats = formats or Formats()
    layers = []
    n_in = net.n_inputs
    for i, fl in enumerate(net.layers):
        where = f"layer {i}{' (' + fl.name + ')' if fl.name else ''}"
        if fl.w_in.ndim != 2 or fl.w_in.shape[0] != n_in:
            raise QuantizeError(f"{where}: w_in shape {fl.w_in.shape}, expected ({n_in}, size)")
        p = fl.vectors()
        one = float(1 << formats.decay_bits)
        alpha_q = formats.decay.quantize(p["alpha"], Rounding.HALF_EVEN)
        rho_q = formats.decay.quantize(p["rho"], Rounding.HALF_EVEN)
        cuba = fl.kind is NeuronKind.CUBA
        alpha_syn_q = (formats.decay.quantize(p["alpha_syn"], Rounding.HALF_EVEN) if cuba
                       else np.zeros_like(alpha_q))
        # what scales the input on its way into the membrane: (1 - alpha), and for
        # CUBA also (1 - alpha_syn), both with the decays as quantised
        gain = (1.0 - alpha_q / one) * ((1.0 - alpha_syn_q / one) if cuba else 1.0)
        w_in = fl.w_in * gain[None, :]
        w_rec = None if fl.w_rec is None else fl.w_rec * gain[None, :]
        largest = max(np.abs(w_in).max(initial=0.0),
                      0.0 if w_rec is None else np.abs(w_rec).max(initial=0.0))
        scale = largest / formats.weight.max if largest > 0 else 1.0
        adapting = fl.kind is NeuronKind.ALIF
        real = {"bias": p["bias"] * gain, "b0": p["b0"],
                "adapt": (1.0 - rho_q / one) * p["beta"]}
        state = {}
        for name, value in real.items():
            raw = value / scale
            if np.abs(raw).max(initial=0.0) > formats.state.max:
                raise QuantizeError(f"{where}: {name} needs {np.abs(raw).max():.3g} state LSBs, more "
                                    f"than state_bits={formats.state_bits} holds; raise state_bits")
            state[name] = formats.state.quantize(raw, Rounding.HALF_EVEN)
        layers.append(Layer(
            kind=fl.kind,
            w_in=formats.weight.quantize(w_in / scale, Rounding.HALF_EVEN),
            w_rec=None if w_rec is None else formats.weight.quantize(w_rec / scale, Rounding.HALF_EVEN),
            bias=state["bias"], alpha=alpha_q,
            rho=rho_q if adapting else np.zeros_like(rho_q),
            b0=state["b0"], adapt=state["adapt"] if adapting else np.zeros_like(rho_q),
            scale=float(scale), name=fl.name, alpha_syn=alpha_syn_q))
        n_in = fl.size
    try:
        return Network(n_inputs=net.n_inputs, layers=layers, decision=net.decision,
                       formats=formats, skip_steps=net.skip_steps, name=net.name)
    except NetworkFileError as exc:
        raise QuantizeError(str(exc)) from None
