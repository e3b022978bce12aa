"""Adaptive spiking recurrent networks in PyTorch (Yin, Corradi & Bohté, arXiv:2005.11633).

One float step of a layer is exactly that of ``spikeforge.golden.reference``::

    alpha = exp(-1/tau_m); rho = exp(-1/tau_adp)
    b     = rho*b + (1-rho)*s_prev;  theta = b0 + beta*b
    u     = alpha*u + (1-alpha)*I - theta*s_prev;  s = u > theta
    (LI readout: u = alpha*u + (1-alpha)*I)

with ``I = x @ w_in + s_prev @ w_rec + bias``; ``tau_m`` and ``tau_adp`` are
trainable per neuron. Spikes are a Heaviside step in the forward pass and the
multi-Gaussian surrogate in the backward pass.

``SRNN.forward(x, quant=formats)`` runs the *integer-faithful* twin instead:
parameters fake-quantised exactly as ``golden.reference.quantize`` does
(alpha, rho to ``decay_bits``; ``(1 - alpha_q)`` folded into weight columns and
bias; the scales of ``golden.reference.layer_scales``; round half to even; a
state parameter out of the state format is the same ``QuantizeError``,
``check_state_raw``), states kept in state LSBs (``guard_bits`` below the
weight LSB) and rounded as ``golden.neuron`` rounds them, with straight-through
gradients for every rounding. Its readout equals
``golden.simulate(quantize(export()))`` bit for bit (unless a state saturates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from spikeforge.golden import Decision, FloatLayer, FloatNetwork, Formats, NeuronKind
from spikeforge.golden.fixed import Overflow, Rounding
from spikeforge.golden.reference import check_state_raw, layer_scales, weight_reference

__all__ = ["multi_gaussian", "spike", "SRNNLayer", "SRNN", "LayerSpec"]

#: Multi-Gaussian surrogate of Yin et al.: width, side-lobe height and width ratio, gain.
SURROGATE_SIGMA = 0.5
SURROGATE_HEIGHT = 0.15
SURROGATE_SCALE = 6.0
SURROGATE_GAMMA = 0.5


def _gaussian(x, mu: float, sigma: float):
    return torch.exp(-((x - mu) ** 2) / (2.0 * sigma ** 2)) / (math.sqrt(2.0 * math.pi) * sigma)


def multi_gaussian(v, sigma: float = SURROGATE_SIGMA, height: float = SURROGATE_HEIGHT,
                   scale: float = SURROGATE_SCALE, gamma: float = SURROGATE_GAMMA):
    """d spike / d v used in the backward pass (v = u - theta)."""
    return gamma * (_gaussian(v, 0.0, sigma) * (1.0 + height)
                    - _gaussian(v, sigma, scale * sigma) * height
                    - _gaussian(v, -sigma, scale * sigma) * height)


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad * multi_gaussian(v)


def spike(v):
    """Heaviside ``v > 0`` forward, multi-Gaussian surrogate backward."""
    return _Spike.apply(v)


# -- straight-through rounding (forward: exact rounding; backward: identity) --

def _ste(x, rounded):
    return x + (rounded - x).detach()


def _round_half_even(x):
    return _ste(x, torch.round(x))  # torch.round ties to even, like np.rint


def _round_mode(x, rounding: Rounding):
    if rounding is Rounding.FLOOR:
        r = torch.floor(x)
    elif rounding is Rounding.HALF_UP:
        r = torch.floor(x + 0.5)
    elif rounding is Rounding.HALF_EVEN:
        r = torch.round(x)
    elif rounding is Rounding.TOWARD_ZERO:
        r = torch.trunc(x)
    else:
        raise ValueError(f"unknown rounding mode {rounding!r}")
    return _ste(x, r)


def _fit(x, lo: int, hi: int, overflow: Overflow):
    if overflow is Overflow.SATURATE:
        return torch.clamp(x, lo, hi)
    width = (hi - lo + 1).bit_length() - 1
    wrapped = torch.remainder(x - lo, float(1 << width)) + lo
    return _ste(x, wrapped)


@dataclass(frozen=True)
class LayerSpec:
    """Shape and neuron model of one layer."""

    size: int
    kind: NeuronKind = NeuronKind.ALIF
    recurrent: bool = True
    tau_m: tuple = (20.0, 5.0)       # initial mean, std (steps)
    tau_adp: tuple = (200.0, 25.0)
    b0: float = 0.01
    beta: float = 1.8
    name: str = ""


class SRNNLayer(nn.Module):
    """One layer: ALIF / LIF spiking neurons or the LI readout."""

    def __init__(self, n_in: int, spec: LayerSpec, generator: torch.Generator):
        super().__init__()
        if spec.kind is NeuronKind.LI and spec.recurrent:
            raise ValueError("a leaky-integrator readout has no recurrent weights")
        self.kind, self.name = spec.kind, spec.name
        size = spec.size
        bound = math.sqrt(6.0 / (n_in + size))  # Xavier uniform, as the reference code
        self.w_in = nn.Parameter((torch.rand(n_in, size, generator=generator,
                                             dtype=torch.float64) * 2 - 1) * bound)
        if spec.recurrent:
            q, _ = torch.linalg.qr(torch.randn(size, size, generator=generator,
                                               dtype=torch.float64))
            self.w_rec = nn.Parameter(q)  # orthogonal, as the reference code
        else:
            self.register_parameter("w_rec", None)
        self.bias = nn.Parameter(torch.zeros(size, dtype=torch.float64))
        self.tau_m = nn.Parameter(self._normal(size, spec.tau_m, generator))
        self.tau_adp = nn.Parameter(self._normal(size, spec.tau_adp, generator),
                                    requires_grad=spec.kind is NeuronKind.ALIF)
        self.register_buffer("b0", torch.full((size,), 0.0 if spec.kind is NeuronKind.LI
                                              else float(spec.b0), dtype=torch.float64))
        self.register_buffer("beta", torch.full((size,), float(spec.beta) if spec.kind is
                                                NeuronKind.ALIF else 0.0, dtype=torch.float64))

    @staticmethod
    def _normal(size, mean_std, generator):
        mean, std = mean_std
        t = mean + std * torch.randn(size, generator=generator, dtype=torch.float64)
        return torch.clamp(t, min=1.0)

    @property
    def size(self) -> int:
        return self.w_in.shape[1]

    @property
    def recurrent(self) -> bool:
        return self.w_rec is not None

    def clamp_(self):
        """Keep time constants in the range the file format represents (alpha, rho < 1)."""
        with torch.no_grad():
            self.tau_m.clamp_(1.0, 5e3)
            self.tau_adp.clamp_(1.0, 5e3)

    def decays(self):
        return torch.exp(-1.0 / self.tau_m), torch.exp(-1.0 / self.tau_adp)

    # -- fake quantisation mirroring golden.reference.quantize --

    def integer_params(self, formats: Formats, where: str = "layer",
                       weight_clip: float | None = None) -> dict:
        """Raw integer parameters (float64 tensors holding integers, STE gradients); the
        weight scale as ``golden.quantize(..., weight_clip=)`` sets it."""
        one = float(1 << formats.decay_bits)
        dmax = float(formats.decay.max)
        alpha, rho = self.decays()
        alpha_raw = torch.clamp(_round_half_even(alpha * one), 0.0, dmax)
        rho_raw = torch.clamp(_round_half_even(rho * one), 0.0, dmax)
        gain = 1.0 - alpha_raw / one
        w_in = self.w_in * gain
        w_rec = None if self.w_rec is None else self.w_rec * gain
        with torch.no_grad():
            largest = weight_reference(
                [w_in.detach().numpy(), None if w_rec is None else w_rec.detach().numpy()],
                weight_clip)
        scale, state_scale = layer_scales(largest, formats)
        wlo, whi = formats.weight.min, formats.weight.max
        slo, shi = formats.state.min, formats.state.max
        adapting = self.kind is NeuronKind.ALIF
        state = {"bias": self.bias * gain / state_scale, "b0": self.b0 / state_scale,
                 "adapt": (1.0 - rho_raw / one) * self.beta / state_scale}
        for name, raw in state.items():   # the same error as golden quantize, never a clamp
            check_state_raw(float(raw.detach().abs().max()), name, formats, where)
        out = {
            "scale": state_scale,
            "alpha": alpha_raw,
            "rho": rho_raw if adapting else torch.zeros_like(rho_raw),
            "w_in": torch.clamp(_round_half_even(w_in / scale), wlo, whi),
            "w_rec": None if w_rec is None else torch.clamp(_round_half_even(w_rec / scale), wlo, whi),
            # checked above; the clamp only catches a tie rounded up to max + 1, as golden's
            # quantiser (Fixed.quantize, saturate) does
            "bias": torch.clamp(_round_half_even(state["bias"]), slo, shi),
            "b0": torch.clamp(_round_half_even(state["b0"]), slo, shi),
            "adapt": (torch.clamp(_round_half_even(state["adapt"]), slo, shi) if adapting
                      else torch.zeros_like(rho_raw)),
        }
        return out


class SRNN(nn.Module):
    """A stack of SRNN layers; the last one is the readout."""

    def __init__(self, n_inputs: int, specs: list[LayerSpec], *, seed: int = 0,
                 decision: Decision = Decision.PER_STEP, skip_steps: int = 0,
                 name: str = "network", weight_clip: float | None = None):
        super().__init__()
        #: the quantile of |folded weight| each layer's scale is set by (None: the largest);
        #: the integer twin and ``golden.quantize(..., weight_clip=)`` use the same rule
        self.weight_clip = weight_clip
        generator = torch.Generator().manual_seed(seed)
        self.n_inputs, self.decision, self.skip_steps, self.name = n_inputs, decision, skip_steps, name
        layers, n_in = [], n_inputs
        for i, spec in enumerate(specs):
            if spec.kind is NeuronKind.LI and i != len(specs) - 1:
                raise ValueError(f"layer {i}: 'li' is only allowed for the readout")
            layers.append(SRNNLayer(n_in, spec, generator))
            n_in = spec.size
        self.layers = nn.ModuleList(layers)

    def clamp_(self):
        for layer in self.layers:
            layer.clamp_()

    def initial_state(self, batch: int):
        z = lambda n: torch.zeros(batch, n, dtype=torch.float64)
        return [(z(l.size), z(l.size), z(l.size)) for l in self.layers]  # (u, b, s)

    def forward(self, x, state=None, quant: Formats | None = None):
        """Run ``x`` (batch, steps, n_inputs); returns (readout (batch, steps, outputs),
        spike counts per layer (batch, layers), final state). In quant mode the
        readout is in real units (state LSBs times the layer scale)."""
        x = torch.as_tensor(x, dtype=torch.float64)
        batch, steps, _ = x.shape
        if state is None:
            state = self.initial_state(batch)
        if quant is None:
            return self._forward_float(x, state)
        return self._forward_int(x, state, quant)

    def _forward_float(self, x, state):
        batch, steps, _ = x.shape
        prm = []
        for i, layer in enumerate(self.layers):
            alpha, rho = layer.decays()
            prm.append((alpha, rho, 1.0 - alpha))
        first = self.layers[0]
        drive0 = torch.matmul(x, first.w_in) + first.bias  # (batch, steps, size)
        state = [list(s) for s in state]
        outputs, counts = [], [0.0] * len(self.layers)
        for t in range(steps):
            events = None
            for i, layer in enumerate(self.layers):
                u, b, s = state[i]
                alpha, rho, gain = prm[i]
                current = drive0[:, t] if i == 0 else torch.addmm(layer.bias, events, layer.w_in)
                if layer.w_rec is not None:
                    current = current + s @ layer.w_rec
                if layer.kind is NeuronKind.LI:
                    u = alpha * u + gain * current
                else:
                    if layer.kind is NeuronKind.ALIF:
                        b = rho * b + (1.0 - rho) * s
                        theta = layer.b0 + layer.beta * b
                    else:
                        theta = layer.b0
                    u = alpha * u + gain * current - theta * s
                    s = spike(u - theta)
                    counts[i] = counts[i] + s.sum(dim=1)
                state[i] = [u, b, s]
                events = s
            outputs.append(state[-1][0])
        readout = torch.stack(outputs, dim=1)
        return readout, self._counts(counts, batch), [tuple(s) for s in state]

    def _counts(self, counts, batch):
        return torch.stack([c if torch.is_tensor(c) else torch.zeros(batch, dtype=torch.float64)
                            for c in counts], dim=1)

    def _forward_int(self, x, state, formats: Formats):
        batch, steps, _ = x.shape
        one = float(1 << formats.decay_bits)
        slo, shi, ovf, rnd = formats.state.min, formats.state.max, formats.overflow, formats.rounding
        prm = [layer.integer_params(formats, f"layer {i}" + (f" ({layer.name})" if layer.name else ""),
                                    self.weight_clip)
               for i, layer in enumerate(self.layers)]
        guard = float(1 << formats.guard_bits)       # the synaptic input in state units
        drive0 = torch.matmul(x, prm[0]["w_in"]) * guard  # exact: small integers
        state = [list(s) for s in state]
        outputs, counts = [], [0.0] * len(self.layers)
        for t in range(steps):
            events = None
            for i, layer in enumerate(self.layers):
                p = prm[i]
                u, a, s = state[i]
                acc = drive0[:, t] if i == 0 else (events @ p["w_in"]) * guard
                if p["w_rec"] is not None:
                    acc = acc + (s @ p["w_rec"]) * guard
                leak = _round_mode(p["alpha"] / one * u, rnd)
                if layer.kind is NeuronKind.LI:
                    u = _fit(leak + acc + p["bias"], slo, shi, ovf)
                else:
                    if layer.kind is NeuronKind.ALIF:
                        a = _fit(_round_mode(p["rho"] / one * a, rnd) + p["adapt"] * s, slo, shi, ovf)
                    theta = _fit(p["b0"] + a, slo, shi, ovf)
                    u = _fit(leak + acc + p["bias"] - theta * s, slo, shi, ovf)
                    s = spike((u - theta) * p["scale"])
                    counts[i] = counts[i] + s.sum(dim=1)
                state[i] = [u, a, s]
                events = s
            outputs.append(state[-1][0] * prm[-1]["scale"])
        readout = torch.stack(outputs, dim=1)
        return readout, self._counts(counts, batch), [tuple(s) for s in state]

    # -- export --

    def export(self) -> FloatNetwork:
        """The trained network as a ``golden.FloatNetwork`` (float64 NumPy arrays)."""
        layers = []
        for i, layer in enumerate(self.layers):
            arr = lambda t: None if t is None else t.detach().cpu().numpy().astype(np.float64).copy()
            layers.append(FloatLayer(
                kind=layer.kind, w_in=arr(layer.w_in), w_rec=arr(layer.w_rec), bias=arr(layer.bias),
                tau_m=arr(layer.tau_m), tau_adp=arr(layer.tau_adp), b0=arr(layer.b0),
                beta=arr(layer.beta), name=layer.name or ("readout" if i == len(self.layers) - 1
                                                          else f"hidden{i}")))
        return FloatNetwork(n_inputs=self.n_inputs, layers=layers, decision=self.decision,
                            skip_steps=self.skip_steps, name=self.name)
