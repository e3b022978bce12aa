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
    "expected_records", "compare_records", "streams_json",
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


def _layout_json(layout: data.StructLayout) -> dict:
    fields = []
    for name, field in layout:
        shape = field.shape
        entry = {"name": name, "offset": field.offset, "width": field.width}
        if isinstance(shape, type) and issubclass(shape, enum.Enum):
            entry["values"] = {k.name: k.value for k in shape}
        else:
            entry["signed"] = Shape.cast(shape).signed
        fields.append(entry)
    return {"width": layout.size, "fields": fields}


def streams_json(network: Network) -> dict:
    """The two streams' payload encodings (fields LSB first, the kinds' codes) and their
    order, as the manifest states them (this module's docstring in full)."""
    return {
        "handshake": "valid/ready: a record moves on a clock edge with both high",
        "events": {**_layout_json(input_layout(network)),
                   "order": "per step: EVENT records (channels increasing; value +-1 or a "
                            "signed level), then END_STEP; END_SAMPLE after the last step"},
        "results": {**_layout_json(output_layout(network)),
                    "order": "per step: SPIKE(layer, index) for each spike, layers in order, "
                             "neurons ascending (hidden layers only if emit_spikes); "
                             "READOUT(last layer, index, value) per output; DECISION if per "
                             "step; STEP_DONE. Per sample: DECISION for the other rules "
                             "(first_spike: value -1 = no winner; ttfs: value 1 = the no-spike "
                             "rule decided); SAMPLE_DONE"},
    }


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


def expected_records(network: Network, expected: Result, *, hidden_spikes: bool = True) -> list[dict]:
    """The exact output record stream the accelerator must produce for the golden ``expected``
    (the order of the module docstring; unused fields are 0)."""
    layers = network.layers
    last = len(layers) - 1
    spiking = [i for i, l in enumerate(layers) if l.kind.spiking]
    emitted = [(k, i) for k, i in enumerate(spiking) if hidden_spikes or i == last]
    per_step = network.decision is Decision.PER_STEP
    samples, steps, n_out = expected.readout.shape

    def rec(kind, layer=0, index=0, value=0):
        return {"kind": kind.value, "layer": int(layer), "index": int(index), "value": int(value)}

    out = []
    for n in range(samples):
        for t in range(steps):
            for k, i in emitted:
                out += [rec(OutputKind.SPIKE, i, j) for j in np.flatnonzero(expected.spikes[k][n, t])]
            out += [rec(OutputKind.READOUT, last, j, expected.readout[n, t, j]) for j in range(n_out)]
            if per_step:
                out.append(rec(OutputKind.DECISION, 0, expected.decisions[n, t]))
            out.append(rec(OutputKind.STEP_DONE))
        if not per_step:
            winner = int(expected.decisions[n])
            if network.decision is Decision.TTFS:
                value = 0 if expected.spikes[-1][n].any() else 1     # 1: the no-spike rule
            else:
                value = -1 if winner < 0 else 0
            out.append(rec(OutputKind.DECISION, 0, max(winner, 0), value))
        out.append(rec(OutputKind.SAMPLE_DONE))
    return out


def _describe(rec: dict) -> str:
    try:
        kind = OutputKind(rec["kind"]).name
    except ValueError:
        kind = f"kind {rec['kind']}"
    if kind == "SPIKE":
        return f"SPIKE layer {rec['layer']} neuron {rec['index']}"
    if kind == "READOUT":
        return f"READOUT layer {rec['layer']} neuron {rec['index']} value {rec['value']}"
    if kind == "DECISION":
        return f"DECISION {rec['index']} (value {rec['value']})"
    return kind


def _units(records) -> list[tuple[str, list]]:
    """A record stream cut into ("step", records) and ("sample", records) units, each
    ending with its STEP_DONE or SAMPLE_DONE (a trailing rest is an ("open", ...) unit)."""
    units, current = [], []
    for rec in records:
        current.append(rec)
        if rec["kind"] == OutputKind.STEP_DONE.value:
            units.append(("step", current))
            current = []
        elif rec["kind"] == OutputKind.SAMPLE_DONE.value:
            units.append(("sample", current))
            current = []
    if current:
        units.append(("open", current))
    return units


def _compare_unit(where: str, want: list, got: list) -> list[str]:
    """Differences inside one step (or one sample's end), named by layer and neuron."""
    if want == got:
        return []
    problems = []
    spike = OutputKind.SPIKE.value
    w_spikes = [(r["layer"], r["index"]) for r in want if r["kind"] == spike]
    g_spikes = [(r["layer"], r["index"]) for r in got if r["kind"] == spike]
    for layer, j in sorted(set(w_spikes) - set(g_spikes)):
        problems.append(f"{where} layer {layer} neuron {j}: spike expected 1, got 0")
    for layer, j in sorted(set(g_spikes) - set(w_spikes)):
        problems.append(f"{where} layer {layer} neuron {j}: spike expected 0, got 1")
    for layer, j in sorted({s for s in g_spikes if g_spikes.count(s) > 1}):
        problems.append(f"{where} layer {layer} neuron {j}: SPIKE record repeated "
                        f"{g_spikes.count((layer, j))} times")
    if not problems and g_spikes != w_spikes:
        first = next(k for k, (a, b) in enumerate(zip(w_spikes, g_spikes)) if a != b)
        problems.append(f"{where} layer {g_spikes[first][0]} neuron {g_spikes[first][1]}: SPIKE "
                        f"records out of order (expected layers in order, neurons ascending)")
    others_w = [r for r in want if r["kind"] != spike]
    others_g = [r for r in got if r["kind"] != spike]
    readout = OutputKind.READOUT.value
    w_ro = {r["index"]: r for r in others_w if r["kind"] == readout}
    g_ro = [r for r in others_g if r["kind"] == readout]
    seen = set()
    for r in g_ro:
        j = r["index"]
        if j in seen:
            problems.append(f"{where} layer {r['layer']} neuron {j}: READOUT record repeated")
        seen.add(j)
        if j not in w_ro or r["layer"] != w_ro[j]["layer"]:
            problems.append(f"{where} layer {r['layer']} neuron {j}: READOUT record not expected")
        elif r["value"] != w_ro[j]["value"]:
            problems.append(f"{where} layer {r['layer']} neuron {j}: readout expected "
                            f"{w_ro[j]['value']}, got {r['value']}")
    for j in sorted(set(w_ro) - seen):
        problems.append(f"{where} layer {w_ro[j]['layer']} neuron {j}: READOUT record missing "
                        f"(expected value {w_ro[j]['value']})")
    if not problems and [r["index"] for r in g_ro] != sorted(w_ro):
        problems.append(f"{where}: READOUT records out of order (expected neurons ascending)")
    rest_w = [r for r in others_w if r["kind"] != readout]
    rest_g = [r for r in others_g if r["kind"] != readout]
    if rest_w != rest_g:
        problems.append(f"{where}: expected {', '.join(map(_describe, rest_w)) or 'nothing'}, "
                        f"got {', '.join(map(_describe, rest_g)) or 'nothing'}")
    if not problems:   # same records, another interleaving of kinds
        problems.append(f"{where}: records out of order: expected "
                        f"{', '.join(map(_describe, want))}, got {', '.join(map(_describe, got))}")
    return problems


def compare_records(network: Network, expected: Result, records, *, hidden_spikes: bool = True,
                    limit: int = 10) -> list[str]:
    """Every difference between the record stream the golden ``expected`` demands and the
    ``records`` the RTL produced, step by step: a record missing, extra, repeated or out of
    order, or a value that differs, each named by sample, step, layer and neuron."""
    want = _units(expected_records(network, expected, hidden_spikes=hidden_spikes))
    got = _units([{k: int(r.get(k, 0)) for k in ("kind", "layer", "index", "value")}
                  for r in records])
    problems = []
    n = t = 0
    for k in range(max(len(want), len(got))):
        if k >= len(got):
            problems.append(f"sample {n} step {t}: the stream ends; expected "
                            f"{len(want) - k} more step(s) or sample end(s)")
            break
        if k >= len(want):
            problems.append(f"after the last sample: {len(got) - k} extra step(s) or sample "
                            f"end(s), starting {', '.join(map(_describe, got[k][1][:3]))}")
            break
        (w_kind, w_recs), (g_kind, g_recs) = want[k], got[k]
        where = f"sample {n} step {t}" if w_kind == "step" else f"sample {n}"
        if w_kind != g_kind:
            problems.append(f"{where}: expected the {'step' if w_kind == 'step' else 'sample'} "
                            f"to end with {_describe(w_recs[-1])}, got {_describe(g_recs[-1])} "
                            f"(a step too many or too few)")
            break
        problems += _compare_unit(where, w_recs, g_recs)
        if w_kind == "step":
            t += 1
        else:
            n, t = n + 1, 0
        if limit and len(problems) >= limit:
            break
    return problems[:limit] if limit else problems
