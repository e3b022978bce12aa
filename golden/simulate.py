"""The event-driven fixed-point simulator: the specification the RTL must equal.

Per step, layer by layer: the events (input events for the first layer, this
step's spikes of the previous layer otherwise) and the layer's own spikes of
the previous step (recurrent) are accumulated exactly into each target's
synaptic input, then every neuron of the layer is updated once. A zero event
contributes nothing, so the vectorised product over the event vector computes
exactly the event-driven sum; the operation counts are those of an
event-driven machine: events x fan-out, plus one update per neuron per step.
Samples are independent and start from zero state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import check_fits, out_of_range
from .network import Decision, Network
from .neuron import LayerState, layer_step, readout_value
from .theta import phase_greater, unpack_state

__all__ = ["Result", "simulate", "decide", "ttfs_decisions", "check_inputs", "check_labels",
           "InputError", "accuracy", "operation_counts"]


class InputError(ValueError):
    """Input events are malformed; the message names the problem."""


@dataclass
class Result:
    """What one run produced, per sample; the basis for every comparison with the RTL."""

    spikes: list[np.ndarray]      # per spiking layer: (samples, steps, size) bool
    readout: np.ndarray           # (samples, steps, outputs) int64, readout state u (theta:
                                  # p * 2**state_bits + q, see golden.theta.pack_state)
    decisions: np.ndarray         # (samples,) or (samples, steps) int64
    synops: np.ndarray            # (samples,) synaptic operations (events x fan-out)
    neuron_updates: np.ndarray    # (samples,)
    layer_spikes: np.ndarray      # (samples, layers) spikes per layer
    input_events: np.ndarray      # (samples,) non-zero input events

    @property
    def samples(self) -> int:
        return self.readout.shape[0]

    def totals(self) -> dict:
        return {"input_events": int(self.input_events.sum()),
                "synaptic_ops": int(self.synops.sum()),
                "neuron_updates": int(self.neuron_updates.sum()),
                "spikes_per_layer": [int(v) for v in self.layer_spikes.sum(axis=0)]}


def check_inputs(network: Network, x) -> np.ndarray:
    """Validate an event array (samples, steps, channels) against the network."""
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise InputError(f"x: dtype {x.dtype} is not an integer type; events are small signed "
                         f"integers (0 = no event)")
    if x.ndim != 3:
        raise InputError(f"x: shape {x.shape}; expected (samples, steps, channels)")
    if x.shape[2] != network.n_inputs:
        raise InputError(f"x: {x.shape[2]} channels, but the network has {network.n_inputs} inputs")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise InputError(f"x: shape {x.shape} holds no samples or no steps")
    if network.theta is not None and x.shape[1] != network.theta.steps:
        raise InputError(f"x: {x.shape[1]} steps per sample, but this theta network's trial is "
                         f"{network.theta.steps} ticks")
    fmt = network.formats.input
    if x.dtype.kind == "u" and x.size and int(x.max()) > fmt.max:   # before int64 could wrap it
        raise InputError(f"x: event value {int(x.max())} outside the network's input format "
                         f"{fmt} [{fmt.min}, {fmt.max}]")
    x = x.astype(np.int64)
    bad = out_of_range(x, fmt)
    if bad is not None:
        raise InputError(f"x: event value {bad} outside the network's input format {fmt} "
                         f"[{fmt.min}, {fmt.max}]")
    return x


def simulate(network: Network, x) -> Result:
    """Run the golden model on events ``x`` (samples, steps, channels)."""
    x = check_inputs(network, x)
    batch, steps, _ = x.shape
    layers = network.layers
    acc_formats = [network.accumulator(i) for i in range(len(layers))]
    states = [LayerState.initial(layer, batch) for layer in layers]
    spikes = [np.zeros((batch, steps, l.size), bool) for l in layers if l.kind.spiking]
    readout = np.zeros((batch, steps, network.n_outputs), np.int64)
    weights = [_exact_weights(layer, network) for layer in layers]
    xf = x.astype(weights[0][2])
    for t in range(steps):
        events = xf[:, t, :]
        k = 0
        for i, layer in enumerate(layers):
            state = states[i]
            w_in, w_rec, kind = weights[i]
            acc = events @ w_in
            if layer.recurrent:
                acc += state.s.astype(kind) @ w_rec
            acc = acc.astype(np.int64)
            check_fits(acc, acc_formats[i], f"layer {i} synaptic input")
            state = layer_step(layer, network.formats, state, acc, network.theta)
            states[i] = state
            if layer.kind.spiking:
                spikes[k][:, t] = state.s
                k += 1
            if i + 1 < len(layers):
                events = state.s.astype(weights[i + 1][2])
        readout[:, t] = readout_value(layers[-1], network.formats, states[-1])
    out_spikes = spikes[-1] if layers[-1].kind.spiking else None
    return Result(spikes=spikes, readout=readout,
                  decisions=decide(network.decision, readout, out_spikes,
                                   state_bits=network.formats.state_bits),
                  **operation_counts(network, x, spikes))


def _exact_weights(layer, network: Network):
    """A layer's weight matrices in the type its synaptic sums are computed in: float64
    (BLAS) when every partial sum of an event-weighted row is an integer below 2**53, so
    float arithmetic is exact in any order, and int64 otherwise. The sums are the same
    integers either way; float64 is several times faster on these sizes."""
    w_max = max(int(np.abs(layer.w_in).max(initial=0)),
                int(np.abs(layer.w_rec).max(initial=0)) if layer.recurrent else 0)
    x_max = 1 << max(network.formats.input_bits, 1)     # events or spikes (0/1)
    fan_in = layer.w_in.shape[0] + (layer.w_rec.shape[0] if layer.recurrent else 0)
    kind = np.float64 if w_max * x_max * fan_in < 2 ** 53 else np.int64
    return (layer.w_in.astype(kind), layer.w_rec.astype(kind) if layer.recurrent else None,
            kind)


def operation_counts(network: Network, x: np.ndarray, spikes: list[np.ndarray]) -> dict:
    """Per-sample counts of an event-driven machine, from the events and spike trains.

    synaptic ops: every non-zero input event and every spike, times the size of
    the layer it feeds (the next layer in the same step; its own layer in the
    next step when recurrent); neuron updates: one per neuron per step.
    """
    batch, steps, _ = x.shape
    input_events = np.count_nonzero(x, axis=(1, 2)).astype(np.int64)
    layers = network.layers
    synops = input_events * layers[0].size
    layer_spikes = np.zeros((batch, len(layers)), np.int64)
    trains = iter(spikes)
    for i, layer in enumerate(layers):
        if not layer.kind.spiking:
            continue
        train = next(trains)
        layer_spikes[:, i] = train.sum(axis=(1, 2))
        if i + 1 < len(layers):
            synops = synops + layer_spikes[:, i] * layers[i + 1].size
        if layer.recurrent:  # spikes of the last step feed no further step
            synops = synops + train[:, :-1].sum(axis=(1, 2)) * layer.size
    return {"synops": synops, "neuron_updates": np.full(batch, steps * sum(l.size for l in layers),
                                                        np.int64),
            "layer_spikes": layer_spikes, "input_events": input_events}


def decide(rule: Decision, readout: np.ndarray, out_spikes: np.ndarray | None, *,
           state_bits: int | None = None) -> np.ndarray:
    """Apply a decision rule; ties go to the lowest neuron index, as in hardware.

    ``first_spike`` gives -1 for a sample whose output layer never spiked.
    ``ttfs`` compares theta states: integer readouts packed with ``state_bits``,
    or float phases when ``state_bits`` is None.
    """
    if rule is Decision.TTFS:
        if state_bits is None:
            return ttfs_decisions(out_spikes, (readout,), lambda a, b: a > b)
        p, q = unpack_state(readout, state_bits)
        return ttfs_decisions(out_spikes, (p, q), phase_greater)
    if rule is Decision.PER_STEP:
        return np.argmax(readout, axis=2).astype(np.int64)
    if rule is Decision.LAST:
        return np.argmax(readout[:, -1], axis=1).astype(np.int64)
    if rule is Decision.SPIKE_COUNT:
        return np.argmax(out_spikes.sum(axis=1), axis=1).astype(np.int64)
    if rule is Decision.FIRST_SPIKE:
        steps = out_spikes.shape[1]
        first = np.where(out_spikes.any(axis=1), np.argmax(out_spikes, axis=1), steps)
        winner = np.argmin(first, axis=1).astype(np.int64)
        return np.where(first.min(axis=1) < steps, winner, -1)
    raise ValueError(f"unknown decision rule {rule!r}")


def ttfs_decisions(out_spikes: np.ndarray, state: tuple, greater) -> np.ndarray:
    """The ``ttfs`` rule from the output spikes (samples, steps, outputs), the outputs'
    states after each step (a tuple of such arrays: (p, q), or (phase,)) and their
    comparison ``greater(*state_a, *state_b)``.

    The earliest step in which any output spiked decides among the outputs that spiked
    in it; without any, the last step decides among all outputs. Outputs are walked in
    index order keeping the greater (the earlier spike, or the larger phase): ties go
    to the lowest index, as the hardware walks them.
    """
    samples, steps, n_out = out_spikes.shape
    any_step = out_spikes.any(axis=2)
    spiked = any_step.any(axis=1)
    step = np.where(spiked, np.argmax(any_step, axis=1), steps - 1)
    rows = np.arange(samples)
    candidate = np.where(spiked[:, None], out_spikes[rows, step], True)
    at = [np.asarray(k)[rows, step] for k in state]          # (samples, outputs) each
    best = np.full(samples, -1, np.int64)
    for j in range(n_out):
        held = np.maximum(best, 0)
        better = greater(*[k[:, j] for k in at], *[k[rows, held] for k in at])
        best = np.where(candidate[:, j] & ((best < 0) | better), j, best)
    return best


def check_labels(network: Network, y, steps: int) -> np.ndarray:
    """Labels that can be scored: classes of the network's outputs, and (per step) at least
    one step after ``skip_steps``."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise InputError(f"y: dtype {y.dtype}; labels are integer classes")
    n = network.n_outputs
    if y.size and (int(y.min()) < 0 or int(y.max()) >= n):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise InputError(f"y: label {bad} is not a class of this network (0..{n - 1}, one per "
                         f"output neuron)")
    if network.decision is Decision.PER_STEP and network.skip_steps >= steps:
        raise InputError(f"decision.skip_steps {network.skip_steps} >= {steps} steps per sample: "
                         f"no step would be scored")
    return y


def accuracy(network: Network, decisions: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct decisions; per-step labels skip ``network.skip_steps``."""
    y = np.asarray(y)
    if decisions.ndim == 2:
        if y.shape != decisions.shape:
            raise InputError(f"y: shape {y.shape}; this network decides per step, so labels "
                             f"must be (samples, steps) = {decisions.shape}")
        check_labels(network, y, decisions.shape[1])
        skip = network.skip_steps
        return float(np.mean(decisions[:, skip:] == y[:, skip:]))
    if y.shape != decisions.shape:
        raise InputError(f"y: shape {y.shape}; this network decides per sample, so labels "
                         f"must be (samples,) = {decisions.shape}")
    check_labels(network, y, 1)
    return float(np.mean(decisions == y))
