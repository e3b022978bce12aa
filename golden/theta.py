"""Theta (QIF) neurons in discrete time, in exact integer arithmetic.

The continuous model (Klos & Memmesheimer, PRL 134, 027301, 2025)::

    tau dV/dt = V (V - 1) + I0 + tau * sum_i w_i delta(t - t_i),   I0 > 1/4

With ``r = sqrt(I0 - 1/4)`` and ``X = (V - 1/2) / r = tan(psi)``, the free flow
turns the angle ``psi`` at the constant rate ``r / tau`` (``psi`` is the
phase ``phi = (tau / r) (psi + pi/2)``, which advances at dt phi / dt = 1), a
spike happens when ``psi`` passes ``pi/2`` (V = +inf), after which V restarts
at -inf (``psi = -pi/2``, the same point of the projective line), and a pulse
of weight ``w`` adds ``w / r`` to ``X``. The period is ``Theta = tau pi / r``.

spikeforge keeps ``X`` projectively, as the integer vector ``(p, q)`` with
``X = p / q`` and ``q >= 0`` (so ``(q, p)`` points at angle ``psi``). Then both
maps are linear and exact, no table and no clamp is needed, and V = +-inf is
an ordinary state (``q = 0``). One tick of a theta layer, with ``acc`` the
exact sum of this tick's weights (in units of ``2**-weight_shift`` of X), ``K
= decay_bits``, ``shr`` the rounding right shift of ``formats.rounding``::

    p  = p + shr(acc * q, weight_shift)          # every pulse of the tick: X += acc 2**-shift
    p' = p + shr(rotation * q, K)                # the flow over one tick: a rotation by
    q' = q - shr(rotation * p, K)                #   beta = atan(rotation / 2**K)
    s  = q' < 0                                  # psi passed pi/2: a spike
    (p, q) = -(p', q') if s else (p', q')        # the reset is the same projective point
    (p, q) = normalise(p, q)                     # floor shift to max bit length B - 1

``normalise`` shifts both components by the same amount (right: floor;
left: exact) so that the longer of them has exactly ``B - 1 = state_bits - 1``
significant bits: the angle is kept to about ``2**-(B-2)`` rad whatever the
history, and both fit ``signed(B)``. Pulses never cause a spike (a shear
keeps ``q``); spikes come from the flow, as in the continuous model. The tick
length is ``beta * tau / r``; a network's ``steps`` ticks are its trial.

Order within a tick, layer by layer as for every neuron kind: the input
events of the tick (first layer) or this tick's spikes of the layer before,
and the layer's own spikes of the previous tick (recurrent), are summed into
``acc``; then pulse, flow, spike, reset, normalise. The phase after a reset
says how long before the tick's end the spike happened, so comparing phases
orders spikes within a tick (``Decision.TTFS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .fixed import as_int64, check_fits, shift_right

__all__ = ["ThetaModel", "theta_r", "free_period", "theta_step", "normalise", "initial_state",
           "phase_of", "phase_greater", "pack_state", "unpack_state", "rotation_for", "pulse_float",
           "MAX_THETA_STATE_BITS"]

#: Widest theta state: intermediates (acc * q) stay far below 2**53.
MAX_THETA_STATE_BITS = 20


def theta_r(i0: float) -> float:
    """``r = sqrt(i0 - 1/4)`` of a theta neuron with constant drive ``i0 > 1/4``: its
    angle advances ``r / tau`` per unit of model time."""
    return math.sqrt(i0 - 0.25)


def free_period(tau: float, i0: float) -> float:
    """Theta: the free period, ``tau * pi / r``, in the model's time unit."""
    return tau * math.pi / theta_r(i0)


@dataclass(frozen=True)
class ThetaModel:
    """The theta neuron shared by every layer of a network, and its trial.

    ``tau`` and ``i0`` are the continuous model's constants (reports and
    conversions only); ``rotation`` is the integer flow of one tick (with
    ``decay_bits`` fraction bits); ``steps`` the ticks of one trial.
    """

    tau: float
    i0: float
    rotation: int
    steps: int

    @property
    def r(self) -> float:
        return theta_r(self.i0)

    @property
    def period(self) -> float:
        """Theta: the free period, in the model's time unit."""
        return free_period(self.tau, self.i0)

    def tick(self, decay_bits: int) -> float:
        """Model time per tick: the flow angle ``atan(rotation / 2**K)`` over ``r / tau``."""
        return math.atan(self.rotation / (1 << decay_bits)) * self.tau / self.r

    def trial(self, decay_bits: int) -> float:
        return self.steps * self.tick(decay_bits)

    def to_json(self) -> dict:
        return {"tau": self.tau, "i0": self.i0, "rotation": self.rotation, "steps": self.steps}


def rotation_for(tick: float, tau: float, i0: float, decay_bits: int) -> int:
    """The integer rotation closest to a flow of ``tick`` model time units per tick."""
    r = theta_r(i0)
    return int(round(math.tan(tick * r / tau) * (1 << decay_bits)))


def _bit_length(x: np.ndarray) -> np.ndarray:
    """Significant bits of non-negative int64 values below 2**53 (0 for 0)."""
    return np.frexp(x.astype(np.float64))[1].astype(np.int64)


def normalise(p, q, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift ``p`` and ``q`` alike so the longer has ``bits - 1`` significant bits.

    Significant bits of a signed value are those of ``x ^ (x >> 63)`` (so -2**k
    has k, like 2**k - 1); right shifts floor, left shifts are exact.
    """
    p, q = as_int64(p), as_int64(q)
    n = np.maximum(_bit_length(p ^ (p >> 63)), _bit_length(q ^ (q >> 63)))
    shift = n - (bits - 1)
    right = np.maximum(shift, 0)
    left = np.maximum(-shift, 0)
    return (p >> right) << left, (q >> right) << left


def theta_step(p, q, acc, *, weight_shift: int, rotation: int, formats):
    """One tick of a theta layer (see the module docstring); returns ``(p, q, spikes)``."""
    B, K, rnd = formats.state_bits, formats.decay_bits, formats.rounding
    p, q, acc = as_int64(p), as_int64(q), as_int64(acc)
    p = p + shift_right(acc * q, weight_shift, rnd)
    p_next = p + shift_right(rotation * q, K, rnd)
    q_next = q - shift_right(rotation * p, K, rnd)
    s = q_next < 0
    p, q = normalise(np.where(s, -p_next, p_next), np.where(s, -q_next, q_next), B)
    check_fits(p, formats.state, "theta p")
    check_fits(q, formats.state, "theta q")
    return p, q, s


def initial_state(phi0, tau: float, i0: float, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer state ``(p0, q0)`` of initial phases ``phi0`` in ``[0, Theta]``."""
    r = theta_r(i0)
    psi = np.asarray(phi0, np.float64) * r / tau - math.pi / 2
    scale = float((1 << (bits - 1)) - 1)
    p = np.rint(np.sin(psi) * scale).astype(np.int64)           # to nearest, ties to even
    q = np.maximum(np.rint(np.cos(psi) * scale).astype(np.int64), 0)
    return normalise(p, q, bits)


def phase_of(p, q, tau: float, i0: float) -> np.ndarray:
    """The phase ``phi`` in ``[0, Theta]`` of integer states (float, for reports)."""
    r = theta_r(i0)
    return (np.arctan2(np.asarray(p, np.float64), np.asarray(q, np.float64)) + math.pi / 2) * tau / r


def phase_greater(pa, qa, pb, qb) -> np.ndarray:
    """Whether state a is further along its period than state b: exactly ``pa qb > pb qa``,
    or ``pa > pb`` when both are at V = +-inf (``qa = qb = 0``)."""
    pa, qa, pb, qb = (as_int64(v) for v in (pa, qa, pb, qb))
    return (pa * qb > pb * qa) | ((qa == 0) & (qb == 0) & (pa > pb))


def pack_state(p, q, bits: int) -> np.ndarray:
    """One integer per state, ``p * 2**bits + q`` (``0 <= q < 2**(bits-1)``): a theta readout value."""
    return as_int64(p) * (1 << bits) + as_int64(q)


def unpack_state(value, bits: int) -> tuple[np.ndarray, np.ndarray]:
    value = as_int64(value)
    return value >> bits, value & ((1 << bits) - 1)


def pulse_float(phi, w, tau: float, i0: float) -> np.ndarray:
    """The continuous pulse map ``H(phi, w) = Phi(Phi^-1(phi) + w)`` in float64.

    Phases at the ends (``phi <= 0``: V = -inf, ``phi >= Theta``: V = +inf) do
    not move, as ``X +- inf`` stays infinite.
    """
    r, period = theta_r(i0), free_period(tau, i0)
    phi = np.asarray(phi, np.float64)
    w = np.broadcast_to(np.asarray(w, np.float64), phi.shape)
    inside = (phi > 0) & (phi < period)
    x = np.tan(np.where(inside, phi, period / 2) * r / tau - math.pi / 2)
    moved = (np.arctan(x + w / r) + math.pi / 2) * tau / r
    return np.where(inside, moved, phi)
