"""The theta (QIF) datapath: exact against the continuous pulse map and flow, the ttfs
decision, the network file's theta fields and their validation."""

import math

import numpy as np
import pytest

from spikeforge.golden import (Decision, Formats, Network, NetworkFileError, Rounding, simulate,
                               simulate_float)
from spikeforge.golden.network import NeuronKind
from spikeforge.golden.randnet import random_events, random_float_theta_network
from spikeforge.golden.reference import FloatNetwork, FloatTheta, QuantizeError, quantize
from spikeforge.golden.simulate import InputError, ttfs_decisions
from spikeforge.golden.theta import (ThetaModel, initial_state, normalise, pack_state, phase_greater,
                                     phase_of, pulse_float, theta_step, unpack_state)

TAU, I0 = 6 / math.pi, 1.25          # the paper's neuron: r = 1, Theta = 6
THETA = TAU * math.pi / math.sqrt(I0 - 0.25)


def test_period_and_tick():
    model = ThetaModel(tau=TAU, i0=I0, rotation=1072, steps=64)
    assert model.period == pytest.approx(6.0)
    assert model.tick(16) == pytest.approx(math.atan(1072 / 65536) * 6 / math.pi)
    exact = FloatTheta.exact(TAU, I0, 2.0, 64, 16)
    assert exact.tick * 64 == pytest.approx(2.0, rel=1e-3)


def test_initial_state_is_normalised_and_keeps_the_phase():
    phi0 = np.linspace(0, THETA, 101)
    p, q = initial_state(phi0, TAU, I0, 16)
    assert np.all(q >= 0)
    assert np.array_equal(normalise(p, q, 16)[0], p) and np.array_equal(normalise(p, q, 16)[1], q)
    assert np.allclose(phase_of(p, q, TAU, I0), phi0, atol=THETA * 1e-4)


def test_normalise_keeps_the_angle_and_sets_the_length():
    rng = np.random.default_rng(0)
    p = rng.integers(-(1 << 40), 1 << 40, 1000)
    q = rng.integers(0, 1 << 40, 1000)
    q[:10] = rng.integers(0, 4, 10)           # nearly V = +-inf
    pn, qn = normalise(p, q, 16)
    longest = np.maximum(np.abs(pn + (pn < 0)), qn)   # significant bits as normalise counts them
    assert np.all((longest >= 1 << 14) & (longest < 1 << 15))
    assert np.all(np.abs(np.arctan2(pn, qn) - np.arctan2(p, q)) < 2 ** -12)


def test_one_tick_equals_pulse_then_flow():
    """A tick is the exact pulse map H, then the flow; only rounding separates them."""
    f = Formats(weight_bits=12, state_bits=20, decay_bits=16, rounding=Rounding.HALF_UP)
    rotation, shift = 1072, 8
    tick = math.atan(rotation / 65536) * TAU
    rng = np.random.default_rng(1)
    phi = rng.uniform(0.05, THETA - 0.05, 2000)
    acc = rng.integers(-600, 600, 2000)
    p, q = initial_state(phi, TAU, I0, f.state_bits)
    p1, q1, s = theta_step(p, q, acc, weight_shift=shift, rotation=rotation, formats=f)
    want = pulse_float(phi, acc / 2 ** shift, TAU, I0) + tick    # r = 1: X and V units agree
    assert np.array_equal(s, want > THETA)
    want = np.where(want > THETA, want - THETA, want)
    assert np.max(np.abs(phase_of(p1, q1, TAU, I0) - want)) < 1e-4


def test_pulses_never_spike_and_infinite_states_are_states():
    f = Formats(state_bits=16)
    # V = +inf exactly (q = 0, p > 0): the flow spikes it at once; V = -inf: any pulse leaves it
    p, q, s = theta_step(np.array([1 << 14, -(1 << 14)]), np.array([0, 0]), np.array([0, 10_000]),
                         weight_shift=0, rotation=1072, formats=f)
    assert s.tolist() == [True, False]
    assert phase_of(p[1], q[1], TAU, I0) < 0.05
    # a huge excitatory pulse takes the phase to the end of the period, not past it
    p0, q0 = initial_state(np.array([3.0]), TAU, I0, 16)
    p, q, s = theta_step(p0, q0, np.array([10_000]), weight_shift=0, rotation=1, formats=f)
    assert not s[0] and phase_of(p, q, TAU, I0)[0] > THETA - 1e-3


def test_phase_greater_and_packing():
    p, q = initial_state(np.array([0.0, 1.0, 3.0, 5.9, THETA]), TAU, I0, 16)
    for a in range(5):
        for b in range(5):
            assert phase_greater(p[a], q[a], p[b], q[b]) == (a > b)
    packed = pack_state(p, q, 16)
    assert [v.tolist() for v in unpack_state(packed, 16)] == [p.tolist(), q.tolist()]


def test_ttfs_rule():
    # 3 samples, 2 steps, 3 outputs; state = phase after each step
    spikes = np.zeros((3, 2, 3), bool)
    phase = np.zeros((3, 2, 3))
    spikes[0, 1, [1, 2]] = True          # sample 0: outputs 1 and 2 spike in step 1 ...
    phase[0, 1] = [5.0, 0.2, 0.4]        # ... output 2 further past its spike: earlier
    spikes[1, 0, 0] = spikes[1, 1, 2] = True   # sample 1: output 0 first
    phase[2, 1] = [1.0, 3.0, 3.0]        # sample 2: no spike, largest final phase, lowest index
    assert ttfs_decisions(spikes, (phase,), lambda a, b: a > b).tolist() == [2, 0, 1]


def small_theta(seed=3, **kwargs):
    fnet = random_float_theta_network(seed, **kwargs)
    return fnet, quantize(fnet, Formats(weight_bits=16, state_bits=20, decay_bits=16,
                                        rounding=Rounding.HALF_UP))


@pytest.mark.parametrize("recurrent", [False, True])
def test_fixed_point_equals_the_float_discrete_model_at_high_precision(recurrent):
    fnet, net = small_theta(recurrent=recurrent)
    x = random_events(4, 200, 32, 8, rate=0.05)
    got, want = simulate(net, x), simulate_float(fnet, x)
    mismatched = sum(int((a != b).sum()) for a, b in zip(got.spikes, want.spikes))
    assert sum(int(s.sum()) for s in want.spikes) > 500
    assert mismatched <= 5
    assert np.mean(got.decisions == want.decisions) >= 0.99


def test_default_quantisation_is_close_to_float():
    fnet = random_float_theta_network(5)
    net = quantize(fnet)
    x = random_events(6, 200, 32, 8, rate=0.05)
    assert net.formats.state_bits == 16 and net.decision is Decision.TTFS
    assert np.mean(simulate(net, x).decisions == simulate_float(fnet, x).decisions) >= 0.9


def test_theta_network_file_round_trip(tmp_path):
    fnet, net = small_theta(recurrent=True)
    net.save(tmp_path / "n.npz")
    again = Network.load(tmp_path / "n.npz")
    assert again.theta == net.theta and [l.weight_shift for l in again.layers] == \
        [l.weight_shift for l in net.layers]
    x = random_events(1, 20, 32, 8, rate=0.1)
    assert np.array_equal(simulate(again, x).readout, simulate(net, x).readout)
    fnet.save(tmp_path / "f.npz")
    fagain = FloatNetwork.load(tmp_path / "f.npz")
    assert np.array_equal(simulate_float(fagain, x).readout, simulate_float(fnet, x).readout)


def test_inputs_must_have_the_trial_length():
    _, net = small_theta()
    with pytest.raises(InputError, match="32 ticks"):
        simulate(net, np.zeros((1, 10, 8), np.int64))


def _replace_layer(net, **changes):
    import dataclasses
    return [dataclasses.replace(net.layers[0], **changes)] + net.layers[1:]


@pytest.mark.parametrize("change,message", [
    (dict(theta=ThetaModel(TAU, 0.25, 1072, 32)), "i0"),
    (dict(theta=ThetaModel(-1.0, I0, 1072, 32)), "tau"),
    (dict(theta=ThetaModel(TAU, I0, 0, 32)), "rotation"),
    (dict(theta=ThetaModel(TAU, I0, 1 << 16, 32)), "rotation"),
    (dict(theta=ThetaModel(TAU, I0, 1072, 0)), "steps"),
    (dict(theta=ThetaModel(TAU, float("nan"), 1072, 32)), "i0"),
    (dict(theta=None), "theta: missing"),
    (dict(decision=Decision.FIRST_SPIKE), "ttfs"),
    (dict(formats=Formats(state_bits=24, decay_bits=16, weight_bits=16)), "state_bits"),
])
def test_bad_theta_networks_are_refused(change, message):
    _, net = small_theta()
    fields = dict(n_inputs=net.n_inputs, layers=net.layers, decision=net.decision,
                  formats=net.formats, theta=net.theta)
    fields.update(change)
    with pytest.raises(NetworkFileError, match=message):
        Network(**fields)


@pytest.mark.parametrize("field,value,message", [
    ("q0", -1, "q0"), ("p0", 5, "not normalised"), ("p0", 0, "no phase"),
    ("weight_shift", 31, "weight_shift"), ("bias", 1, "bias"),
])
def test_bad_theta_layers_are_refused(field, value, message):
    _, net = small_theta()
    layer = net.layers[0]
    if field == "weight_shift":
        layers = _replace_layer(net, weight_shift=value)
    elif field == "p0":     # a short (unnormalised) or zero state vector
        p0, q0 = layer.p0.copy(), layer.q0.copy()
        p0[0], q0[0] = value, value
        layers = _replace_layer(net, p0=p0, q0=q0)
    else:
        arr = getattr(layer, field).copy()
        arr[0] = value
        layers = _replace_layer(net, **{field: arr})
    with pytest.raises(NetworkFileError, match=message):
        Network(n_inputs=net.n_inputs, layers=layers, decision=net.decision, formats=net.formats,
                theta=net.theta)


def test_theta_layers_do_not_mix_with_others():
    from spikeforge.golden.randnet import random_network
    _, net = small_theta()
    lif = random_network(0, 8, (16,), 4, formats=net.formats)
    with pytest.raises(NetworkFileError, match="all 'theta' or none"):
        Network(n_inputs=8, layers=[lif.layers[0], net.layers[1]], decision=Decision.TTFS,
                formats=net.formats, theta=net.theta)
    assert lif.layers[0].kind is NeuronKind.LIF or lif.layers[0].kind is NeuronKind.ALIF


def test_float_theta_validation():
    fnet = random_float_theta_network(0)
    fnet.layers[0].phi0 = np.full(16, 7.0)     # beyond Theta = 6
    with pytest.raises(QuantizeError, match="phi0"):
        quantize(fnet)
    fnet = random_float_theta_network(0)
    fnet.layers[0].w_in = fnet.layers[0].w_in * 1e6
    with pytest.raises(QuantizeError, match="do not fit"):
        quantize(fnet)
