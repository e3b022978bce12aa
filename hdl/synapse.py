"""The synapse engine: accumulate weight rows into a layer's synaptic input, P lanes per clock."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import mutants
from .arith import mul_const
from .protocol import event_layout

__all__ = ["SynapseEngine", "VALUE_MODES"]

#: How an event's value scales a weight: "spike" (always +1, events carry no
#: value), "unit" (+1/-1: negate, no multiplier), "signed" (multiplier).
VALUE_MODES = ("spike", "unit", "signed")


class SynapseEngine(wiring.Component):
    """For each event, read the fan-out row ``src`` and add it into the accumulators.

    The weight memory holds ``rows * words`` words of ``lanes`` weights (row
    ``src``, word ``w`` at address ``src * words + w``); the accumulator memory
    ``words`` words of ``lanes`` accumulators. Five stages, one word per clock:
    A walks the row's words, R registers the weight address (no arithmetic between a
    register and the memory's address), B registers the weights as they arrive (nothing
    between the memory's output and a register), B2 scales them and issues the
    accumulator read, C adds and writes back. The accumulator read port must be
    transparent for the write port (``transparent_for``): that forwards the one
    read-after-write hazard the pipeline has (the same word in back-to-back
    events: read in B2 as the event before writes it in C).
    """

    def __init__(self, *, rows, words, lanes, weight_bits, acc_bits, values="spike", value_bits=2):
        for name, v in (("rows", rows), ("words", words), ("lanes", lanes),
                        ("weight_bits", weight_bits), ("acc_bits", acc_bits), ("value_bits", value_bits)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"SynapseEngine: {name} must be a positive integer, not {v!r}")
        if values not in VALUE_MODES:
            raise ValueError(f"SynapseEngine: values must be one of {VALUE_MODES}, not {values!r}")
        self._rows, self._words, self._lanes = rows, words, lanes
        self._values = values
        self._acc_bits, self._value_bits = acc_bits, value_bits
        acc_word = data.ArrayLayout(signed(acc_bits), lanes)
        super().__init__({
            "events": In(stream.Signature(event_layout(rows, None if values == "spike" else value_bits))),
            "busy": Out(1),
            "issuing": Out(1),   # stage A reads a weight word this clock (one per word of a row)
            "w_addr": Out(range(rows * words)),
            "w_data": In(data.ArrayLayout(signed(weight_bits), lanes)),
            "acc_raddr": Out(range(words)),
            "acc_rdata": In(acc_word),
            "acc_waddr": Out(range(words)),
            "acc_wdata": Out(acc_word),
            "acc_we": Out(1),
        })

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        words, lanes = self._words, self._lanes

        # Stage A: walk the words of the current event's row.
        a_valid = Signal()
        a_src = Signal(range(self._rows))
        a_word = Signal(range(words))
        a_value = Signal(signed(self._value_bits)) if self._values != "spike" else None
        a_last = a_word == words - 1
        m.d.comb += self.events.ready.eq(~a_valid | a_last)
        with m.If(a_valid):
            m.d.sync += a_word.eq(a_word + 1)
            with m.If(a_last):
                m.d.sync += [a_valid.eq(0), a_word.eq(0)]
        with m.If(self.events.valid & self.events.ready):
            m.d.sync += [a_valid.eq(1), a_word.eq(0), a_src.eq(self.events.payload.src)]
            if a_value is not None:
                m.d.sync += a_value.eq(self.events.payload.value)

        # Stage R: the weight address, registered (a row's first word at src * words, by
        # shifts and adds: no multiplier; then one more each clock), straight into the memory.
        r_valid = Signal()
        r_addr = Signal(range(self._rows * words))
        r_word = Signal(range(words))
        r_value = Signal(signed(self._value_bits)) if a_value is not None else None
        m.d.sync += [r_valid.eq(a_valid), r_word.eq(a_word),
                     r_addr.eq(Mux(a_word == 0, mul_const(a_src, words), r_addr + 1))]
        if r_value is not None:
            m.d.sync += r_value.eq(a_value)
        m.d.comb += self.w_addr.eq(r_addr)

        # Stage B: weights arrive and are registered.
        b_valid = Signal()
        b_word = Signal(range(words))
        b_value = Signal(signed(self._value_bits)) if a_value is not None else None
        m.d.sync += [b_valid.eq(r_valid), b_word.eq(r_word)]
        if b_value is not None:
            m.d.sync += b_value.eq(r_value)
        b_weights = Signal.like(self.w_data)
        m.d.sync += b_weights.eq(self.w_data)

        # Stage B2: scale the weights by the event value; read the accumulators.
        b2_valid = Signal()
        b2_word = Signal(range(words))
        b2_value = Signal(signed(self._value_bits)) if a_value is not None else None
        m.d.sync += [b2_valid.eq(b_valid), b2_word.eq(b_word)]
        if b2_value is not None:
            m.d.sync += b2_value.eq(b_value)
        m.d.comb += self.acc_raddr.eq(b2_word)

        c_valid = Signal()
        c_word = Signal(range(words))
        c_prod = Signal(data.ArrayLayout(signed(self._acc_bits), lanes))
        m.d.sync += [c_valid.eq(b2_valid), c_word.eq(b2_word)]
        for lane in range(lanes):
            weight = b_weights[lane]
            if self._values == "spike":
                product = weight
            elif mutants.active("input_sign_ignored"):
                product = weight if self._values == "unit" else weight * abs(b2_value)
            elif self._values == "unit":
                product = Mux(b2_value < 0, -weight, weight)
            else:
                product = weight * b2_value
            m.d.sync += c_prod[lane].eq(product)

        # Stage C: add into the accumulator word read in stage B2.
        for lane in range(lanes):
            m.d.comb += self.acc_wdata[lane].eq(self.acc_rdata[lane] + c_prod[lane])
        m.d.comb += [
            self.acc_waddr.eq(c_word),
            self.acc_we.eq(c_valid),
            self.issuing.eq(a_valid),
        ]
        # busy = any stage valid, computed a clock ahead from what sets those flags (an event
        # taken, or stages A..B2 valid) and registered: a flip-flop, not an OR of five, drives
        # the configuration port's interlock (``Accelerator``), which was the critical path
        # at P = 8 on the ECP5 (the same value on every clock)
        busy = Signal()
        m.d.sync += busy.eq((self.events.valid & self.events.ready)
                            | a_valid | r_valid | b_valid | b2_valid)
        m.d.comb += self.busy.eq(busy)
        return m
