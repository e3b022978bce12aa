"""A layer's spikes as a list: produced once by the neuron engine, streamed to every consumer.

``SpikeList`` keeps the spikes of a layer's last update as entries ``(word,
mask)``, one per state word that had any spike, in word order; the neuron
engine appends them as it writes the words back (no pass over the state
memory whose cost does not depend on activity). On ``start`` the list is
streamed as neuron indices, ascending, one per clock the consumer takes:
into the next layer's synapse engine (this step), into the layer's own
synapse engine (recurrent, next step) and into the results (spike records).

Timing: the first index is valid ``STREAM_LATENCY`` clocks after ``start``;
with a consumer that is always ready, each next one follows one clock later,
across entries (reading ``AHEAD`` entries ahead hides the memory's latency),
and ``busy`` drops the clock after the last is taken; an empty list is busy
for ``EMPTY_LENGTH`` clocks (``hdl.schedule`` counts on these).

The list can be streamed while it is written: started as the writer starts
(``clear`` and ``start`` together) and held open by ``appending``, it streams
each entry as it comes, its first index ``LIVE_LATENCY`` clocks after the
entry's ``w_en`` when the stream waits for it, and stops ``CLOSE_LATENCY``
clocks after ``appending`` drops with nothing left. That is how a layer's
spikes enter the next layer's synapse engine while the layer still updates.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import mutants

__all__ = ["SpikeList", "index_shape", "STREAM_LATENCY", "EMPTY_LENGTH", "LIVE_LATENCY",
           "CLOSE_LATENCY"]

#: Clocks from ``start`` to the first streamed index.
STREAM_LATENCY = 4
#: Clocks ``busy`` stays high after ``start`` for an empty list.
EMPTY_LENGTH = 2
#: Clocks from an entry's ``w_en`` to its first index, when the stream waits for it (the count,
#: the read, the read-ahead FIFO, the expander).
LIVE_LATENCY = 4
#: Clocks from ``appending`` dropping to ``busy`` dropping, with every entry streamed.
CLOSE_LATENCY = 1
#: Entries read ahead of the expander.
AHEAD = 3


def index_shape(words: int, lanes: int):
    """Shape of a neuron index in a layer of ``words`` words of ``lanes`` neurons."""
    from amaranth.hdl import unsigned
    return unsigned(max(1, ceil_log2(words * lanes)))


class SpikeList(wiring.Component):
    """The (word, mask) entries of a layer's last update; streamed as indices on ``start``.

    ``clear`` empties the list (the controller pulses it as an update starts);
    ``w_en`` with ``w_word``/``w_mask`` appends an entry when the mask has any bit.
    ``count`` is the number of entries; ``busy`` is high from ``start`` until the last
    index has been taken and, while ``appending`` says more entries may come, stays high.
    """

    def __init__(self, *, words, lanes):
        for name, v in (("words", words), ("lanes", lanes)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"SpikeList: {name} must be a positive integer, not {v!r}")
        self._words, self._lanes = words, lanes
        super().__init__({
            "clear": In(1),
            "w_en": In(1),
            "w_word": In(range(words)),
            "w_mask": In(lanes),
            "start": In(1),
            "appending": In(1),
            "busy": Out(1),
            "count": Out(range(words + 1)),
            "spikes": Out(stream.Signature(index_shape(words, lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        words, lanes = self._words, self._lanes
        entry = data.StructLayout({"word": range(words), "mask": lanes})
        m.submodules.mem = mem = memory.Memory(shape=entry, depth=words, init=[])
        wr, rd = mem.write_port(), mem.read_port()

        count = Signal(range(words + 1))
        with m.If(self.clear):
            m.d.sync += count.eq(0)
        mask = self.w_mask
        if mutants.active("spikes_drop_last_lane"):
            mask = mask & ~(1 << (lanes - 1))
        with m.Elif(self.w_en & mask.any()):
            m.d.comb += [wr.addr.eq(count), wr.data.word.eq(self.w_word),
                         wr.data.mask.eq(mask), wr.en.eq(1)]
            m.d.sync += count.eq(count + 1)
        m.d.comb += self.count.eq(count)

        # reader: entries into a small FIFO, up to three ahead of the expander, so that a
        # run of one-spike entries still streams one index per clock
        m.submodules.ahead = ahead = fifo.SyncFIFO(width=entry.size, depth=AHEAD)
        running = Signal()
        ptr = Signal(range(words + 1))
        inflight = Signal()
        level = ahead.level + inflight
        issue = running & (ptr < count) & (level < AHEAD)
        m.d.comb += [rd.addr.eq(ptr), ahead.w_data.eq(rd.data), ahead.w_en.eq(inflight)]
        m.d.sync += inflight.eq(issue)
        with m.If(issue):
            m.d.sync += ptr.eq(ptr + 1)

        # expander: the lowest pending bit of the current entry, one index per clock
        cur_valid = Signal()
        cur = Signal(entry)
        lowest = Signal(range(lanes))
        for lane in reversed(range(lanes)):
            with m.If(cur.mask[lane]):
                m.d.comb += lowest.eq(lane)
        out = self.spikes
        m.d.comb += [out.valid.eq(cur_valid), out.payload.eq(cur.word * lanes + lowest)]
        take = out.valid & out.ready
        remaining = cur.mask & (cur.mask - 1)         # the mask without its lowest bit
        frees = ~cur_valid | (take & (remaining == 0))
        with m.If(take):
            m.d.sync += cur.mask.eq(remaining)
        with m.If(frees):
            m.d.comb += ahead.r_en.eq(ahead.r_rdy)
            m.d.sync += [cur_valid.eq(ahead.r_rdy), cur.eq(ahead.r_data)]

        with m.If(self.start):
            m.d.sync += [running.eq(1), ptr.eq(0)]
        with m.Elif(running & (ptr == count) & ~inflight & ~ahead.r_rdy & frees & ~self.appending):
            m.d.sync += running.eq(0)
        m.d.comb += self.busy.eq(self.start | running | cur_valid)
        return m
