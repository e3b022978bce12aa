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

Theta networks (``FloatNetwork.theta``) keep each neuron's phase ``phi`` in
``[0, Theta)``; one tick of ``theta.tick`` model time units::

    phi = H(phi, x @ w_in + s_prev @ w_rec)   # the pulses of the tick, summed (V units)
    phi = phi + tick;  s = phi > Theta;  phi = phi - Theta * s

with ``H`` the exact pulse map (``golden.theta.pulse_float``), starting from the
trained initial phases ``phi0``. This is the discrete-time float model of the
fixed-point theta datapath (``golden.theta``), which represents the same map
exactly; their difference is quantisation alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import dataclasses
import json
import math
import os

import numpy as np

from .files import atomic_write, read_npz, strict_json
from .fixed import Rounding
from .network import Decision, Formats, Layer, Network, NetworkFileError, NeuronKind
from .simulate import decide
from .theta import (MAX_THETA_STATE_BITS, ThetaModel, free_period, initial_state, pulse_float,
                    rotation_for, theta_r)

__all__ = ["FloatLayer", "FloatNetwork", "FloatTheta", "FloatResult", "simulate_float", "quantize",
           "QuantizeError", "THETA_FORMATS", "FLOAT_FILE_FORMAT", "layer_scales", "weight_reference",
           "check_weight_clip", "check_state_raw",
           "dequantize", "requantize", "suggested_weight_clip"]


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
    phi0: np.ndarray | float | None = None   # initial phase in [0, Theta] (THETA only)

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


@dataclass(frozen=True)
class FloatTheta:
    """The theta neuron of a float theta network and its discrete time: ``tick`` model time
    units per step, ``steps`` ticks per trial."""

    tau: float
    i0: float
    tick: float
    steps: int

    @property
    def r(self) -> float:
        return theta_r(self.i0)

    @property
    def period(self) -> float:
        return free_period(self.tau, self.i0)

    def validate(self):
        for name in ("tau", "i0", "tick"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise QuantizeError(f"theta.{name}: {value!r} is not a finite number")
        if self.tau <= 0:
            raise QuantizeError(f"theta.tau: {self.tau!r} must be > 0")
        if self.i0 <= 0.25:
            raise QuantizeError(f"theta.i0: {self.i0!r} must be > 1/4")
        if not 0 < self.tick * self.r / self.tau < math.pi / 4:
            raise QuantizeError(f"theta.tick: {self.tick!r} must be > 0 and turn the phase by "
                                f"less than an eighth of a period per tick")
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1:
            raise QuantizeError(f"theta.steps: {self.steps!r} must be a positive integer")

    @classmethod
    def exact(cls, tau: float, i0: float, trial: float, steps: int, decay_bits: int) -> "FloatTheta":
        """``steps`` ticks of about ``trial / steps``, adjusted so that the fixed-point
        rotation represents the tick exactly (float and fixed point run the same time)."""
        model = ThetaModel(tau=tau, i0=i0, steps=steps,
                           rotation=rotation_for(trial / steps, tau, i0, decay_bits))
        return cls(tau=tau, i0=i0, tick=model.tick(decay_bits), steps=steps)

    @classmethod
    def power_of_two(cls, tau: float, i0: float, shift: int, steps: int) -> "FloatTheta":
        """A tick of ``atan(2**-shift) tau / r``: the fixed-point flow is a rotation by a
        power of two, two shifted adds in hardware (any ``decay_bits >= shift``)."""
        r = theta_r(i0)
        return cls(tau=tau, i0=i0, tick=math.atan(2.0 ** -shift) * tau / r, steps=steps)


@dataclass
class FloatNetwork:
    n_inputs: int
    layers: list[FloatLayer]
    decision: Decision = Decision.PER_STEP
    skip_steps: int = 0
    name: str = "network"
    theta: FloatTheta | None = None   # theta networks: the neuron and the tick

    def save(self, path) -> None:
        """Write the float network (``.npz``: JSON header, float64 arrays), so it can be
        quantised again later (``spikeforge import --from float``)."""
        save_float_network(self, path)

    @classmethod
    def load(cls, path) -> "FloatNetwork":
        return load_float_network(path)


@dataclass
class FloatResult:
    spikes: list[np.ndarray]
    readout: np.ndarray       # (samples, steps, outputs) float64
    decisions: np.ndarray


def simulate_float(net: FloatNetwork, x) -> FloatResult:
    """float64 reference of the same network on the same integer events."""
    if net.theta is not None:
        return _simulate_float_theta(net, x)
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


def _theta_phi0(layer: FloatLayer, theta: FloatTheta, where: str) -> np.ndarray:
    value = theta.period / 2 if layer.phi0 is None else layer.phi0
    phi0 = np.broadcast_to(np.asarray(value, np.float64), (layer.size,)).copy()
    if not np.all(np.isfinite(phi0)) or np.any(phi0 < 0) or np.any(phi0 > theta.period):
        raise QuantizeError(f"{where}: phi0 must lie in [0, Theta = {theta.period:.6g}]")
    return phi0


def _check_theta_decision(net: FloatNetwork):
    if net.decision is not Decision.TTFS:
        raise QuantizeError(f"decision {net.decision.value!r}: a theta network decides by 'ttfs'")


def _simulate_float_theta(net: FloatNetwork, x) -> FloatResult:
    th = net.theta
    th.validate()
    _check_theta_decision(net)
    x = np.asarray(x, dtype=np.float64)
    batch, steps, _ = x.shape
    phi = [np.broadcast_to(_theta_phi0(l, th, f"layer {i}"), (batch, l.size)).copy()
           for i, l in enumerate(net.layers)]
    s = [np.zeros((batch, l.size)) for l in net.layers]
    spikes = [np.zeros((batch, steps, l.size), bool) for l in net.layers]
    readout = np.zeros((batch, steps, net.layers[-1].size))
    for t in range(steps):
        events = x[:, t, :]
        for i, layer in enumerate(net.layers):
            pulse = events @ layer.w_in
            if layer.w_rec is not None:
                pulse = pulse + s[i] @ layer.w_rec
            p = pulse_float(phi[i], pulse, th.tau, th.i0) + th.tick
            fired = p > th.period
            phi[i] = np.where(fired, p - th.period, p)
            s[i] = fired.astype(np.float64)
            spikes[i][:, t] = fired
            events = s[i]
        readout[:, t] = phi[-1]
    return FloatResult(spikes=spikes, readout=readout,
                       decisions=decide(net.decision, readout, spikes[-1]))


#: Default formats of a theta network: the phase vector in 16 bits, the tick's rotation
#: with 16 fraction bits, its shifts rounded half up (unbiased: toward zero or floor would
#: drift the phase by half an LSB a tick).
THETA_FORMATS = Formats(weight_bits=8, state_bits=16, decay_bits=16, input_bits=2, guard_bits=0,
                        rounding=Rounding.HALF_UP)


def _quantize_theta(net: FloatNetwork, formats: Formats | None) -> Network:
    """Theta layers: weights in X = (V - 1/2) / r units with one power-of-two scale per
    layer (the largest that fits the weight width), initial phases as integer states,
    the tick as the integer rotation (``golden.theta``)."""
    th = net.theta
    th.validate()
    _check_theta_decision(net)
    # a theta state has no guard bits (its weights scale by weight_shift)
    formats = dataclasses.replace(formats, guard_bits=0) if formats else THETA_FORMATS
    if formats.state_bits > MAX_THETA_STATE_BITS:
        raise QuantizeError(f"state_bits {formats.state_bits}: a theta network allows at most "
                            f"{MAX_THETA_STATE_BITS}")
    rotation = rotation_for(th.tick, th.tau, th.i0, formats.decay_bits)
    layers, n_in = [], net.n_inputs
    for i, fl in enumerate(net.layers):
        where = f"layer {i}{' (' + fl.name + ')' if fl.name else ''}"
        if fl.kind is not NeuronKind.THETA:
            raise QuantizeError(f"{where}: kind {fl.kind.value!r}; a theta network's layers are "
                                f"all 'theta'")
        if fl.w_in.ndim != 2 or fl.w_in.shape[0] != n_in:
            raise QuantizeError(f"{where}: w_in shape {fl.w_in.shape}, expected ({n_in}, size)")
        mats = [fl.w_in] + ([] if fl.w_rec is None else [fl.w_rec])
        if not all(np.all(np.isfinite(w)) for w in mats):
            raise QuantizeError(f"{where}: weights contain NaN or infinity")
        largest = max(np.abs(w).max(initial=0.0) for w in mats) / th.r
        shift = 30 if largest == 0 else int(math.floor(math.log2(formats.weight.max / largest)))
        if shift < 0:
            raise QuantizeError(f"{where}: weights up to {largest * th.r:.3g} do not fit "
                                f"weight_bits={formats.weight_bits}")
        shift = min(shift, 30)
        one = float(1 << shift)
        p0, q0 = initial_state(_theta_phi0(fl, th, where), th.tau, th.i0, formats.state_bits)
        zeros = np.zeros(fl.size, np.int64)
        layers.append(Layer(
            kind=NeuronKind.THETA,
            w_in=formats.weight.quantize(fl.w_in / th.r * one, Rounding.HALF_EVEN),
            w_rec=None if fl.w_rec is None else formats.weight.quantize(fl.w_rec / th.r * one,
                                                                        Rounding.HALF_EVEN),
            bias=zeros, alpha=zeros, rho=zeros, b0=zeros, adapt=zeros, p0=p0, q0=q0,
            weight_shift=shift, scale=th.r / one, name=fl.name))
        n_in = fl.size
    try:
        return Network(n_inputs=net.n_inputs, layers=layers, decision=Decision.TTFS,
                       formats=formats, name=net.name,
                       theta=ThetaModel(tau=float(th.tau), i0=float(th.i0), rotation=rotation,
                                        steps=int(th.steps)))
    except NetworkFileError as exc:
        raise QuantizeError(str(exc)) from None


def check_weight_clip(clip: float | None) -> None:
    """A weight clip is a quantile, 0 < clip < 1, or None (the largest weight)."""
    if clip is not None and not 0 < clip < 1:
        raise QuantizeError(f"weight_clip {clip!r}: expected a quantile, 0 < clip < 1 (or none)")


def weight_reference(weights, clip: float | None = None) -> float:
    """The magnitude a layer's weight scale is set by (``layer_scales``): the largest |folded
    weight| of ``weights`` (arrays, None skipped), or with ``clip`` (0 < clip < 1) that
    quantile of them, so that the few larger weights saturate instead of coarsening every
    other one. The QAT twin (``train.srnn``) uses this too."""
    check_weight_clip(clip)
    values = [np.abs(np.asarray(w, np.float64)).ravel() for w in weights if w is not None]
    values = np.concatenate(values) if values else np.zeros(0)
    if values.size == 0:
        return 0.0
    return float(values.max() if clip is None else np.quantile(values, clip))


def layer_scales(largest: float, formats: Formats) -> tuple[float, float]:
    """The real values of one weight LSB and one state LSB of a layer whose largest folded
    weight is ``largest``: the largest weight uses the full weight width, the state has
    ``guard_bits`` more fraction bits. The QAT twin (``train.srnn``) uses this too."""
    weight = float(largest) / formats.weight.max if largest > 0 else 1.0
    return weight, weight / (1 << formats.guard_bits)


def check_state_raw(largest_raw: float, name: str, formats: Formats, where: str) -> None:
    """A state-format parameter (bias, b0, adapt) that needs more than the state format is
    an error, never a silent clamp (the QAT twin raises the same)."""
    if largest_raw > formats.state.max:
        raise QuantizeError(f"{where}: {name} needs {largest_raw:.3g} state LSBs, more than "
                            f"state_bits={formats.state_bits} holds; raise state_bits or "
                            f"lower guard_bits")


def _tau_of(decay: np.ndarray, decay_bits: int) -> np.ndarray:
    """The time constant whose decay quantises to ``decay`` (0 -> an instant decay)."""
    real = decay / float(1 << decay_bits)
    with np.errstate(divide="ignore"):
        return np.where(real > 0, -1.0 / np.log(np.where(real > 0, real, 0.5)), 1e-9)


def suggested_weight_clip(weight_bits: int) -> float:
    """The weight clip measured best for a width (``docs/training.md``): the 0.999 quantile
    of |weight| at 5 bits and more, the 0.99 quantile at 4 bits and fewer."""
    return 0.999 if weight_bits > 4 else 0.99


def requantize(network: Network, weight_bits: int, weight_clip: float | None) -> Network:
    """A fixed-point network quantised again at ``weight_bits``: ``quantize`` of its float
    form (``dequantize``) with its formats but the weight width, and ``weight_clip``."""
    formats = dataclasses.replace(network.formats, weight_bits=weight_bits)
    return quantize(dequantize(network), formats, weight_clip=weight_clip)


def dequantize(network: Network) -> FloatNetwork:
    """The float network a fixed-point SRNN network is the exact quantisation of: weights
    and parameters as real numbers, decays as time constants (so ``quantize`` with the
    same formats gives the network back when each layer's largest weight uses the full
    weight width). Theta networks have their own float form (``FloatTheta``)."""
    if network.theta is not None:
        raise QuantizeError("dequantize: a theta network's float form is its FloatTheta twin")
    f = network.formats
    one = float(1 << f.decay_bits)
    layers = []
    for i, layer in enumerate(network.layers):
        cuba = layer.kind is NeuronKind.CUBA
        gain = (1.0 - layer.alpha / one) * ((1.0 - layer.alpha_syn / one) if cuba else 1.0)
        gain = np.where(gain > 0, gain, 1.0)
        w_lsb, s_lsb = network.weight_lsb(i), layer.scale
        adapting = layer.kind is NeuronKind.ALIF
        rho_gain = np.where(layer.rho < one, 1.0 - layer.rho / one, 1.0)
        layers.append(FloatLayer(
            kind=layer.kind, w_in=layer.w_in * w_lsb / gain[None, :],
            w_rec=None if layer.w_rec is None else layer.w_rec * w_lsb / gain[None, :],
            bias=layer.bias * s_lsb / gain, tau_m=_tau_of(layer.alpha, f.decay_bits),
            tau_adp=_tau_of(layer.rho, f.decay_bits) if adapting else 200.0,
            b0=layer.b0 * s_lsb,
            beta=layer.adapt * s_lsb / rho_gain if adapting else 0.0,
            tau_syn=_tau_of(layer.alpha_syn, f.decay_bits) if cuba else 5.0, name=layer.name))
    return FloatNetwork(n_inputs=network.n_inputs, layers=layers, decision=network.decision,
                        skip_steps=network.skip_steps, name=network.name)


def quantize(net: FloatNetwork, formats: Formats | None = None, *,
             weight_clip: float | None = None) -> Network:
    """Fold and quantise a float network into a fixed-point ``Network``.

    Per layer, ``(1 - alpha)`` (with alpha already quantised, so the fold
    matches the integer leak) is folded into the weight columns and the bias,
    and one scale is chosen so the largest folded weight uses the full weight
    width (``layer_scales``; the state LSB is ``2**guard_bits`` finer), or with
    ``weight_clip`` the largest below that quantile (``weight_reference``; the
    weights above it saturate). Parameters are rounded to nearest (ties to even).
    """
    if net.theta is not None:
        return _quantize_theta(net, formats)
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
        scale, state_scale = layer_scales(weight_reference([w_in, w_rec], weight_clip), formats)
        adapting = fl.kind is NeuronKind.ALIF
        real = {"bias": p["bias"] * gain, "b0": p["b0"],
                "adapt": (1.0 - rho_q / one) * p["beta"]}
        state = {}
        for name, value in real.items():
            raw = value / state_scale
            check_state_raw(np.abs(raw).max(initial=0.0), name, formats, where)
            state[name] = formats.state.quantize(raw, Rounding.HALF_EVEN)
        layers.append(Layer(
            kind=fl.kind,
            w_in=formats.weight.quantize(w_in / scale, Rounding.HALF_EVEN),
            w_rec=None if w_rec is None else formats.weight.quantize(w_rec / scale, Rounding.HALF_EVEN),
            bias=state["bias"], alpha=alpha_q,
            rho=rho_q if adapting else np.zeros_like(rho_q),
            b0=state["b0"], adapt=state["adapt"] if adapting else np.zeros_like(rho_q),
            scale=float(state_scale), name=fl.name, alpha_syn=alpha_syn_q))
        n_in = fl.size
    try:
        return Network(n_inputs=net.n_inputs, layers=layers, decision=net.decision,
                       formats=formats, skip_steps=net.skip_steps, name=net.name)
    except NetworkFileError as exc:
        raise QuantizeError(str(exc)) from None


# -- float network files --

FLOAT_FILE_FORMAT = "spikeforge-float-network"
FLOAT_FILE_VERSION = 1
#: Per-neuron float vectors of a FloatLayer (scalars are stored broadcast).
FLOAT_VECTORS = ("bias", "tau_m", "tau_adp", "b0", "beta", "tau_syn", "phi0")


def save_float_network(net: FloatNetwork, path) -> None:
    header = {"format": FLOAT_FILE_FORMAT, "version": FLOAT_FILE_VERSION, "name": net.name,
              "inputs": int(net.n_inputs), "decision": net.decision.value,
              "skip_steps": int(net.skip_steps),
              "theta": None if net.theta is None else {
                  "tau": float(net.theta.tau), "i0": float(net.theta.i0),
                  "tick": float(net.theta.tick), "steps": int(net.theta.steps)},
              "layers": [{"kind": l.kind.value, "name": l.name, "recurrent": l.w_rec is not None}
                         for l in net.layers]}
    arrays = {"header": np.array(json.dumps(header, indent=1))}
    for i, layer in enumerate(net.layers):
        arrays[f"layers.{i}.w_in"] = np.asarray(layer.w_in, np.float64)
        if layer.w_rec is not None:
            arrays[f"layers.{i}.w_rec"] = np.asarray(layer.w_rec, np.float64)
        for name in FLOAT_VECTORS:
            value = getattr(layer, name)
            if value is not None:
                arrays[f"layers.{i}.{name}"] = np.broadcast_to(
                    np.asarray(value, np.float64), (layer.size,)).copy()
    with atomic_write(path, "float network file") as fh:
        np.savez_compressed(fh, **arrays)


def load_float_network(path) -> FloatNetwork:
    """Read a float network file; errors name the file and the field."""
    path = os.fspath(path)

    def fail(msg):
        raise NetworkFileError(f"{path}: {msg}")

    contents = read_npz(path, "float network file", NetworkFileError)
    try:
        header = strict_json(str(contents["header"][()]))
    except (KeyError, TypeError, ValueError, IndexError):
        fail("no readable JSON 'header' (is this a float network file?)")
    if not isinstance(header, dict) or header.get("format") != FLOAT_FILE_FORMAT:
        fail(f"header.format: expected {FLOAT_FILE_FORMAT!r}")
    if header.get("version") != FLOAT_FILE_VERSION:
        fail(f"header.version: {header.get('version')!r} is not supported "
             f"(this spikeforge reads version {FLOAT_FILE_VERSION})")
    specs = header.get("layers")
    if not isinstance(specs, list) or not specs:
        fail("header.layers: expected a non-empty list")
    layers = []
    n_in = header.get("inputs")
    if not isinstance(n_in, int) or isinstance(n_in, bool) or n_in < 1:
        fail(f"header.inputs: {n_in!r} is not a positive integer")
    rows = n_in
    for i, spec in enumerate(specs):
        where = f"layers[{i}]"
        if not isinstance(spec, dict):
            fail(f"{where}: expected an object")
        try:
            kind = NeuronKind(spec.get("kind"))
        except ValueError:
            fail(f"{where}.kind: {spec.get('kind')!r} is not a neuron kind")

        def array(name, shape, required=True):
            key = f"layers.{i}.{name}"
            if key not in contents:
                if required:
                    fail(f"{where}.{name}: missing array {key!r}")
                return None
            a = contents[key]
            if a.dtype.kind not in "fiu" or a.shape != shape:
                fail(f"{where}.{name}: {a.dtype} array of shape {a.shape}, expected float {shape}")
            if not np.all(np.isfinite(a)):
                fail(f"{where}.{name}: contains NaN or infinity")
            return a.astype(np.float64)

        w_in = contents.get(f"layers.{i}.w_in")
        if w_in is None or w_in.ndim != 2:
            fail(f"{where}.w_in: missing or not a 2-D array")
        size = w_in.shape[1]
        w_in = array("w_in", (rows, size))
        w_rec = array("w_rec", (size, size)) if spec.get("recurrent") is True else None
        vectors = {name: array(name, (size,), required=False) for name in FLOAT_VECTORS}
        kwargs = {k: v for k, v in vectors.items() if v is not None}
        layers.append(FloatLayer(kind=kind, w_in=w_in, w_rec=w_rec, name=str(spec.get("name", "")),
                                 **kwargs))
        rows = size
    try:
        decision = Decision(header.get("decision"))
    except ValueError:
        fail(f"header.decision: {header.get('decision')!r} is not a decision rule")
    theta = header.get("theta")
    if theta is not None:
        if not isinstance(theta, dict) or set(theta) != {"tau", "i0", "tick", "steps"}:
            fail("header.theta: expected an object with tau, i0, tick, steps")
        theta = FloatTheta(**theta)
        try:
            theta.validate()
        except QuantizeError as exc:
            fail(str(exc))
    skip = header.get("skip_steps", 0)
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        fail(f"header.skip_steps: {skip!r} is not an integer >= 0")
    return FloatNetwork(n_inputs=n_in, layers=layers, decision=decision, skip_steps=skip,
                        name=str(header.get("name", "network")), theta=theta)
