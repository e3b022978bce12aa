"""The neuron engine: update every neuron of a layer once per step, P lanes per clock."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden.network import Formats, NeuronKind
from ..golden.fixed import Overflow, Rounding
from . import mutants
from .arith import fit, shift_right

__all__ = ["NeuronEngine", "state_layout", "PARAMS", "DECAYS", "ENGINE_STAGES"]

#: Clocks from a word's read data to its write-back (``hdl.schedule`` counts them).
ENGINE_STAGES = 3

#: Per-neuron parameters each neuron kind reads (others are zero for that kind).
PARAMS = {
    NeuronKind.LI: ("bias", "alpha"),
    NeuronKind.LIF: ("bias", "alpha", "b0"),
    NeuronKind.ALIF: ("bias", "alpha", "b0", "rho", "adapt"),
    NeuronKind.CUBA: ("bias", "alpha", "b0", "alpha_syn"),
    NeuronKind.THETA: ("p0", "q0"),   # the initial state (hdl.theta)
}

#: Parameters that are unsigned decay factors; the others are signed state values.
DECAYS = ("alpha", "rho", "alpha_syn")


def param_shape(name: str, formats: Formats):
    return unsigned(formats.decay_bits) if name in DECAYS else signed(formats.state_bits)


def state_layout(kind: NeuronKind, formats: Formats) -> data.StructLayout:
    """State of one neuron: membrane ``u``, adaptation ``a`` (ALIF), synaptic current ``i``
    (CUBA), last spike ``s`` (spiking); theta neurons: ``p``, ``q``, ``s`` (``hdl.theta``)."""
    if kind is NeuronKind.THETA:
        return data.StructLayout({"p": signed(formats.state_bits), "q": signed(formats.state_bits),
                                  "s": unsigned(1)})
    fields = {"u": signed(formats.state_bits)}
    if kind is NeuronKind.ALIF:
        fields["a"] = signed(formats.state_bits)
    if kind is NeuronKind.CUBA:
        fields["i"] = signed(formats.state_bits)
    if kind.spiking:
        fields["s"] = unsigned(1)
    return data.StructLayout(fields)


class NeuronEngine(wiring.Component):
    """Reads word ``w`` of accumulators, state and parameters, writes the new state three
    clocks after the read data arrives (a three-stage pipeline).

    ``start`` pulses begin a pass over ``words`` words; the accumulator word is
    cleared as it is consumed. Lanes past ``size`` (padding) never spike.
    The datapath is ``spikeforge.golden.neuron.layer_step`` per lane.
    """

    def __init__(self, *, kind, size, lanes, formats, acc_bits):
        if not isinstance(kind, NeuronKind) or kind is NeuronKind.THETA:
            raise TypeError(f"NeuronEngine: kind must be a NeuronKind other than THETA "
                            f"(hdl.theta.ThetaEngine), not {kind!r}")
        for name, v in (("size", size), ("lanes", lanes), ("acc_bits", acc_bits)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"NeuronEngine: {name} must be a positive integer, not {v!r}")
        self._kind, self._size, self._lanes, self._formats = kind, size, lanes, formats
        self._words = -(-size // lanes)
        state_word = data.ArrayLayout(state_layout(kind, formats), lanes)
        ports = {
            "start": In(1),
            "busy": Out(1),
            "addr": Out(range(self._words)),
            "acc": In(data.ArrayLayout(signed(acc_bits), lanes)),
            "state": In(state_word),
            "w_addr": Out(range(self._words)),
            "w_en": Out(1),
            "w_state": Out(state_word),
            "spikes": Out(lanes),   # new spikes of the word written this clock
        }
        for name in PARAMS[kind]:
            ports[name] = In(data.ArrayLayout(param_shape(name, formats), lanes))
        super().__init__(ports)

    @property
    def words(self):
        return self._words

    def elaborate(self, platform):
        m = Module()
        f, kind, lanes = self._formats, self._kind, self._lanes
        S, D, rnd, ovf = f.state_bits, f.decay_bits, f.rounding, f.overflow
        if mutants.active("rounding_floor"):
            rnd = Rounding.FLOOR
        if mutants.active("wrap_not_saturate"):
            ovf = Overflow.WRAP
        guard = 0 if mutants.active("no_guard_bits") else f.guard_bits
        last_word = self._words - (2 if mutants.active("short_pass") and self._words > 1 else 1)

        running = Signal()
        word = Signal(range(self._words))
        with m.If(self.start):
            m.d.sync += [running.eq(1), word.eq(0)]
        with m.Elif(running):
            m.d.sync += word.eq(word + 1)
            with m.If(word == last_word):
                m.d.sync += [running.eq(0), word.eq(0)]
        m.d.comb += self.addr.eq(word)

        # Three pipeline stages after the read, so no clock sees more than one adder
        # chain: (1) the decay products, rounded; (2) the adaptation, the threshold and
        # the membrane's input sum; (3) the soft reset, saturation and threshold compare,
        # written back.
        valid = [running]
        words = [word]
        for _ in range(ENGINE_STAGES):
            valid.append(Signal())
            words.append(Signal(range(self._words)))
            m.d.sync += [valid[-1].eq(valid[-2]), words[-1].eq(words[-2])]
        last_word = words[-1]
        m.d.comb += [self.w_addr.eq(last_word), self.w_en.eq(valid[-1]),
                     self.busy.eq(Cat(*valid).any())]

        def stage(value):
            """``value`` one clock later."""
            reg = Signal(value.shape())
            m.d.sync += reg.eq(value)
            return reg

        for lane in range(lanes):
            st = self.state[lane]
            new = self.w_state[lane]
            # stage 1
            leak = stage(shift_right(self.alpha[lane] * st.u, D, rnd))
            # the synaptic input in state units: guard_bits below the weight LSB (wiring)
            src = 1 - lane if mutants.active("lane_swap") and lanes > 1 and lane < 2 else lane
            acc, bias = stage(self.acc[src] << guard), stage(self.bias[lane])
            if kind is NeuronKind.LI:
                m.d.comb += new.u.eq(stage(fit(leak + acc + bias, S, ovf)))
                continue
            s_prev, b0 = stage(st.s), stage(self.b0[lane])
            # stage 2
            if kind is NeuronKind.CUBA:
                decayed = stage(shift_right(self.alpha_syn[lane] * st.i, D, rnd))
                current = stage(fit(decayed + acc + bias, S, ovf))
                m.d.comb += new.i.eq(current)
                theta = stage(b0)
                total = stage(leak) + current
            else:
                if kind is NeuronKind.ALIF:
                    decayed, adapt = stage(shift_right(self.rho[lane] * st.a, D, rnd)), \
                        stage(self.adapt[lane])
                    a = fit(decayed + Mux(s_prev, adapt, 0), S, ovf)
                    m.d.comb += new.a.eq(stage(a))
                    theta = stage(fit(b0 + a, S, ovf))
                else:
                    theta = stage(b0)
                total = stage(leak + acc + bias)
            s_prev = stage(s_prev)
            # stage 3
            reset = 0 if mutants.active("no_soft_reset") else Mux(s_prev, theta, 0)
            u = fit(total - reset, S, ovf)
            lane_valid = last_word * lanes + lane < self._size
            spike = (u > theta) & lane_valid
            if mutants.active("stuck_spike") and lane == 0:
                spike = C(0, 1)
            m.d.comb += [new.u.eq(u), new.s.eq(spike), self.spikes[lane].eq(spike & valid[-1])]
        return m
