"""Seeded random networks and inputs, for tests and benchmarks."""

from __future__ import annotations

import numpy as np

from .network import Decision, Formats, NeuronKind
from .reference import FloatLayer, FloatNetwork, quantize

__all__ = ["random_float_network", "random_network", "random_events", "random_float_theta_network",
           "random_theta_network"]


def random_float_network(seed: int, n_inputs: int = 4, hidden=(16,), n_outputs: int = 3, *,
                         recurrent: bool = True, kind: NeuronKind = NeuronKind.ALIF,
                         readout: NeuronKind = NeuronKind.LI,
                         decision: Decision = Decision.PER_STEP,
                         weight_scale: float = 0.6) -> FloatNetwork:
    """A float network whose hidden layers fire at a moderate rate on random input."""
    rng = np.random.default_rng(seed)
    layers = []
    n_in = n_inputs
    sizes = list(hidden) + [n_outputs]
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1
        layer_kind = readout if last else kind
        layers.append(FloatLayer(
            kind=layer_kind,
            w_in=rng.normal(0.0, weight_scale * 2 / np.sqrt(n_in), (n_in, size)),
            w_rec=(rng.normal(0.0, weight_scale / np.sqrt(size), (size, size))
                   if recurrent and not last else None),
            bias=rng.normal(0.0, 0.02, size),
            tau_m=rng.uniform(3.0, 25.0, size),
            tau_adp=rng.uniform(20.0, 300.0, size),
            b0=0.1, beta=1.8 if layer_kind is NeuronKind.ALIF else 0.0,
            name="readout" if last else f"hidden{i}"))
        n_in = size
    return FloatNetwork(n_inputs=n_inputs, layers=layers, decision=decision,
                        name=f"random-{seed}")


def random_network(seed: int, *args, formats: Formats | None = None, **kwargs):
    """The quantised twin of ``random_float_network``."""
    return quantize(random_float_network(seed, *args, **kwargs), formats)


def random_events(seed: int, samples: int, steps: int, channels: int, *, rate: float = 0.3,
                  values=(1,)) -> np.ndarray:
    """Events (samples, steps, channels): each channel fires with ``rate``, value drawn from ``values``."""
    rng = np.random.default_rng(seed)
    fire = rng.random((samples, steps, channels)) < rate
    vals = rng.choice(np.asarray(values, np.int64), size=fire.shape)
    return np.where(fire, vals, 0).astype(np.int64)


def random_float_theta_network(seed: int, n_inputs: int = 8, hidden=(16,), n_outputs: int = 4, *,
                               steps: int = 32, trial: float = 2.0, recurrent: bool = False,
                               weight_scale: float = 3.0, tau: float = 6 / np.pi,
                               i0: float = 1.25, decay_bits: int = 16,
                               rotation_shift: int | None = None):
    """A float theta network (``Decision.TTFS``) whose layers spike within the trial on
    random binary input; initial phases spread around half the period. ``rotation_shift``:
    a tick whose flow is a power of two (``FloatTheta.power_of_two``), else about
    ``trial / steps``."""
    from .reference import FloatTheta
    rng = np.random.default_rng(seed)
    theta = (FloatTheta.exact(tau, i0, trial, steps, decay_bits) if rotation_shift is None
             else FloatTheta.power_of_two(tau, i0, rotation_shift, steps))
    layers, n_in = [], n_inputs
    sizes = list(hidden) + [n_outputs]
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1
        layers.append(FloatLayer(
            kind=NeuronKind.THETA,
            w_in=rng.normal(0.3, 1.0, (n_in, size)) * weight_scale / np.sqrt(n_in),
            w_rec=(rng.normal(0.0, 1.0, (size, size)) * weight_scale / np.sqrt(size)
                   if recurrent and not last else None),
            phi0=rng.uniform(0.35, 0.75, size) * theta.period,
            name="output" if last else f"hidden{i}"))
        n_in = size
    return FloatNetwork(n_inputs=n_inputs, layers=layers, decision=Decision.TTFS,
                        name=f"random-theta-{seed}", theta=theta)


def random_theta_network(seed: int, *args, formats: Formats | None = None, **kwargs):
    """The quantised twin of ``random_float_theta_network``."""
    return quantize(random_float_theta_network(seed, *args, **kwargs), formats)
