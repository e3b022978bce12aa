"""Hand-computed spike trains of one neuron, and layer bookkeeping."""

import numpy as np

from spikeforge.golden import Decision, Formats, Layer, Network, NeuronKind, Rounding, simulate


def one_neuron(kind, rounding=Rounding.HALF_UP, rho=0, adapt=0):
    # alpha = 8/16 = 0.5, b0 = 10, one input with folded weight 8.
    formats = Formats(weight_bits=8, state_bits=8, decay_bits=4, rounding=rounding, guard_bits=0)
    layer = Layer(kind=kind, w_in=np.array([[8]]), w_rec=None, bias=np.array([0]),
                  alpha=np.array([8]), rho=np.array([rho]), b0=np.array([10 if kind.spiking else 0]),
                  adapt=np.array([adapt]))
    return Network(n_inputs=1, layers=[layer], formats=formats, decision=Decision.SPIKE_COUNT
                   if kind.spiking else Decision.PER_STEP)


def run(net, steps=6):
    return simulate(net, np.ones((1, steps, 1), np.int64))


def test_lif_by_hand():
    # u: 8; 4+8=12>10 spike; 6+8-10=4; 2+8=10 (not >10); 5+8=13 spike; 6.5->7 +8-10=5
    r = run(one_neuron(NeuronKind.LIF))
    assert r.readout[0, :, 0].tolist() == [8, 12, 4, 10, 13, 5]
    assert r.spikes[0][0, :, 0].tolist() == [0, 1, 0, 0, 1, 0]


def test_lif_floor_rounding_differs_at_the_tie():
    r = run(one_neuron(NeuronKind.LIF, rounding=Rounding.FLOOR))
    assert r.readout[0, :, 0].tolist() == [8, 12, 4, 10, 13, 4]


def test_alif_by_hand():
    # rho = 0.5, adapt = 4: a = 0,0,4,2,1,(0.5->1)+4=5 ; theta = 10,10,14,12,11,15
    r = run(one_neuron(NeuronKind.ALIF, rho=8, adapt=4))
    assert r.readout[0, :, 0].tolist() == [8, 12, 0, 8, 12, -1]
    assert r.spikes[0][0, :, 0].tolist() == [0, 1, 0, 0, 1, 0]


def test_leaky_integrator_saturates():
    # m = 8, 12, 14, 15, 16 ... converges to 16; with bias 120 it saturates at 127
    net = one_neuron(NeuronKind.LI)
    assert run(net).readout[0, :, 0].tolist() == [8, 12, 14, 15, 16, 16]
    net.layers[0].bias = np.array([120])
    assert run(net).readout[0, :, 0].tolist() == [127] * 6


def test_saturation_wrap_mode():
    net = one_neuron(NeuronKind.LI)
    net.layers[0].bias = np.array([120])
    from spikeforge.golden import Overflow
    net.formats = Formats(weight_bits=8, state_bits=8, decay_bits=4, overflow=Overflow.WRAP,
                          guard_bits=0)
    assert run(net, 1).readout[0, 0, 0] == 128 - 256


def test_negative_events_and_silence():
    net = one_neuron(NeuronKind.LIF)
    x = np.array([[[-1], [0], [1]]])
    r = simulate(net, x)
    assert r.readout[0, :, 0].tolist() == [-8, -4, 6]
    assert r.input_events.tolist() == [2]
    assert r.synops.tolist() == [2]


def test_decision_rules_tie_to_lowest_index():
    from spikeforge.golden.simulate import decide
    readout = np.array([[[1, 3, 3], [5, 5, 0]]])
    assert decide(Decision.PER_STEP, readout, None).tolist() == [[1, 0]]
    assert decide(Decision.LAST, readout, None).tolist() == [0]
    spikes = np.array([[[0, 1, 1], [0, 1, 1], [1, 0, 0]]], bool)
    assert decide(Decision.SPIKE_COUNT, None, spikes).tolist() == [1]
    assert decide(Decision.FIRST_SPIKE, None, spikes).tolist() == [1]
    assert decide(Decision.FIRST_SPIKE, None, np.zeros((1, 3, 3), bool)).tolist() == [-1]


def _kicked_integrator(guard_bits, rounding, tau=20.0, steps=420):
    """A leaky integrator kicked once (one full-scale weight), then left alone: the kick's
    fraction left after each step."""
    import numpy as np
    from spikeforge.golden import FloatLayer, FloatNetwork, Formats, quantize, simulate
    from spikeforge.golden.network import NeuronKind
    fnet = FloatNetwork(n_inputs=1, layers=[FloatLayer(kind=NeuronKind.LI,
                                                       w_in=np.array([[1.0]]), tau_m=tau)])
    net = quantize(fnet, Formats(weight_bits=8, guard_bits=guard_bits, rounding=rounding))
    x = np.zeros((1, steps, 1), np.int64)
    x[0, 0, 0] = 1
    u = simulate(net, x).readout[0, :, 0]
    return u / u[0]


def test_guard_bits_let_a_leak_decay_to_zero():
    """Without guard bits half-up rounding stops the leak at ~0.5 / (1 - alpha) LSB: a kick
    keeps 7 % of itself after 21 tau (float: 0). Four guard bits shrink that 16-fold;
    rounding toward zero (the default) then takes it to exactly zero."""
    without = _kicked_integrator(0, Rounding.HALF_UP)
    half_up = _kicked_integrator(4, Rounding.HALF_UP)
    default = _kicked_integrator(Formats().guard_bits, Formats().rounding)
    assert without[-1] > 0.05 and half_up[-1] < 0.006
    assert Formats().guard_bits == 4 and Formats().rounding is Rounding.TOWARD_ZERO
    assert default[-1] == 0.0
    for u in (without, half_up, default):          # the decay itself is the same
        assert abs(u[20] - 0.951 ** 20) < 0.01


def test_guard_bits_by_hand():
    """acc enters the state shifted by guard_bits; b0 and bias are in state LSBs."""
    import numpy as np
    from spikeforge.golden import Formats, Network
    from spikeforge.golden.network import Layer, NeuronKind
    from spikeforge.golden import simulate
    z = np.zeros(1, np.int64)
    layer = Layer(kind=NeuronKind.LIF, w_in=np.array([[3]]), w_rec=None, bias=np.array([1]),
                  alpha=np.array([1 << 15]), rho=z, b0=np.array([40]), adapt=z)
    net = Network(n_inputs=1, layers=[layer],
                  formats=Formats(decay_bits=16, guard_bits=4, rounding=Rounding.HALF_UP))
    x = np.array([[[1], [0], [1]]])
    # u1 = 0 + 3*16 + 1 = 49 > 40: spike; u2 = round_half_up(49/2) + 1 - 40 = -14;
    # u3 = round(-14/2) + 48 + 1 = 42 > 40: spike
    r = simulate(net, x)
    assert r.readout[0, :, 0].tolist() == [49, -14, 42]
    assert r.spikes[0][0, :, 0].tolist() == [True, False, True]
