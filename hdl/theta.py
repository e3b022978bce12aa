"""The theta neuron engine: one tick of every theta neuron of a layer, P lanes per clock.

The datapath is ``spikeforge.golden.theta.theta_step`` per lane; the state is
the projective phase vector ``(p, q)`` and the last spike ``s``. Seven stages
after the read (six for a power-of-two rotation), so that no clock sees more
than one multiply or one adder chain:

1. the pulse product ``acc * q``;
2. the shear ``p + shr(acc * q, weight_shift)``;
3. the flow products ``rotation * q`` and ``rotation * p`` (by a constant: shifted adds,
   ``hdl.arith.mul_const``, no multiplier; no stage at all for a power of two);
4. the rotation ``p + shr(rotation q, K)``, ``q - shr(rotation p, K)``;
5. the spike (``q < 0``) and the reset (negate both);
6. the normalising shift: significant bits of ``p`` and ``q``;
7. the shift itself (one right shifter of ``x 2**(B-1)``), written back.

``fresh`` says the state read is the layer's initial one: while it is high
the engine reads ``p0``/``q0`` (the initial-state parameters) instead of the
state memory, so a sample starts from the trained initial phases without a
pass that writes them.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..golden.network import Formats, NeuronKind
from . import mutants
from .arith import csd_digits, mul_const, shift_right
from .neuron import read_address_ports, stagers, state_layout, word_pass

__all__ = ["ThetaEngine", "theta_state_layout", "theta_stages"]


def theta_stages(rotation: int) -> int:
    """Clocks from the read data to the write-back: seven, or six when the rotation is a
    power of two (its products are shifts, stage 3 has nothing to do)."""
    return 7 if len(csd_digits(rotation)) > 1 else 6


def bit_length(value):
    """Significant bits of an unsigned value (0 for 0), as a tree of depth log2(width)
    instead of a chain of width priority muxes."""
    width = len(value)
    if width == 1:
        return value[0]
    half = 1 << (ceil_log2(width) - 1)          # the upper part has width - half bits
    low, high = value[:half], value[half:]
    return Mux(high.any(), half + bit_length(high), bit_length(low))


def theta_state_layout(formats: Formats) -> data.StructLayout:
    return state_layout(NeuronKind.THETA, formats)


class ThetaEngine(wiring.Component):
    """Reads word ``w`` of accumulators, state and initial state, writes the new state
    ``theta_stages(rotation)`` clocks after the read data arrives; same ports as ``NeuronEngine``
    plus ``fresh`` and the initial-state parameters ``p0``, ``q0``."""

    def __init__(self, *, size, lanes, formats, acc_bits, weight_shift, rotation):
        for name, v in (("size", size), ("lanes", lanes), ("acc_bits", acc_bits),
                        ("rotation", rotation)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"ThetaEngine: {name} must be a positive integer, not {v!r}")
        if not isinstance(weight_shift, int) or weight_shift < 0:
            raise ValueError(f"ThetaEngine: weight_shift must be an integer >= 0, not {weight_shift!r}")
        if not isinstance(formats, Formats):
            raise TypeError(f"ThetaEngine: formats must be Formats, not {formats!r}")
        if rotation >= 1 << formats.decay_bits:
            raise ValueError(f"ThetaEngine: rotation {rotation} needs more than "
                             f"{formats.decay_bits} bits")
        self._size, self._lanes, self._formats = size, lanes, formats
        self._shift, self._rotation = weight_shift, rotation
        self._words = -(-size // lanes)
        state_word = data.ArrayLayout(theta_state_layout(formats), lanes)
        param_word = data.ArrayLayout(signed(formats.state_bits), lanes)
        super().__init__({
            "start": In(1),
            "busy": Out(1),
            "addr": Out(range(self._words)),
            "acc": In(data.ArrayLayout(signed(acc_bits), lanes)),
            "state": In(state_word),
            "fresh": In(1),
            "p0": In(param_word),
            "q0": In(param_word),
            "w_addr": Out(range(self._words)),
            "w_en": Out(1),
            "w_state": Out(state_word),
            "spikes": Out(lanes),
            # every memory is read with ``addr``
            **read_address_ports(NeuronKind.THETA, self._words),
        })

    @property
    def kind(self):
        return NeuronKind.THETA

    @property
    def words(self):
        return self._words

    def elaborate(self, platform):
        m = Module()
        f, lanes = self._formats, self._lanes
        B, K, rnd = f.state_bits, f.decay_bits, f.rounding

        stages = theta_stages(self._rotation)
        valid, words = word_pass(m, self, self.start, self._words - 1, stages)
        m.d.comb += [getattr(self, name).eq(self.addr)
                     for name in read_address_ports(NeuronKind.THETA, self._words)]
        stage, _ = stagers(m)

        for lane in range(lanes):
            st = self.state[lane]
            new = self.w_state[lane]
            p = Mux(self.fresh, self.p0[lane], st.p)
            q = Mux(self.fresh, self.q0[lane], st.q)
            # 1: the pulse product
            prod, p, q = stage(self.acc[lane] * q), stage(p), stage(q)
            # 2: the shear
            p = stage(p + shift_right(prod, self._shift, rnd))
            q = stage(q)
            # 3: the flow products (by a constant)
            rot_q, rot_p = mul_const(q, self._rotation), mul_const(p, self._rotation)
            if stages == 7:
                rot_q, rot_p, p, q = stage(rot_q), stage(rot_p), stage(p), stage(q)
            # 4: the rotation
            p = stage(p + shift_right(rot_q, K, rnd))
            q = stage(q - shift_right(rot_p, K, rnd))
            # 5: spike and reset
            lane_valid = words[stages - 2] * lanes + lane < self._size
            spike = stage((q < 0) & lane_valid)
            if mutants.active("theta_no_reset"):
                p, q = stage(p), stage(q)
            else:
                p, q = stage(Mux(q < 0, -p, p)), stage(Mux(q < 0, -q, q))
            # 6: significant bits n of p and q (those of x ^ sign(x))
            width = max(len(p), len(q))
            magnitude = Mux(p < 0, ~p, p)[:len(p)] | q[:len(q)]    # q >= 0 here
            n = Signal(range(width + 1))
            m.d.comb += n.eq(bit_length(magnitude))
            n, spike, p, q = stage(n), stage(spike), stage(p), stage(q)
            # 7: one shifter for either direction, written back: (x 2**(B-1)) >> n is x
            # shifted left by B-1-n, or floored right by n-(B-1), to n = B-1 bits
            m.d.comb += [new.p.eq(((p << (B - 1)) >> n)[:B]),
                         new.q.eq(((q << (B - 1)) >> n)[:B]),
                         new.s.eq(spike), self.spikes[lane].eq(spike & valid[-1])]
        return m
