"""Integer neuron datapaths: one time step of a layer, exactly as the hardware does it.

With ``D = decay_bits``, ``shr`` the rounding right shift of ``formats.rounding``
and ``fit`` the overflow mode of ``formats.overflow`` into the state format,
one step of a layer with synaptic input ``acc`` (exact sum of weight x event,
taken into state units: ``acc * 2**guard_bits``, the state keeping
``guard_bits`` fraction bits below the weight LSB) and its previous spikes
``s_prev`` (0/1) is:

ALIF (Yin et al.; the adaptation ``a = beta*b`` is kept pre-multiplied)::

    a     = fit(shr(rho * a, D) + adapt * s_prev)
    theta = fit(b0 + a)
    u     = fit(shr(alpha * u, D) + acc + bias - theta * s_prev)   # soft reset
    s     = u > theta

LIF is ALIF with ``rho = adapt = 0`` (so ``a`` stays 0 and ``theta = b0``).
LI (readout) is ``u = fit(shr(alpha * u, D) + acc + bias)`` and never spikes.

CUBA (current-based LIF, snnTorch ``Synaptic`` with subtractive reset, NIR
``CubaLIF``): the synaptic current ``i`` integrates the input with its own
decay and feeds the membrane::

    i     = fit(shr(alpha_syn * i, D) + acc + bias)
    u     = fit(shr(alpha * u, D) + i - b0 * s_prev)
    s     = u > b0

THETA (Klos & Memmesheimer) keeps the phase as the integer vector ``(p, q)``
(``u`` holds p, ``q`` holds q); its tick is ``spikeforge.golden.theta.theta_step``.

``(1 - alpha)`` is folded into ``w_in``, ``w_rec`` and ``bias`` by the
quantiser, and ``(1 - rho) * beta`` into ``adapt``; the hardware folds nothing
at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import fit, shift_right
from .network import Formats, Layer, NeuronKind
from .theta import ThetaModel, pack_state, theta_step

__all__ = ["LayerState", "layer_step", "readout_value"]


@dataclass
class LayerState:
    """State of one layer for a batch: membrane, adaptation, last spikes."""

    u: np.ndarray   # (batch, size) int64 membrane (THETA: p)
    a: np.ndarray   # (batch, size) int64 threshold adaptation (ALIF)
    i: np.ndarray   # (batch, size) int64 synaptic current (CUBA; THETA: q)
    s: np.ndarray   # (batch, size) bool

    @classmethod
    def zeros(cls, batch: int, size: int) -> "LayerState":
        return cls(u=np.zeros((batch, size), np.int64), a=np.zeros((batch, size), np.int64),
                   i=np.zeros((batch, size), np.int64), s=np.zeros((batch, size), bool))

    @classmethod
    def initial(cls, layer: Layer, batch: int) -> "LayerState":
        """The state every sample starts from: zero, or a theta layer's initial phases."""
        state = cls.zeros(batch, layer.size)
        if layer.kind is NeuronKind.THETA:
            state.u[:] = layer.p0
            state.i[:] = layer.q0
        return state


def readout_value(layer: Layer, formats: Formats, state: LayerState) -> np.ndarray:
    """What a readout record carries: ``u``, or a theta state packed as ``p * 2**B + q``."""
    if layer.kind is NeuronKind.THETA:
        return pack_state(state.u, state.i, formats.state_bits)
    return state.u


def layer_step(layer: Layer, formats: Formats, state: LayerState, acc: np.ndarray,
               theta: ThetaModel | None = None) -> LayerState:
    """Advance one layer by one step; ``acc`` is the exact synaptic input (batch, size) in
    weight units; ``theta`` is the network's theta model (theta layers only)."""
    st, d, rnd, ovf = formats.state, formats.decay_bits, formats.rounding, formats.overflow
    if layer.kind is NeuronKind.THETA:
        p, q, s = theta_step(state.u, state.i, acc, weight_shift=layer.weight_shift,
                             rotation=theta.rotation, formats=formats)
        return LayerState(u=p, a=state.a, i=q, s=s)
    acc = acc << formats.guard_bits          # into state units, below which the leak works
    s_prev = state.s.astype(np.int64)
    leak = shift_right(layer.alpha * state.u, d, rnd)
    if layer.kind is NeuronKind.LI:
        u = fit(leak + acc + layer.bias, st, ovf)
        return LayerState(u=u, a=state.a, i=state.i, s=np.zeros_like(state.s))
    if layer.kind is NeuronKind.CUBA:
        i = fit(shift_right(layer.alpha_syn * state.i, d, rnd) + acc + layer.bias, st, ovf)
        u = fit(leak + i - layer.b0 * s_prev, st, ovf)
        return LayerState(u=u, a=state.a, i=i, s=u > layer.b0)
    if layer.kind is NeuronKind.ALIF:
        a = fit(shift_right(layer.rho * state.a, d, rnd) + layer.adapt * s_prev, st, ovf)
    else:
        a = state.a
    theta = fit(layer.b0 + a, st, ovf)
    u = fit(leak + acc + layer.bias - theta * s_prev, st, ovf)
    return LayerState(u=u, a=a, i=state.i, s=u > theta)
