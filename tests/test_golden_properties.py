"""Property tests: golden vs float within the quantisation bound; operation counts."""

import numpy as np
from hypothesis import given, settings, strategies as st

from spikeforge.golden import FloatLayer, FloatNetwork, Formats, NeuronKind, quantize, simulate, simulate_float
from spikeforge.golden.randnet import random_events, random_network


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 6), n_out=st.integers(1, 5),
       decay_bits=st.integers(8, 16), weight_bits=st.integers(4, 10),
       tau=st.floats(1.5, 60.0), steps=st.integers(1, 40))
def test_leaky_integrator_within_quantisation_bound(seed, n_in, n_out, decay_bits, weight_bits,
                                                    tau, steps):
    rng = np.random.default_rng(seed)
    layer = FloatLayer(kind=NeuronKind.LI, w_in=rng.normal(0, 1, (n_in, n_out)),
                       bias=rng.normal(0, 0.1, n_out), tau_m=tau * rng.uniform(0.5, 1.5, n_out))
    fnet = FloatNetwork(n_inputs=n_in, layers=[layer])
    net = quantize(fnet, Formats(weight_bits=weight_bits, decay_bits=decay_bits, state_bits=24))
    x = random_events(seed, 2, steps, n_in, rate=0.5, values=(1, -1))
    got = simulate(net, x).readout * net.readout.scale
    want = simulate_float(fnet, x).readout
    # Error recursion: e_t <= a' e_{t-1} + |a' - a| (|m_{t-1}| + |I_t|) + 1.5 s + n_t w / 2:
    # one state LSB (s) for the rounded leak and half of one for the bias, half a weight
    # LSB (w = s 2**guard_bits) per weight.
    s, w_lsb = net.readout.scale, net.weight_lsb(0)
    alpha = np.exp(-1.0 / layer.vectors()["tau_m"])
    alpha_q = net.readout.alpha / float(1 << decay_bits)
    current = x @ layer.w_in + layer.bias
    n_events = np.count_nonzero(x, axis=2)[..., None]
    bound = np.zeros((2, n_out))
    m_prev = np.zeros((2, n_out))
    for t in range(steps):
        bound = (alpha_q * bound + np.abs(alpha_q - alpha) * (np.abs(m_prev) + np.abs(current[:, t]))
                 + 1.5 * s + w_lsb * n_events[:, t] / 2)
        assert np.all(np.abs(got[:, t] - want[:, t]) <= bound + 1e-9), t
        m_prev = want[:, t]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), hidden=st.lists(st.integers(1, 12), min_size=0, max_size=3),
       recurrent=st.booleans(), rate=st.floats(0.0, 1.0))
def test_operation_counts_are_events_times_fanout(seed, hidden, recurrent, rate):
    net = random_network(seed, 3, tuple(hidden), 2, recurrent=recurrent)
    x = random_events(seed, 3, 15, 3, rate=rate, values=(1, -1))
    r = simulate(net, x)
    want = np.count_nonzero(x, axis=(1, 2)) * net.layers[0].size
    for i, layer in enumerate(net.layers):
        if i > 0:
            want = want + r.spikes[i - 1].sum(axis=(1, 2)) * layer.size
        if layer.recurrent:
            want = want + r.spikes[i][:, :-1].sum(axis=(1, 2)) * layer.size
    assert r.synops.tolist() == want.tolist()
    assert r.neuron_updates.tolist() == [15 * sum(l.size for l in net.layers)] * 3
    for i, layer in enumerate(net.layers[:-1]):
        assert r.layer_spikes[:, i].tolist() == r.spikes[i].sum(axis=(1, 2)).tolist()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), samples=st.integers(1, 4))
def test_batch_is_independent_of_grouping(seed, samples):
    net = random_network(seed, 4, (9,), 3)
    x = random_events(seed + 1, samples, 12, 4, values=(1, -1))
    whole = simulate(net, x)
    for b in range(samples):
        alone = simulate(net, x[b:b + 1])
        assert np.array_equal(alone.readout[0], whole.readout[b])
        assert alone.synops[0] == whole.synops[b]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), input_bits=st.integers(2, 5))
def test_accumulator_never_overflows_on_extreme_inputs(seed, input_bits):
    # every channel at the most negative value, or all at the most positive: exact, no error
    net = random_network(seed, 5, (7,), 2, formats=Formats(input_bits=input_bits, weight_bits=8))
    fmt = net.formats.input
    for value in (fmt.min, fmt.max):
        simulate(net, np.full((1, 10, 5), value))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), input_bits=st.integers(2, 5), recurrent=st.booleans())
def test_accumulator_bound_holds_at_every_layers_extreme_inputs(seed, input_bits, recurrent):
    """Each first-layer column at its greatest and least input (every weight's worst event),
    the hidden layers' worst spikes with it: the golden model's range checks never fire,
    and the bound is tight (some column reaches it)."""
    net = random_network(seed, 5, (6,), 3, recurrent=recurrent,
                         formats=Formats(input_bits=input_bits, state_bits=24))
    fmt = net.formats.input
    w = net.layers[0].w_in
    steps = [np.where(w[:, j] > 0, fmt.max, fmt.min) for j in range(w.shape[1])]
    steps += [np.where(w[:, j] > 0, fmt.min, fmt.max) for j in range(w.shape[1])]
    x = np.array(steps)[None]
    simulate(net, x)                                   # raises FixedRangeError if the bound fails
    lo, hi = net.synaptic_range(0)
    sums = x[0] @ w
    if recurrent:   # the layer's own spikes widen the range; the inputs alone stay inside
        assert lo <= sums.min() and sums.max() <= hi
    else:
        assert sums.max() == hi and sums.min() == lo
    assert net.accumulator(0).min <= lo and hi <= net.accumulator(0).max
