"""The generated RTL against the golden model, exactly, in Verilator and Icarus (cocotb).

Each design is built once per simulator (cached by its Verilog's hash) and
reused by every job below; every job compares every output record and every
counter with the golden model.
"""

import numpy as np
import pytest

from conftest import require_simulator
from spikeforge.golden import Decision, Formats, NeuronKind, simulate
from spikeforge.golden.randnet import random_events, random_network, random_theta_network
from spikeforge.hdl.config import AddressMap, HardwareConfig
from spikeforge.sim.runner import build_cocotb

SIMULATORS = ["verilator", "icarus"]

DESIGNS = {
    "rec-alif-li-P1": (lambda: random_network(21, 4, (12,), 3), 1),
    "two-hidden-P2": (lambda: random_network(22, 5, (10, 6), 4), 2),
    "lif-ff-alif-readout-spike-count-P4": (
        lambda: random_network(23, 6, (9,), 3, recurrent=False, kind=NeuronKind.LIF,
                               readout=NeuronKind.ALIF, decision=Decision.SPIKE_COUNT), 4),
    "cuba-recurrent-P2": (
        lambda: random_network(25, 4, (10,), 3, kind=NeuronKind.CUBA, readout=NeuronKind.CUBA,
                               decision=Decision.SPIKE_COUNT, weight_scale=1.5), 2),
    "rec-alif-P8": (lambda: random_network(27, 4, (20,), 3), 8),
    "two-hidden-P16": (lambda: random_network(28, 5, (40, 18), 4, weight_scale=0.8), 16),
    "theta-rec-two-hidden-ttfs-P2": (
        lambda: random_theta_network(26, 6, (10, 6), 4, steps=10, recurrent=True), 2),
    "saturating-first-spike-P2": (
        lambda: random_network(24, 4, (8,), 3, readout=NeuronKind.LIF, decision=Decision.FIRST_SPIKE,
                               formats=Formats(state_bits=8, guard_bits=0), weight_scale=1.5), 2),
}

_models = {}


def model_for(simulator, design):
    require_simulator(simulator)
    key = (simulator, design)
    if key not in _models:
        make, lanes = DESIGNS[design]
        _models[key] = build_cocotb(make(), HardwareConfig(lanes=lanes), simulator)
    return _models[key]


def assert_equal_to_golden(run):
    assert run.mismatches == [], run.mismatches[:5]
    assert run.records, "no output records"


@pytest.mark.parametrize("design", list(DESIGNS))
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_random_networks_with_backpressure_and_gaps(simulator, design):
    model = model_for(simulator, design)
    net = model.network
    for seed in (1, 2):
        x = random_events(seed, 2, 10, net.n_inputs, rate=0.4, values=(1, -1))
        run = model.run(x, stall=0.3, gaps=0.2, seed=seed)
        assert_equal_to_golden(run)
        golden = simulate(net, x).totals()
        assert run.counters["SYNOPS"] == golden["synaptic_ops"]
        assert run.counters["SPIKES"] == golden["spikes_per_layer"]


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_corner_inputs(simulator):
    model = model_for(simulator, "rec-alif-li-P1")
    n = model.network.n_inputs
    silent = np.zeros((1, 6, n), np.int64)
    all_firing = np.ones((1, 6, n), np.int64)          # maximum fan-out every step
    empty_steps = np.zeros((1, 6, n), np.int64)
    empty_steps[0, 2] = 1
    back_to_back = np.zeros((2, 4, n), np.int64)
    back_to_back[:, :, :] = -1                          # every event hits every neuron
    for x in (silent, all_firing, empty_steps, back_to_back):
        assert_equal_to_golden(model.run(x))


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_runtime_weight_loading(simulator):
    model = model_for(simulator, "rec-alif-li-P1")
    original = model.network
    rng = np.random.default_rng(5)
    loaded = random_network(21, 4, (12,), 3)
    for layer in loaded.layers:       # permuting rows keeps every column's sums: same accumulator
        layer.w_in = layer.w_in[rng.permutation(layer.n_in)]
        layer.bias = -layer.bias
    assert not np.array_equal(loaded.layers[0].w_in, original.layers[0].w_in)
    writes = AddressMap(original, model.config).network_writes(loaded)
    x = random_events(3, 2, 8, 4, values=(1, -1))
    run = model.run(x, network=loaded, writes=writes)
    assert_equal_to_golden(run)
    assert not np.array_equal(simulate(loaded, x).readout, simulate(original, x).readout)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_scoreboard_reports_a_planted_fault_where_it_is(simulator):
    model = model_for(simulator, "rec-alif-li-P1")
    net = model.network
    x = random_events(4, 2, 10, 4, rate=0.5, values=(1, -1))
    # corrupt the readout weight from the hidden neuron that spikes first, to output neuron 1
    spikes = simulate(net, x).spikes[0]
    sample, step, src = (int(v) for v in np.argwhere(spikes)[0])
    w = int(net.layers[1].w_in[src, 1])
    bad = w - 100 if w > 0 else w + 100
    address = AddressMap(net, model.config).address("layers.1.weights", src, 1)
    run = model.run(x, writes=[(address, bad)])
    assert run.mismatches, "a corrupted weight went unnoticed"
    readout = [m for m in run.mismatches if "readout" in m]
    assert readout[0].startswith(f"sample {sample} step {step} layer 1 neuron 1: readout expected ")
    assert all(" neuron 1:" in m for m in readout)


@pytest.mark.parametrize("lanes, weight_bits", [(1, 10), (2, 10), (1, 6), (1, 4)])
def test_spram_primitives_with_yosys_model(lanes, weight_bits):
    """The iCE40 SB_SPRAM256KA instances the board build uses, simulated with Yosys' own model
    in Icarus (its SPRAM starts as X): weights written through the configuration port, then
    every output equal to the golden model. 6-bit weights pack two words into each 16-bit
    entry, 4-bit four (``hdl.spram.words_per_entry``): a write must touch only its nibbles."""
    require_simulator("icarus")
    net = random_network(26, 4, (12,), 3, formats=Formats(weight_bits=weight_bits))
    config = HardwareConfig(lanes=lanes, spram_layers=(0, 1))
    model = build_cocotb(net, config, "icarus", primitives=True)
    writes = AddressMap(net, config).network_writes(net)
    x = random_events(7, 2, 8, 4, values=(1, -1))
    assert_equal_to_golden(model.run(x, writes=writes, gaps=0.3, stall=0.3))
    if lanes == 2:   # planted faults: weights left unwritten are X in Yosys' model
        partly = model.run(x, writes=writes[:200])
        assert len(partly.mismatches) == 1 and "carries undefined bits (X/Z)" in partly.mismatches[0]
        unloaded = model.run(x)        # X everywhere: undefined outputs, counters or a hang
        assert len(unloaded.mismatches) == 1
        assert any(what in unloaded.mismatches[0] for what in ("undefined", "X/Z", "the core hangs"))
