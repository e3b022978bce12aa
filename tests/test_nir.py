"""NIR import and export: the mapping, nested recurrent subgraphs, lossless round trip, errors."""

import numpy as np
import pytest

from conftest import require_extra

nir = require_extra("nir", "nir")

from spikeforge.cli import main  # noqa: E402
from spikeforge.golden import Decision, Network, NeuronKind, simulate, simulate_float  # noqa: E402
from spikeforge.golden.randnet import random_events, random_network  # noqa: E402
from spikeforge.nir_io import NirError, export_nir, import_nir, nir_to_float  # noqa: E402

PARAMS = ("w_in", "w_rec", "bias", "alpha", "rho", "b0", "adapt", "alpha_syn")


def assert_same_network(a: Network, b: Network):
    assert a.summary() == b.summary() and a.formats == b.formats and a.decision is b.decision
    for la, lb in zip(a.layers, b.layers):
        for name in PARAMS:
            va, vb = getattr(la, name), getattr(lb, name)
            assert (va is None and vb is None) or np.array_equal(va, vb), name


@pytest.mark.parametrize("kind,readout,decision", [
    (NeuronKind.LIF, NeuronKind.LI, Decision.PER_STEP),
    (NeuronKind.CUBA, NeuronKind.CUBA, Decision.SPIKE_COUNT),
    (NeuronKind.CUBA, NeuronKind.LIF, Decision.FIRST_SPIKE),
])
def test_round_trip_is_lossless(tmp_path, kind, readout, decision):
    net = random_network(3, 4, (10, 6), 3, kind=kind, readout=readout, decision=decision)
    export_nir(net, tmp_path / "net.nir", dt=1e-3)
    back = import_nir(tmp_path / "net.nir")
    assert_same_network(net, back)
    x = random_events(1, 2, 20, 4, values=(1, -1))
    assert np.array_equal(simulate(net, x).readout, simulate(back, x).readout)


def test_alif_cannot_be_exported(tmp_path):
    with pytest.raises(NirError, match=r"layers\[0\] is 'alif': NIR has no adaptive LIF node"):
        export_nir(random_network(1, 3, (4,), 2), tmp_path / "x.nir")


def test_theta_cannot_be_exported(tmp_path):
    from spikeforge.golden.randnet import random_theta_network
    with pytest.raises(NirError, match=r"layers\[0\] is 'theta': NIR has no theta"):
        export_nir(random_theta_network(1, 3, (4,), 2), tmp_path / "x.nir")


def euler_lif(x, weight, bias, tau, r, v_leak, v_th, dt, w_rec=None):
    """NIR's LIF in forward Euler with subtractive reset, written out independently."""
    v = np.zeros((x.shape[0], weight.shape[0]))
    s = np.zeros_like(v)
    out = []
    for t in range(x.shape[1]):
        current = x[:, t] @ weight.T + bias + (s @ w_rec.T if w_rec is not None else 0)
        v = v + dt / tau * (v_leak - v + r * current) - v_th * s
        s = (v > v_th).astype(float)
        out.append(s)
    return np.stack(out, axis=1)


def nested_recurrent_graph(rng):
    """Input -> Affine -> [subgraph: LIF with a recurrent Linear] -> Affine -> LI -> Output."""
    n_in, n_h, n_out = 3, 5, 2
    lif = nir.LIF(tau=np.full(n_h, 0.02), r=np.full(n_h, 2.0), v_leak=np.full(n_h, 0.01),
                  v_threshold=np.full(n_h, 0.5))
    rec = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n_h])}),
                              "lif": lif,
                              "w_rec": nir.Linear(weight=rng.normal(0, 0.3, (n_h, n_h))),
                              "output": nir.Output(output_type={"output": np.array([n_h])})},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc1": nir.Affine(weight=rng.normal(0, 1.0, (n_h, n_in)), bias=rng.normal(0, 0.1, n_h)),
        "rnn": rec,
        "fc2": nir.Affine(weight=rng.normal(0, 1.0, (n_out, n_h)), bias=np.zeros(n_out)),
        "li": nir.LI(tau=np.full(n_out, 0.01), r=np.ones(n_out), v_leak=np.zeros(n_out)),
        "output": nir.Output(output_type={"output": np.array([n_out])})},
        edges=[("input", "fc1"), ("fc1", "rnn"), ("rnn", "fc2"), ("fc2", "li"), ("li", "output")])


def test_nested_recurrent_subgraph_maps_to_the_nir_equations():
    graph = nested_recurrent_graph(np.random.default_rng(0))
    fnet = nir_to_float(graph, dt=1e-3)
    hidden, readout = fnet.layers
    assert hidden.kind is NeuronKind.LIF and hidden.w_rec is not None and readout.kind is NeuronKind.LI
    x = random_events(2, 3, 30, 3, rate=0.5, values=(1, -1)).astype(float)
    fc1, lif = graph.nodes["fc1"], graph.nodes["rnn"].nodes["lif"]
    want = euler_lif(x, fc1.weight, fc1.bias, lif.tau, lif.r, lif.v_leak, lif.v_threshold, 1e-3,
                     w_rec=graph.nodes["rnn"].nodes["w_rec"].weight)
    got = simulate_float(fnet, x).spikes[0]
    assert want.sum() > 0 and np.array_equal(got, want > 0)


def test_unsupported_nodes_and_parameters(tmp_path):
    rng = np.random.default_rng(1)
    graph = nested_recurrent_graph(rng)
    graph.nodes["li"] = nir.Delay(delay=np.ones(2))
    with pytest.raises(NirError, match="node 'li': Delay is not supported"):
        nir_to_float(graph)
    graph = nested_recurrent_graph(rng)
    with pytest.raises(NirError, match=r"node 'rnn.lif': tau 0.02 \(neuron 0\) is shorter than dt = 0.05"):
        nir_to_float(graph, dt=0.05)
    (tmp_path / "junk.nir").write_text("junk")
    with pytest.raises(NirError, match="not a readable NIR file"):
        import_nir(tmp_path / "junk.nir")
    with pytest.raises(NirError, match="no such file"):
        import_nir(tmp_path / "missing.nir")


def test_cli_import_and_export(tmp_path, capsys):
    net = random_network(4, 4, (6,), 2, kind=NeuronKind.LIF)
    net.save(tmp_path / "net.npz")
    assert main(["export", str(tmp_path / "net.npz"), "--to", "nir", "-o", str(tmp_path / "g.nir"),
                 "--dt", "0.001"]) == 0
    assert main(["import", "--from", "nir", str(tmp_path / "g.nir"), "-o", str(tmp_path / "b.npz"),
                 "--json"]) == 0
    assert_same_network(net, Network.load(tmp_path / "b.npz"))
    capsys.readouterr()
    assert main(["export", "builtin:digits", "--to", "nir", "-o", str(tmp_path / "d.nir")]) == 2
    assert "NIR has no adaptive LIF node" in capsys.readouterr().err


def test_cli_import_keeps_the_exported_formats_unless_told(tmp_path):
    from spikeforge.golden import Formats
    net = random_network(5, 3, (4,), 2, kind=NeuronKind.LIF, formats=Formats(weight_bits=6, state_bits=20))
    export_nir(net, tmp_path / "g.nir")
    assert main(["import", "--from", "nir", str(tmp_path / "g.nir"), "-o", str(tmp_path / "a.npz")]) == 0
    assert Network.load(tmp_path / "a.npz").formats == net.formats
    assert main(["import", "--from", "nir", str(tmp_path / "g.nir"), "-o", str(tmp_path / "b.npz"),
                 "--weight-bits", "4"]) == 0
    assert Network.load(tmp_path / "b.npz").formats.weight_bits == 4
