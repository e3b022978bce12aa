"""The accelerator's stream encoding, in one place for pysim, cocotb and C++ harnesses.

Input stream payload (``input_layout``), fields LSB first::

    kind    InputKind (2 bits)  EVENT=0, END_STEP=1, END_SAMPLE=2
    channel unsigned(max(1, ceil_log2(n_inputs)))     source channel of an EVENT
    value   signed(input_bits)                        event value of an EVENT

An EVENT adds an input event to the current step (value 0 or channel out of
range: ignored); END_STEP runs every layer and emits the step's outputs;
END_SAMPLE emits the per-sample decision and resets all state to zero.

Output stream payload (``output_layout``), fields LSB first::

    kind    OutputKind (3 bits) SPIKE=0, READOUT=1, DECISION=2, STEP_DONE=3, SAMPLE_DONE=4
    layer   unsigned(max(1, ceil_log2(layers)))
    index   unsigned(max(1, ceil_log2(largest layer)))
    value   signed(readout_bits): state_bits, or 2 * state_bits for a theta readout
            (whose READOUT value is the state packed as p * 2**state_bits + q)

Per step: SPIKE(layer, index) for every spike, layers in order, neurons
ascending (hidden layers only if ``emit_spikes``; the readout layer always);
READOUT(last layer, index, u) for every readout neuron; DECISION(index=winner,
value=0) if the rule is per_step; STEP_DONE. Per sample (at END_SAMPLE):
DECISION for the other rules (value=-1 and index=0: no winner, first_spike
only; ttfs: value=1 when the no-spike rule decided); SAMPLE_DONE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data, enum
from amaranth.utils import ceil_log2

from ..golden.network import Decision, Network, NeuronKind
from ..golden.simulate import Result, check_inputs

__all__ = [
    "InputKind", "OutputKind", "input_layout", "output_layout", "event_layout", "readout_bits",
    "pack", "unpack", "encode_inputs", "Decoded", "decode_outputs", "compare", "ProtocolError",
]


class ProtocolError(ValueError):
    """An output record stream does not follow the protocol."""


class InputKind(enum.Enum, shape=2):
    EVENT = 0
    END_STEP = 1
    END_SAMPLE = 2


class OutputKind(enum.Enum, shape=3):
    SPIKE = 0
    READOUT = 1
    DECISION = 2
    STEP_DONE = 3
    SAMPLE_DONE = 4


def _bits(n: int) -> int:
    return max(1, ceil_log2(n))


def input_layout(network: Network) -> data.StructLayout:
    return data.StructLayout({"kind": InputKind, "channel": unsigned(_bits(network.n_inputs)),
                              "value": signed(network.formats.input_bits)})


def readout_bits(network: Network) -> int:
    """Width of a READOUT value: the state, or both halves of a theta state."""
    bits = network.formats.state_bits
    return 2 * bits if network.readout.kind is NeuronKind.THETA else bits


def output_layout(network: Network) -> data.StructLayout:
    return data.StructLayout({"kind": OutputKind, "layer": unsigned(_bits(len(network.layers))),
                              "index": unsigned(_bits(max(l.size for l in network.layers))),
                              "value": signed(readout_bits(network))})


def event_layout(rows: int, value_bits: int | None) -> data.StructLayout:
    """Synapse-engine events: weight row ``src`` and, for input layers, a signed value."""
    fields = {"src": unsigned(_bits(rows))}
    if value_bits is not None:
        fields["value"] = signed(value_bits)
    return data.StructLayout(fields)


def pack(layout: data.StructLayout, record: dict) -> int:
    """A record (field name -> int) as the integer payload bits of ``layout``."""
    word = 0
    for name, field in layout:
        value = int(record.get(name, 0))
        word |= (value & ((1 << field.width) - 1)) << field.offset
    return word


def unpack(layout: data.StructLayout, word: int) -> dict:
    """Integer payload bits of ``layout`` as a record (field name -> int, signed fields signed)."""
    record = {}
    for name, field in layout:
        value = (int(word) >> field.offset) & ((1 << field.width) - 1)
        if Shape.cast(field.shape).signed and value >> (field.width - 1):
            value -= 1 << field.width
        record[name] = value
    return record


def encode_inputs(network: Network, x) -> list[dict]:
    """Events ``x`` (samples, steps, channels) as input records, in stream order.

    Per step: one EVENT per non-zero value, channels ascending, then END_STEP;
    END_SAMPLE after each sample.
    """
    x = check_inputs(network, x)
    records = []
    for sample in x:
        for step in sample:
            for channel in np.flatnonzero(step):
                records.append({"kind": InputKind.EVENT.value, "channel": int(channel),
                                "value": int(step[channel])})
            records.append({"kind": InputKind.END_STEP.value, "channel": 0, "value": 0})
        records.append({"kind": InputKind.END_SAMPLE.value, "channel": 0, "value": 0})
    return records


@dataclass
class Decoded:
    """Outputs parsed from the accelerator, shaped like ``golden.simulate.Result``."""

    spikes: list            # per spiking layer: (samples, steps, size) bool, None if not emitted
    readout: np.ndarray     # (samples, steps, outputs) int64
    decisions: np.ndarray   # (samples, steps) for per_step, else (samples,)
    decision_values: np.ndarray | None = None   # (samples,) DECISION values of per-sample rules


def decode_outputs(network: Network, records, samples: int, steps: int) -> Decoded:
    """Parse output records (dicts) back into arrays; hidden spikes not emitted stay None."""
    layers = network.layers
    spiking = [i for i, l in enumerate(layers) if l.kind.spiking]
    spikes = {i: np.zeros((samples, steps, layers[i].size), bool) for i in spiking}
    seen_layers = set()
    readout = np.zeros((samples, steps, network.n_outputs), np.int64)
    per_step = network.decision is Decision.PER_STEP
    decisions = np.full((samples, steps) if per_step else (samples,), -2, np.int64)
    decision_values = None if per_step else np.full(samples, -2, np.int64)
    n, t = 0, 0
    for k, rec in enumerate(records):
        kind = OutputKind(rec["kind"])
        where = f"output record {k} ({kind.name}, sample {n}, step {t})"
        if n >= samples:
            raise ProtocolError(f"{where}: more records than {samples} samples")
        if kind is OutputKind.SAMPLE_DONE:
            if t != steps:
                raise ProtocolError(f"{where}: sample ended after {t} steps, expected {steps}")
            n, t = n + 1, 0
            continue
        if kind is OutputKind.DECISION and not per_step:
            decisions[n] = -1 if rec["value"] == -1 else rec["index"]
            decision_values[n] = rec["value"]
            continue
        if t >= steps:
            raise ProtocolError(f"{where}: more than {steps} steps")
        if kind is OutputKind.SPIKE:
            if rec["layer"] not in spikes or rec["index"] >= layers[rec["layer"]].size:
                raise ProtocolError(f"{where}: no spiking neuron {rec['layer']}/{rec['index']}")
            spikes[rec["layer"]][n, t, rec["index"]] = True
            seen_layers.add(rec["layer"])
        elif kind is OutputKind.READOUT:
            if rec["index"] >= network.n_outputs:
                raise ProtocolError(f"{where}: readout index {rec['index']} out of range")
            readout[n, t, rec["index"]] = rec["value"]
        elif kind is OutputKind.DECISION:
            decisions[n, t] = rec["index"]
        elif kind is OutputKind.STEP_DONE:
            t += 1
    if n != samples:
        raise ProtocolError(f"records end in sample {n}, step {t}; expected {samples} samples")
    return Decoded(spikes=[spikes[i] for i in spiking], readout=readout, decisions=decisions,
                   decision_values=decision_values)


def compare(network: Network, expected: Result, got: Decoded, *, hidden_spikes=True,
            limit: int = 10) -> list[str]:
    """Every difference between the golden ``expected`` and the decoded ``got`` (first ``limit``)."""
    problems = []
    spiking = [i for i, l in enumerate(network.layers) if l.kind.spiking]
    last = len(network.layers) - 1
    for k, layer_index in enumerate(spiking):
        if not hidden_spikes and layer_index != last:
            continue
        for n, t, j in np.argwhere(expected.spikes[k] != got.spikes[k]):
            problems.append(f"sample {n} step {t} layer {layer_index} neuron {j}: spike expected "
                            f"{int(expected.spikes[k][n, t, j])}, got {int(got.spikes[k][n, t, j])}")
    for n, t, j in np.argwhere(expected.readout != got.readout):
        problems.append(f"sample {n} step {t} layer {last} neuron {j}: readout expected "
                        f"{expected.readout[n, t, j]}, got {got.readout[n, t, j]}")
    for idx in np.argwhere(expected.decisions != got.decisions):
        idx = tuple(int(i) for i in idx)
        where = f"sample {idx[0]}" + (f" step {idx[1]}" if len(idx) > 1 else "")
        problems.append(f"{where}: decision expected {expected.decisions[idx]}, "
                        f"got {got.decisions[idx]}")
    if network.decision is Decision.TTFS and got.decision_values is not None:
        # value 1: the no-spike rule decided, i.e. no output spiked in the trial
        want = (~expected.spikes[-1].any(axis=(1, 2))).astype(np.int64)
        for n in np.flatnonzero(want != got.decision_values):
            problems.append(f"sample {n}: decision value expected {want[n]} (1: no output "
                            f"spiked, the no-spike rule decided), got {got.decision_values[n]}")
    return problems[:limit] if limit else problems
