"""NIR import and export on bad input: one-line NirErrors, no hang, nothing dropped
silently, and every valid network round-trips exactly (alpha in [0, 1))."""

import json
import os
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import load_benchmark, require_extra, watchdog

nir = require_extra("nir", "nir")

from spikeforge import nir_io  # noqa: E402
from spikeforge.cli import main  # noqa: E402
from spikeforge.golden import (Decision, Formats, Network, NeuronKind, QuantizeError,  # noqa: E402
                               simulate)
from spikeforge.golden.randnet import random_events, random_network  # noqa: E402
from spikeforge.nir_io import (NirError, export_nir, graph_to_network, import_nir,  # noqa: E402
                               network_to_nir, nir_to_float)


fuzz_nir = load_benchmark("fuzz_nir")


def one_line(info) -> str:
    text = str(info.value)
    assert text and "\n" not in text
    return text


def same(a: Network, b: Network) -> bool:
    if a.summary() != b.summary() or a.formats != b.formats or a.decision is not b.decision \
            or a.skip_steps != b.skip_steps or a.name != b.name:
        return False
    for la, lb in zip(a.layers, b.layers):
        if la.name != lb.name or not np.isclose(la.scale, lb.scale, rtol=1e-12, atol=0):
            return False
        for p in ("w_in", "w_rec", "bias", "alpha", "rho", "b0", "adapt", "alpha_syn"):
            va, vb = getattr(la, p), getattr(lb, p)
            if (va is None) != (vb is None) or (va is not None and not np.array_equal(va, vb)):
                return False
    return True


def lif(n, **changes):
    params = {"tau": np.full(n, 0.02), "r": np.ones(n), "v_leak": np.zeros(n),
              "v_threshold": np.full(n, 0.5)}
    params.update(changes)
    return nir.LIF(**params)


def chain(*layers, n_in=3, extra_edges=(), rng=None):
    """Input -> (Affine -> neuron)* -> Output, with ``extra_edges``."""
    rng = rng or np.random.default_rng(0)
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges, prev, size = [], "input", n_in
    for k, neuron in enumerate(layers):
        n = np.size(getattr(neuron, "r"))
        nodes[f"fc{k}"] = nir.Affine(weight=rng.normal(0, 1, (n, size)), bias=np.zeros(n))
        nodes[f"n{k}"] = neuron
        edges += [(prev, f"fc{k}"), (f"fc{k}", f"n{k}")]
        prev, size = f"n{k}", n
    nodes["output"] = nir.Output(output_type={"output": np.array([size])})
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges + list(extra_edges), type_check=False)


# -- C: cycles --

def test_a_cycle_between_layers_is_an_error_not_a_hang(tmp_path):
    graph = chain(lif(4), lif(3))
    graph.edges = [e for e in graph.edges if e != ("n1", "output")] + [("n1", "fc0")]
    with watchdog(10), pytest.raises(NirError) as info:
        nir_to_float(graph)
    assert "node 'fc0': the graph has a cycle through it (fc0 -> n0 -> fc1 -> n1 -> fc0)" in \
        one_line(info)
    graph.edges.append(("n1", "output"))       # through a file, with the Output fed too
    nir.write(tmp_path / "cycle.nir", graph)
    with watchdog(20), pytest.raises(NirError, match=r"cycle.nir: node 'fc0': the graph has a "
                                                     r"cycle"):
        import_nir(tmp_path / "cycle.nir")


def test_self_recurrence_is_still_a_layer():
    graph = chain(lif(4), nir.LI(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2)))
    graph.nodes["rec"] = nir.Linear(weight=np.eye(4) * 0.1)
    graph.edges += [("n0", "rec"), ("rec", "n0")]
    fnet = nir_to_float(graph, dt=1e-3)
    assert fnet.layers[0].w_rec is not None and fnet.layers[1].kind is NeuronKind.LI


# -- C: reset and leak that spikeforge cannot do --

@pytest.mark.parametrize("node", [
    lambda: lif(4, v_reset=np.full(4, 0.1)),
    lambda: nir.CubaLIF(tau_syn=np.full(4, 0.01), tau_mem=np.full(4, 0.02), r=np.ones(4),
                        v_leak=np.zeros(4), v_threshold=np.ones(4), v_reset=np.full(4, -0.2),
                        w_in=np.ones(4)),
    lambda: nir.IF(r=np.ones(4), v_threshold=np.ones(4), v_reset=np.full(4, 0.3)),
])
def test_a_reset_potential_other_than_zero_is_refused(node):
    with pytest.raises(NirError) as info:
        nir_to_float(chain(node()), dt=1e-3)
    assert "v_reset" in one_line(info) and "is not 0; spikeforge's only reset subtracts the " \
        "threshold" in one_line(info)


def test_a_zero_reset_potential_is_spikeforges_soft_reset():
    fnet = nir_to_float(chain(lif(4, v_reset=np.zeros(4))), dt=1e-3)
    assert fnet.layers[0].kind is NeuronKind.LIF


def test_a_cubalif_leak_is_refused():
    node = nir.CubaLIF(tau_syn=np.full(4, 0.01), tau_mem=np.full(4, 0.02), r=np.ones(4),
                       v_leak=np.full(4, 0.1), v_threshold=np.ones(4), w_in=np.ones(4))
    with pytest.raises(NirError, match=r"v_leak 0.1 \(neuron 0\) is not 0; NIR adds a CubaLIF's "
                                       r"v_leak to the membrane"):
        nir_to_float(chain(node), dt=1e-3)


# -- C: export dt, round trips --

@pytest.mark.parametrize("dt", [0.0, -1.0, float("nan"), float("inf"), -float("inf"), 5e-324,
                                True, "1"])
def test_export_refuses_a_dt_that_is_no_time_step(tmp_path, dt):
    net = random_network(1, 3, (4,), 2, kind=NeuronKind.LIF)
    with pytest.raises(NirError) as info:
        export_nir(net, tmp_path / "g.nir", dt=dt)
    assert one_line(info).startswith("dt: ") and "(the time step" in one_line(info) or \
        "is not a time step (a finite number > 0" in one_line(info)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_refuses_a_bad_dt(tmp_path, capsys):
    net = random_network(1, 3, (4,), 2, kind=NeuronKind.LIF)
    net.save(tmp_path / "n.npz")
    for dt in ("0", "-1", "nan", "inf"):
        assert main(["export", str(tmp_path / "n.npz"), "--to", "nir", "-o",
                     str(tmp_path / "g.nir"), "--dt", dt]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is not a time step" in err[0]
        assert not (tmp_path / "g.nir").exists()


def test_a_dt_too_large_for_the_slowest_decay_is_refused(tmp_path):
    net = random_network(1, 3, (4,), 2, kind=NeuronKind.LIF)
    net.layers[0].alpha[:] = (1 << net.formats.decay_bits) - 1
    with pytest.raises(NirError, match=r"dt 1e\+308: node 'layer0' tau overflows float64"):
        export_nir(net, tmp_path / "g.nir", dt=1e308)


def with_decays(net, rng, edge_only=False):
    """``net`` with some decays (alpha, and alpha_syn of CUBA layers) at 0 and at the largest."""
    one = 1 << net.formats.decay_bits
    for layer in net.layers:
        for name in ("alpha", "alpha_syn") if layer.kind is NeuronKind.CUBA else ("alpha",):
            value = getattr(layer, name)
            pick = rng.integers(0, 2 if edge_only else 3, value.shape)
            setattr(layer, name, np.where(pick == 0, 0, np.where(pick == 1, one - 1, value)))
    return net


def test_an_instant_decay_round_trips(tmp_path):
    """alpha = 0 exports as tau = dt, which the import takes (it used to refuse tau <= dt)."""
    net = random_network(2, 3, (5,), 2, kind=NeuronKind.CUBA, readout=NeuronKind.LI)
    for layer in net.layers:
        layer.alpha[:] = 0
        layer.alpha_syn[:] = 0 if layer.kind is NeuronKind.CUBA else layer.alpha_syn
    export_nir(net, tmp_path / "g.nir", dt=1e-3)
    tau = nir.read(tmp_path / "g.nir").nodes["layer0"].tau_mem
    assert np.array_equal(tau, np.full(5, 1e-3))
    back = import_nir(tmp_path / "g.nir")
    assert same(net, back)
    x = random_events(1, 2, 8, 3, values=(1, -1))
    assert np.array_equal(simulate(net, x).readout, simulate(back, x).readout)


KINDS = [NeuronKind.LIF, NeuronKind.CUBA]
READOUTS = [(NeuronKind.LI, Decision.PER_STEP), (NeuronKind.LIF, Decision.SPIKE_COUNT),
            (NeuronKind.CUBA, Decision.FIRST_SPIKE), (NeuronKind.LIF, Decision.LAST)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 20), kind=st.sampled_from(KINDS),
       readout=st.sampled_from(READOUTS), recurrent=st.booleans(),
       hidden=st.lists(st.integers(1, 6), max_size=2), n_in=st.integers(1, 5),
       n_out=st.integers(1, 4), decay_bits=st.integers(4, 20), weight_bits=st.integers(2, 16),
       guard_bits=st.integers(0, 4), edge_only=st.booleans(),
       log_dt=st.floats(-300, 300), skip_steps=st.integers(0, 3))
def test_every_valid_network_round_trips_exactly(seed, kind, readout, recurrent, hidden, n_in,
                                                 n_out, decay_bits, weight_bits, guard_bits,
                                                 edge_only, log_dt, skip_steps):
    formats = Formats(weight_bits=weight_bits, decay_bits=decay_bits, guard_bits=guard_bits)
    try:
        net = random_network(seed, n_in, tuple(hidden), n_out, kind=kind, readout=readout[0],
                             decision=readout[1], recurrent=recurrent, formats=formats)
    except QuantizeError:
        assume(False)
    net.skip_steps = skip_steps
    net = with_decays(net, np.random.default_rng(seed), edge_only)
    dt = 10.0 ** log_dt
    try:
        graph = network_to_nir(net, dt=dt)
    except NirError as exc:     # only a dt so large that dt * 2**decay_bits overflows
        assert "overflows float64" in str(exc) and dt * 2.0 ** decay_bits > 1e300
        return
    assert same(net, graph_to_network(graph))


def test_round_trips_through_files(tmp_path):
    rng = np.random.default_rng(5)
    for k in range(12):
        kind = KINDS[k % 2]
        readout, decision = READOUTS[k % 4]
        net = with_decays(random_network(k, 3, (5,), 2, kind=kind, readout=readout,
                                         decision=decision), rng)
        export_nir(net, tmp_path / "g.nir", dt=float(rng.choice([1e-3, 1.0, 7.5])))
        assert same(net, import_nir(tmp_path / "g.nir")), k


def test_export_refuses_a_network_that_would_not_come_back(tmp_path):
    net = random_network(1, 3, (4,), 2, kind=NeuronKind.LIF)
    net.layers[0].w_in //= 2               # the largest weight no longer uses the full width
    with pytest.raises(NirError, match=r"layers\[0\]: largest \|weight\| 64, not the full width "
                                       r"127 of 8-bit weights"):
        export_nir(net, tmp_path / "g.nir")
    assert list(tmp_path.iterdir()) == []


# -- C: metadata --

def exported_graph(**meta):
    net = random_network(1, 3, (4,), 2, kind=NeuronKind.LIF)
    graph = network_to_nir(net, dt=1e-3)
    if meta:
        graph.metadata = {"spikeforge": meta["raw"]} if "raw" in meta else \
            {"spikeforge": json.dumps({**json.loads(graph.metadata["spikeforge"]), **meta})}
    return graph


@pytest.mark.parametrize("raw,message", [
    ("{not json", "metadata 'spikeforge': not valid JSON"),
    ("[1, 2]", "metadata 'spikeforge': JSON list, expected an object"),
    ('"text"', "metadata 'spikeforge': JSON str, expected an object"),
    ('{"dt": NaN}', "metadata 'spikeforge': NaN is not a number JSON allows"),
    ("[" * 5000 + "]" * 5000, "metadata 'spikeforge': nested deeper than"),
    (3, "metadata 'spikeforge': a int64, expected the JSON object text"),
    (np.array([1.0, 2.0]), "metadata 'spikeforge': a ndarray, expected the JSON object text"),
])
def test_metadata_that_is_not_a_json_object(tmp_path, raw, message):
    nir.write(tmp_path / "g.nir", exported_graph(raw=raw))
    with pytest.raises(NirError) as info:
        import_nir(tmp_path / "g.nir")
    assert one_line(info).startswith(f"{tmp_path / 'g.nir'}: {message}")


@pytest.mark.parametrize("field,value,message", [
    ("formats", "wide", "formats: expected an object, got str"),
    ("formats", {"weight_bits": 8}, "formats.guard_bits: missing"),
    ("formats", {**Formats().to_json(), "weight_bits": "8"}, "formats.weight_bits: '8' is not"),
    ("decision", 3, "decision 3 is not one of per_step, last"),
    ("decision", "maybe", "decision 'maybe' is not one of"),
    ("dt", "1", "dt: '1' is not a number"),
    ("dt", -1.0, "dt: -1.0 is not a time step"),
    ("dt", 0, "dt: 0.0 is not a time step"),
    ("skip_steps", 2.5, "skip_steps 2.5 is not an integer >= 0"),
    ("skip_steps", -1, "skip_steps -1 is not an integer >= 0"),
    ("skip_steps", True, "skip_steps True is not an integer >= 0"),
    ("name", 5, "name 5 is not a non-empty string"),
    ("layer_names", "x", "layer_names 'x' is not a list of strings"),
])
def test_metadata_fields_of_the_wrong_type(tmp_path, field, value, message):
    nir.write(tmp_path / "g.nir", exported_graph(**{field: value}))
    with pytest.raises(NirError) as info:
        import_nir(tmp_path / "g.nir")
    assert one_line(info).startswith(f"{tmp_path / 'g.nir'}: metadata 'spikeforge': {message}")


def test_cli_import_of_bad_metadata_is_one_line(tmp_path, capsys):
    nir.write(tmp_path / "g.nir", exported_graph(decision=["x"]))
    assert main(["import", "--from", "nir", str(tmp_path / "g.nir"), "-o",
                 str(tmp_path / "n.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "metadata 'spikeforge': decision ['x'] is not one of" in err[0]
    assert not (tmp_path / "n.npz").exists()


# -- C: parameter values and shapes --

def test_a_time_constant_too_long_for_the_decay_bits_says_what_it_is():
    graph = chain(lif(4, tau=np.full(4, 1e300)))
    with pytest.raises(NirError) as info:
        nir_to_float(graph)
    text = one_line(info)
    assert "NaN" not in text and "tau 1e+300 (neuron 0) is 1e+300 steps of dt = 1: its decay " \
        "per step rounds to 1 (no leak) in 16 decay bits" in text
    assert "the slowest decay they hold is" in text or "whose slowest decay is 1 - 2**-16" in text


def test_a_time_constant_shorter_than_dt_is_refused():
    with pytest.raises(NirError, match=r"tau -1 \(neuron 2\) is shorter than dt = 0.001"):
        nir_to_float(chain(lif(4, tau=np.array([0.02, 0.02, -1.0, 0.02]))), dt=1e-3)


@pytest.mark.parametrize("where,value,message", [
    ("fc0.weight", np.full((4, 3), np.nan), "node 'fc0': weight: contains NaN or infinity"),
    ("fc0.bias", np.array([0, np.inf, 0, 0]), "node 'fc0': bias: contains NaN or infinity"),
    ("n0.tau", np.array([0.02, np.nan, 0.02, 0.02]), "node 'n0': tau: contains NaN or infinity"),
    ("n0.v_threshold", np.full(4, -np.inf), "node 'n0': v_threshold: contains NaN or infinity"),
    ("n0.tau", np.full(3, 0.02), "node 'n0': tau has shape (3,); the layer has 4 neurons"),
    ("n0.r", np.ones((2, 2)), "node 'n0': r has shape (2, 2); the layer has 4 neurons"),
    ("fc0.bias", np.zeros(3), "node 'fc0': bias shape (3,), expected (4,)"),
    ("fc0.weight", np.ones(12), "node 'fc0': weight has shape (12,), expected (out, in)"),
    ("fc0.weight", np.ones((4, 5)), "node 'fc0': weight has shape (4, 5); the Input before it "
                                    "gives 3 values"),
    ("fc1.weight", np.ones((2, 3)), "node 'fc1': weight has shape (2, 3); the layer before it "
                                    "gives 4 values"),
    ("n0.tau", np.array(["0.02"] * 4), "node 'n0': tau: <U4 values; expected real numbers"),
    ("fc0.weight", np.ones((4, 3)) * 1j, "node 'fc0': weight: complex128 values; expected real"),
])
def test_bad_parameter_values_and_shapes(where, value, message):
    graph = chain(lif(4), nir.LI(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2)))
    node, param = where.split(".")
    setattr(graph.nodes[node], param, value)
    with pytest.raises(NirError) as info:
        nir_to_float(graph, dt=1e-3)
    assert message in one_line(info)


def test_an_edge_to_a_node_that_is_not_there():
    graph = chain(lif(4))
    graph.edges.append(("n0", "ghost"))
    with pytest.raises(NirError, match=r"edge \('n0', 'ghost'\) names 'ghost', which is no node"):
        nir_to_float(graph, dt=1e-3)


# -- hostile HDF5 files --

def test_a_dataset_of_no_standard_type_is_refused_before_reading(tmp_path):
    import h5py
    export_nir(random_network(1, 3, (4,), 2, kind=NeuronKind.LIF), tmp_path / "g.nir")
    with h5py.File(tmp_path / "g.nir", "r+") as fh:
        del fh["node/nodes/layer0/tau"]
        fh["node/nodes/layer0/tau"] = np.ones(4, np.longdouble)
    with pytest.raises(NirError, match=r"dataset 'node/nodes/layer0/tau' has a type that is no "
                                       r"standard number or string"):
        import_nir(tmp_path / "g.nir")


def test_a_huge_dataset_is_refused_before_reading(tmp_path):
    import h5py
    export_nir(random_network(1, 3, (4,), 2, kind=NeuronKind.LIF), tmp_path / "g.nir")
    with h5py.File(tmp_path / "g.nir", "r+") as fh:     # tiny on disk: chunks never written
        del fh["node/nodes/fc0/weight"]
        fh.create_dataset("node/nodes/fc0/weight", shape=(1 << 13, 1 << 13), dtype="f8",
                          chunks=(64, 64), fillvalue=1.0)
    assert (tmp_path / "g.nir").stat().st_size < 1 << 20
    with pytest.raises(NirError, match=r"dataset 'node/nodes/fc0/weight' holds 67,108,864 values"):
        import_nir(tmp_path / "g.nir")


def test_a_reader_that_hangs_or_crashes_ends_in_a_nir_error(tmp_path, monkeypatch):
    """A corrupt file can make the HDF5 library loop forever (benchmarks/fuzz_nir.py found
    one) or crash: the file is read in a child process that is stopped."""
    import time
    export_nir(random_network(1, 3, (4,), 2, kind=NeuronKind.LIF), tmp_path / "g.nir")
    monkeypatch.setattr(nir_io, "READ_TIMEOUT", 1.0)
    monkeypatch.setattr(nir, "read", lambda path: time.sleep(3600))
    with watchdog(20), pytest.raises(NirError) as info:
        import_nir(tmp_path / "g.nir")
    assert "not a readable NIR file: reading it took longer than 1 s and was stopped" in \
        one_line(info)
    monkeypatch.setattr(nir, "read", lambda path: os.kill(os.getpid(), signal.SIGSEGV))
    with watchdog(20), pytest.raises(NirError, match=r"the HDF5 reader crashed \(SIGSEGV\)"):
        import_nir(tmp_path / "g.nir")


# -- D: the fuzz, short --

def test_nir_fuzz_every_case_is_clean():
    cases = int(os.environ.get("SPIKEFORGE_FUZZ_CASES", 40))
    report = fuzz_nir.fuzz(cases, 7, timeout=15.0, read_timeout=3.0)
    for family, row in report.items():
        assert all(row[o] == 0 for o in fuzz_nir.BAD), (family, row)
    assert sum(row["clean"] for row in report.values()) > 0
