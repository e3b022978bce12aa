"""The checker itself: mangled record streams and counters are each reported, with the
sample, step, layer and neuron (a checker that passes them would hide RTL bugs)."""

import copy

import numpy as np
import pytest

from spikeforge.golden import Decision, NeuronKind, simulate
from spikeforge.golden.randnet import random_events, random_network
from spikeforge.hdl.protocol import OutputKind, compare_records, expected_records
from spikeforge.sim.scoreboard import Scoreboard, sample_deltas

SPIKE, READOUT, DECISION = OutputKind.SPIKE.value, OutputKind.READOUT.value, OutputKind.DECISION.value
STEP_DONE = OutputKind.STEP_DONE.value


@pytest.fixture(scope="module")
def case():
    net = random_network(3, 4, (12,), 3, readout=NeuronKind.LIF, decision=Decision.PER_STEP)
    x = random_events(1, 2, 6, 4, rate=0.6)
    golden = simulate(net, x)
    records = expected_records(net, golden)
    assert compare_records(net, golden, records, limit=0) == []
    return net, golden, records


def first_step_with(records, kind, count=2):
    """Indices of the first step's records of ``kind`` when it has at least ``count``."""
    step = []
    for k, r in enumerate(records):
        if r["kind"] == kind:
            step.append(k)
        if r["kind"] == STEP_DONE:
            if len(step) >= count:
                return step
            step = []
    raise AssertionError("no such step")


def mangle(records, how):
    out = copy.deepcopy(records)
    spikes = first_step_with(out, SPIKE)
    readouts = first_step_with(out, READOUT)
    if how == "reversed spikes":
        out[spikes[0]], out[spikes[1]] = out[spikes[1]], out[spikes[0]]
    elif how == "duplicated spike":
        out.insert(spikes[0], dict(out[spikes[0]]))
    elif how == "missing spike":
        del out[spikes[0]]
    elif how == "repeated readout":
        out.insert(readouts[0], dict(out[readouts[0]]))
    elif how == "missing readout":
        del out[readouts[1]]
    elif how == "readout value":
        out[readouts[1]]["value"] += 1
    elif how == "missing step_done":
        del out[next(k for k, r in enumerate(out) if r["kind"] == STEP_DONE)]
    elif how == "extra record":
        out.append({"kind": SPIKE, "layer": 0, "index": 0, "value": 0})
    elif how == "wrong decision":
        k = next(k for k, r in enumerate(out) if r["kind"] == DECISION)
        out[k]["index"] = (out[k]["index"] + 1) % 3
    return out


@pytest.mark.parametrize("how, expect", [
    ("reversed spikes", "out of order"), ("duplicated spike", "repeated"),
    ("missing spike", "spike expected 1, got 0"), ("repeated readout", "READOUT record repeated"),
    ("missing readout", "READOUT record missing"), ("readout value", "readout expected"),
    ("missing step_done", "step too many or too few"), ("extra record", "extra step(s)"),
    ("wrong decision", "DECISION"),
])
def test_every_mangled_stream_is_reported_where_it_is(case, how, expect):
    net, golden, records = case
    problems = compare_records(net, golden, mangle(records, how), limit=0)
    assert problems and any(expect in p for p in problems), (how, problems)
    first = problems[0]
    assert first.startswith("after the last sample" if how == "extra record" else "sample ")
    if how not in ("missing step_done", "extra record", "wrong decision"):
        assert " step " in first and " layer " in first and " neuron " in first, first


def test_a_missing_readout_whose_value_is_zero_is_still_missing():
    net = random_network(5, 3, (4,), 2)
    for layer in net.layers:
        layer.bias[:] = 0
    x = np.zeros((1, 3, 3), np.int64)                 # silent, no bias: every readout stays 0
    golden = simulate(net, x)
    records = expected_records(net, golden)
    readouts = [k for k, r in enumerate(records) if r["kind"] == READOUT]
    assert all(records[k]["value"] == 0 for k in readouts)
    del records[readouts[0]]
    assert any("READOUT record missing" in p for p in compare_records(net, golden, records))


def test_scoreboard_checks_every_samples_counters(case):
    net, golden, records = case
    per_sample = []
    total = {"SYNOPS": 0, "NEURON_UPDATES": 0, "INPUT_EVENTS": 0, "DROPPED_EVENTS": 0,
             "SPIKES": [0, 0]}
    for n in range(2):
        total = {"SYNOPS": total["SYNOPS"] + int(golden.synops[n]),
                 "NEURON_UPDATES": total["NEURON_UPDATES"] + int(golden.neuron_updates[n]),
                 "INPUT_EVENTS": total["INPUT_EVENTS"] + int(golden.input_events[n]),
                 "DROPPED_EVENTS": 0,
                 "SPIKES": [a + int(b) for a, b in zip(total["SPIKES"], golden.layer_spikes[n])]}
        per_sample.append(total)
    board = Scoreboard(net, hidden_spikes=True)
    assert board.check(golden, records, 2, 6, per_sample[-1], per_sample) == []
    shifted = copy.deepcopy(per_sample)        # one op counted in the wrong sample
    shifted[0]["SYNOPS"] += 1
    problems = Scoreboard(net, hidden_spikes=True).check(golden, records, 2, 6, shifted[-1], shifted)
    assert any(p.startswith("sample 0: counter SYNOPS") for p in problems)
    assert any(p.startswith("sample 1: counter SYNOPS") for p in problems)
    assert sample_deltas([{"CYCLES": 2**32 - 1, "SPIKES": [1]}, {"CYCLES": 3, "SPIKES": [2]}]) == \
        [{"CYCLES": 2**32 - 1, "SPIKES": [1]}, {"CYCLES": 4, "SPIKES": [1]}]
