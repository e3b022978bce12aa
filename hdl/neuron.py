"""The neuron engine: update every neuron of a layer once per step, P lanes per clock."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden.network import Formats, NeuronKind
from .arith import fit, shift_right

__all__ = ["NeuronEngine", "state_layout", "PARAMS", "DECAYS"]

#: Per-neuron parameters each neuron kind reads (others are zero for that kind).
PARAMS = {
    NeuronKind.LI: ("bias", "alpha"),
    NeuronKind.LIF: ("bias", "alpha", "b0"),
    NeuronKind.ALIF: ("bias", "alpha", "b0", "rho", "adapt"),
    NeuronKind.CUBA: ("bias", "alpha", "b0", "alpha_syn"),
}

#: Parameters that are unsigned decay factors; the others are signed state values.
DECAYS = ("alpha", "rho", "alpha_syn")


def param_shape(name: str, formats: Formats):
    return unsigned(formats.decay_bits) if name in DECAYS else signed(formats.state_bits)


def state_layout(kind: NeuronKind, formats: Formats) -> data.StructLayout:
    """State of one neuron: membrane ``u``, adaptation ``a`` (ALIF), synaptic current ``i``
    (CUBA), last spike ``s`` (spiking)."""
    fields = {"u": signed(formats.state_bits)}
    if kind is NeuronKind.ALIF:
        fields["a"] = signed(formats.state_bits)
    if kind is NeuronKind.CUBA:
        fields["i"] = signed(formats.state_bits)
    if kind.spiking:
        fields["s"] = unsigned(1)
    return data.StructLayout(fields)


class NeuronEngine(wiring.Component):
    """Reads word ``w`` of accumulators, state and parameters, writes the new state a clock later.

    ``start`` pulses begin a pass over ``words`` words; the accumulator word is
    cleared as it is consumed. Lanes past ``size`` (padding) never spike.
    The datapath is ``spikeforge.golden.neuron.layer_step`` per lane.
    """

    def __init__(self, *, kind, size, lanes, formats, acc_bits):
        if not isinstance(kind, NeuronKind):
            raise TypeError(f"NeuronEngine: kind must be a NeuronKind, not {kind!r}")
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

        running = Signal()
        word = Signal(range(self._words))
        with m.If(self.start):
            m.d.sync += [running.eq(1), word.eq(0)]
        with m.Elif(running):
            m.d.sync += word.eq(word + 1)
            with m.If(word == self._words - 1):
                m.d.sync += [running.eq(0), word.eq(0)]
        m.d.comb += self.addr.eq(word)

        # One clock later the read data is there: compute and write back.
        valid = Signal()
        w_word = Signal(range(self._words))
        m.d.sync += [valid.eq(running), w_word.eq(word)]
        m.d.comb += [self.w_addr.eq(w_word), self.w_en.eq(valid), self.busy.eq(running | valid)]

        for lane in range(lanes):
            st = self.state[lane]
            new = self.w_state[lane]
            acc = self.acc[lane]
            bias, alpha = self.bias[lane], self.alpha[lane]
            leak = shift_right(alpha * st.u, D, rnd)
            if kind is NeuronKind.LI:
                m.d.comb += new.u.eq(fit(leak + acc + bias, S, ovf))
                continue
            s_prev = st.s
            if kind is NeuronKind.CUBA:
                current = fit(shift_right(self.alpha_syn[lane] * st.i, D, rnd) + acc + bias, S, ovf)
                m.d.comb += new.i.eq(current)
                theta = self.b0[lane]
                u = fit(leak + current - Mux(s_prev, theta, 0), S, ovf)
            elif kind is NeuronKind.ALIF:
                a = fit(shift_right(self.rho[lane] * st.a, D, rnd)
                        + Mux(s_prev, self.adapt[lane], 0), S, ovf)
                m.d.comb += new.a.eq(a)
                theta = fit(self.b0[lane] + a, S, ovf)
            else:
                theta = self.b0[lane]
            if kind is not NeuronKind.CUBA:
                u = fit(leak + acc + bias - Mux(s_prev, theta, 0), S, ovf)
            lane_valid = w_word * lanes + lane < self._size
            spike = (u > theta) & lane_valid
            m.d.comb += [new.u.eq(u), new.s.eq(spike), self.spikes[lane].eq(spike & valid)]
        return m
