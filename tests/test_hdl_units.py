"""Amaranth-simulator tests of the accelerator's components, each against the golden model."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from spikeforge.golden import fixed
from spikeforge.golden.fixed import Overflow, Rounding
from spikeforge.golden.network import Formats, NeuronKind
from spikeforge.golden.neuron import LayerState, layer_step
from spikeforge.golden.randnet import random_network
from spikeforge.hdl.arith import fit, shift_right
from spikeforge.hdl.neuron import PARAMS, NeuronEngine, param_shape, state_layout
from spikeforge.hdl.pysim import stream_get, stream_put
from spikeforge.hdl.schedule import SYNAPSE_DRAIN
from spikeforge.hdl.spikes import STREAM_LATENCY, SpikeList
from spikeforge.hdl.synapse import SynapseEngine

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def run(dut, *testbenches):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for tb in testbenches:
        sim.add_testbench(tb)
    sim.run()


# -- arith --

def test_shift_right_and_fit_equal_golden():
    x = Signal(signed(20))
    m = Module()
    shifted = {r: Signal(signed(20), name=f"shr_{r.value}") for r in Rounding}
    fitted = {o: Signal(signed(8), name=f"fit_{o.value}") for o in Overflow}
    m.d.comb += [shifted[r].eq(shift_right(x, 4, r)) for r in Rounding]
    m.d.comb += [fitted[o].eq(fit(x, 8, o)) for o in Overflow]
    rng = np.random.default_rng(0)
    values = np.concatenate([np.arange(-40, 41), rng.integers(-(1 << 19), 1 << 19, 200),
                             [-(1 << 19), (1 << 19) - 1, 127, 128, -128, -129]])

    async def tb(ctx):
        for v in values:
            ctx.set(x, int(v))
            for r in Rounding:
                assert ctx.get(shifted[r]) == fixed.shift_right(np.int64(v), 4, r), (v, r)
            for o in Overflow:
                assert ctx.get(fitted[o]) == fixed.fit(np.int64(v), fixed.Fixed(8), o), (v, o)

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()


def test_mul_const_is_an_exact_product():
    from spikeforge.hdl.arith import csd_digits, mul_const
    for c in list(range(40)) + [1072, 2146, 6888, 65535]:
        digits = csd_digits(c)
        assert sum(d << k for k, d in digits) == c
        assert all(b - a > 1 for (a, _), (b, _) in zip(digits, digits[1:]))   # no adjacent digits
    x = Signal(signed(12))
    products = {c: Signal(signed(32), name=f"x{c}") for c in (0, 5, 1072, 6888)}
    m = Module()
    m.d.comb += [products[c].eq(mul_const(x, c)) for c in products]

    async def tb(ctx):
        for v in (-2048, -1, 0, 1, 77, 2047):
            ctx.set(x, v)
            for c, sig in products.items():
                assert ctx.get(sig) == v * c

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()


def test_arith_rejects_bad_parameters():
    with pytest.raises(TypeError, match="Rounding"):
        shift_right(Signal(8), 2, "floor")
    with pytest.raises(ValueError, match="shift"):
        shift_right(Signal(8), -1, Rounding.FLOOR)
    with pytest.raises(TypeError, match="Overflow"):
        fit(Signal(8), 4, "saturate")


# -- synapse engine --

class SynapseHarness(wiring.Component):
    """A synapse engine with its weight memory and a transparent accumulator memory."""

    def __init__(self, weights, lanes, acc_bits, values):
        self.weights, self.lanes, self.acc_bits, self.values = weights, lanes, acc_bits, values
        self.words = -(-weights.shape[1] // lanes)
        self.engine = SynapseEngine(rows=weights.shape[0], words=self.words, lanes=lanes,
                                    weight_bits=8, acc_bits=acc_bits, values=values, value_bits=3)
        super().__init__({"events": In(self.engine.events.signature.flip()), "busy": Out(1),
                          "peek_addr": In(range(self.words)),
                          "peek": Out(data.ArrayLayout(signed(acc_bits), lanes))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self.engine
        padded = np.zeros((self.weights.shape[0], self.words * self.lanes), np.int64)
        padded[:, :self.weights.shape[1]] = self.weights
        init = [list(map(int, row)) for row in padded.reshape(-1, self.lanes)]
        m.submodules.w = w = memory.Memory(shape=data.ArrayLayout(signed(8), self.lanes),
                                           depth=len(init), init=init)
        m.submodules.acc = acc = memory.Memory(shape=data.ArrayLayout(signed(self.acc_bits), self.lanes),
                                               depth=self.words, init=[])
        w_rd = w.read_port()
        acc_wr = acc.write_port()
        acc_rd = acc.read_port(transparent_for=(acc_wr,))
        peek = acc.read_port()
        wiring.connect(m, wiring.flipped(self.events), eng.events)
        m.d.comb += [
            w_rd.addr.eq(eng.w_addr), eng.w_data.eq(w_rd.data),
            acc_rd.addr.eq(eng.acc_raddr), eng.acc_rdata.eq(acc_rd.data),
            acc_wr.addr.eq(eng.acc_waddr), acc_wr.data.eq(eng.acc_wdata), acc_wr.en.eq(eng.acc_we),
            peek.addr.eq(self.peek_addr), self.peek.eq(peek.data), self.busy.eq(eng.busy),
        ]
        return m


@pytest.mark.parametrize("lanes, values", [(1, "spike"), (2, "signed"), (4, "unit"), (8, "signed")])
def test_synapse_engine_back_to_back_full_rate(lanes, values):
    rng = np.random.default_rng(lanes)
    rows, size = 5, 11
    weights = rng.integers(-128, 128, (rows, size))
    dut = SynapseHarness(weights, lanes, 16, values)
    # Back-to-back events, many to the same row: every word is hit by consecutive events.
    srcs = [0, 0, 0, 3, 3, 1, 4, 4, 4, 4, 2, 0]
    vals = {"spike": [1] * len(srcs), "unit": list(rng.choice([-1, 1], len(srcs))),
            "signed": list(rng.integers(-4, 4, len(srcs)))}[values]
    expected = sum(v * weights[s] for s, v in zip(srcs, vals))
    cycles = {}

    async def producer(ctx):
        start = None
        for s, v in zip(srcs, vals):
            payload = {"src": s} if values == "spike" else {"src": s, "value": int(v)}
            await stream_put(ctx, dut.events, payload)
            start = start if start is not None else ctx.get(cycle)
        await ctx.tick().until(~dut.busy)
        cycles["events"] = ctx.get(cycle) - start
        got = []
        for word in range(dut.words):
            ctx.set(dut.peek_addr, word)
            await ctx.tick()
            got.extend(int(v) for v in ctx.get(dut.peek))
        assert got[:size] == [int(v) for v in expected]

    cycle = Signal(32)
    m = Module()
    m.submodules.dut = dut
    m.d.sync += cycle.eq(cycle + 1)
    run(m, producer)
    # One word per clock: len(srcs) * words clocks plus the pipeline's drain.
    assert cycles["events"] <= len(srcs) * dut.words + SYNAPSE_DRAIN + 1


def test_synapse_engine_validates():
    with pytest.raises(ValueError, match="values"):
        SynapseEngine(rows=2, words=1, lanes=1, weight_bits=8, acc_bits=8, values="float")
    with pytest.raises(ValueError, match="words"):
        SynapseEngine(rows=2, words=0, lanes=1, weight_bits=8, acc_bits=8)


# -- neuron engine --

class NeuronHarness(wiring.Component):
    """A neuron engine over memories initialised with a given state, accumulators and parameters."""

    def __init__(self, layer, formats, lanes, acc_bits, u, a, i, s, acc):
        self.layer, self.formats, self.lanes, self.acc_bits = layer, formats, lanes, acc_bits
        self.init = {"u": u, "a": a, "i": i, "s": s, "acc": acc}
        self.engine = NeuronEngine(kind=layer.kind, size=layer.size, lanes=lanes,
                                   formats=formats, acc_bits=acc_bits)
        lay = data.ArrayLayout(state_layout(layer.kind, formats), lanes)
        super().__init__({"start": In(1), "busy": Out(1), "peek_addr": In(range(self.engine.words)),
                          "peek": Out(lay)})

    def _rows(self, values):
        padded = np.zeros(self.engine.words * self.lanes, np.int64)
        padded[:len(values)] = values
        return padded.reshape(-1, self.lanes)

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self.engine
        kind, P = self.layer.kind, self.lanes
        lay = state_layout(kind, self.formats)
        fields = [name for name, _ in lay]
        state_rows = [[{name: int(self._rows(self.init[name])[w][l]) for name in fields}
                       for l in range(P)] for w in range(eng.words)]
        m.submodules.st = st = memory.Memory(shape=data.ArrayLayout(lay, P), depth=eng.words,
                                             init=state_rows)
        m.submodules.acc = acc = memory.Memory(shape=data.ArrayLayout(signed(self.acc_bits), P),
                                               depth=eng.words,
                                               init=[list(map(int, r)) for r in self._rows(self.init["acc"])])
        st_rd, st_wr, peek = st.read_port(), st.write_port(), st.read_port()
        acc_rd = acc.read_port()
        m.d.comb += [eng.start.eq(self.start), self.busy.eq(eng.busy),
                     st_rd.addr.eq(eng.addr), eng.state.eq(st_rd.data), acc_rd.addr.eq(eng.addr_acc),
                     eng.acc.eq(acc_rd.data), st_wr.addr.eq(eng.w_addr), st_wr.data.eq(eng.w_state),
                     st_wr.en.eq(eng.w_en), peek.addr.eq(self.peek_addr), self.peek.eq(peek.data)]
        for name in PARAMS[kind]:
            mem = memory.Memory(shape=data.ArrayLayout(param_shape(name, self.formats), P),
                                depth=eng.words,
                                init=[list(map(int, r)) for r in self._rows(getattr(self.layer, name))])
            m.submodules[name] = mem
            rd = mem.read_port()
            m.d.comb += [rd.addr.eq(getattr(eng, f"addr_{name}")), getattr(eng, name).eq(rd.data)]
        return m


@pytest.mark.parametrize("kind, lanes, overflow, guard", [
    (NeuronKind.ALIF, 1, Overflow.SATURATE, 0), (NeuronKind.ALIF, 4, Overflow.WRAP, 2),
    (NeuronKind.LIF, 2, Overflow.SATURATE, 3), (NeuronKind.LI, 2, Overflow.WRAP, 0),
    (NeuronKind.CUBA, 1, Overflow.SATURATE, 2), (NeuronKind.CUBA, 4, Overflow.WRAP, 0),
])
def test_neuron_engine_equals_layer_step(kind, lanes, overflow, guard):
    formats = Formats(state_bits=10 + guard, decay_bits=8, rounding=Rounding.HALF_EVEN,
                      overflow=overflow, guard_bits=guard)
    net = random_network(1, 3, (), 7, readout=kind, formats=formats)
    layer = net.layers[0]
    rng = np.random.default_rng(2)
    st = formats.state
    u = rng.integers(st.min, st.max + 1, layer.size)
    a = rng.integers(0, st.max + 1, layer.size) if kind is NeuronKind.ALIF else np.zeros(layer.size, np.int64)
    i = rng.integers(st.min, st.max + 1, layer.size) if kind is NeuronKind.CUBA else np.zeros(layer.size, np.int64)
    s = rng.random(layer.size) < 0.5 if kind.spiking else np.zeros(layer.size, bool)
    acc = rng.integers(-600, 600, layer.size)
    expected = layer_step(layer, formats, LayerState(u=u[None], a=a[None], i=i[None], s=s[None]),
                          acc[None])
    dut = NeuronHarness(layer, formats, lanes, 12, u, a, i, s, acc)

    async def tb(ctx):
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        await ctx.tick().until(~dut.busy)
        got = {"u": [], "a": [], "i": [], "s": []}
        for word in range(dut.engine.words):
            ctx.set(dut.peek_addr, word)
            await ctx.tick()
            for lane_state in ctx.get(dut.peek):
                got["u"].append(lane_state.u)
                got["a"].append(lane_state.a if kind is NeuronKind.ALIF else 0)
                got["i"].append(lane_state.i if kind is NeuronKind.CUBA else 0)
                got["s"].append(bool(lane_state.s) if kind.spiking else False)
        n = layer.size
        assert got["u"][:n] == list(expected.u[0])
        assert got["a"][:n] == list(expected.a[0])
        assert got["i"][:n] == list(expected.i[0])
        assert got["s"][:n] == list(expected.s[0])

    run(dut, tb)


# -- spike list --

@pytest.mark.parametrize("lanes", [1, 4])
def test_spike_list_streams_appended_spikes_ascending_under_backpressure(lanes):
    rng = np.random.default_rng(lanes)
    words = 6
    bits = rng.random((words, lanes)) < 0.4
    bits[1] = True
    bits[2] = False
    expected = list(np.flatnonzero(bits.reshape(-1)))
    m = Module()
    m.submodules.spikes = dut = SpikeList(words=words, lanes=lanes)
    got = []

    async def producer(ctx):
        for rounds in range(2):               # the second round: clear empties the list
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            for word, row in enumerate(bits):  # the neuron engine writes every word back
                ctx.set(dut.w_en, 1)
                ctx.set(dut.w_word, word)
                ctx.set(dut.w_mask, int(sum(int(b) << lane for lane, b in enumerate(row))))
                await ctx.tick()
            ctx.set(dut.w_en, 0)
            assert ctx.get(dut.count) == int(bits.any(axis=1).sum())
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            await ctx.tick().until(~dut.busy)

    async def consumer(ctx):
        while len(got) < 2 * len(expected):
            if rng.random() < 0.5:
                await ctx.tick().repeat(int(rng.integers(1, 4)))
            got.append(int(await stream_get(ctx, dut.spikes)))

    run(m, producer, consumer)
    assert got == expected * 2


def test_spike_list_first_index_after_stream_latency_then_one_per_clock():
    m = Module()
    m.submodules.spikes = dut = SpikeList(words=4, lanes=2)
    clocks = []

    async def tb(ctx):
        for word, mask in ((0, 0b11), (2, 0b01), (3, 0b10)):
            ctx.set(dut.w_en, 1)
            ctx.set(dut.w_word, word)
            ctx.set(dut.w_mask, mask)
            await ctx.tick()
        ctx.set(dut.w_en, 0)
        ctx.set(dut.spikes.ready, 1)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for clock in range(1, 12):
            if ctx.get(dut.spikes.valid):
                clocks.append((clock, ctx.get(dut.spikes.payload)))
            await ctx.tick()

    run(m, tb)
    assert [i for _, i in clocks] == [0, 1, 4, 7]
    assert [c for c, _ in clocks] == [STREAM_LATENCY + k for k in range(4)]


def test_spram_weights_tiles_and_rejects():
    from spikeforge.hdl.spram import SPRAMWeights, lane_bits, spram_tiles, words_per_entry
    assert lane_bits(8) == 8 and lane_bits(10) == 12 and lane_bits(16) == 16
    assert spram_tiles(1440, 1, 10) == (1, 1) and spram_tiles(1440, 2, 10) == (1, 2)
    assert spram_tiles(64_516, 1, 10) == (4, 1)
    # narrow words share a 16-bit entry: two of one 8-bit lane, four of one 4-bit lane
    assert [words_per_entry(*a) for a in ((1, 8), (1, 6), (1, 4), (2, 4), (1, 10), (2, 8))] == \
        [2, 2, 4, 2, 1, 1]
    assert spram_tiles(64_516, 1, 8) == (2, 1) and spram_tiles(64_516, 1, 4) == (1, 1)
    assert spram_tiles(32_769, 1, 8) == (2, 1) and spram_tiles(32_768, 1, 8) == (1, 1)
    mem = SPRAMWeights(depth=20_000, lanes=2, weight_bits=8)
    assert (mem.banks, mem.slices) == (2, 1)
    assert SPRAMWeights(depth=200_000, lanes=1, weight_bits=4).banks == 4
    for bad in ({"depth": 0}, {"lanes": 1.5}, {"weight_bits": True}, {"depth": 300_000}):
        kwargs = {"depth": 100, "lanes": 1, "weight_bits": 8, **bad}
        with pytest.raises(ValueError, match="SPRAMWeights"):
            SPRAMWeights(**kwargs)


# -- theta engine --

class ThetaHarness(wiring.Component):
    """A theta engine over memories holding a state, its initial state and accumulators."""

    def __init__(self, formats, lanes, acc_bits, state, initial, acc, fresh, shift, rotation):
        from spikeforge.hdl.theta import ThetaEngine
        self.engine = ThetaEngine(size=len(acc), lanes=lanes, formats=formats, acc_bits=acc_bits,
                                  weight_shift=shift, rotation=rotation)
        self.formats, self.lanes, self.acc_bits = formats, lanes, acc_bits
        self.state, self.initial, self.acc_values, self.fresh = state, initial, acc, fresh
        super().__init__({"start": In(1), "busy": Out(1), "peek_addr": In(range(self.engine.words)),
                          "peek": Out(data.ArrayLayout(state_layout(NeuronKind.THETA, formats),
                                                       lanes))})

    def _rows(self, values):
        padded = np.zeros(self.engine.words * self.lanes, np.int64)
        padded[:len(values)] = values
        return padded.reshape(-1, self.lanes)

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self.engine
        P, f = self.lanes, self.formats
        lay = state_layout(NeuronKind.THETA, f)
        p, q = (self._rows(v) for v in self.state)
        init = [[{"p": int(p[w][l]), "q": int(q[w][l]), "s": 0} for l in range(P)]
                for w in range(eng.words)]
        m.submodules.st = st = memory.Memory(shape=data.ArrayLayout(lay, P), depth=eng.words,
                                             init=init)
        m.submodules.acc = acc = memory.Memory(
            shape=data.ArrayLayout(signed(self.acc_bits), P), depth=eng.words,
            init=[list(map(int, r)) for r in self._rows(self.acc_values)])
        for name, values in zip(("p0", "q0"), self.initial):
            mem = memory.Memory(shape=data.ArrayLayout(signed(f.state_bits), P), depth=eng.words,
                                init=[list(map(int, r)) for r in self._rows(values)])
            m.submodules[name] = mem
            rd = mem.read_port()
            m.d.comb += [rd.addr.eq(getattr(eng, f"addr_{name}")), getattr(eng, name).eq(rd.data)]
        st_rd, st_wr, peek = st.read_port(), st.write_port(), st.read_port()
        acc_rd = acc.read_port()
        m.d.comb += [eng.start.eq(self.start), self.busy.eq(eng.busy), eng.fresh.eq(self.fresh),
                     st_rd.addr.eq(eng.addr), eng.state.eq(st_rd.data), acc_rd.addr.eq(eng.addr_acc),
                     eng.acc.eq(acc_rd.data), st_wr.addr.eq(eng.w_addr), st_wr.data.eq(eng.w_state),
                     st_wr.en.eq(eng.w_en), peek.addr.eq(self.peek_addr), self.peek.eq(peek.data)]
        return m


@pytest.mark.parametrize("lanes, fresh, rounding, rotation", [
    (1, False, Rounding.HALF_UP, 1072), (2, True, Rounding.HALF_UP, 2048),
    (4, False, Rounding.FLOOR, 1072), (2, False, Rounding.HALF_EVEN, 2048),
    (1, True, Rounding.TOWARD_ZERO, 6888),
])
def test_theta_engine_equals_theta_step(lanes, fresh, rounding, rotation):
    from spikeforge.golden.theta import initial_state, normalise, theta_step
    formats = Formats(state_bits=16, decay_bits=16, rounding=rounding)
    rng = np.random.default_rng(lanes)
    n = 23
    state = initial_state(rng.uniform(0, 6, n), 6 / np.pi, 1.25, 16)
    initial = initial_state(rng.uniform(0, 6, n), 6 / np.pi, 1.25, 16)
    # corners: V = +-inf, a vector at the most negative p
    state[0][:3], state[1][:3] = [1 << 14, -(1 << 14), -(1 << 15)], [0, 0, 5]
    state = normalise(*state, 16)
    acc = rng.integers(-4000, 4000, n)
    acc[:2] = [0, (1 << 12) - 1]
    start = initial if fresh else state
    want = theta_step(*start, acc, weight_shift=7, rotation=rotation, formats=formats)
    dut = ThetaHarness(formats, lanes, 13, state, initial, acc, int(fresh), 7, rotation)

    async def tb(ctx):
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        await ctx.tick().until(~dut.busy)
        got = []
        for word in range(dut.engine.words):
            ctx.set(dut.peek_addr, word)
            await ctx.tick()
            got += [(ls.p, ls.q, bool(ls.s)) for ls in ctx.get(dut.peek)]
        assert got[:n] == list(zip(want[0].tolist(), want[1].tolist(), want[2].tolist()))

    run(dut, tb)


def test_theta_engine_validates():
    from spikeforge.hdl.theta import ThetaEngine
    f = Formats(state_bits=16, decay_bits=16)
    with pytest.raises(ValueError, match="rotation"):
        ThetaEngine(size=4, lanes=1, formats=f, acc_bits=10, weight_shift=3, rotation=1 << 16)
    with pytest.raises(ValueError, match="weight_shift"):
        ThetaEngine(size=4, lanes=1, formats=f, acc_bits=10, weight_shift=-1, rotation=5)
    with pytest.raises(TypeError, match="THETA"):
        NeuronEngine(kind=NeuronKind.THETA, size=4, lanes=1, formats=f, acc_bits=10)
