"""A layer's weight memory in iCE40 UP5K single-port RAM (``SB_SPRAM256KA``).

The UP5K has four 16 k x 16-bit SPRAM blocks (1 Mbit) beside its 30 small
block RAMs. Yosys does not infer them from a ``Memory`` (checked: it falls back
to block RAM), so ``SPRAMWeights`` instantiates the primitive itself. Each lane
takes a whole number of nibbles (``lane_bits``) so that writing one lane is one
``MASKWREN`` write; the tiles are ``banks`` deep by ``slices`` wide. A word of
lanes narrower than a block's 16 bits shares it (``words_per_entry``: two words
of one 8-bit lane, or of two 4-bit lanes, four of one 4-bit lane): the low
address bits pick the word within the 16 bits, so the same blocks hold two or
four times the weights, and a write still touches only its own nibbles.

SPRAM has one port and no initial contents: the engines' reads and the
configuration port's reads and writes share the address (the configuration
port is used only while the core is idle, see ``AddressMap``), and the weights
must be written at run time (``AddressMap.network_writes``; the host driver
does it before every run).

On a platform that is not an iCE40 UP part (simulation, Verilog for other
tools) the same component elaborates to a behavioural single-port memory with
zero contents, so Verilator and Icarus run exactly the board's behaviour;
``SPRAM_PRIMITIVES`` as the platform forces the primitive (the tests simulate
it with Yosys' own ``SB_SPRAM256KA`` model).
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

__all__ = ["SPRAM_DEPTH", "SPRAM_WIDTH", "SPRAMWeights", "spram_tiles", "lane_bits",
           "words_per_entry", "SPRAM_PRIMITIVES"]

SPRAM_DEPTH = 16384
SPRAM_WIDTH = 16


def lane_bits(weight_bits: int) -> int:
    """Bits one lane takes in SPRAM: the weight rounded up to whole nibbles."""
    return -(-weight_bits // 4) * 4


def words_per_entry(lanes: int, weight_bits: int) -> int:
    """Words of ``lanes`` weights packed into one 16-bit SPRAM entry: 4, 2 or 1."""
    bits = lanes * lane_bits(weight_bits)
    return SPRAM_WIDTH // bits if bits < SPRAM_WIDTH else 1    # bits is 4, 8 or 12 here


def spram_tiles(depth: int, lanes: int, weight_bits: int) -> tuple[int, int]:
    """(banks, slices): SPRAM blocks deep and wide for ``depth`` words of ``lanes`` weights."""
    entries = -(-depth // words_per_entry(lanes, weight_bits))
    return -(-entries // SPRAM_DEPTH), -(-(lanes * lane_bits(weight_bits)) // SPRAM_WIDTH)


class _Primitives:
    """A stand-in platform that asks ``SPRAMWeights`` for the ``SB_SPRAM256KA`` instances."""

    spram_primitives = True


SPRAM_PRIMITIVES = _Primitives()


def _uses_primitives(platform) -> bool:
    if getattr(platform, "spram_primitives", False):
        return True
    from amaranth.vendor import SiliconBluePlatform
    return isinstance(platform, SiliconBluePlatform) and platform.device.startswith("iCE40UP")


class SPRAMWeights(wiring.Component):
    """``depth`` words of ``lanes`` signed weights in one single port.

    ``addr`` is read every clock (``r_data`` the next clock) unless ``w_en``
    (one bit per lane) is set: then ``w_data`` is written into the enabled lanes
    of word ``addr`` and ``r_data`` is undefined the next clock.
    """

    def __init__(self, *, depth: int, lanes: int, weight_bits: int):
        for name, v in (("depth", depth), ("lanes", lanes), ("weight_bits", weight_bits)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"SPRAMWeights: {name} must be a positive integer, not {v!r}")
        if lanes * lane_bits(weight_bits) > 8 * SPRAM_WIDTH or \
                depth > 8 * SPRAM_DEPTH * words_per_entry(lanes, weight_bits):
            raise ValueError(f"SPRAMWeights: {depth} words of {lanes} x {weight_bits}-bit weights "
                             f"are beyond any iCE40's SPRAM")
        self._depth, self._lanes, self._weight_bits = depth, lanes, weight_bits
        self._banks, self._slices = spram_tiles(depth, lanes, weight_bits)
        super().__init__({
            "addr": In(range(depth)),
            "r_data": Out(data.ArrayLayout(signed(weight_bits), lanes)),
            "w_data": In(signed(weight_bits)),
            "w_en": In(lanes),
        })

    @property
    def banks(self) -> int:
        """SPRAM blocks stacked for depth."""
        return self._banks

    @property
    def slices(self) -> int:
        """SPRAM blocks side by side for width."""
        return self._slices

    def elaborate(self, platform):
        if _uses_primitives(platform):
            return self._primitives()
        m = Module()
        m.submodules.mem = mem = memory.Memory(
            shape=data.ArrayLayout(signed(self._weight_bits), self._lanes), depth=self._depth, init=[])
        rd = mem.read_port()
        wr = mem.write_port(granularity=1)
        m.d.comb += [rd.addr.eq(self.addr), wr.addr.eq(self.addr), wr.en.eq(self.w_en),
                     self.r_data.eq(rd.data)]
        for lane in range(self._lanes):
            m.d.comb += wr.data[lane].eq(self.w_data)
        return m

    def _primitives(self) -> Module:
        m = Module()
        P, lb, wb = self._lanes, lane_bits(self._weight_bits), self._weight_bits
        width = self.slices * SPRAM_WIDTH
        nibbles = width // 4
        packed = words_per_entry(P, wb)
        word_bits = P * lb
        # The wide entry as stored: word j of the entry in bits [j*word_bits, (j+1)*word_bits),
        # its lane k in [k*lb, (k+1)*lb) of that, sign-extended to lb bits.
        wide_in = Signal(width)
        mask = Signal(nibbles)
        extended = Signal(signed(lb))
        m.d.comb += extended.eq(self.w_data)
        m.d.comb += wide_in.eq(Cat(*[extended] * (P * packed)))
        per_lane = lb // 4
        lane_mask = Cat(*[self.w_en[k].replicate(per_lane) for k in range(P)])
        sub_bits = min(exact_log2(packed), len(self.addr))    # a memory of one word: none
        sub = self.addr[:sub_bits] if sub_bits else Const(0, 1)
        entry = self.addr >> sub_bits             # the 16-bit entry that holds word ``addr``
        m.d.comb += mask.eq(lane_mask << (sub * (word_bits // 4)) if sub_bits else lane_mask)
        writing = self.w_en.any()

        bank_bits = ceil_log2(self.banks)
        low = Signal(14)
        m.d.comb += low.eq(entry[:14] if len(entry) else 0)
        bank = Signal(max(bank_bits, 1))
        if bank_bits:
            m.d.comb += bank.eq(entry[14:14 + bank_bits])
        read_bank, read_sub = Signal.like(bank), Signal.like(sub)
        m.d.sync += [read_bank.eq(bank), read_sub.eq(sub)]

        outs = []
        for b in range(self.banks):
            wide_out = Signal(width, name=f"bank{b}_out")
            outs.append(wide_out)
            select = (bank == b) if bank_bits else Const(1, 1)
            for s in range(self.slices):
                m.submodules[f"spram_{b}_{s}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=low,
                    i_DATAIN=wide_in[s * SPRAM_WIDTH:(s + 1) * SPRAM_WIDTH],
                    i_MASKWREN=mask[s * 4:(s + 1) * 4],
                    i_WREN=writing,
                    i_CHIPSELECT=select,
                    i_CLOCK=ClockSignal("sync"),
                    i_STANDBY=Const(0, 1),
                    i_SLEEP=Const(0, 1),
                    i_POWEROFF=Const(1, 1),
                    o_DATAOUT=wide_out[s * SPRAM_WIDTH:(s + 1) * SPRAM_WIDTH],
                )
        chosen = Signal(width)
        with m.Switch(read_bank):
            for b, wide_out in enumerate(outs):
                with m.Case(b):
                    m.d.comb += chosen.eq(wide_out)
        word = chosen.word_select(read_sub, word_bits) if sub_bits else chosen
        for k in range(P):
            m.d.comb += self.r_data[k].eq(word[k * lb:k * lb + wb])
        return m

