"""Import of SRNN reference-code state dicts (Yin et al.)."""

import json

import numpy as np
import pytest

from conftest import require_extra

torch = require_extra("torch", "train")

from spikeforge.cli import main  # noqa: E402
from spikeforge.golden import FloatLayer, FloatNetwork, Network, NeuronKind, quantize  # noqa: E402
from spikeforge.importers import (ImportFileError, SrnnOptions, import_torch_srnn,  # noqa: E402
                                  srnn_from_state_dict)


def one_hidden_state(rng):
    t = lambda *shape: torch.tensor(rng.normal(0, 0.5, shape))
    return {"i2h.weight": t(5, 3), "i2h.bias": t(5), "h2h.weight": t(5, 5), "h2h.bias": t(5),
            "h2o.weight": t(2, 5), "h2o.bias": t(2),
            "tau_m_h": torch.full((5,), 20.0), "tau_adp_h": torch.full((5,), 150.0),
            "tau_m_o": torch.full((2,), 3.0), "tau_adp_o": torch.full((2,), 100.0)}


def test_one_hidden_layer_maps_to_the_expected_network(tmp_path):
    state = one_hidden_state(np.random.default_rng(0))
    path = tmp_path / "srnn.pth"
    torch.save(state, path)
    fnet = import_torch_srnn(path)
    s = {k: v.numpy() for k, v in state.items()}
    hidden, readout = fnet.layers
    assert hidden.kind is NeuronKind.ALIF and readout.kind is NeuronKind.LI
    assert np.array_equal(hidden.w_in, s["i2h.weight"].T)
    assert np.array_equal(hidden.w_rec, s["h2h.weight"].T)
    assert np.array_equal(hidden.bias, s["i2h.bias"] + s["h2h.bias"])
    assert np.array_equal(readout.w_in, s["h2o.weight"].T) and readout.w_rec is None
    assert np.array_equal(hidden.tau_adp, s["tau_adp_h"]) and hidden.b0 == 0.01 and hidden.beta == 1.8
    # the quantised network equals the hand-built float network, quantised
    expected = FloatNetwork(n_inputs=3, layers=[
        FloatLayer(NeuronKind.ALIF, s["i2h.weight"].T, s["h2h.weight"].T, s["i2h.bias"] + s["h2h.bias"],
                   s["tau_m_h"], s["tau_adp_h"], 0.01, 1.8),
        FloatLayer(NeuronKind.LI, s["h2o.weight"].T, None, s["h2o.bias"], s["tau_m_o"], 1.0, 0.01, 0.0)])
    a, b = quantize(fnet), quantize(expected)
    for la, lb in zip(a.layers, b.layers):
        for name in ("w_in", "bias", "alpha", "rho", "b0", "adapt"):
            assert np.array_equal(getattr(la, name), getattr(lb, name)), name


def test_two_hidden_layers_and_options():
    rng = np.random.default_rng(1)
    t = lambda *shape: rng.normal(0, 0.5, shape)
    state = {"i_2_h1.weight": t(4, 2), "i_2_h1.bias": t(4), "h1_2_h1.weight": t(4, 4),
             "h1_2_h2.weight": t(3, 4), "h2_2_h2.weight": t(3, 3), "h2o.weight": t(2, 3),
             "tau_adp_h1": np.full(4, 100.0), "tau_adp_h2": np.full(3, 100.0),
             "tau_adp_o": np.full(2, 100.0)}
    with pytest.raises(ImportFileError, match="missing key 'tau_m_h1'.*--tau-m"):
        srnn_from_state_dict(state)
    fnet = srnn_from_state_dict(state, SrnnOptions(tau_m=10.0, readout="alif", adapt_hidden=False))
    assert [l.kind for l in fnet.layers] == [NeuronKind.LIF, NeuronKind.LIF, NeuronKind.ALIF]
    assert [l.size for l in fnet.layers] == [4, 3, 2]
    assert np.all(fnet.layers[0].tau_m == 10.0)


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.pop("tau_adp_h"), "missing key 'tau_adp_h'"),
    (lambda s: s.__setitem__("h2h.weight", torch.zeros(4, 4)), r"h2h.weight: shape \(4, 4\), expected \(5, 5\)"),
    (lambda s: s.__setitem__("extra", torch.zeros(1)), "unexpected keys"),
    (lambda s: s.__setitem__("i2h.bias", torch.full((5,), float("nan"))), "NaN"),
    (lambda s: [s.pop(k) for k in list(s)] and s.__setitem__("fc.weight", torch.zeros(2, 2)),
     "no SRNN layout recognised"),
])
def test_malformed_state_dicts(tmp_path, edit, message):
    state = one_hidden_state(np.random.default_rng(0))
    edit(state)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ImportFileError, match=message) as info:
        import_torch_srnn(path)
    assert str(path) in str(info.value)


def test_whole_model_pickle_is_refused_not_executed(tmp_path):
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(ImportFileError, match="pickled Python objects"):
        import_torch_srnn(path)
    junk = tmp_path / "junk.pth"
    junk.write_text("nope")
    with pytest.raises(ImportFileError, match="not a readable PyTorch file"):
        import_torch_srnn(junk)


def test_cli_import(tmp_path, capsys):
    path = tmp_path / "srnn.pth"
    torch.save({"state_dict": one_hidden_state(np.random.default_rng(2))}, path)
    out = tmp_path / "net.npz"
    assert main(["import", "--from", "torch-srnn", str(path), "-o", str(out), "--json",
                 "--weight-bits", "6", "--skip-steps", "10"]) == 0
    report = json.loads(capsys.readouterr().out)
    net = Network.load(out)
    assert report["layers"][0]["size"] == 5 and net.formats.weight_bits == 6 and net.skip_steps == 10
    clipped = tmp_path / "clipped.npz"
    assert main(["import", "--from", "torch-srnn", str(path), "-o", str(clipped), "--quiet",
                 "--weight-bits", "6", "--weight-clip", "0.9"]) == 0
    assert Network.load(clipped).layers[0].scale < net.layers[0].scale
    assert main(["import", "--from", "torch-srnn", str(path), "-o", str(clipped),
                 "--weight-clip", "2"]) == 2
    assert "weight_clip 2.0" in capsys.readouterr().err
    assert main(["import", "--from", "torch-srnn", str(tmp_path / "none.pth"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
