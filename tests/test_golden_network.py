"""Network file round trip and validation errors that name the field."""

import json

import numpy as np
import pytest

from spikeforge.golden import (Decision, Formats, Network, NetworkFileError, NeuronKind, simulate)
from spikeforge.golden.randnet import random_events, random_network


@pytest.fixture
def net():
    return random_network(3, 5, (12, 7), 4, recurrent=True)


def test_save_load_round_trip(net, tmp_path):
    path = tmp_path / "net.npz"
    net.save(path)
    back = Network.load(path)
    assert back.summary() == net.summary() and back.formats == net.formats
    assert back.decision is net.decision and back.name == net.name
    for a, b in zip(net.layers, back.layers):
        assert a.kind is b.kind and a.scale == b.scale and a.name == b.name
        for name in ("w_in", "w_rec", "bias", "alpha", "rho", "b0", "adapt"):
            va, vb = getattr(a, name), getattr(b, name)
            assert (va is None and vb is None) or np.array_equal(va, vb), name
    x = random_events(0, 3, 20, 5)
    assert np.array_equal(simulate(net, x).readout, simulate(back, x).readout)


def rewrite(tmp_path, net, edit_header=None, edit_arrays=None):
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"][()]))
    if edit_header:
        edit_header(header)
    arrays["header"] = np.array(json.dumps(header))
    if edit_arrays:
        edit_arrays(arrays)
    bad = tmp_path / "bad.npz"
    with open(bad, "wb") as fh:
        np.savez(fh, **arrays)
    return bad


def set_item(d, key, value):
    d[key] = value


@pytest.mark.parametrize("edit_header,edit_arrays,message", [
    (lambda h: set_item(h, "version", 99), None, r"header.version: 99 is not supported"),
    (lambda h: set_item(h, "format", "other"), None, r"header.format"),
    (lambda h: h["formats"].pop("guard_bits"), None, r"formats.guard_bits: missing"),
    (lambda h: (set_item(h, "version", 1), set_item(h["formats"], "guard_bits", 0)), None,
     r"formats: unknown field\(s\) \['guard_bits'\]"),
    (lambda h: h.pop("layers"), None, r"header.layers: missing"),
    (lambda h: set_item(h["layers"][0], "kind", "izhikevich"), None,
     r"layers\[0\].kind: 'izhikevich' is not one of"),
    (lambda h: set_item(h["formats"], "state_bits", 64), None, r"formats.state_bits: 64"),
    (lambda h: set_item(h["decision"], "rule", "vote"), None, r"decision.rule: 'vote'"),
    (None, lambda a: a.pop("layers.1.bias"), r"layers\[1\].bias: missing array"),
    (None, lambda a: set_item(a, "layers.0.w_in", a["layers.0.w_in"][:, :-1]),
     r"layers\[0\].w_in: shape \(5, 11\) does not match size 12"),
    (None, lambda a: set_item(a, "layers.1.w_in", a["layers.1.w_in"][:-1]),
     r"layers\[1\].w_in: shape \(11, 7\), expected 12 rows"),
    (None, lambda a: set_item(a, "layers.0.alpha", np.full(12, np.nan)),
     r"layers\[0\].alpha: contains NaN"),
    (None, lambda a: set_item(a, "layers.0.w_in", a["layers.0.w_in"] * 1000),
     r"layers\[0\].w_in: value -?\d+ outside s8 range \[-128, 127\]"),
    (None, lambda a: set_item(a, "layers.2.rho", np.ones(4, np.int64)),
     r"layers\[2\].rho: must be all zero for a 'li' layer"),
])
def test_bad_files_name_the_field(net, tmp_path, edit_header, edit_arrays, message):
    bad = rewrite(tmp_path, net, edit_header, edit_arrays)
    with pytest.raises(NetworkFileError, match=message) as info:
        Network.load(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_not_a_network_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_text("hello")
    with pytest.raises(NetworkFileError, match="not a network file"):
        Network.load(junk)
    with pytest.raises(NetworkFileError, match="no such file"):
        Network.load(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(NetworkFileError, match="missing 'header'"):
        Network.load(other)


def test_li_only_as_readout_and_spiking_rules(net):
    with pytest.raises(NetworkFileError, match="only allowed for the readout"):
        Network(n_inputs=5, layers=[net.layers[2], net.layers[2]])
    with pytest.raises(NetworkFileError, match="needs a spiking readout"):
        Network(n_inputs=net.n_inputs, layers=net.layers, decision=Decision.SPIKE_COUNT)


def test_accumulator_width_bounds_the_worst_case():
    net = random_network(5, 3, (6,), 2, formats=Formats(input_bits=3))
    layer = net.layers[0]
    worst = (np.abs(layer.w_in).sum(axis=0) * 4 + np.abs(layer.w_rec).sum(axis=0)).max()
    acc = net.accumulator(0)
    assert acc.max >= worst or -acc.min >= worst
    assert net.layers[0].kind is NeuronKind.ALIF


def test_version_1_files_keep_their_meaning(net, tmp_path):
    """A version 1 file (before guard bits) is read as guard_bits = 0 with its own rounding,
    and simulates exactly as it did; saving it again writes version 2 with guard_bits 0."""
    import dataclasses
    from spikeforge.golden import Formats, Rounding, simulate
    from spikeforge.golden.randnet import random_events
    v1 = dataclasses.replace(net, formats=Formats(guard_bits=0, rounding=Rounding.HALF_UP))
    x = random_events(0, 2, 8, 5)
    want = simulate(v1, x).readout

    def make_v1(header):
        header["version"] = 1
        header["formats"].pop("guard_bits")

    old = rewrite(tmp_path, v1, make_v1, None)
    loaded = Network.load(old)
    assert loaded.formats.guard_bits == 0 and loaded.formats.rounding is Rounding.HALF_UP
    assert np.array_equal(simulate(loaded, x).readout, want)
    loaded.save(tmp_path / "again.npz")
    assert Network.load(tmp_path / "again.npz").formats == loaded.formats


def test_weight_clip_sets_the_scale_by_a_quantile():
    """``quantize(..., weight_clip=q)``: each layer's scale comes from the q-quantile of its
    |folded weights|, the larger ones saturate; the finer scale keeps small weights apart."""
    from spikeforge.golden import quantize
    from spikeforge.golden.randnet import random_float_network
    from spikeforge.golden.reference import QuantizeError, weight_reference
    w = np.array([[0.1, -0.2], [0.3, -4.0]])
    assert weight_reference([w, None]) == 4.0
    assert weight_reference([w], 0.5) == pytest.approx(0.25)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(QuantizeError, match="weight_clip"):
            weight_reference([w], bad)
    fnet = random_float_network(3, 6, (20,), 4)
    plain = quantize(fnet, Formats(weight_bits=6))
    clipped = quantize(fnet, Formats(weight_bits=6), weight_clip=0.95)
    for a, b in zip(plain.layers, clipped.layers):
        assert b.scale < a.scale
        assert np.count_nonzero(np.abs(b.w_in) == 31) > np.count_nonzero(np.abs(a.w_in) == 31)
        assert np.count_nonzero(b.w_in) >= np.count_nonzero(a.w_in)


def test_synaptic_sums_use_float64_only_where_it_is_exact():
    """The golden model sums event-weighted rows in float64 (BLAS) only when every partial
    sum is an integer below 2**53; otherwise in int64. Either way the same integers."""
    from types import SimpleNamespace
    from spikeforge.golden.simulate import _exact_weights
    net = SimpleNamespace(formats=SimpleNamespace(input_bits=2))
    small = SimpleNamespace(w_in=np.full((4, 3), 127), w_rec=np.full((3, 3), -128), recurrent=True)
    huge = SimpleNamespace(w_in=np.full((4, 3), 2 ** 50), w_rec=None, recurrent=False)
    assert _exact_weights(small, net)[2] is np.float64
    kind = _exact_weights(huge, net)[2]
    assert kind is np.int64 and _exact_weights(huge, net)[0].dtype == np.int64
