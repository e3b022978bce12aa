"""The whole accelerator in Amaranth's simulator against the golden model, exactly."""

import numpy as np
import pytest

from spikeforge.golden.fixed import Overflow, Rounding
from spikeforge.golden.network import Decision, Formats, NeuronKind
from spikeforge.golden.randnet import random_events, random_network
from spikeforge.golden.simulate import simulate
from spikeforge.hdl import schedule
from spikeforge.hdl.config import AddressMap, HardwareConfig
from spikeforge.hdl.protocol import compare, decode_outputs
from spikeforge.hdl.pysim import run_accelerator


def check(net, x, config=HardwareConfig(), **kwargs):
    """Run the core on ``x`` and assert the record stream and every sample's counters
    equal the golden model."""
    from spikeforge.sim.scoreboard import Scoreboard
    golden = simulate(net, x)
    run = run_accelerator(net, config, x, **kwargs)
    board = Scoreboard(net, hidden_spikes=config.emit_spikes,
                       config=None if kwargs.get("records") else config)
    problems = board.check(golden, run.records, x.shape[0], x.shape[1], run.counters,
                           run.sample_counters, x, back_to_back=not kwargs.get("stall"))
    assert not problems, "\n".join(problems)
    totals = golden.totals()
    assert run.counters["SYNOPS"] == totals["synaptic_ops"]
    assert run.counters["NEURON_UPDATES"] == totals["neuron_updates"]
    assert run.counters["INPUT_EVENTS"] == totals["input_events"]
    assert run.counters["SPIKES"] == totals["spikes_per_layer"]
    assert run.counters["DROPPED_EVENTS"] == 0
    # the sequencer's work is the cycle model's, exactly, however long the consumer stalls it
    assert run.counters["STEP_CYCLES"] - run.counters["STALL_CYCLES"] == \
        schedule.step_cycles(net, config, golden).sum()
    assert (run.counters["STALL_CYCLES"] > 0) == bool(kwargs.get("stall"))
    return golden, run


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_recurrent_alif_li_readout(lanes):
    net = random_network(10 + lanes, 5, (9,), 3)
    x = random_events(1, 2, 8, 5, rate=0.4)
    check(net, x, HardwareConfig(lanes=lanes))


@pytest.mark.parametrize("lanes, recurrent, kind, readout, decision", [
    (2, False, NeuronKind.LIF, NeuronKind.ALIF, Decision.SPIKE_COUNT),
    (4, True, NeuronKind.ALIF, NeuronKind.LIF, Decision.FIRST_SPIKE),
    (1, True, NeuronKind.LIF, NeuronKind.LI, Decision.LAST),
    (2, True, NeuronKind.ALIF, NeuronKind.ALIF, Decision.PER_STEP),
    (2, True, NeuronKind.CUBA, NeuronKind.CUBA, Decision.SPIKE_COUNT),
    (1, False, NeuronKind.CUBA, NeuronKind.LI, Decision.PER_STEP),
])
def test_multilayer(lanes, recurrent, kind, readout, decision):
    net = random_network(20 + lanes, 4, (7, 6), 3, recurrent=recurrent, kind=kind,
                         readout=readout, decision=decision, weight_scale=1.0)
    x = random_events(2, 2, 10, 4, rate=0.5)
    check(net, x, HardwareConfig(lanes=lanes))


def test_deep_network_hidden_spikes_off():
    net = random_network(5, 3, (5, 4, 6), 2, recurrent=True, weight_scale=1.2)
    x = random_events(3, 1, 8, 3, rate=0.6)
    check(net, x, HardwareConfig(lanes=2, emit_spikes=False))


@pytest.mark.parametrize("unit", [False, True])
def test_signed_input_values(unit):
    formats = Formats(input_bits=3)
    net = random_network(7, 6, (8,), 4, formats=formats)
    values = (-1, 1) if unit else (-4, -2, -1, 1, 3)
    x = random_events(4, 2, 6, 6, rate=0.5, values=values)
    check(net, x, HardwareConfig(lanes=2, unit_inputs=unit))


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("overflow", list(Overflow))
def test_saturation_and_rounding(rounding, overflow):
    formats = Formats(state_bits=8, decay_bits=6, rounding=rounding, overflow=overflow, guard_bits=0)
    net = random_network(3, 6, (6,), 3, formats=formats, weight_scale=2.0)
    x = random_events(5, 1, 8, 6, rate=0.7, values=(1, -1))
    golden, _ = check(net, x, HardwareConfig(lanes=2))
    assert np.abs(golden.readout).max() >= 100   # the tiny state format is exercised


def test_all_silent_input_and_empty_steps():
    net = random_network(8, 4, (6,), 3)
    x = np.zeros((2, 5, 4), np.int64)
    x[1, 3, 2] = 1                                # one event in an otherwise empty sample
    check(net, x, HardwareConfig(lanes=2))


def test_every_neuron_fires_max_fanout():
    net = random_network(9, 5, (6,), 3, recurrent=True, readout=NeuronKind.LIF,
                         decision=Decision.SPIKE_COUNT)
    for layer in net.layers:
        layer.bias[:] = net.formats.state.max // 4
    x = np.ones((1, 4, 5), np.int64)              # every input fires every step
    golden, _ = check(net, x, HardwareConfig(lanes=4))
    assert golden.spikes[0][:, 1:].all()


@pytest.mark.parametrize("lanes", [1, 4])
def test_back_to_back_events_to_one_word(lanes):
    # Every event's fan-out is one word, so consecutive events hit the same accumulators.
    net = random_network(11, 8, (lanes,), 1, recurrent=True, weight_scale=1.5)
    x = random_events(6, 1, 6, 8, rate=0.9)
    check(net, x, HardwareConfig(lanes=lanes))


def test_reset_between_samples_and_backpressure():
    net = random_network(12, 4, (6,), 3, decision=Decision.LAST)
    x = random_events(7, 3, 4, 4, rate=0.5)
    x[2] = x[0]                                   # a repeated sample must repeat its outputs
    golden, _ = check(net, x, HardwareConfig(lanes=2), stall=0.6, seed=3)
    assert np.array_equal(golden.readout[2], golden.readout[0])


def test_runtime_weight_write_then_rerun():
    net = random_network(13, 4, (6,), 3)
    amap = AddressMap(net, HardwareConfig(lanes=2))
    x = random_events(8, 1, 6, 4, rate=0.6)
    changed = random_network(13, 4, (6,), 3)
    rng = np.random.default_rng(0)
    writes = []
    for row, col in [(0, 0), (1, 5), (3, 2), (4, 1)]:     # rows >= 4 are recurrent weights
        value = int(rng.integers(-128, 128))
        target = changed.layers[0].w_in if row < 4 else changed.layers[0].w_rec
        target[row % 4, col] = value
        writes.append((amap.address("layers.0.weights", row, col), value))
    changed.layers[1].bias[1] = 1000
    writes.append((amap.address("layers.1.bias", 0, 1), 1000))
    reads = [addr for addr, _ in writes]
    _, run = check(changed, x, HardwareConfig(lanes=2), writes=writes, reads=reads)
    assert run.reads == [value for _, value in writes]


def test_corrupted_weight_is_detected():
    net = random_network(14, 4, (6,), 3)
    config = HardwareConfig(lanes=2)
    x = np.ones((1, 4, 4), np.int64)
    golden = simulate(net, x)
    src = int(np.flatnonzero(golden.spikes[0].any(axis=(0, 1)))[0])   # a hidden neuron that fires
    w = int(net.layers[1].w_in[src, 0])
    corrupt = [(AddressMap(net, config).address("layers.1.weights", src, 0), w - 64 if w > 0 else w + 64)]
    run = run_accelerator(net, config, x, writes=corrupt)
    problems = compare(net, golden, decode_outputs(net, run.records, 1, 4))
    assert problems and "layer 1 neuron 0: readout expected" in problems[0]


@pytest.mark.parametrize("lanes", [1, 2])
def test_spram_weights_loaded_at_run_time(lanes):
    """SPRAM weights start empty (zero in simulation): loading them makes the core exact."""
    net = random_network(15, 3, (5,), 3, formats=Formats(weight_bits=10))
    config = HardwareConfig(lanes=lanes, spram_layers=(0,) if lanes == 1 else (0, 1))
    x = random_events(16, 2, 6, 3, rate=0.5)
    writes = AddressMap(net, config).network_writes(net)
    reads = [writes[k][0] for k in (0, 7, len(writes) // 3)]
    _, run = check(net, x, config, writes=writes, reads=reads)
    assert run.reads == [writes[k][1] for k in (0, 7, len(writes) // 3)]
    empty = run_accelerator(net, config, x[:1])
    problems = compare(net, simulate(net, x[:1]), decode_outputs(net, empty.records, 1, 6))
    assert problems, "without loading, SPRAM weights are zero and the outputs must differ"


# -- theta networks (Klos & Memmesheimer) --

def theta_events(seed, samples, steps, channels, rate=0.1):
    return random_events(seed, samples, steps, channels, rate=rate)


@pytest.mark.parametrize("lanes, recurrent, hidden, shift", [(1, False, (12,), None),
                                                             (2, True, (12,), 3),
                                                             (4, False, (9, 6), None)])
def test_theta_networks(lanes, recurrent, hidden, shift):
    from spikeforge.golden.randnet import random_theta_network
    net = random_theta_network(lanes, 8, hidden, 4, steps=12, recurrent=recurrent,
                               rotation_shift=shift)
    assert (net.theta.rotation == 1 << 13) == (shift == 3)
    x = theta_events(lanes, 3, 12, 8)
    golden, _ = check(net, x, HardwareConfig(lanes=lanes))
    assert all(s.any() for s in golden.spikes)


def test_theta_no_spike_rule_and_repeated_samples():
    """Silent samples are decided by the final phases; every sample starts from phi0."""
    from spikeforge.golden.randnet import random_float_theta_network
    from spikeforge.golden.reference import quantize
    fnet = random_float_theta_network(7, 8, (10,), 4, steps=10)
    for layer in fnet.layers:        # half a period from the threshold: silent without input
        layer.phi0 = np.full(layer.size, fnet.theta.period / 2)
    net = quantize(fnet)
    x = theta_events(3, 4, 10, 8, rate=0.05)
    x[1] = 0                                     # silent input: nothing spikes
    x[3] = x[0]
    golden, run = check(net, x, HardwareConfig(lanes=2), stall=0.3, seed=1)
    assert not golden.spikes[-1][1].any()
    assert np.array_equal(golden.readout[3], golden.readout[0])
    flags = [r["value"] for r in run.records if r["kind"] == 2]
    assert flags[1] == 1


def test_theta_initial_phases_written_at_run_time():
    from spikeforge.golden.randnet import random_theta_network
    net = random_theta_network(8, 8, (6,), 3, steps=8)
    config = HardwareConfig(lanes=2)
    amap = AddressMap(net, config)
    changed = random_theta_network(8, 8, (6,), 3, steps=8)
    other = random_theta_network(9, 8, (6,), 3, steps=8)
    changed.layers[0].p0[:] = other.layers[0].p0
    changed.layers[0].q0[:] = other.layers[0].q0
    writes = [(amap.address("layers.0.p0", 0, j), int(v)) for j, v in enumerate(other.layers[0].p0)]
    writes += [(amap.address("layers.0.q0", 0, j), int(v)) for j, v in enumerate(other.layers[0].q0)]
    x = theta_events(4, 2, 8, 8, rate=0.2)
    check(changed, x, config, writes=writes)
    with pytest.raises(ValueError, match="weight shifts"):
        amap.network_writes(random_theta_network(8, 8, (6,), 3, steps=8, weight_scale=30.0))


# -- one event per channel per step: the accumulator bound's assumption, enforced --

def test_events_out_of_order_duplicated_or_useless_are_dropped_and_counted():
    from spikeforge.hdl.protocol import InputKind, encode_inputs
    net = random_network(17, 5, (6,), 3, formats=Formats(input_bits=3))
    x = random_events(5, 1, 3, 5, rate=0.6, values=(1, -2, 3))
    x[0, 0, 1] = x[0, 0, 3] = 1
    clean = encode_inputs(net, x)
    event = InputKind.EVENT.value
    extra = [{"kind": event, "channel": 3, "value": -4},     # channel 3 again (duplicate)
             {"kind": event, "channel": 1, "value": 2},      # below the last channel
             {"kind": event, "channel": 4, "value": 0},      # value 0
             {"kind": event, "channel": 9, "value": 1}]      # no such channel
    records = clean[:3] + extra + clean[3:]
    assert clean[2]["channel"] == 3
    run = run_accelerator(net, HardwareConfig(lanes=2), x, records=records)
    problems = compare(net, simulate(net, x), decode_outputs(net, run.records, 1, 3))
    assert not problems, problems
    assert run.counters["DROPPED_EVENTS"] == 4
    assert run.counters["INPUT_EVENTS"] == np.count_nonzero(x)


def test_unit_inputs_drop_other_values_and_the_runner_refuses_them():
    from spikeforge.golden.simulate import InputError
    from spikeforge.sim.rtl import run_rtl
    net = random_network(18, 4, (6,), 3)
    x = random_events(6, 1, 4, 4, rate=0.6, values=(1, -1))
    x[0, 0, 0] = -2
    run = run_accelerator(net, HardwareConfig(unit_inputs=True), x)
    assert run.counters["DROPPED_EVENTS"] == 1
    with pytest.raises(InputError, match="unit_inputs"):
        run_rtl(net, x, config=HardwareConfig(unit_inputs=True))


def extreme_inputs(net, rng):
    """For random columns of the first layer, the events that reach the column's greatest
    and least synaptic input (every weight's worst value), one step each."""
    fmt = net.formats.input
    w = net.layers[0].w_in
    cols = rng.choice(w.shape[1], size=min(3, w.shape[1]), replace=False)
    steps = [np.where(w[:, j] > 0, fmt.max, fmt.min) for j in cols]
    steps += [np.where(w[:, j] > 0, fmt.min, fmt.max) for j in cols]
    return np.array(steps)[None]


@pytest.mark.parametrize("seed", range(3))
def test_accumulator_holds_the_extreme_signed_inputs_in_rtl(seed):
    """The example of issue 11: weights (100, -100), 2-bit inputs (1, -2): 300, not -212."""
    from spikeforge.golden.network import Layer, Network
    rng = np.random.default_rng(seed)
    if seed == 0:
        z = np.zeros(1, np.int64)
        layer = Layer(kind=NeuronKind.LI, w_in=np.array([[100], [-100]]), w_rec=None, bias=z,
                      alpha=z, rho=z, b0=z, adapt=z)
        net = Network(n_inputs=2, layers=[layer], decision=Decision.LAST,
                      formats=Formats(guard_bits=0))
        x = np.array([[[1, -2]]])
        assert simulate(net, x).readout[0, 0, 0] == 300
    else:
        net = random_network(40 + seed, 5, (), 4, readout=NeuronKind.LI,
                             formats=Formats(input_bits=2 + seed, state_bits=24))
        x = extreme_inputs(net, rng)
    check(net, x, HardwareConfig(lanes=2))


def test_configuration_access_while_busy_is_refused_and_flagged():
    """A weight access while the core works would take the engine's read port: it is
    refused (write dropped, read answers 0) and flagged in CONTROL bit 1; outputs stay exact."""
    from amaranth.sim import Simulator
    from spikeforge.hdl.accelerator import Accelerator
    from spikeforge.hdl.config import REGISTERS
    from spikeforge.hdl.protocol import encode_inputs
    from spikeforge.hdl.pysim import cfg_read, cfg_write, stream_get, stream_put
    net = random_network(19, 4, (8,), 3)
    config = HardwareConfig(lanes=2)
    dut = Accelerator(net, config)
    amap = AddressMap(net, config)
    weight = amap.address("layers.0.weights", 1, 2)
    x = random_events(9, 2, 5, 4, rate=0.7)
    records, seen = [], {}

    async def producer(ctx):
        for rec in encode_inputs(net, x):
            await stream_put(ctx, dut.events, rec)

    async def consumer(ctx):
        while sum(r["kind"] == 4 for r in records) < 2:
            p = await stream_get(ctx, dut.results)
            records.append({"kind": int(p.kind.value) if hasattr(p.kind, "value") else int(p.kind),
                            "layer": int(p.layer), "index": int(p.index), "value": int(p.value)})

    async def meddler(ctx):
        await ctx.tick().until(dut.busy)
        await cfg_write(ctx, dut.cfg, weight, 99)                  # dropped
        seen["busy_read"] = await cfg_read(ctx, dut.cfg, weight)    # answers 0
        seen["control"] = await cfg_read(ctx, dut.cfg, REGISTERS["CONTROL"])
        while sum(r["kind"] == 4 for r in records) < 2:
            await ctx.tick()
        await ctx.tick().until(~dut.busy)
        seen["idle_read"] = await cfg_read(ctx, dut.cfg, weight)
        await cfg_write(ctx, dut.cfg, REGISTERS["CONTROL"], 2)      # clear the flag
        seen["cleared"] = await cfg_read(ctx, dut.cfg, REGISTERS["CONTROL"])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for tb in (producer, consumer, meddler):
        sim.add_testbench(tb)
    sim.run()
    assert seen["busy_read"] == 0 and seen["control"] & 0b11 == 0b11
    assert seen["idle_read"] == int(net.layers[0].w_in[1, 2]) & 0xFFFF_FFFF or \
        seen["idle_read"] - (1 << 32) == int(net.layers[0].w_in[1, 2])
    assert seen["cleared"] & 0b10 == 0
    golden = simulate(net, x)
    from spikeforge.hdl.protocol import compare_records
    assert compare_records(net, golden, records) == []
