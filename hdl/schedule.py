"""The accelerator's schedule, described once: the sequencer is built from it and the cycle
model counts it.

``step_phases`` and ``sample_phases`` list what the core does for each step
(at END_STEP) and each sample (at END_SAMPLE), in order; ``Accelerator``
generates one FSM state group per phase from these lists, and ``cycles``
adds up each phase's length from a golden result. Every length is a fixed
latency of the part that does the work (``SynapseEngine``, the neuron
engines, ``SpikeList``) plus the work itself (events x words, spikes, words),
so the model predicts the CYCLES counter exactly; output back-pressure adds
exactly the STALL_CYCLES it counts (CYCLES - STALL_CYCLES is what the model
gives, whatever the consumer does).

Three counters: STEP_CYCLES, the clocks the sequencer works (``step_cycles``,
exact once the output stalls, STALL_CYCLES, are taken off); INPUT_CYCLES, the
clocks the first layer's synapse engine issues weight words for input events
(``input_cycles``: one per word of each event's row, whatever the gaps between
events); CYCLES, the clocks either works (``cycles``, exact when the inputs
come back to back and the results are always taken). Input events enter
while the sequencer idles and also once the first layer's neuron engine is
done (the rest of the step hides the next step's input, ``input_windows``); END_STEP
and END_SAMPLE are taken only when the sequencer idles and that engine is
idle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..golden.network import Decision, Network, NeuronKind
from ..golden.simulate import Result
from .config import HardwareConfig

__all__ = ["Phase", "step_phases", "sample_phases", "cycles", "step_cycles", "input_cycles",
           "per_step_cycles", "step_lengths", "input_windows", "words", "SYNAPSE_DRAIN"]

#: Clocks the synapse engine needs after its last weight word (stages R, B, B2 and C).
SYNAPSE_DRAIN = 4


@dataclass(frozen=True)
class Phase:
    """One part of a step or sample.

    ``feed``: stream layer ``src``'s spike list into layer ``dst``'s synapse engine (rows
    from ``offset``) until the engine is idle again; ``update``: one neuron-engine pass over
    layer ``dst`` (its synapse engine is idle: input events end before END_STEP is taken),
    and with ``feeds`` its new spikes streamed into layer ``feeds``'s synapse engine as the
    pass appends them, until that engine is idle too; ``emit``: stream layer ``src``'s spikes as
    SPIKE records; ``readout``: one READOUT per output neuron; ``ttfs_walk``: the ttfs
    comparison walk (``first``: among this step's spiking outputs; else the final phases);
    ``decide``, ``step_done``, ``count_max``, ``decide_sample``, ``clear``,
    ``sample_done``.
    """

    kind: str
    src: int | None = None
    dst: int | None = None
    offset: int = 0
    first: bool = False
    feeds: int | None = None


def words(size: int, lanes: int) -> int:
    return -(-size // lanes)


def step_phases(network: Network, config: HardwareConfig) -> list[Phase]:
    layers, last = network.layers, len(network.layers) - 1
    phases = []
    n_in = network.n_inputs
    for i, layer in enumerate(layers):
        if layer.recurrent:
            phases.append(Phase("feed", src=i, dst=i, offset=n_in))   # own spikes, last step
        # the layer's new spikes go on into the next layer as they come (that layer's own
        # spikes of the last step follow, in the next iteration)
        phases.append(Phase("update", dst=i, feeds=i + 1 if i < last else None))
        n_in = layer.size
    for i, layer in enumerate(layers):
        if layer.kind.spiking and (config.emit_spikes or i == last):
            phases.append(Phase("emit", src=i))
    phases.append(Phase("readout"))
    if network.decision is Decision.TTFS:
        phases.append(Phase("ttfs_walk", first=True))
    if network.decision is Decision.PER_STEP:
        phases.append(Phase("decide"))
    phases.append(Phase("step_done"))
    return phases


def sample_phases(network: Network) -> list[Phase]:
    phases = []
    if network.decision is Decision.SPIKE_COUNT:
        phases.append(Phase("count_max"))
    if network.decision is Decision.TTFS:
        phases.append(Phase("ttfs_walk", first=False))
    if network.decision is not Decision.PER_STEP:
        phases.append(Phase("decide_sample"))
    return phases + [Phase("clear"), Phase("sample_done")]


# -- phase lengths (clocks the sequencer spends in the phase) --

def _latencies():
    from .spikes import EMPTY_LENGTH, STREAM_LATENCY
    return STREAM_LATENCY, EMPTY_LENGTH


def _stages(network: Network, index: int) -> int:
    """The pipeline stages of layer ``index``'s neuron (or theta) engine."""
    from .neuron import engine_stages
    from .theta import theta_stages
    kind = network.layers[index].kind
    return theta_stages(network.theta.rotation) if kind is NeuronKind.THETA else engine_stages(kind)


def feed_length(spikes, words_dst: int):
    """The start clock; an empty list's busy clocks; or the list's latency, one event per
    ``words_dst`` clocks (the synapse engine takes the next event as it issues the last word
    of the one before), the engine's drain and the clock that sees it idle."""
    latency, empty = _latencies()
    spikes = np.asarray(spikes)
    return 1 + np.where(spikes > 0, latency + spikes * words_dst + SYNAPSE_DRAIN + 1, empty)


def emit_length(spikes):
    """The start clock; an empty list's busy clocks; or the latency and one record a clock."""
    latency, empty = _latencies()
    spikes = np.asarray(spikes)
    return 1 + np.where(spikes > 0, latency + spikes, empty)


def update_length(network: Network, index: int, words_layer: int) -> int:
    """The start clock, one word per clock, the engine's pipeline, the clock that sees it done."""
    return 2 + words_layer + _stages(network, index)


def update_feed_length(network: Network, index: int, words_layer: int, words_dst: int,
                       word_spikes: np.ndarray) -> np.ndarray:
    """An update whose spikes stream into the next layer as they come (``word_spikes``: the
    spikes of each of the layer's words, (..., words_layer)).

    Word ``w`` is written back ``1 + w + stages`` clocks after the start; its entry's first
    index is valid ``APPEND_DELAY + LIVE_LATENCY`` later, or, if the synapse engine is still
    busy with earlier spikes, when it takes the next (every ``words_dst`` clocks). The phase
    ends when the update is done and its list closed, and the engine has drained its last
    event, whichever is later (clock counts as in ``update_length`` and ``feed_length``)."""
    from .layer import APPEND_DELAY
    from .spikes import CLOSE_LATENCY, LIVE_LATENCY
    stages = _stages(network, index)
    word_spikes = np.asarray(word_spikes)
    taken = np.full(word_spikes.shape[:-1], -(1 << 40), np.int64)   # the last take so far
    for w in range(words_layer):
        n = word_spikes[..., w]
        first = np.maximum(1 + w + stages + APPEND_DELAY + LIVE_LATENCY, taken + words_dst)
        taken = np.where(n > 0, first + (n - 1) * words_dst, taken)
    closed = 1 + words_layer + stages + APPEND_DELAY + CLOSE_LATENCY   # the list's busy drops
    drained = taken + words_dst + SYNAPSE_DRAIN + 1                    # the engine's busy drops
    return 1 + np.where(word_spikes.sum(axis=-1) > 0, np.maximum(closed, drained), closed)


def ttfs_walk_length(network: Network, compared, ran):
    """The walk's entry, then per output: address, latch, (B - 1 clocks of shift-and-add
    when it is compared with a best so far), keep; then the winner's clock. 1 when skipped."""
    n_out, B = network.n_outputs, network.formats.state_bits
    compared, ran = np.asarray(compared), np.asarray(ran)
    return np.where(ran, 2 + 3 * n_out + compared * (B - 1), 1)


def step_lengths(network: Network, config: HardwareConfig, result: Result) -> dict:
    """Each step phase's clocks, (samples, steps) arrays keyed by the phase's index in
    ``step_phases``."""
    P = config.lanes
    layers = network.layers
    W = [words(l.size, P) for l in layers]
    samples, steps, _ = result.readout.shape
    spiking = [i for i, l in enumerate(layers) if l.kind.spiking]
    now = {i: result.spikes[k].sum(axis=2) for k, i in enumerate(spiking)}      # (samples, steps)
    zero = np.zeros((samples, steps), np.int64)
    before = {i: np.concatenate([zero[:, :1], s[:, :-1]], axis=1) for i, s in now.items()}
    lengths = {}
    for n, phase in enumerate(step_phases(network, config)):
        k = phase.kind
        if k == "feed":
            spikes = before[phase.src] if phase.src == phase.dst else now.get(phase.src, zero)
            length = feed_length(spikes, W[phase.dst])
        elif k == "update" and phase.feeds is not None:
            spikes = (result.spikes[spiking.index(phase.dst)] if phase.dst in spiking else
                      np.zeros((samples, steps, layers[phase.dst].size), np.int64))
            padded = np.zeros(spikes.shape[:2] + (W[phase.dst] * P,), np.int64)
            padded[..., :spikes.shape[2]] = spikes
            length = update_feed_length(network, phase.dst, W[phase.dst], W[phase.feeds],
                                        padded.reshape(spikes.shape[:2] + (W[phase.dst], P)).sum(-1))
        elif k == "update":
            length = update_length(network, phase.dst, W[phase.dst]) + zero
        elif k == "emit":
            length = emit_length(now[phase.src])
        elif k == "readout":
            length = 2 + network.n_outputs + zero      # the start, one per output, the last's decision
        elif k == "ttfs_walk":
            out = result.spikes[-1]                                   # (samples, steps, n_out)
            spiked_now = out.any(axis=2)
            found_before = (np.cumsum(spiked_now, axis=1) - spiked_now) > 0
            compared = np.maximum(out.sum(axis=2) - 1, 0)
            length = ttfs_walk_length(network, compared, spiked_now & ~found_before)
        elif k in ("decide", "step_done"):
            length = 1 + zero
        else:
            raise AssertionError(f"no length for step phase {k!r}")
        lengths[n] = length
    return lengths


def per_step_cycles(network: Network, config: HardwareConfig, result: Result,
                    x: np.ndarray | None = None) -> np.ndarray:
    """The sequencer's clocks of every step (samples, steps), from the golden result."""
    return sum(step_lengths(network, config, result).values())


def input_cycles(network: Network, config: HardwareConfig, x) -> np.ndarray:
    """INPUT_CYCLES of every step (samples, steps): one clock per weight word of each event."""
    return np.count_nonzero(np.asarray(x), axis=2) * words(network.layers[0].size, config.lanes)


def input_windows(network: Network, config: HardwareConfig, result: Result) -> np.ndarray:
    """The clocks of every step after the first layer's neuron engine is done (also while its
    spikes still stream into the next layer), in which the next step's input events already
    enter (samples, steps)."""
    phases = step_phases(network, config)
    lengths = step_lengths(network, config, result)
    first_update = next(n for n, p in enumerate(phases) if p.kind == "update")
    engine_done = update_length(network, 0, words(network.layers[0].size, config.lanes))
    return lengths[first_update] - engine_done + \
        sum(lengths[n] for n in range(first_update + 1, len(phases)))


def sample_overhead(network: Network, config: HardwareConfig, result: Result) -> np.ndarray:
    """Clocks of each sample's end (END_SAMPLE): decisions, the clear pass, SAMPLE_DONE."""
    P = config.lanes
    samples = result.readout.shape[0]
    total = np.zeros(samples, np.int64)
    for phase in sample_phases(network):
        k = phase.kind
        if k == "count_max":
            total = total + 1 + network.n_outputs
        elif k == "ttfs_walk":
            spiked = result.spikes[-1].any(axis=(1, 2))
            total = total + ttfs_walk_length(network, network.n_outputs - 1, ~spiked)
        elif k in ("decide_sample", "sample_done"):
            total = total + 1
        elif k == "clear":
            total = total + 2 + max(words(l.size, P) for l in network.layers)
        else:
            raise AssertionError(f"no length for sample phase {k!r}")
    return total


def step_cycles(network: Network, config: HardwareConfig, result: Result) -> np.ndarray:
    """STEP_CYCLES - STALL_CYCLES of each sample: its steps' phases and its end."""
    return per_step_cycles(network, config, result).sum(axis=1) + \
        sample_overhead(network, config, result)


def cycles(network: Network, config: HardwareConfig, result: Result, x) -> np.ndarray:
    """CYCLES of each sample when the input events come back to back and the results are
    always taken: the sequencer's clocks and the input clocks that no step's end hides (the
    next step's input enters in the clocks after the first layer's update; a sample's first
    step's input comes before any)."""
    inputs = input_cycles(network, config, x)
    windows = input_windows(network, config, result)
    hidden = np.zeros_like(inputs)
    hidden[:, 1:] = np.minimum(inputs[:, 1:], np.maximum(windows[:, :-1] - INPUT_WINDOW_START, 0))
    return step_cycles(network, config, result) + (inputs - hidden).sum(axis=1)


#: Clocks at the start of a window before the first input word is issued (the event is
#: taken in the window's first clock, stage A issues from the next).
INPUT_WINDOW_START = 1
