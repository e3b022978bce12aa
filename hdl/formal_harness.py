"""Formal harnesses: the accelerator and its synapse engine with free inputs and properties.

Each harness is an Elaboratable whose inputs are free (``AnySeq``/``AnyConst``), whose
environment obeys ``Assume``s and whose claims are ``Assert``s; ``sim.formal.prove`` turns
one into RTLIL and runs SymbiYosys on it. Reset is held low: every register starts from
its ``init``, which is its reset value.

``ResultsStreamRules``: the accelerator keeps ``results`` valid and its payload stable while
the consumer stalls, given an ``events`` producer that obeys the stream rules.
``SynapseForwarding``: the synapse engine with a weight table of free constants and an
accumulator memory wired as in ``hdl.layer`` loses no update (every accepted event's weight
row, scaled by its value, ends up in the accumulators).
``ConfigInterlock``: while the core is busy no configuration strobe reaches a layer core's
memories, a refused read answers 0, the refused flag (CONTROL bit 1) says so, and a memory
element reads back its initial value or the last write accepted while idle.

Mutants (``hdl.mutants``) a harness plants itself when ``mutants.active`` says so, without
touching the component's source: ``no_forwarding`` in ``SynapseForwarding``'s accumulator read
port (as ``hdl.layer`` does); ``spikes_ignore_ready`` and ``config_no_interlock`` by handing
``Accelerator.elaborate`` a faulty stand-in for a layer's spike source or for ``LayerCore``
(see ``_building``): the spike source takes every index whatever its consumer says; the layer
cores see the configuration strobes decoded by address but not gated by ``busy``.
"""

from __future__ import annotations

import contextlib

import numpy as np
from amaranth.hdl import (Array, Assert, Assume, Cat, Const, Cover, Elaboratable, Fragment, Module, Mux,
                          Signal, Value, signed)
from amaranth.hdl import ResetSignal
from amaranth.asserts import AnyConst, AnySeq
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In

from ..golden.network import Network
from . import accelerator as _accelerator_module
from . import layer as _layer_module
from . import mutants
from .accelerator import Accelerator
from .config import ANSWER_LATENCY, DATA_BITS, REGISTERS, REQUEST_LATENCY, HardwareConfig
from .layer import LayerCore, layer_memories
from .protocol import InputKind, OutputKind
from .synapse import VALUE_MODES, SynapseEngine

__all__ = ["ResultsStreamRules", "SynapseForwarding", "ConfigInterlock"]


def _free_inputs(m, component, *skip):
    """Drive every input port of ``component`` from ``AnySeq``, except the paths in ``skip``."""
    for path, member, value in component.signature.flatten(component):
        if member.flow == In and path not in skip:
            value = Value.cast(value)
            m.d.comb += value.eq(AnySeq(value.shape()))


def _pass_through(m, outer, inner, skip=()):
    """Connect every port of ``outer`` to the same port of ``inner`` (same signature), except
    the paths in ``skip``."""
    for path, member, value in outer.signature.flatten(outer):
        if path in skip:
            continue
        other = inner
        for step in path:
            other = getattr(other, step) if isinstance(step, str) else other[step]
        m.d.comb += (other.eq(value) if member.flow == In else value.eq(other))


def _stand_in(inner, drive, skip):
    """A component with ``inner``'s signature that passes every port through, except the
    ports in ``skip``, which ``drive(m, inner)`` drives instead (a planted fault)."""
    class StandIn(wiring.Component):
        def __init__(self):
            super().__init__(inner.signature)
            self.inner = inner

        def elaborate(self, platform):
            m = Module()
            m.submodules.inner = inner
            _pass_through(m, self, inner, skip)
            drive(m, inner)
            return m
    return StandIn()


def _spikes_ignoring_ready(cls):
    """Mutant ``spikes_ignore_ready``: a layer's spike source (``cls``, whatever ``hdl.layer``
    builds) takes every index as if its consumer were always ready."""
    def make(**kwargs):
        def drive(m, inner):
            m.d.comb += inner.spikes.ready.eq(1)
        return _stand_in(cls(**kwargs), drive, {("spikes", "ready")})
    return make


class _Request:
    """The configuration port's request as the accelerator decodes it: ``REQUEST_LATENCY``
    clocks after the host drives it (``hdl.accelerator`` registers the request once)."""

    def __init__(self, m, port):
        self.addr, self.w_data, self.w_stb, self.r_stb = port.addr, port.w_data, port.w_stb, port.r_stb
        for clock in range(REQUEST_LATENCY):
            later = [Signal.like(v, name=f"request_{n}_{clock}")
                     for n, v in (("addr", self.addr), ("w_data", self.w_data),
                                  ("w_stb", self.w_stb), ("r_stb", self.r_stb))]
            m.d.sync += [a.eq(b) for a, b in zip(later, (self.addr, self.w_data, self.w_stb,
                                                         self.r_stb))]
            self.addr, self.w_data, self.w_stb, self.r_stb = later




def _ungated_core(port):
    """Mutant ``config_no_interlock``: a LayerCore whose configuration strobes are the
    request's strobes decoded by address only (what ``Accelerator`` computes, less ``& ~busy``)."""
    def make(**kwargs):
        regions = kwargs["regions"]

        def drive(m, inner):
            request = _Request(m, port)
            for region in regions:
                hit = (request.addr >> region.offset_bits) == (region.base >> region.offset_bits)
                m.d.comb += [getattr(inner, f"cfg_we_{region.memory}").eq(request.w_stb & hit),
                             getattr(inner, f"cfg_re_{region.memory}").eq(request.r_stb & hit)]
        skip = {(f"cfg_{strobe}_{r.memory}",) for r in regions for strobe in ("we", "re")}
        return _stand_in(LayerCore(**kwargs), drive, skip)
    return make


@contextlib.contextmanager
def _replaced(module, name, value):
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def _building(dut: Accelerator, platform):
    """Elaborate ``dut`` now, planting the harness-planted mutants that are active; returns
    the fragment and the layer cores ``Accelerator.elaborate`` created (their ports are
    observable: the cores are the real ones, only recorded on the way)."""
    cores = []
    make_core = _ungated_core(dut.cfg) if mutants.active("config_no_interlock") else LayerCore

    def recording_core(**kwargs):
        core = make_core(**kwargs)
        cores.append(getattr(core, "inner", core))   # the core whose memories are written
        return core

    with contextlib.ExitStack() as stack:
        stack.enter_context(_replaced(_accelerator_module, "LayerCore", recording_core))
        if mutants.active("spikes_ignore_ready"):
            # hdl.layer builds each layer's spike stream with SpikeList
            stack.enter_context(_replaced(_layer_module, "SpikeList",
                                          _spikes_ignoring_ready(_layer_module.SpikeList)))
        fragment = Fragment.get(dut, platform)
    return fragment, cores


class _Past:
    """Registers holding last cycle's values (Amaranth 0.5 has no ``Past``). They live in a
    module of their own, so that a past value asked for inside ``with m.If(...)`` is still
    sampled every clock."""

    def __init__(self, m):
        self._m = Module()
        m.submodules += self._m

    def __call__(self, value, name, clocks=1):
        for clock in range(clocks):
            past = Signal.like(value, name=f"past_{name}" + (f"_{clock}" if clock else ""),
                               init=0)
            self._m.d.sync += past.eq(value)
            value = past
        return value


class ResultsStreamRules(Elaboratable):
    """The stream rules on ``results``: once valid and not ready, valid and payload hold.

    Environment: ``events`` obeys the same rules (valid held until ready, payload stable
    meanwhile), ``results.ready`` is free, the configuration port idle (strobes 0)."""

    def __init__(self, network: Network, config: HardwareConfig):
        self.dut = Accelerator(network, config)

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        m.submodules.dut, _ = _building(dut, platform)
        past = _Past(m)
        m.d.comb += Assume(~ResetSignal())
        _free_inputs(m, dut, ("cfg", "w_stb"), ("cfg", "r_stb"))
        m.d.comb += [dut.cfg.w_stb.eq(0), dut.cfg.r_stb.eq(0)]

        ev = dut.events
        with m.If(past(ev.valid & ~ev.ready, "events_stalled")):
            m.d.comb += Assume(ev.valid & (ev.payload.as_value() == past(ev.payload.as_value(),
                                                                          "events_payload")))

        out = dut.results
        stalled = past(out.valid & ~out.ready, "results_stalled")
        held = past(out.payload.as_value(), "results_payload")
        with m.If(stalled):
            m.d.comb += Assert(out.valid)
            m.d.comb += Assert(out.payload.as_value() == held)
        # reachable within the depth: a stalled SPIKE record (the mutant's counterexample)
        m.d.comb += Cover(stalled & (out.payload.kind == OutputKind.SPIKE))
        return m


class SynapseForwarding(Elaboratable):
    """The synapse engine loses no update: the accumulators hold the sum of the weight rows of
    every accepted event (each scaled by the event's value), modulo ``2**acc_bits``.

    The weight memory is a table of free constants behind a synchronous read (what
    ``hdl.layer``'s weight memory is to the engine, for every possible content); the
    accumulator memory starts at zero and is read through a port transparent for the
    engine's write port, as in ``hdl.layer``. Events are free (``src < rows``).

    The model queues the accepted events in order, with their age, and keeps a shadow of the
    accumulator memory. It checks every clock that the engine writes exactly when the oldest
    event's next word is due (``LATENCY + word`` clocks after it was accepted: stages A, R, B, B2, C),
    to that word, the value the shadow holds plus that event's contribution; that the memory
    equals the shadow; and that the queue is empty whenever the engine is idle. The shadow
    gets each queued event's contribution once per word, in order, so when the engine is idle
    it is the sum over every accepted event: the claim. Exact timing keeps the model's state a
    function of the last few clocks, which makes the properties k-inductive.

    ``running_sum=True`` also keeps that sum in registers of its own and checks the memory
    against it when idle (the claim literally; bounded proofs only, it is not k-inductive).
    """

    #: Clocks from an accepted event to the write of its word 0 (word w: LATENCY + w).
    LATENCY = 5
    # entries, a power of two (indices wrap): at most LATENCY events are in flight (words == 1)
    QUEUE = 1 << LATENCY.bit_length()

    def __init__(self, *, rows: int, words: int, lanes: int, values: str = "signed",
                 weight_bits: int = 3, acc_bits: int = 5, value_bits: int = 2,
                 running_sum: bool = False):
        if values not in VALUE_MODES:
            raise ValueError(f"SynapseForwarding: values must be one of {VALUE_MODES}, not {values!r}")
        self.rows, self.words, self.lanes, self.values = rows, words, lanes, values
        self.weight_bits, self.acc_bits, self.value_bits = weight_bits, acc_bits, value_bits
        self.running_sum = running_sum
        self.engine = SynapseEngine(rows=rows, words=words, lanes=lanes, weight_bits=weight_bits,
                                    acc_bits=acc_bits, values=values, value_bits=value_bits)

    def elaborate(self, platform):
        m = Module()
        rows, words, lanes = self.rows, self.words, self.lanes
        acc_shape = signed(self.acc_bits)
        m.submodules.engine = syn = self.engine
        m.d.comb += Assume(~ResetSignal())

        # weight memory: free constants, synchronous read
        weights = [[AnyConst(signed(self.weight_bits)) for _ in range(lanes)]
                   for _ in range(rows * words)]
        for lane in range(lanes):
            m.d.sync += syn.w_data[lane].eq(Array(w[lane] for w in weights)[syn.w_addr])

        # accumulator memory, wired as in hdl.layer (the neuron engine idle)
        acc = memory.Memory(shape=data.ArrayLayout(acc_shape, lanes), depth=words, init=[])
        m.submodules.acc = acc
        acc_wr = acc.write_port()
        acc_rd = acc.read_port(transparent_for=() if mutants.active("no_forwarding") else (acc_wr,))
        m.d.comb += [acc_rd.addr.eq(syn.acc_raddr), syn.acc_rdata.eq(acc_rd.data),
                     acc_wr.addr.eq(syn.acc_waddr), acc_wr.data.eq(syn.acc_wdata),
                     acc_wr.en.eq(syn.acc_we)]
        # what the memory holds now, word by word (asynchronous ports for the checker only)
        held = []
        for word in range(words):
            port = acc.read_port(domain="comb")
            m.d.comb += port.addr.eq(word)
            held.append(port.data)

        # the environment
        ev = syn.events
        payload = Value.cast(ev.payload)
        m.d.comb += [ev.valid.eq(AnySeq(1)), payload.eq(AnySeq(payload.shape()))]
        m.d.comb += Assume(ev.payload.src < rows)
        accepted = ev.valid & ev.ready
        value_in = ev.payload.value if self.values != "spike" else Const(1, signed(self.value_bits))

        def contribution(src, value, word, lane):
            """What an event adds to accumulator (word, lane), in the accumulator's width."""
            weight = Array(weights[row * words + word][lane] for row in range(rows))[src]
            if self.values == "spike":
                product = weight
            elif self.values == "unit":
                product = Mux(value < 0, -weight, weight)
            else:
                product = weight * value
            result = Signal(acc_shape)
            m.d.comb += result.eq(product)
            return result

        # accepted events whose words are not all written yet, oldest at head
        Q = self.QUEUE
        due_last = self.LATENCY + words - 1
        q_src = Array(Signal.like(ev.payload.src, name=f"q_src{i}") for i in range(Q))
        q_value = Array(Signal(signed(self.value_bits), name=f"q_value{i}") for i in range(Q))
        q_age = Array(Signal(range(due_last + 2), name=f"q_age{i}") for i in range(Q))
        head = Signal(range(Q))
        count = Signal(range(Q + 1))
        head_word = Signal(range(words))     # the oldest event's next word to be written
        for i in range(Q):
            with m.If(q_age[i] <= due_last):
                m.d.sync += q_age[i].eq(q_age[i] + 1)
        with m.If(accepted):
            tail = (head + count)[:len(head)]
            m.d.sync += [q_src[tail].eq(ev.payload.src), q_value[tail].eq(value_in),
                         q_age[tail].eq(1)]

        shadow = [[Signal(acc_shape, name=f"shadow{w}_{lane}") for lane in range(lanes)]
                  for w in range(words)]
        due = (count > 0) & (q_age[head] == self.LATENCY + head_word)
        m.d.comb += Assert(syn.acc_we == due)
        pop = Signal()
        with m.If(syn.acc_we):
            m.d.comb += Assert(syn.acc_waddr == head_word)
            for lane in range(lanes):
                added = Array(contribution(q_src[head], q_value[head], word, lane)
                              for word in range(words))[head_word]
                expected = Signal(acc_shape, name=f"expected_write{lane}")
                m.d.comb += expected.eq(Array(s[lane] for s in shadow)[head_word] + added)
                m.d.comb += Assert(syn.acc_wdata[lane] == expected)
                with m.Switch(head_word):
                    for word in range(words):
                        with m.Case(word):
                            m.d.sync += shadow[word][lane].eq(expected)
            with m.If(head_word == words - 1):
                m.d.comb += pop.eq(1)
                m.d.sync += head_word.eq(0)
            with m.Else():
                m.d.sync += head_word.eq(head_word + 1)
        m.d.sync += count.eq(count + accepted - pop)
        with m.If(pop):
            m.d.sync += head.eq(head + 1)
        m.d.comb += Assert(count < Q)
        # facts of the model alone (younger behind older, none overdue) that let the
        # induction step discard queues no run can produce
        with m.If(count > 0):
            m.d.comb += Assert(q_age[head] <= self.LATENCY + head_word)
        with m.If(head_word > 0):
            m.d.comb += Assert((count > 0) & (q_age[head] == self.LATENCY + head_word))
        for i in range(1, Q):
            with m.If(i < count):
                younger, older = q_age[(head + i)[:len(head)]], q_age[(head + i - 1)[:len(head)]]
                m.d.comb += Assert((younger >= 1) & (younger < older))
        for word in range(words):
            for lane in range(lanes):
                m.d.comb += Assert(held[word][lane] == shadow[word][lane])
        with m.If(~syn.busy):
            m.d.comb += Assert(count == 0)

        if self.running_sum:
            total = [[Signal(acc_shape, name=f"sum{w}_{lane}") for lane in range(lanes)]
                     for w in range(words)]
            for word in range(words):
                for lane in range(lanes):
                    with m.If(accepted):
                        m.d.sync += total[word][lane].eq(
                            total[word][lane] + contribution(ev.payload.src, value_in, word, lane))
                    with m.If(~syn.busy):
                        m.d.comb += Assert(held[word][lane] == total[word][lane])
        # reachable within the depth: back-to-back events (the hazard forwarding covers)
        m.d.comb += Cover(accepted & _Past(m)(accepted, "accepted"))
        return m


class ConfigInterlock(Elaboratable):
    """The configuration port refuses memory access while the core is busy (``AddressMap``).

    Every input is free (events, results.ready, the whole configuration bus). A request is
    decided ``REQUEST_LATENCY`` clocks after the host drives it, with ``busy`` as it is then;
    a read answers (``r_valid``) ``ANSWER_LATENCY`` clocks after that. Claims:

    1. while ``busy``, no layer core sees a write or read strobe of any of its memories;
    2. a read of a non-register address decided while busy answers 0;

    and with ``model=True`` (not k-inductive: the model's state is not tied to the core's),
    on input EVENT records only (the synapse engine makes the core busy, the sequencer stays
    idle: no neuron engine computes on what was written) and with memory accesses to two
    elements, A and B (both free), which bounds the solver's aliasing:

    3. a CONTROL read answers busy and the refused flag, which an access to a non-register
       address decided while busy sets and a CONTROL write with bit 1 clears;
    4. element A reads back (while idle) its initial value or the last value written to it
       while idle, in its region's ``bits``, sign- or zero-extended; a write to B leaves it.
    """

    def __init__(self, network: Network, config: HardwareConfig, *, model: bool = True):
        self.dut = Accelerator(network, config)
        self.model = model

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        amap = dut.address_map
        m.submodules.dut, cores = _building(dut, platform)
        past = _Past(m)
        m.d.comb += Assume(~ResetSignal())
        _free_inputs(m, dut)
        port, busy = dut.cfg, dut.busy
        request = _Request(m, port)
        registers = amap.regions[0]

        def at_registers(addr):
            return (addr >> registers.offset_bits) == 0

        memories = amap.regions[1:]

        # 1. the strobes layer cores see
        for region in memories:
            core = cores[region.layer]
            for strobe in ("we", "re"):
                m.d.comb += Assert(~(busy & getattr(core, f"cfg_{strobe}_{region.memory}")))

        # 2. a refused read answers 0
        with m.If(past(request.r_stb & ~at_registers(request.addr) & busy, "refused_read",
                     ANSWER_LATENCY)):
            m.d.comb += Assert(port.r_valid & (port.r_data == 0))
        if not self.model:
            return m

        m.d.comb += Assume(dut.events.payload.kind == InputKind.EVENT)
        elements = self._elements(amap, dut.network, dut.config.lanes)
        element, other = AnyConst(range(len(elements))), AnyConst(range(len(elements)))
        m.d.comb += Assume((element < len(elements)) & (other < len(elements)))
        table = Array(Const(address, len(port.addr)) for address, _, _ in elements)
        m.d.comb += Assume(~(port.w_stb | port.r_stb) | at_registers(port.addr)
                           | (port.addr == table[element]) | (port.addr == table[other]))

        # 3. the refused flag, read in CONTROL
        refused = Signal()
        at_control = at_registers(request.addr) & \
            (request.addr[:registers.offset_bits] == REGISTERS["CONTROL"])
        with m.If(request.w_stb & at_control & request.w_data[1]):
            m.d.sync += refused.eq(0)
        with m.If((request.w_stb | request.r_stb) & ~at_registers(request.addr) & busy):
            m.d.sync += refused.eq(1)
        control = Signal(DATA_BITS)
        m.d.comb += control.eq(Cat(busy, refused))
        with m.If(past(request.r_stb & at_control, "control_read", ANSWER_LATENCY)):
            m.d.comb += Assert(port.r_data == past(control, "control", ANSWER_LATENCY))

        # 4. element A: its initial value, then the writes accepted while idle
        at_element = request.addr == table[element]
        extended = []
        for region in memories:
            low = request.w_data[:region.bits]
            value = Signal(DATA_BITS, name=f"written_{region.name.replace('.', '_')}")
            m.d.comb += value.eq(low.as_signed() if region.signed else low)
            extended.append(value)
        kind = Array(Const(k) for _, _, k in elements)[element]
        shadow, written, now = Signal(DATA_BITS), Signal(), Signal(DATA_BITS)
        initial = Array(Const(v, DATA_BITS) for _, v, _ in elements)[element]
        m.d.comb += now.eq(Mux(written, shadow, initial))
        with m.If(request.w_stb & at_element & ~busy):
            m.d.sync += [shadow.eq(Array(extended)[kind]), written.eq(1)]
        with m.If(past(request.r_stb & at_element & ~busy, "element_read", ANSWER_LATENCY)):
            m.d.comb += Assert(port.r_data == past(now, "element", ANSWER_LATENCY))
        # reachable within the depth: a write refused, later the element read while idle
        refused_write = Signal()
        with m.If(request.w_stb & at_element & busy):
            m.d.sync += refused_write.eq(1)
        m.d.comb += Cover(refused_write & request.r_stb & at_element & ~busy)
        return m

    @staticmethod
    def _elements(amap, network, lanes):
        """(address, initial value as read back, region index) of every memory element."""
        elements = []
        for kind, region in enumerate(amap.regions[1:]):
            init = layer_memories(network.layers[region.layer], network.formats, lanes, 0)
            init = init[region.memory][1]
            for row in range(region.rows):
                for col in range(region.row_stride):
                    word, lane = divmod(row * region.row_stride + col, lanes)
                    elements.append((amap.address(region.name, row, col),
                                     int(init[word, lane]) & ((1 << DATA_BITS) - 1), kind))
        return elements
