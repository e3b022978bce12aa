"""The spike scanner: turn a layer's spike bits into a stream of neuron indices."""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import mutants

__all__ = ["SpikeScanner", "index_shape"]


def index_shape(words: int, lanes: int):
    """Shape of a neuron index in a layer of ``words`` words of ``lanes`` neurons."""
    return unsigned(max(1, ceil_log2(words * lanes)))


class SpikeScanner(wiring.Component):
    """On ``start``, read words ``0 .. words-1`` of spike bits and stream the set ones, ascending.

    ``addr``/``bits`` drive a synchronous read port (one clock latency) that
    must not change underneath the scan.
    """

    def __init__(self, *, words, lanes):
        for name, v in (("words", words), ("lanes", lanes)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"SpikeScanner: {name} must be a positive integer, not {v!r}")
        self._words, self._lanes = words, lanes
        super().__init__({
            "start": In(1),
            "busy": Out(1),
            "addr": Out(range(words)),
            "bits": In(lanes),
            "spikes": Out(stream.Signature(index_shape(words, lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        words, lanes = self._words, self._lanes
        word = Signal(range(words))
        pending = Signal(lanes)
        lowest = Signal(range(lanes))
        for lane in reversed(range(lanes)):
            with m.If(pending[lane]):
                m.d.comb += lowest.eq(lane)
        m.d.comb += self.addr.eq(word)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += word.eq(0)
                    m.next = "READ"
            with m.State("READ"):   # address presented; bits valid next clock
                m.d.comb += self.busy.eq(1)
                m.next = "LATCH"
            with m.State("LATCH"):
                m.d.comb += self.busy.eq(1)
                bits = self.bits & ~(1 << (lanes - 1)) if mutants.active("scanner_drops_last_lane") \
                    else self.bits
                m.d.sync += pending.eq(bits)
                m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [
                    self.busy.eq(1),
                    self.spikes.valid.eq(pending.any()),
                    self.spikes.payload.eq(word * lanes + lowest),
                ]
                with m.If(self.spikes.valid & self.spikes.ready):
                    m.d.sync += pending.eq(pending & (pending - 1))
                with m.If(~pending.any()):
                    with m.If(word == words - 1):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += word.eq(word + 1)
                        m.next = "READ"
        return m
