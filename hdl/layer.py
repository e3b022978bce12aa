"""One layer of the accelerator: its memories, synapse engine, neuron engine and spike list."""

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ..golden.network import Formats, Layer, NeuronKind
from . import mutants
from .config import DATA_BITS, Region
from .neuron import PARAMS, NeuronEngine, param_shape, state_layout
from .protocol import event_layout
from .spikes import SpikeList, index_shape
from .spram import SPRAMWeights
from .synapse import SynapseEngine
from .theta import ThetaEngine

__all__ = ["LayerCore", "weight_rows", "layer_memories", "APPEND_DELAY"]

#: Clocks from the neuron engine's write-back of a word to its spike-list entry's ``w_en``.
APPEND_DELAY = 1


def weight_rows(layer: Layer, lanes: int) -> np.ndarray:
    """The weight memory contents: (rows, words * lanes), w_in rows then w_rec rows, zero-padded."""
    words = -(-layer.size // lanes)
    rows = layer.w_in if layer.w_rec is None else np.concatenate([layer.w_in, layer.w_rec])
    padded = np.zeros((rows.shape[0], words * lanes), np.int64)
    padded[:, :layer.size] = rows
    return padded


def layer_memories(layer: Layer, formats: Formats, lanes: int, acc_bits: int) -> dict:
    """Every memory of a layer: name -> (element shape, depth, lanes, init as (depth, lanes) ints)."""
    words = -(-layer.size // lanes)
    mems = {"weights": (signed(formats.weight_bits), weight_rows(layer, lanes).reshape(-1, lanes))}
    for name in PARAMS[layer.kind]:
        values = np.zeros(words * lanes, np.int64)
        values[:layer.size] = getattr(layer, name)
        mems[name] = (param_shape(name, formats), values.reshape(words, lanes))
    return mems


class LayerCore(wiring.Component):
    """Memories and engines of one layer; the accelerator sequences them.

    ``events`` go to the synapse engine; ``update`` pulses one neuron-engine
    pass (and starts a new spike list); ``clear`` zeroes state, accumulators and the
    spike list; ``scan`` streams the spikes of the last update as indices on ``spikes``
    (``hdl.spikes.SpikeList``: produced once, no pass over the state; ``scan`` with ``update``
    streams them as the update appends them); ``ro_addr`` reads a state
    word onto ``state`` when nothing else uses the port. ``cfg_*`` reach the
    weight and parameter memories (``cfg_rdata`` three clocks after ``cfg_re``).
    ``spram_weights`` puts the weights in ``hdl.spram.SPRAMWeights``. A theta layer
    (``rotation``: the network's flow per tick) starts every sample from its initial
    state: ``fresh`` is set by reset and by ``clear`` and dropped once the first
    update has read every word.
    """

    def __init__(self, *, layer: Layer, formats: Formats, lanes: int, acc_bits: int,
                 values: str, value_bits: int, regions: list[Region], offset_bits: int,
                 spram_weights: bool = False, rotation: int | None = None):
        if (layer.kind is NeuronKind.THETA) != (rotation is not None):
            raise ValueError("LayerCore: a theta layer needs the network's rotation, no other "
                             "layer has one")
        self._rotation = rotation
        self._layer, self._formats, self._lanes, self._acc_bits = layer, formats, lanes, acc_bits
        self._spram_weights = spram_weights
        self._values, self._value_bits = values, value_bits
        self._words = -(-layer.size // lanes)
        self._rows = weight_rows(layer, lanes).shape[0]
        self._regions = {r.memory: r for r in regions}
        ports = {
            "events": In(stream.Signature(event_layout(self._rows, None if values == "spike" else value_bits))),
            "syn_busy": Out(1),
            "syn_issuing": Out(1),
            "update": In(1),
            "upd_busy": Out(1),
            "new_spikes": Out(lanes),
            "clear": In(1),
            "clear_busy": Out(1),
            "scan": In(1),
            "scan_busy": Out(1),
            "spikes": Out(stream.Signature(index_shape(self._words, lanes))),
            "ro_addr": In(range(self._words)),
            "state": Out(data.ArrayLayout(state_layout(layer.kind, formats), lanes)),
            "cfg_offset": In(offset_bits),
            "cfg_wdata": In(DATA_BITS),
            "cfg_rdata": Out(DATA_BITS),
        }
        for name in self._regions:
            ports[f"cfg_we_{name}"] = In(1)
            ports[f"cfg_re_{name}"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        layer, f, P, words = self._layer, self._formats, self._lanes, self._words
        lane_bits = exact_log2(P)

        m.submodules.synapse = syn = SynapseEngine(
            rows=self._rows, words=words, lanes=P, weight_bits=f.weight_bits,
            acc_bits=self._acc_bits, values=self._values, value_bits=self._value_bits)
        if layer.kind is NeuronKind.THETA:
            m.submodules.neuron = neu = ThetaEngine(
                size=layer.size, lanes=P, formats=f, acc_bits=self._acc_bits,
                weight_shift=layer.weight_shift, rotation=self._rotation)
        else:
            m.submodules.neuron = neu = NeuronEngine(
                kind=layer.kind, size=layer.size, lanes=P, formats=f, acc_bits=self._acc_bits)
        m.submodules.spike_list = spikes = SpikeList(words=words, lanes=P)
        wiring.connect(m, wiring.flipped(self.events), syn.events)
        wiring.connect(m, spikes.spikes, wiring.flipped(self.spikes))
        m.d.comb += [
            self.syn_busy.eq(syn.busy), self.syn_issuing.eq(syn.issuing),
            neu.start.eq(self.update), self.upd_busy.eq(neu.busy),
            self.new_spikes.eq(neu.spikes), spikes.start.eq(self.scan), self.scan_busy.eq(spikes.busy),
            spikes.clear.eq(self.update | self.clear),
        ]
        # the engine's write-back appends the words that spiked, registered first (the
        # threshold compare feeds a register, not the list's count and memory); the entry is
        # in before the sequencer can start the list, a clock after the pass ends
        m.d.sync += [spikes.w_en.eq(neu.w_en), spikes.w_word.eq(neu.w_addr),
                     spikes.w_mask.eq(neu.spikes)]
        # a list streamed during the update (``scan`` with ``update``) stays open until the
        # last entry is in
        m.d.comb += spikes.appending.eq(neu.busy | spikes.w_en)

        # Configuration access: element offset (within the region) -> word and lane.
        cfg_lane = self.cfg_offset[:lane_bits] if lane_bits else Const(0, 1)
        # a read's lane and strobe, kept until its word has been registered (two clocks)
        cfg_rlane, cfg_wlane = Signal.like(cfg_lane), Signal.like(cfg_lane)
        m.d.sync += [cfg_rlane.eq(cfg_lane), cfg_wlane.eq(cfg_rlane)]
        rdata = Const(0, DATA_BITS)

        # Weight and parameter memories: read by the engines, written by the host.
        for name, (shape, init) in layer_memories(layer, f, P, self._acc_bits).items():
            engine_addr = syn.w_addr if name == "weights" else getattr(neu, f"addr_{name}")
            re, we = getattr(self, f"cfg_re_{name}"), getattr(self, f"cfg_we_{name}")
            # a parameter memory's read address belongs to the neuron engine while it works,
            # to the configuration port otherwise (an access while the core is busy is
            # refused anyway): no core-wide busy decode in front of the address. The weights
            # keep the decoded read as select (with the synapse engine's busy there, the
            # ULX3S build at P = 8 did not route in 30 minutes)
            cfg_reads = re if name == "weights" else ~neu.busy
            cfg_word = self.cfg_offset[:self._regions[name].offset_bits] >> lane_bits
            lane_en = Mux(we, Const(1, P) << cfg_lane, 0)
            if name == "weights" and self._spram_weights:
                # One port for everything (see hdl.spram); no initial contents.
                m.submodules.mem_weights = mem = SPRAMWeights(
                    depth=init.shape[0], lanes=P, weight_bits=f.weight_bits)
                m.d.comb += [mem.addr.eq(Mux(re | we, cfg_word, engine_addr)),
                             mem.w_data.eq(self.cfg_wdata), mem.w_en.eq(lane_en)]
                read_data = mem.r_data
            else:
                mem = memory.Memory(shape=data.ArrayLayout(shape, P), depth=init.shape[0],
                                    init=[list(map(int, row)) for row in init])
                m.submodules[f"mem_{name}"] = mem
                rd = mem.read_port()
                wr = mem.write_port(granularity=1)
                m.d.comb += [rd.addr.eq(Mux(cfg_reads, cfg_word, engine_addr)), wr.addr.eq(cfg_word),
                             wr.en.eq(lane_en)]
                for lane in range(P):
                    m.d.comb += wr.data[lane].eq(self.cfg_wdata)
                read_data = rd.data
            if name == "weights":
                m.d.comb += syn.w_data.eq(read_data)
            else:
                m.d.comb += getattr(neu, name).eq(read_data)
            was_read, word_read = Signal(name=f"cfg_read_{name}"), Signal(name=f"cfg_word_{name}")
            m.d.sync += [word_read.eq(re), was_read.eq(word_read)]
            value = Signal(shape, name=f"cfg_value_{name}")
            if name == "weights":
                # the word read, registered before its lane is selected: the synapse engine
                # registers the same word the same way (Yosys merges the two), so the block
                # RAM's output only ever feeds flip-flops
                held = Signal.like(read_data, name=f"cfg_held_{name}")
                m.d.sync += held.eq(read_data)
                m.d.comb += value.eq(held[cfg_wlane])
            else:
                # a parameter's lane selected from the memory's registered output, then
                # registered: the neuron engine's own first-stage register (which feeds the
                # lanes' multipliers) has no second load here. A shared register, placed
                # between the multipliers and this select, was the critical path at P = 8 on
                # the ECP5 (10.86 ns, 6.4 of them routing)
                m.d.sync += value.eq(read_data[cfg_rlane])
            extended = Signal(DATA_BITS, name=f"cfg_ext_{name}")
            m.d.comb += extended.eq(value)   # sign- or zero-extends by the value's shape
            rdata = rdata | Mux(was_read, extended, 0)
        # registered: the lane select and the OR over the memories end at a flip-flop, not in
        # the link's answer register (at P = 8 on the ECP5 that was the critical path)
        m.d.sync += self.cfg_rdata.eq(rdata)

        # Clear pass: zero state and accumulators, one word per clock.
        clearing = Signal()
        clear_word = Signal(range(words))
        with m.If(self.clear):
            m.d.sync += [clearing.eq(1), clear_word.eq(0)]
        with m.Elif(clearing):
            m.d.sync += clear_word.eq(clear_word + 1)
            with m.If(clear_word == words - 1):
                m.d.sync += clearing.eq(0)
        m.d.comb += self.clear_busy.eq(clearing)
        if layer.kind is NeuronKind.THETA:
            fresh = Signal(init=1)
            with m.If(self.clear):
                m.d.sync += fresh.eq(1)
            with m.Elif(neu.w_en & (neu.w_addr == words - 1)):
                m.d.sync += fresh.eq(0)   # the first update has read every word
            m.d.comb += neu.fresh.eq(fresh)

        # Accumulators: the synapse engine's read-modify-write, consumed (zeroed) by the neuron engine.
        acc = memory.Memory(shape=data.ArrayLayout(signed(self._acc_bits), P), depth=words,
                            init=[])
        m.submodules.mem_acc = acc
        acc_wr = acc.write_port()
        acc_rd = acc.read_port(transparent_for=() if mutants.active("no_forwarding") else (acc_wr,))
        m.d.comb += [
            acc_rd.addr.eq(Mux(neu.busy, neu.addr_acc, syn.acc_raddr)),
            syn.acc_rdata.eq(acc_rd.data),
            neu.acc.eq(acc_rd.data),
        ]
        with m.If(syn.acc_we):
            m.d.comb += [acc_wr.addr.eq(syn.acc_waddr), acc_wr.data.eq(syn.acc_wdata), acc_wr.en.eq(1)]
        with m.Elif(neu.w_en):
            m.d.comb += [acc_wr.addr.eq(neu.w_addr), acc_wr.en.eq(1)]
        with m.Elif(clearing):
            m.d.comb += [acc_wr.addr.eq(clear_word), acc_wr.en.eq(1)]

        # Neuron state: updated by the neuron engine, read by the readout.
        st = memory.Memory(shape=data.ArrayLayout(state_layout(layer.kind, f), P), depth=words, init=[])
        m.submodules.mem_state = st
        st_wr = st.write_port()
        st_rd = st.read_port()
        m.d.comb += [
            st_rd.addr.eq(Mux(neu.busy, neu.addr, self.ro_addr)),
            neu.state.eq(st_rd.data),
            self.state.eq(st_rd.data),
        ]
        with m.If(neu.w_en):
            m.d.comb += [st_wr.addr.eq(neu.w_addr), st_wr.data.eq(neu.w_state), st_wr.en.eq(1)]
        with m.Elif(clearing):
            m.d.comb += [st_wr.addr.eq(clear_word), st_wr.en.eq(1)]
        return m
