"""The neuron engine: update every neuron of a layer once per step, P lanes per clock."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden.network import Formats, NeuronKind
from ..golden.fixed import Overflow, Rounding
from . import mutants
from .arith import fit, shift_right

__all__ = ["NeuronEngine", "state_layout", "PARAMS", "DECAYS", "engine_stages", "word_pass",
           "stagers", "read_address_ports"]


def engine_stages(kind: NeuronKind) -> int:
    """Clocks from a word's read to its write-back (``hdl.schedule`` counts them): 6 for the
    leaky integrator (no threshold, no reset), 9 for the spiking kinds."""
    return 6 if kind is NeuronKind.LI else 9

#: Per-neuron parameters each neuron kind reads (others are zero for that kind).
PARAMS = {
    NeuronKind.LI: ("bias", "alpha"),
    NeuronKind.LIF: ("bias", "alpha", "b0"),
    NeuronKind.ALIF: ("bias", "alpha", "b0", "rho", "adapt"),
    NeuronKind.CUBA: ("bias", "alpha", "b0", "alpha_syn"),
    NeuronKind.THETA: ("p0", "q0"),   # the initial state (hdl.theta)
}

def read_address_ports(kind: NeuronKind, words: int) -> dict:
    """An engine's read address for each memory besides the state (``addr``): the
    accumulators and each parameter of ``kind``, ``addr_<name>`` (``hdl.layer`` wires them)."""
    return {f"addr_{name}": Out(range(words)) for name in ("acc", *PARAMS[kind])}


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


def word_pass(m, engine, start, last_word: int, stages: int):
    """An engine's pass over its state words: on ``start`` words 0..``last_word`` are read
    one a clock (``engine.addr``), and each is written back (``engine.w_addr``,
    ``engine.w_en``) ``stages`` clocks after it is read; ``engine.busy`` covers
    the whole pipeline. Returns ``(valid, words)``: ``valid[k]`` says a word is ``k`` clocks past
    its read (``valid[-1]``: written back this clock), ``words[k]`` which word that is."""
    running = Signal()
    word = Signal.like(engine.addr)
    with m.If(start):
        m.d.sync += [running.eq(1), word.eq(0)]
    with m.Elif(running):
        m.d.sync += word.eq(word + 1)
        with m.If(word == last_word):
            m.d.sync += [running.eq(0), word.eq(0)]
    valid, words = [running], [word]
    for _ in range(stages):
        valid.append(Signal())
        words.append(Signal.like(word))
        m.d.sync += [valid[-1].eq(valid[-2]), words[-1].eq(words[-2])]
    m.d.comb += [engine.addr.eq(word), engine.w_addr.eq(words[-1]), engine.w_en.eq(valid[-1]),
                 engine.busy.eq(Cat(*valid).any())]
    return valid, words


#: A product's wide operand is split here: its low bits (unsigned) and its high bits (signed)
#: each times the decay fit one DSP multiplier (iCE40 16 x 16, ECP5 18 x 18, Gowin 18 x 18).
PRODUCT_SPLIT = 16


def product(stage, decay, value):
    """``decay * value`` (an unsigned decay factor, a signed state) two clocks later: the
    partial products of ``value``'s low ``PRODUCT_SPLIT`` bits and of its high bits in one
    clock (multipliers only), their sum in the next (one adder). The high product's low
    ``PRODUCT_SPLIT`` bits are zero, so the low product's pass through and the adder is
    only as wide as the high product."""
    if len(value) <= PRODUCT_SPLIT:
        return stage(stage(decay * value))
    low = stage(decay * value[:PRODUCT_SPLIT])
    high = stage(decay * value[PRODUCT_SPLIT:].as_signed())
    return stage(Cat(low[:PRODUCT_SPLIT], high + low[PRODUCT_SPLIT:]).as_signed())


def stagers(m):
    """``stage(value)``: ``value`` one clock later; ``delay(value, n)``: ``n`` clocks later."""
    def stage(value):
        reg = Signal(value.shape())
        m.d.sync += reg.eq(value)
        return reg

    def delay(value, clocks):
        for _ in range(clocks):
            value = stage(value)
        return value
    return stage, delay


class NeuronEngine(wiring.Component):
    """Reads word ``w`` of accumulators, state and parameters, writes the new state
    ``engine_stages(kind)`` clocks after the state is read.

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
        # each memory is read when its value is needed (``addr`` for the state), so that no
        # value waits in delay registers for the stage that uses it
        ports.update(read_address_ports(kind, self._words))
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

        # engine_stages(kind) clocks from the read to the write-back, so that no clock holds
        # more than one multiplier or one adder chain (saturation is a check of the top bits,
        # hdl.arith.fit, not a comparator): (1) the memories' outputs registered; (2) the decay
        # products' partial products; (3) their sums; (4) the rounding shifts, the synaptic
        # input with the bias; (5) the membrane's sum and the adaptation; (6) the threshold;
        # (7) the soft reset; (8) the saturation; (9) the threshold compare, written back. The
        # leaky integrator writes back its saturated sum, registered (6).
        valid, words = word_pass(m, self, self.start, last_word, engine_stages(kind))
        stage, delay = stagers(m)
        # read clock of each memory: the synaptic input and the bias for stage 4, the
        # adaptation's kick for 5, the threshold for 6 (ALIF) or 7; the rest with the state
        read_at = {"acc": 2, "bias": 2, "adapt": 3, "b0": 4 if kind is NeuronKind.ALIF else 5}
        for name in ("acc", *PARAMS[kind]):
            m.d.comb += getattr(self, f"addr_{name}").eq(words[read_at.get(name, 0)])

        for lane in range(lanes):
            st = self.state[lane]
            new = self.w_state[lane]
            src = 1 - lane if mutants.active("lane_swap") and lanes > 1 and lane < 2 else lane
            # 1: registered memory outputs
            u, alpha, acc, bias = (stage(v) for v in (st.u, self.alpha[lane], self.acc[src],
                                                     self.bias[lane]))
            # 2, 3: products (partial products, then their sum)
            p_u = product(stage, alpha, u)
            # 4: rounded leak; the synaptic input in state units (guard_bits below the weight
            # LSB: wiring) plus the bias
            leak = stage(shift_right(p_u, D, rnd))
            drive = stage((acc << guard) + bias)
            if kind is NeuronKind.LI:
                m.d.comb += new.u.eq(stage(fit(leak + drive, S, ovf)))
                continue
            s_prev, b0 = stage(st.s), stage(self.b0[lane])
            if kind is NeuronKind.CUBA:
                i_prev, alpha_syn = stage(st.i), stage(self.alpha_syn[lane])
                p_i = product(stage, alpha_syn, i_prev)
                decayed = stage(shift_right(p_i, D, rnd))
                current = stage(fit(decayed + drive, S, ovf))
                m.d.comb += new.i.eq(delay(current, 3))
                total = stage(stage(leak) + current)
                theta = b0
            else:
                if kind is NeuronKind.ALIF:
                    a_prev, rho = stage(st.a), stage(self.rho[lane])
                    # the kick a spike gives, chosen as it is registered (no select before the
                    # adder)
                    kick = stage(Mux(delay(s_prev, 2), self.adapt[lane], 0))
                    p_a = product(stage, rho, a_prev)
                    decayed = stage(shift_right(p_a, D, rnd))
                    a = stage(fit(decayed + kick, S, ovf))
                    m.d.comb += new.a.eq(delay(a, 3))
                    theta = stage(fit(b0 + a, S, ovf))
                else:
                    theta = b0
                total = stage(stage(leak + drive))
            s_prev = delay(s_prev, 5)
            # 7: the soft reset
            reset = 0 if mutants.active("no_soft_reset") else Mux(s_prev, theta, 0)
            diff, theta = stage(total - reset), stage(theta)
            # 8: saturation
            u_new, theta = stage(fit(diff, S, ovf)), stage(theta)
            # 9: the threshold compare, write-back
            lane_valid = words[-1] * lanes + lane < self._size
            spike = (u_new > theta) & lane_valid
            if mutants.active("stuck_spike") and lane == 0:
                spike = C(0, 1)
            m.d.comb += [new.u.eq(u_new), new.s.eq(spike), self.spikes[lane].eq(spike & valid[-1])]
        return m
