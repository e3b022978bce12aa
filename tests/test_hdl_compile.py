"""Generation: configuration validation, address map, protocol encoding, manifest and images."""

import json

import numpy as np
import pytest

from spikeforge.golden.network import Decision, NeuronKind
from spikeforge.golden.randnet import random_events, random_network
from spikeforge.golden.simulate import simulate
from spikeforge.hdl.accelerator import Accelerator
from spikeforge.hdl.compile import TOP_NAME, compile_network
from spikeforge.hdl.config import AddressMap, HardwareConfig
from spikeforge.hdl.protocol import (InputKind, OutputKind, ProtocolError, decode_outputs,
                                     encode_inputs, input_layout, output_layout, pack, unpack)
from spikeforge.hdl.pysim import run_accelerator

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


@pytest.mark.parametrize("kwargs, match", [
    ({"lanes": 3}, "lanes: 3"), ({"lanes": 0}, "lanes"), ({"lanes": True}, "lanes"),
    ({"emit_spikes": 1}, "emit_spikes"), ({"unit_inputs": "yes"}, "unit_inputs"),
])
def test_hardware_config_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HardwareConfig(**kwargs)


def test_accelerator_rejects_wrong_types():
    net = random_network(0, 3, (4,), 2)
    with pytest.raises(TypeError, match="Network"):
        Accelerator("net")
    with pytest.raises(TypeError, match="HardwareConfig"):
        Accelerator(net, {"lanes": 2})


def test_address_map_regions_are_disjoint_and_aligned():
    net = random_network(1, 5, (9, 6), 3, recurrent=True)
    amap = AddressMap(net, HardwareConfig(lanes=4))
    spans = sorted((r.base, r.base + r.span) for r in amap.regions)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start
    for r in amap.regions:
        assert r.base % r.span == 0 and r.rows * r.row_stride <= r.span
    assert amap.region("layers.0.weights").rows == 5 + 9       # feed-forward then recurrent rows
    assert amap.address("layers.1.bias", 0, 2) == amap.region("layers.1.bias").base + 2
    with pytest.raises(KeyError, match="no region"):
        amap.region("layers.0.rho_typo")
    with pytest.raises(ValueError, match="outside"):
        amap.address("layers.0.weights", 99, 0)


def test_protocol_roundtrip_and_errors():
    net = random_network(2, 5, (4,), 3, decision=Decision.LAST)
    x = random_events(1, 2, 3, 5, rate=0.5, values=(-2, 1))
    records = encode_inputs(net, x)
    assert sum(r["kind"] == InputKind.END_STEP.value for r in records) == 6
    assert sum(r["kind"] == InputKind.EVENT.value for r in records) == np.count_nonzero(x)
    layout = input_layout(net)
    for rec in records:
        assert unpack(layout, pack(layout, rec)) == rec
    out = output_layout(net)
    rec = {"kind": OutputKind.READOUT.value, "layer": 1, "index": 2, "value": -5}
    assert unpack(out, pack(out, rec)) == rec
    with pytest.raises(ProtocolError, match="steps"):
        decode_outputs(net, [{"kind": OutputKind.SAMPLE_DONE.value, "layer": 0, "index": 0,
                              "value": 0}], 1, 2)


def test_compile_network_writes_verilog_and_manifest(tmp_path):
    net = random_network(3, 4, (6,), 2, recurrent=True, readout=NeuronKind.LIF,
                         decision=Decision.SPIKE_COUNT)
    config = HardwareConfig(lanes=4)
    manifest = compile_network(net, config, tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    text = (tmp_path / "accelerator.v").read_text()
    assert f"module {TOP_NAME}(" in text
    ports = {p["name"]: p for p in manifest["ports"]}
    assert ports["events__payload"]["width"] == input_layout(net).size
    assert ports["results__payload"]["width"] == output_layout(net).size
    assert ports["cfg__addr"]["width"] == AddressMap(net, config).addr_bits
    mems = {m["name"]: m for m in manifest["memories"]}
    weights = mems["layers.0.weights"]
    assert (weights["depth"], weights["width"]) == ((4 + 6) * 2, 32)   # rows x words, 4 lanes x 8 bits
    assert weights["contents"] == "initialised in accelerator.v"
    # the streams' encodings: the fields tile the payload port, the kinds are named
    for stream, port in (("events", "events__payload"), ("results", "results__payload")):
        enc = manifest["streams"][stream]
        assert enc["width"] == ports[port]["width"]
        assert sum(f["width"] for f in enc["fields"]) == enc["width"]
        assert [f["offset"] for f in enc["fields"]] == \
            [sum(g["width"] for g in enc["fields"][:k]) for k in range(len(enc["fields"]))]
    kinds = manifest["streams"]["results"]["fields"][0]
    assert kinds["name"] == "kind" and kinds["values"]["SAMPLE_DONE"] == 4
    # no separate memory images: the Verilog holds every initial value
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accelerator.v", "manifest.json"]


def test_manifest_states_the_cycle_model(tmp_path):
    """The manifest's schedule and step figures are the cycle model's (which every RTL test
    checks against the CYCLES counter exactly)."""
    from spikeforge.hdl import schedule
    net = random_network(4, 4, (7, 5), 3, recurrent=True, decision=Decision.PER_STEP)
    config = HardwareConfig(lanes=2)
    manifest = compile_network(net, config, tmp_path / "out")
    cyc = manifest["cycles"]
    assert cyc["phases_per_step"][:3] == ["feed(src=0, dst=0, offset=4)", "update(dst=0)",
                                          "feed(src=1, dst=1, offset=7)"]
    assert cyc["words_per_layer"] == [4, 3, 2]
    assert cyc["silent_step"] < cyc["step_every_input_and_neuron_firing"]
    x = np.zeros((1, 2, 4), np.int64)
    assert cyc["silent_step"] == schedule.per_step_cycles(net, config, simulate(net, x), x)[0, 1]